"""How much energy did these devices, or this label, use? The one place other
apps ask telemetry for energy."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import QuerySet, Sum

from telemetry.models import DeviceKind, Method, MinuteRollup


@dataclass(frozen=True)
class Energy:
    """Accelerator energy, with the hosts' own energy (RAPL) kept apart where hosts reported it."""

    energy_kwh: float  # accelerators only
    idle_energy_kwh: float
    coverage: float  # share of accelerator-time in the window that had samples (0 to 1)
    method: str  # counter, power, mixed, or none
    devices: int  # accelerators
    first_sample: datetime | None
    last_sample: datetime | None
    host_energy_kwh: float = 0.0  # CPU packages and memory of the hosts that reported them
    host_devices: int = 0
    shared_gpus: int = 0  # GPUs whose energy was apportioned to this label's share of them


def _rollups(
    labels: list[str] | None, device_ids: list[int] | None, start: datetime, end: datetime
) -> QuerySet[MinuteRollup]:
    rows = MinuteRollup.objects.filter(minute__gte=start, minute__lt=end)
    if labels is not None:
        rows = rows.filter(label__in=labels)
    if device_ids is not None:
        rows = rows.filter(device_id__in=device_ids)
    return rows


# One aggregation of the minute rollups per device kind: its cost is per minute and
# device in the window, never per sample. Sums are taken in numeric, whose addition does
# not depend on the order rows arrive in: the same window gives the same figure to the digit.
_TOTALS = """
    d.kind,
    SUM(r.energy_j::numeric)::float8, SUM(r.idle_energy_j::numeric)::float8, SUM(r.covered_s::numeric)::float8,
    COUNT(DISTINCT r.device_id),
    MIN(r.first_ts), MAX(r.last_ts), MIN(r.minute), MAX(r.minute),
    COUNT(*) FILTER (WHERE r.method = 'counter'), COUNT(*) FILTER (WHERE r.method = 'power'), COUNT(*),
    COUNT(DISTINCT d.parent_id)
"""
_FROM = "telemetry_minuterollup r JOIN telemetry_device d ON d.id = r.device_id"
NO_ENERGY = Energy(0.0, 0.0, 0.0, "none", 0, None, None)


def _energy(rows: list[tuple[Any, ...]], window_s: Callable[[datetime, datetime, int], float]) -> Energy:
    """Energy from the totals of one window, one row per device kind."""
    by_kind = {row[0]: row[1:] for row in rows}
    gpu, host = by_kind.get(DeviceKind.GPU), by_kind.get(DeviceKind.HOST)
    if gpu is None:
        return NO_ENERGY
    energy_j, idle_j, covered_s, devices, first, last, first_minute, last_minute, counter, power, count, shared = gpu
    # The active span from the rollups (cost per minute and device, not per sample).
    first, last = first or first_minute, last or last_minute
    span_s = window_s(first, last, devices)
    method = Method.COUNTER if counter == count else Method.POWER if power == count else Method.MIXED
    return Energy(
        energy_kwh=energy_j / 3.6e6,
        idle_energy_kwh=idle_j / 3.6e6,
        coverage=min(1.0, covered_s / span_s) if span_s else 0.0,
        method=str(method),
        devices=devices,
        first_sample=first,
        last_sample=last,
        host_energy_kwh=(host[0] if host else 0.0) / 3.6e6,
        host_devices=host[3] if host else 0,
        shared_gpus=shared,
    )


def _label_span(first: datetime, last: datetime, devices: int) -> float:
    """A label's coverage is over its active span (first to last sample in the window)
    times the devices that carried it, since a job does not fill the whole window."""
    return max((last - first).total_seconds(), 1.0) * devices


def energy(
    *, start: datetime, end: datetime, labels: list[str] | None = None, device_ids: list[int] | None = None
) -> Energy:
    """Energy over [start, end) for a set of labels and/or devices, from the minute rollups.

    Coverage: for devices, the share of (window × devices) covered by samples; for labels,
    the share of their active span (see _label_span)."""
    if labels is None and device_ids is None:
        raise ValueError("Ask for labels, devices, or both.")
    where = ["r.minute >= %s", "r.minute < %s"]
    params: list[Any] = [start, end]
    if labels is not None:
        where.append("r.label = ANY(%s)")
        params.append(list(labels))
    if device_ids is not None:
        where.append("r.device_id = ANY(%s)")
        params.append(list(device_ids))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_TOTALS} FROM {_FROM} WHERE {' AND '.join(where)} GROUP BY d.kind", params)
        rows = cursor.fetchall()
    if labels is not None and device_ids is None:
        return _energy(rows, _label_span)
    window_s = (end - start).total_seconds()
    return _energy(rows, lambda first, last, devices: window_s * (len(device_ids) if device_ids else devices))


