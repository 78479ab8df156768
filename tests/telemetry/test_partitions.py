from datetime import UTC, date, datetime, timedelta

from django.db import connection

from telemetry import partitions
from telemetry.models import IngestBatch
from telemetry.tasks import maintain_partitions
from tests.telemetry.helpers import enrolled_client


def test_partitions_are_created_ahead(db, settings):
    settings.TELEMETRY_PARTITIONS_AHEAD_DAYS = 3
    today = datetime.now(UTC).date()
    result = maintain_partitions()
    assert {today + timedelta(days=n) for n in range(4)} <= partitions.existing()
    assert isinstance(result["created"], list)
    assert maintain_partitions()["created"] == []  # a second run finds every partition there


def test_expired_partitions_are_dropped_only_once_rolled_up(db):
    old = date(2020, 1, 1)
    partitions.ensure({old})
    _, agent = enrolled_client()
    start = datetime(2020, 1, 1, 12, tzinfo=UTC)
    batch = IngestBatch.objects.create(agent=agent, seq=1, min_ts=start, max_ts=start, rolled_up=False)
    assert partitions.drop_expired(30) == []  # not rolled up: kept
    batch.rolled_up = True
    batch.save()
    assert old in partitions.drop_expired(30)
    assert old not in partitions.existing()


def test_samples_table_is_partitioned_with_brin_on_time(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT partstrat FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = 'telemetry_sample'"
        )
        assert cursor.fetchone() == ("r",)
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'telemetry_sample_ts_brin'")
        assert "brin" in cursor.fetchone()[0]


def test_every_partition_summarises_its_brin_index_itself(db):
    partitions.ensure({date(2020, 2, 1)})  # a partition made after the index
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reloptions FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'telemetry_sample_ts_brin'::regclass"
        )
        rows = cursor.fetchall()
    assert rows and all("autosummarize=on" in (options or []) for _, options in rows), rows
