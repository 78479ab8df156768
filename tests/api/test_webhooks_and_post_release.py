import base64
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from governance.models import AuditEvent, ImpactReview, ReviewKind, WebhookDelivery
from governance.services.post_release import run_due
from tests.conftest import client_for
from tests.workflow import approved_review, measured_run, post_budget, serve

SECRET = "whsec_" + base64.b64encode(b"a-long-shared-secret-for-the-tests").decode()


class Receiver:
    """A test endpoint that records each delivery with its headers."""

    def __init__(self):
        self.received = []
        self.status, self.extra_headers = 204, {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.status)
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


@pytest.fixture
def receiver(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the test receiver listens on loopback
    r = Receiver()
    yield r
    r.server.shutdown()


def test_budget_crossing_is_signed_delivered_and_mailed(
    world, receiver, django_capture_on_commit_callbacks, eager_tasks
):
    team, _, version, pipeline = world
    team.officer.email = "officer@example.org"
    team.officer.save()
    owner = client_for(team.owner)
    assert (
        owner.post(
            "/api/v1/webhooks/", {"project": team.project.pk, "url": receiver.url, "secret": SECRET}, format="json"
        ).status_code
        == 201
    )
    with django_capture_on_commit_callbacks(execute=True):
        post_budget(team, "Year", days_before=5, days_after=5, limit_kwh=1000)
    with django_capture_on_commit_callbacks(execute=True):
        measured_run(pipeline, version, "ft-hook", seconds=600)
    # The run is far below 1,000 kWh: nothing crossed yet.
    assert receiver.received == []
    with django_capture_on_commit_callbacks(execute=True):
        post_budget(team, "Tiny", by=team.owner, days_before=5, days_after=5, limit_kwh=0.01, warn_at=0.5)
    headers, body = receiver.received[-1]
    payload = Webhook(SECRET).verify(body, headers)  # what a receiver does (Standard Webhooks)
    assert payload["event"] == "budget.exceeded" and payload["delivery"] == headers["webhook-id"]
    assert WebhookDelivery.objects.get(pk=payload["delivery"]).state == "delivered"
    assert mail.outbox and mail.outbox[-1].to == ["officer@example.org"]


def test_test_delivery_button_and_delivery_log(world, receiver):
    team, *_ = world
    owner = client_for(team.owner)
    hook = owner.post(
        "/api/v1/webhooks/", {"project": team.project.pk, "url": receiver.url, "secret": SECRET}, format="json"
    ).json()
    sent = owner.post(f"/api/v1/webhooks/{hook['id']}/deliveries/").json()
    assert sent["state"] == "delivered" and sent["response_status"] == 204
    assert owner.get(f"/api/v1/webhooks/{hook['id']}/deliveries/").json()["count"] == 1
    other = client_for(team.officer).post(
        "/api/v1/webhooks/", {"project": team.project.pk, "url": receiver.url, "secret": SECRET}, format="json"
    )
    assert other.status_code == 403


def test_the_projection_counts_the_same_tokens_as_the_measurement(world):
    _, _, version, pipeline = world
    serve(pipeline, version, "serve-mix", tokens=40_000)
    footprint = pipeline.get(f"/api/v1/model-versions/{version.pk}/footprint/").json()
    assert "(input + output)" in footprint["per_1k_tokens_definition"]
    assert "50% input tokens" in footprint["projected_per_1k_tokens_definition"]
    # The projection counts prompt and generated tokens alike at 2·N FLOPs: per 1,000 tokens processed, the
    # measured unit, with the reported mix recorded in its definition.
    assert footprint["deployments"][0]["input_tokens"] == 20_000


def test_an_old_snapshot_with_another_token_definition_is_not_compared(world):
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-old")
    serve(pipeline, version, "serve-old", tokens=50_000)
    approved_review(team, second_lead, version)
    assert pipeline.post(f"/api/v1/model-versions/{version.pk}/release/").status_code == 200
    review = ImpactReview.objects.get(model_version=version, kind=ReviewKind.PRE_RELEASE)
    snapshot = {k: v for k, v in review.snapshot.items() if k != "projected_per_1k_tokens_definition"}
    ImpactReview.objects.filter(pk=review.pk).update(snapshot=snapshot)  # as frozen before definitions existed
    version.refresh_from_db()
    run_due(now=version.released_at + timedelta(days=team.project.post_release_review_days))
    event = AuditEvent.objects.get(action="post_release.unmeasurable")
    assert event.payload["reason"] == "the projection counts other tokens than the measurement"
    assert not ImpactReview.objects.filter(model_version=version, kind=ReviewKind.POST_DEPLOYMENT).exists()


def test_deployment_footprint_per_token_and_post_release_follow_up(world):
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-serve")
    serve(pipeline, version, "serve-1", tokens=50_000)
    footprint = pipeline.get(f"/api/v1/model-versions/{version.pk}/footprint/").json()
    assert footprint["per_1k_tokens_kgco2e"]["central"] > 0
    assert footprint["projected_per_1k_tokens_kgco2e"]["central"] > 0
    approved_review(team, second_lead, version)
    assert pipeline.post(f"/api/v1/model-versions/{version.pk}/release/").status_code == 200
    version.refresh_from_db()
    # N days later: the measured per-token footprint (a small, mostly idle deployment) is far above the
    # 2·N-FLOPs projection, so a follow-up review opens.
    due = run_due(now=version.released_at + timedelta(days=team.project.post_release_review_days))
    assert due == [version]
    follow_up = ImpactReview.objects.get(model_version=version, kind=ReviewKind.POST_DEPLOYMENT)
    assert "deviates" in follow_up.goal_and_scope
    # Like with like: both figures count input + output tokens at the same boundary, and say so.
    compared = AuditEvent.objects.get(action="post_release.compared").payload
    for side in ("measured_definition", "projected_definition"):
        assert compared[side].startswith("SCI per 1,000 tokens processed (input + output)")
        assert "accelerators + host + PUE + amortised embodied" in compared[side]
    assert "50% input tokens" in compared["projected_definition"]
    assert run_due(now=version.released_at + timedelta(days=90)) == []  # once only


def hook_for(team, url, **extra):
    return client_for(team.owner).post(
        "/api/v1/webhooks/", {"project": team.project.pk, "url": url, **extra}, format="json"
    )


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8000/admin/", "loopback"),
        ("http://localhost/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.5/", "private"),
        ("http://[::1]/", "loopback"),
        ("http://224.0.0.1/", "multicast"),
        ("ftp://example.org/", "Only http and https"),
    ],
)
def test_webhooks_cannot_be_aimed_inside_the_network(world, url, why):
    team, *_ = world
    response = hook_for(team, url)
    assert response.status_code == 400 and why in response.json()["errors"]["url"][0]