def label_energies(windows: Sequence[tuple[str, datetime, datetime]]) -> list[Energy]:
    """energy(start=…, end=…, labels=[label]) for each (label, start, end), in one query:
    what recomputing a batch of runs asks."""
    if not windows:
        return []
    # One JSON parameter: psycopg would escape a text[] element by element.
    rows = [
        {"n": n, "label": label, "start": start.isoformat(), "end": end.isoformat()}
        for n, (label, start, end) in enumerate(windows, start=1)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT w.n, {_TOTALS} FROM jsonb_to_recordset(%s::jsonb)"
            ' AS w(n int, label text, start timestamptz, "end" timestamptz)'
            f' JOIN {_FROM} ON r.label = w.label AND r.minute >= w.start AND r.minute < w."end"'
            " GROUP BY w.n, d.kind",
            [json.dumps(rows)],
        )
        by_window: dict[int, list[tuple[Any, ...]]] = {}
        for n, *row in cursor.fetchall():
            by_window.setdefault(n, []).append(tuple(row))
    return [_energy(by_window.get(n, []), _label_span) for n in range(1, len(windows) + 1)]


@dataclass(frozen=True)
class Balance:
    """Shared GPUs over a window: what their meters read, what was attributed to jobs,
    what fell to shares with no job, and the closure (attributed + idle) ÷ metered."""

    gpus: int
    metered_kwh: float
    attributed_kwh: float
    idle_kwh: float
    label_kwh: float  # of the attributed, the part of the label asked about
    attribution: str  # the methods used, e.g. "engine_active" or "engine_active, equal"

    @property
    def closure(self) -> float:
        return (self.attributed_kwh + self.idle_kwh) / self.metered_kwh if self.metered_kwh else 0.0


def balance(*, label: str, start: datetime, end: datetime) -> Balance:
    """The energy balance of the shared GPUs that carried `label` in [start, end)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH gpus AS (
                SELECT DISTINCT d.parent_id AS id FROM telemetry_minuterollup r
                JOIN telemetry_device d ON d.id = r.device_id
                WHERE r.label = %(label)s AND r.minute >= %(start)s AND r.minute < %(end)s AND d.parent_id IS NOT NULL
            )
            SELECT count(DISTINCT g.id),
                SUM(r.energy_j::numeric) FILTER (WHERE d.parent_id IS NULL)::float8,
                SUM(r.energy_j::numeric) FILTER (WHERE d.parent_id IS NOT NULL AND r.label <> '')::float8,
                SUM(r.energy_j::numeric) FILTER (WHERE d.parent_id IS NOT NULL AND r.label = '')::float8,
                SUM(r.energy_j::numeric) FILTER (WHERE d.parent_id IS NOT NULL AND r.label = %(label)s)::float8,
                string_agg(DISTINCT d.attribution, ', ') FILTER (WHERE d.parent_id IS NOT NULL)
            FROM gpus g JOIN telemetry_device d ON d.id = g.id OR d.parent_id = g.id
            JOIN telemetry_minuterollup r ON r.device_id = d.id AND r.minute >= %(start)s AND r.minute < %(end)s
            """,
            {"label": label, "start": start, "end": end},
        )
        gpus, metered, attributed, idle, mine, methods = cursor.fetchone()
    kwh = [(j or 0.0) / 3.6e6 for j in (metered, attributed, idle, mine)]
    return Balance(gpus, kwh[0], kwh[1], kwh[2], kwh[3], methods or "")


def power_series(
    *, start: datetime, end: datetime, labels: list[str] | None = None, device_ids: list[int] | None = None
) -> list[tuple[datetime, float, float]]:
    """(minute, average power W summed over devices, cumulative energy kWh) per minute."""
    rows = (
        _rollups(labels, device_ids, start, end)
        .values("minute")
        .order_by("minute")
        .annotate(energy_j=Sum("energy_j"), covered_s=Sum("covered_s"))
    )
    series, cumulative = [], 0.0
    for row in rows:
        cumulative += row["energy_j"] / 3.6e6
        series.append((row["minute"], row["energy_j"] / 60.0, cumulative))
    return series
