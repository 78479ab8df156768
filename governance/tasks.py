import logging

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from governance.models import WebhookDelivery
from governance.services import ledger, notifications, post_release, reports

log = logging.getLogger(__name__)


@shared_task(name="governance.tasks.deliver_webhook", bind=True, max_retries=6)
def deliver_webhook(self, delivery_id: str) -> str:  # type: ignore[no-untyped-def]
    """One delivery attempt; retried with exponential backoff (1, 2, 4 … 32 min)."""
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    if delivery.state == "delivered":
        return "delivered"
    if notifications.deliver(delivery):
        return "delivered"
    if self.request.retries >= self.max_retries:
        WebhookDelivery.objects.filter(pk=delivery_id).update(state="failed")
        log.warning("webhook delivery %s failed for good: %s", delivery_id, delivery.last_error)
        return "failed"
    raise self.retry(countdown=60 * 2**self.request.retries)


@shared_task(name="governance.tasks.refresh_running_footprints")
def refresh_running_footprints() -> int:
    """A running run's footprint grows with its hours: stored again every few minutes."""
    return ledger.refresh_running()


@shared_task(
    name="governance.tasks.recompute_footprints",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def recompute_footprints(batch: int = 500) -> int:
    """Recomputes stale footprints a batch at a time, queueing the next batch until none
    is left; a task that fails is retried and finds the rows it had not done still stale."""
    done = ledger.recompute_stale(batch)
    if done == batch:
        recompute_footprints.delay(batch)
    log.info("recomputed %s footprints", done)
    return done


@shared_task(name="governance.tasks.post_release_reviews")
def post_release_reviews() -> int:
    """Compares projected with measured per-token footprint N days after each release."""
    return len(post_release.run_due(now=timezone.now()))


@shared_task(name="governance.tasks.render_report", autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=3)
def render_report(report_id: int) -> str:
    return reports.render_report(report_id).state
