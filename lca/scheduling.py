"""Carbon-aware scheduling: when and where a job of known length emits least.
Pure Python, no Django."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Slot:
    region: str
    start: datetime
    mean_intensity_g_per_kwh: float
    kgco2e: float


@dataclass(frozen=True)
class Skipped:
    region: str
    reason: str


@dataclass(frozen=True)
class Schedule:
    best: Slot
    now: Slot | None  # starting at the first hour where the job runs today
    saving_kgco2e: float | None
    saving_share: float | None
    candidates: list[Slot]  # the best slot of every region, lowest first
    skipped: list[Skipped] = field(default_factory=list)  # regions that could not be placed, and why


def _windows(series: Sequence[tuple[datetime, float]], hours: int) -> list[tuple[datetime, float]]:
    """Mean intensity of every window of `hours` consecutive clock hours that the series
    covers without a gap: a missing hour breaks the window, it is never skipped over."""
    windows = []
    for s in range(len(series) - hours + 1):
        run = series[s : s + hours]
        if run[-1][0] - run[0][0] == timedelta(hours=hours - 1):  # sorted and unique, so no gap inside
            windows.append((run[0][0], sum(v for _, v in run) / hours))
    return windows


def best_start(
    *,
    duration_h: int,
    energy_kwh: float,
    series: Mapping[str, Sequence[tuple[datetime, float]]],
    current_region: str | None = None,
) -> Schedule:
    """The start hour and region with the lowest mean grid intensity over the job.

    `series` maps each candidate region to its hourly intensities (gCO2e/kWh), oldest
    first; energy is spread evenly over the job. The saving compares with starting
    at the first hour of `current_region`'s series."""
    if duration_h <= 0:
        raise ValueError("The job must last at least one hour.")
    per_region = []
    skipped = []
    now = None
    for region, values in series.items():
        ordered = sorted(dict(values).items())  # one value per hour, oldest first
        windows = _windows(ordered, duration_h)
        if not windows:
            skipped.append(Skipped(region, f"no {duration_h} consecutive hours of intensity data without a gap"))
            continue
        start, mean = min(windows, key=lambda w: w[1])
        per_region.append(Slot(region, start, mean, energy_kwh * mean / 1000))
        if region == current_region:
            first_start, first_mean = windows[0]
            now = Slot(region, first_start, first_mean, energy_kwh * first_mean / 1000)
    if not per_region:
        raise ValueError(f"No region has {duration_h} consecutive hours of intensity data without a gap.")
    per_region.sort(key=lambda s: s.kgco2e)
    best = per_region[0]
    saving = None if now is None else now.kgco2e - best.kgco2e
    share = None if now is None or now.kgco2e == 0 else (saving or 0) / now.kgco2e
    return Schedule(
        best=best, now=now, saving_kgco2e=saving, saving_share=share, candidates=per_region, skipped=skipped
    )
