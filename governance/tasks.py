import logging

from celery import shared_task
from django.utils import timezone

from governance.models import Project, WebhookDelivery
from governance.services import notifications, post_release, reports
from governance.services.budgets import check_budgets

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


@shared_task(name="governance.tasks.check_budgets")
def check_all_budgets() -> int:
    projects = Project.objects.filter(budgets__isnull=False).distinct()
    for project in projects:
        check_budgets(project=project)
    return projects.count()


@shared_task(name="governance.tasks.post_release_reviews")
def post_release_reviews() -> int:
    """Compares projected with measured per-token footprint N days after each release."""
    return len(post_release.run_due(now=timezone.now()))


@shared_task(name="governance.tasks.render_report", autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=3)
def render_report(report_id: int) -> str:
    return reports.render_report(report_id).state
