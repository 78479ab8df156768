"""Notifications: e-mail to the project's sustainability officers and signed
webhooks, each delivery logged and retried by Celery."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from typing import Any

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from governance.errors import NotPermitted
from governance.models import Membership, Project, Role, Webhook, WebhookDelivery
from governance.services import audit

SIGNATURE_HEADER = "X-Greenlight-Signature"
DELIVERY_HEADER = "X-Greenlight-Delivery"
EVENT_HEADER = "X-Greenlight-Event"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def officers(project: Project) -> list[str]:
    members = Membership.objects.filter(project=project, roles__name=Role.SUSTAINABILITY_OFFICER.label)
    users = get_user_model().objects.filter(pk__in=members.values("user_id")).exclude(email="")
    return [u.email for u in users]


def notify(*, project: Project, event: str, subject: str, message: str, payload: dict[str, Any]) -> None:
    """Queues the e-mail and one webhook delivery per active hook, after the commit."""
    recipients = officers(project)
    deliveries = [
        WebhookDelivery.objects.create(webhook=hook, event=event, payload={"event": event, **payload})
        for hook in project.webhooks.filter(active=True)
    ]

    def send() -> None:
        if recipients:
            send_mail(f"[Greenlight] {subject}", message, settings.DEFAULT_FROM_EMAIL, recipients)
        for delivery in deliveries:
            # By name: governance.tasks imports this module, so it cannot be imported here.
            current_app.tasks["governance.tasks.deliver_webhook"].delay(str(delivery.pk))

    transaction.on_commit(send)


def deliver(delivery: WebhookDelivery) -> bool:
    """One attempt. True when the receiver answered 2xx."""
    body = json.dumps({"delivery": str(delivery.pk), **delivery.payload}, sort_keys=True).encode()
    request = urllib.request.Request(  # noqa: S310 (the project owner's https/http URL)
        delivery.webhook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(delivery.webhook.secret, body),
            DELIVERY_HEADER: str(delivery.pk),
            EVENT_HEADER: delivery.event,
        },
    )
    delivery.attempts += 1
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            delivery.response_status = response.status
        delivery.state, delivery.delivered_at, delivery.last_error = "delivered", timezone.now(), ""
    except urllib.error.HTTPError as exc:
        delivery.response_status, delivery.last_error = exc.code, f"HTTP {exc.code}"
    except (OSError, urllib.error.URLError) as exc:
        delivery.last_error = str(exc)[:500]
    delivery.save(update_fields=["attempts", "response_status", "state", "delivered_at", "last_error"])
    return delivery.state == "delivered"


def test_delivery(*, webhook: Webhook) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.create(webhook=webhook, event="ping", payload={"event": "ping"})
    deliver(delivery)
    return delivery


@transaction.atomic
def add_webhook(*, project: Project, actor: Any, url: str, secret: str) -> Webhook:
    if project.owner_id != actor.pk:
        raise NotPermitted(f"Only the owner of project '{project.slug}' manages its webhooks.")
    hook = Webhook.objects.create(project=project, url=url, secret=secret)
    audit.record(actor=actor, action="webhook.added", obj=hook, project_id=project.pk, payload={"url": url})
    return hook
