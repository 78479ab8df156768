"""Daily partitions of telemetry_sample: created ahead, dropped after retention
once everything in them is rolled up."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from psycopg import errors

from telemetry.models import IngestBatch

PREFIX = "telemetry_sample_p"
_known: set[date] = set()  # committed partitions this process has seen, to skip the catalogue lookup


def name_for(day: date) -> str:
    return f"{PREFIX}{day:%Y%m%d}"


def existing() -> set[date]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'telemetry_sample'"
        )
        return {datetime.strptime(r[0][len(PREFIX) :], "%Y%m%d").date() for r in cursor.fetchall()}


def ensure(days: set[date]) -> list[date]:
    """Creates the partitions of `days` that do not exist; returns the ones created."""
    missing = days - _known
    if not missing:
        return []
    present = existing()
    created = []
    for day in sorted(missing - present):
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f'CREATE TABLE IF NOT EXISTS "{name_for(day)}" PARTITION OF telemetry_sample '
                    "FOR VALUES FROM (%s) TO (%s)",
                    [start, start + timedelta(days=1)],
                )
        except Exception as exc:  # two writers created it at once: it exists, which is what we wanted
            if not isinstance(getattr(exc, "__cause__", None), errors.DuplicateTable):
                raise
        created.append(day)
    # Remember them only once committed: a rolled-back transaction takes its partitions with it.
    transaction.on_commit(lambda: _known.update(present | set(created)))
    return created


def create_ahead(days_ahead: int, today: date | None = None) -> list[date]:
    today = today or datetime.now(UTC).date()
    return ensure({today + timedelta(days=n) for n in range(-1, days_ahead + 1)})


def drop_expired(retention_days: int, today: date | None = None) -> list[date]:
    """Drops partitions older than the retention whose samples are all rolled up."""
    today = today or datetime.now(UTC).date()
    cutoff = today - timedelta(days=retention_days)
    dropped = []
    for day in sorted(existing()):
        if day >= cutoff:
            continue
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        pending = IngestBatch.objects.filter(rolled_up=False, min_ts__lt=start + timedelta(days=1), max_ts__gte=start)
        if pending.exists():
            continue  # not rolled up yet: keep the raw data
        with connection.cursor() as cursor:
            cursor.execute(f'DROP TABLE IF EXISTS "{name_for(day)}"')
        _known.discard(day)
        dropped.append(day)
    return dropped
