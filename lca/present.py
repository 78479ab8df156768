"""An estimate as plain data (JSON types): what the API answers, the pages show and a
review freezes. The API's output serializer documents this shape."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from lca.footprint import Footprint
from lca.services import Estimate, Factor
from lca.uncertainty import Range

# Every range-valued figure of a footprint, in the dataclass's order.
RANGE_FIGURES = tuple(f.name for f in fields(Footprint) if f.name not in ("parts", "sensitivity", "notes"))

METHOD = (
    "Interval propagation (monotone formulas); sensitivity one input at a time on SCI carbon "
    "(location-based operational + amortised embodied)."
)


def range_data(value: Range | None) -> dict[str, float] | None:
    return None if value is None else value.as_dict()


def factor_data(f: Factor) -> dict[str, Any]:
    value = f.value.as_dict() if isinstance(f.value, Range) else f.value
    return {"name": f.name, "value": value, "unit": f.unit, "source": f.source, "year": f.year}


def estimate_data(e: Estimate) -> dict[str, Any]:
    f = e.footprint
    data: dict[str, Any] = {name: range_data(getattr(f, name)) for name in RANGE_FIGURES}
    data.update(
        scope=e.scope,
        parts=[
            {
                "name": p.name,
                "it_energy_kwh": range_data(p.it_energy_kwh),
                "facility_energy_kwh": range_data(p.facility_energy_kwh),
                "location_based_kgco2e": range_data(p.location_based_kgco2e),
                "how": str(p.how),
            }
            for p in f.parts
        ],
        sensitivity=[
            {
                "input": s.input_name,
                "output_low": s.output_low,
                "output_high": s.output_high,
                "share_of_swing": s.share_of_swing,
            }
            for s in f.sensitivity
        ],
        factors=[factor_data(x) for x in e.factors],
        notes=e.notes,
        method=METHOD,
    )
    return data
