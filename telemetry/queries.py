"""How much energy did these devices, or this label, use? The one place other
apps ask telemetry for energy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, Min, Q, QuerySet, Sum

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


def _rollups(
    labels: list[str] | None, device_ids: list[int] | None, start: datetime, end: datetime
) -> QuerySet[MinuteRollup]:
    rows = MinuteRollup.objects.filter(minute__gte=start, minute__lt=end)
    if labels is not None:
        rows = rows.filter(label__in=labels)
    if device_ids is not None:
        rows = rows.filter(device_id__in=device_ids)
    return rows


def energy(
    *, start: datetime, end: datetime, labels: list[str] | None = None, device_ids: list[int] | None = None
) -> Energy:
    """Energy over [start, end) for a set of labels and/or devices, from the minute rollups.

    Coverage: for devices, the share of (window × devices) covered by samples; for a
    label, the share of the label's active span (first to last sample in the window)
    times the devices that carried it, since a job does not fill the whole window."""
    if labels is None and device_ids is None:
        raise ValueError("Ask for labels, devices, or both.")
    rows = _rollups(labels, device_ids, start, end)
    host = rows.filter(device__kind=DeviceKind.HOST).aggregate(
        energy_j=Sum("energy_j"), devices=Count("device", distinct=True)
    )
    rows = rows.filter(device__kind=DeviceKind.GPU)
    totals = rows.aggregate(
        energy_j=Sum("energy_j"),
        idle_j=Sum("idle_energy_j"),
        covered_s=Sum("covered_s"),
        devices=Count("device", distinct=True),
        first=Min("first_ts"),
        last=Max("last_ts"),
        first_minute=Min("minute"),
        last_minute=Max("minute"),
        counter=Count("pk", filter=Q(method=Method.COUNTER)),
        power=Count("pk", filter=Q(method=Method.POWER)),
        rows=Count("pk"),
    )
    if not totals["rows"]:
        return Energy(0.0, 0.0, 0.0, "none", 0, None, None)
    # The active span from the rollups (cost per minute and device, not per sample).
    first = totals["first"] or totals["first_minute"]
    last = totals["last"] or totals["last_minute"]
    if labels is not None and device_ids is None:
        window_s = max((last - first).total_seconds(), 1.0) * totals["devices"]
    else:
        window_s = (end - start).total_seconds() * (len(device_ids) if device_ids else totals["devices"])
    method = (
        Method.COUNTER
        if totals["counter"] == totals["rows"]
        else Method.POWER
        if totals["power"] == totals["rows"]
        else Method.MIXED
    )
    return Energy(
        energy_kwh=totals["energy_j"] / 3.6e6,
        idle_energy_kwh=totals["idle_j"] / 3.6e6,
        coverage=min(1.0, totals["covered_s"] / window_s) if window_s else 0.0,
        method=str(method),
        devices=totals["devices"],
        first_sample=first,
        last_sample=last,
        host_energy_kwh=(host["energy_j"] or 0.0) / 3.6e6,
        host_devices=host["devices"],
    )


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
