"""Notifications: e-mail to the project's sustainability officers and webhooks signed
by the Standard Webhooks scheme (webhook-id, webhook-timestamp, webhook-signature over
"id.timestamp.body", so a captured delivery cannot be replayed later), each delivery
logged and retried by Celery, and sent only to public addresses (config.outbound)."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook as Signer

from config import outbound
from governance.access import require_owner
from governance.errors import GovernanceError
from governance.models import Membership, Project, Role, Webhook, WebhookDelivery
from governance.services import audit

EVENT_HEADER = "X-Greenlight-Event"
SECRET_PREFIX = "whsec_"  # noqa: S105 (the scheme's marker, not a secret)
OLD_SECRET_VALID = timedelta(hours=24)  # after a rotation, deliveries carry both signatures this long


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def check_secret(secret: str) -> None:
    if not secret.startswith(SECRET_PREFIX):
        raise GovernanceError("A webhook secret starts with whsec_.", field_errors={"secret": ["Starts with whsec_."]})
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except ValueError as exc:
        raise GovernanceError("Not base64.", field_errors={"secret": ["whsec_ then base64."]}) from exc
    if not 24 <= len(key) <= 64:
        raise GovernanceError("24 to 64 bytes.", field_errors={"secret": ["The key must be 24 to 64 bytes."]})


def check_url(url: str) -> None:
    try:
        outbound.resolve(url)
    except outbound.UnsafeURL as exc:
        raise GovernanceError(str(exc), field_errors={"url": [str(exc)]}) from exc


def signature_headers(hook: Webhook, message_id: str, body: bytes) -> dict[str, str]:
    """webhook-id, webhook-timestamp and webhook-signature; during a rotation the
    signature header carries one signature per valid secret, space-separated."""
    now = timezone.now()
    valid = [hook.secret]
    if hook.previous_secret and hook.previous_secret_until and hook.previous_secret_until > now:
        valid.append(hook.previous_secret)
    signatures = " ".join(Signer(secret).sign(message_id, now, body.decode()) for secret in valid)
    return {"webhook-id": message_id, "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signatures}


def officers(project: Project) -> list[str]:
    members = Membership.objects.filter(project=project, roles__name=Role.SUSTAINABILITY_OFFICER.value)
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
    """One attempt. True when the receiver answered 2xx. The URL is checked again now:
    its name may resolve elsewhere than when it was registered."""
    body = json.dumps({"delivery": str(delivery.pk), **delivery.payload}, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: delivery.event,
        **signature_headers(delivery.webhook, str(delivery.pk), body),
    }
    delivery.attempts += 1
    try:
        answer = outbound.post(delivery.webhook.url, body, headers)
        delivery.response_status = answer.status
        if 200 <= answer.status < 300:
            delivery.state, delivery.delivered_at, delivery.last_error = "delivered", timezone.now(), ""
        else:
            delivery.last_error = f"HTTP {answer.status}"
    except (outbound.UnsafeURL, OSError) as exc:
        delivery.last_error = str(exc)[:500]
    delivery.save(update_fields=["attempts", "response_status", "state", "delivered_at", "last_error"])
    return delivery.state == "delivered"


def test_delivery(*, webhook: Webhook) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.create(webhook=webhook, event="ping", payload={"event": "ping"})
    deliver(delivery)
    return delivery


@transaction.atomic
def add_webhook(*, project: Project, actor: Any, url: str, secret: str | None = None) -> Webhook:
    """Registers a receiver; a secret is generated unless one of the whsec_ form is given."""
    require_owner(actor, project, "manages its webhooks")
    check_url(url)
    if secret:
        check_secret(secret)
    hook = Webhook.objects.create(project=project, url=url, secret=secret or new_secret())
    audit.record(actor=actor, action="webhook.added", obj=hook, project_id=project.pk, payload={"url": url})
    return hook


@transaction.atomic
def rotate_secret(*, webhook: Webhook, actor: Any) -> Webhook:
    """A new secret; the old one still signs (a second signature) for OLD_SECRET_VALID,
    so the receiver can switch without missing a delivery."""
    require_owner(actor, webhook.project, "manages its webhooks")
    webhook.previous_secret, webhook.secret = webhook.secret, new_secret()
    webhook.previous_secret_until = timezone.now() + OLD_SECRET_VALID
    webhook.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    audit.record(
        actor=actor,
        action="webhook.secret_rotated",
        obj=webhook,
        project_id=webhook.project_id,
        payload={"old_secret_valid_until": webhook.previous_secret_until.isoformat()},
    )
    return webhook
