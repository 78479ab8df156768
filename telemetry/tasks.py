import logging

from celery import shared_task
from django.conf import settings

from telemetry import partitions, rollups

log = logging.getLogger(__name__)
CHUNK = 500  # batches a transaction


@shared_task(name="telemetry.tasks.roll_up", autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def roll_up() -> int:
    """Rolls up every pending batch, a chunk at a time."""
    total = done = rollups.roll_up_pending(CHUNK)
    while done == CHUNK:  # a short chunk was the last
        done = rollups.roll_up_pending(CHUNK)
        total += done
    if total:
        log.debug("rolled up %d batches", total)
    return total


@shared_task(name="telemetry.tasks.maintain_partitions")
def maintain_partitions() -> dict[str, list[str]]:
    """Creates the next days' partitions and drops expired, rolled-up ones."""
    created = partitions.create_ahead(settings.TELEMETRY_PARTITIONS_AHEAD_DAYS)
    dropped = partitions.drop_expired(settings.TELEMETRY_RAW_RETENTION_DAYS)
    return {"created": [str(d) for d in created], "dropped": [str(d) for d in dropped]}