def test_a_stored_url_is_checked_again_at_delivery(world, receiver, settings):
    team, *_ = world
    hook = hook_for(team, receiver.url).json()
    settings.OUTBOUND_ALLOWED_NETWORKS = []  # e.g. the name now resolves to a private address
    sent = client_for(team.owner).post(f"/api/v1/webhooks/{hook['id']}/deliveries/").json()
    assert sent["state"] == "pending" and "loopback" in sent["last_error"]
    assert receiver.received == []


def test_redirects_are_not_followed_and_errors_say_nothing_of_the_network(world, receiver):
    team, *_ = world
    receiver.status, receiver.extra_headers = 302, {"Location": "http://169.254.169.254/"}
    hook = hook_for(team, receiver.url).json()
    sent = client_for(team.owner).post(f"/api/v1/webhooks/{hook['id']}/deliveries/").json()
    assert sent["state"] == "pending" and sent["response_status"] == 302 and len(receiver.received) == 1
    closed = hook_for(team, "http://127.0.0.1:9/closed").json()  # nothing listens there
    sent = client_for(team.owner).post(f"/api/v1/webhooks/{closed['id']}/deliveries/").json()
    assert sent["last_error"] == "no answer from the receiver (connection failed or timed out)"


def test_signatures_follow_standard_webhooks_and_cannot_be_replayed(world, receiver):
    team, *_ = world
    created = hook_for(team, receiver.url).json()
    secret = created["secret"]
    assert secret.startswith("whsec_")
    client_for(team.owner).post(f"/api/v1/webhooks/{created['id']}/deliveries/")
    headers, body = receiver.received[-1]
    assert Webhook(secret).verify(body, headers)["event"] == "ping"
    # The same body and signature an hour later, or with another delivery id, are refused.
    stale = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 3600)}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, stale)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, {**headers, "webhook-id": "another"})
    assert hook_for(team, receiver.url, secret="not-a-standard-secret").status_code == 400


def test_a_rotated_secret_signs_beside_the_old_one_for_a_day(world, receiver):
    team, *_ = world
    created = hook_for(team, receiver.url).json()
    rotated = client_for(team.owner).post(f"/api/v1/webhooks/{created['id']}/rotate-secret/").json()
    assert rotated["secret"] != created["secret"] and rotated["previous_secret_until"]
    client_for(team.owner).post(f"/api/v1/webhooks/{created['id']}/deliveries/")
    headers, body = receiver.received[-1]
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (created["secret"], rotated["secret"]):
        assert Webhook(secret).verify(body, headers)["event"] == "ping"
    assert client_for(team.officer).post(f"/api/v1/webhooks/{created['id']}/rotate-secret/").status_code == 404


def test_a_delivery_gives_up_after_its_retries_and_says_so(world, receiver):
    from governance.models import WebhookDelivery
    from governance.services import notifications
    from governance.tasks import deliver_webhook

    team, *_ = world
    receiver.status = 503
    hook = hook_for(team, receiver.url).json()
    delivery = WebhookDelivery.objects.create(webhook_id=hook["id"], event="ping", payload={"event": "ping"})
    assert notifications.deliver(delivery) is False  # an early attempt: still pending, to be retried
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 503")
    last = deliver_webhook.apply(args=[str(delivery.pk)], retries=deliver_webhook.max_retries)  # the last one
    assert last.get() == "failed"
    listed = client_for(team.owner).get(f"/api/v1/webhooks/{hook['id']}/deliveries/").json()
    row = next(d for d in listed["results"] if d["id"] == str(delivery.pk))
    assert (row["state"], row["attempts"], row["last_error"]) == ("failed", 2, "HTTP 503")
    assert len(receiver.received) == 2
