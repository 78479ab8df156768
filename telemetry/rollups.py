"""Per-device, per-label, per-minute energy from raw samples.

Energy comes from the cumulative counter's deltas (exact even across lost
samples); where a device has no counter, or across a counter reset, from
trapezoidal integration of power between samples no more than MAX_GAP apart.
Each rollup row records which method produced it. A minute is recomputed whole,
so rolling up twice, or after late samples arrive, gives the same rows."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from telemetry.models import Device, IngestBatch, MinuteRollup
from telemetry.signals import energy_rolled_up

MAX_GAP_S = 60  # power is not integrated across a longer silence: that time is uncovered
LOOKBACK = timedelta(minutes=10)  # how far back to find the sample before a minute's first
ROLLUP_LOCK = 7301  # advisory-lock namespace for rollups

ROLLUP_SQL = f"""
WITH s AS (
    SELECT device_id, ts, label, energy_mj, power_w, gpu_util, counter_reset,
           lag(ts) OVER w AS prev_ts, lag(energy_mj) OVER w AS prev_e, lag(power_w) OVER w AS prev_p
    FROM telemetry_sample
    WHERE device_id = ANY(%(devices)s) AND ts >= %(start)s - interval '{LOOKBACK.seconds} seconds' AND ts < %(end)s
    WINDOW w AS (PARTITION BY device_id ORDER BY ts)
), d AS (
    SELECT device_id, ts, date_trunc('minute', ts) AS minute, label, power_w, gpu_util, prev_ts IS NOT NULL AS has_prev,
           energy_mj IS NOT NULL AS has_counter,
           CASE WHEN prev_e IS NOT NULL AND energy_mj IS NOT NULL AND NOT counter_reset AND energy_mj >= prev_e
                THEN (energy_mj - prev_e) / 1000.0 END AS counter_j,
           CASE WHEN prev_ts IS NOT NULL AND ts - prev_ts <= interval '{MAX_GAP_S} seconds'
                     AND power_w IS NOT NULL AND prev_p IS NOT NULL
                THEN (power_w + prev_p) / 2 * extract(epoch FROM ts - prev_ts) END AS power_j,
           CASE WHEN prev_ts IS NOT NULL AND ts - prev_ts <= interval '{MAX_GAP_S} seconds'
                THEN extract(epoch FROM ts - prev_ts) ELSE 0 END AS covered_s
    FROM s WHERE ts >= %(start)s
)
INSERT INTO telemetry_minuterollup
    (device_id, minute, label, energy_j, idle_energy_j, method, covered_s, samples, avg_power_w, max_power_w,
     first_ts, last_ts)
SELECT device_id, minute, label,
       coalesce(sum(coalesce(counter_j, power_j)), 0),
       coalesce(sum(coalesce(counter_j, power_j)) FILTER (WHERE gpu_util < %(idle)s), 0),
       -- A minute whose samples all lack a previous one (a device's first) says by its readings.
       CASE WHEN count(*) FILTER (WHERE has_prev) = 0
                 THEN CASE WHEN bool_and(has_counter) THEN 'counter' ELSE 'power' END
            WHEN count(counter_j) = count(*) FILTER (WHERE has_prev) THEN 'counter'
            WHEN count(counter_j) = 0 THEN 'power' ELSE 'mixed' END,
       sum(covered_s), count(*), avg(power_w), max(power_w), min(ts), max(ts)
FROM d GROUP BY device_id, minute, label
RETURNING label
"""


def _minute(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


def roll_up_range(device_ids: list[int], start: datetime, end: datetime) -> set[str]:
    """Recomputes the minutes of [start, end) for these devices; returns their labels."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM telemetry_minuterollup WHERE device_id = ANY(%s) AND minute >= %s AND minute < %s",
            [device_ids, _minute(start), _minute(end) + timedelta(minutes=1)],
        )
        cursor.execute(
            ROLLUP_SQL,
            {
                "devices": device_ids,
                "start": _minute(start),
                "end": _minute(end) + timedelta(minutes=1),
                "idle": settings.TELEMETRY_IDLE_UTIL_PERCENT,
            },
        )
        return {label for (label,) in cursor.fetchall()}


def _next_sample_after(device_ids: list[int], ts: datetime) -> datetime | None:
    # A late batch changes the delta of the sample that follows it, possibly in a later minute.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(ts) FROM telemetry_sample WHERE device_id = ANY(%s) AND ts > %s AND ts < %s",
            [device_ids, ts, ts + LOOKBACK],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _announce(labels: set[str], start: datetime, end: datetime) -> None:
    """Tells listeners (governance's stored footprints) which labels got new energy."""
    if labels:
        transaction.on_commit(lambda: energy_rolled_up.send(sender=MinuteRollup, labels=labels, start=start, end=end))


def roll_up_pending(limit: int = 500) -> int:
    """Rolls up the batches not yet rolled up; returns how many. Batches are claimed
    with SKIP LOCKED and each agent's minutes are recomputed under an advisory lock,
    so concurrent workers neither repeat nor collide."""
    with transaction.atomic():
        batches = list(
            IngestBatch.objects.select_for_update(skip_locked=True).filter(rolled_up=False).order_by("min_ts")[:limit]
        )
        if not batches:
            return 0
        # Merge each agent's batches into contiguous spans: one pass per span, not per batch.
        spans: dict[int, list[list[datetime]]] = {}
        for batch in batches:
            if batch.min_ts is None or batch.max_ts is None:
                continue
            agent_spans = spans.setdefault(batch.agent_id, [])
            if agent_spans and batch.min_ts <= agent_spans[-1][1] + LOOKBACK:
                agent_spans[-1][1] = max(agent_spans[-1][1], batch.max_ts)
            else:
                agent_spans.append([batch.min_ts, batch.max_ts])
        for agent_id, agent_spans in spans.items():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ROLLUP_LOCK, agent_id])
            device_ids = list(Device.objects.filter(agent_id=agent_id).values_list("pk", flat=True))
            for start, end in agent_spans:
                end = _next_sample_after(device_ids, end) or end
                _announce(roll_up_range(device_ids, start, end), start, end)
        done = len(batches)
        IngestBatch.objects.filter(pk__in=[b.pk for b in batches]).update(rolled_up=True)
    return done
