"""The rules of the documents regulators and standards define, as pure functions: the EU
AI Act model documentation's compute, time and energy rows (Article 53(1)(a), Annex XI
Section 1 points 2(d)–(e); the Commission's Model Documentation Form, GPAI Code of
Practice, Transparency chapter, July 2025) and the Green Software Foundation's SCI for AI
scores (ISO/IEC 21031:2024 SCI; SCI for AI, 2025)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

# The Commission's guidelines for GPAI providers (July 2025) accept a training-compute
# estimate within ±30% of the true figure; two honest estimates further apart than that
# mean at least one of them is wrong.
COMPUTE_TOLERANCE = 0.30
# Rows of the form: the AI Office receives figures to these significant digits.
FLOPS_SIGNIFICANT = 2
ENERGY_SIGNIFICANT = 2
TIME_SIGNIFICANT = 2
# National authorities receive training time as one of these classes (months of 30 days).
TIME_CLASSES = ((30, "< 1 month"), (90, "1–3 months"), (180, "3–6 months"))


def significant(value: float, digits: int) -> float:
    """`value` rounded to `digits` significant figures."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def scientific(value: float, digits: int) -> str:
    """8.4 × 10^19 for (8.37e19, 2): how the form writes large figures."""
    mantissa, exponent = f"{significant(value, digits):.{digits - 1}e}".split("e")
    return f"{mantissa} × 10^{int(exponent)}"


def order_of_magnitude(value: float) -> str:
    """10^20 for 8.4e19: the nearest power of ten (on a log scale), for national authorities."""
    return f"10^{round(math.log10(value))}"


def decimal(value: float, digits: int) -> str:
    """A figure to `digits` significant figures, without a spurious exponent: 0.0076, 1,200."""
    rounded = significant(value, digits)
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(rounded)))) if rounded else 0
    return f"{rounded:,.{decimals}f}"


def time_class(wall_clock_days: float) -> str:
    for limit, label in TIME_CLASSES:
        if wall_clock_days < limit:
            return label
    return "> 6 months"


def wall_clock_days(intervals: list[tuple[datetime, datetime]]) -> float:
    """Days during which at least one run was training: overlapping runs count once."""
    total, end_so_far = 0.0, None
    for start, end in sorted(intervals):
        if end_so_far is not None and start < end_so_far:
            start = end_so_far
        if end > start:
            total += (end - start).total_seconds()
        end_so_far = max(end, end_so_far) if end_so_far else end
    return total / 86400


def hardware_flops(runs: list[tuple[float, float]], utilisation: float) -> float:
    """Hardware-based training compute: Σ accelerator-hours × peak dense FLOP/s (`runs` as
    (accelerator-hours, peak TFLOP/s)) × the share of peak achieved."""
    return sum(hours * 3600 * tflops * 1e12 for hours, tflops in runs) * utilisation


@dataclass(frozen=True)
class Agreement:
    hardware_flops: float
    architecture_flops: float
    ratio: float  # hardware ÷ architecture

    @property
    def within_tolerance(self) -> bool:
        return abs(self.ratio - 1) <= COMPUTE_TOLERANCE


def agreement(hardware: float, architecture: float) -> Agreement:
    return Agreement(hardware, architecture, hardware / architecture)


# --- SCI for AI ---


def sci(operational_kgco2e: float, embodied_kgco2e: float, functional_units: float) -> float:
    """SCI = (E × I + M) per R, in kgCO2e per functional unit: location-based operational
    carbon plus embodied, no offsets or certificates (ISO/IEC 21031:2024)."""
    return (operational_kgco2e + embodied_kgco2e) / functional_units
