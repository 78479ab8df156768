"""An estimate as plain data (JSON types): what the API answers, the pages show and a
review freezes. The API's output serializer documents this shape."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from lca.footprint import Footprint, How, Part
from lca.services import Estimate, Factor
from lca.uncertainty import Range, Sensitivity

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


def _range(data: dict[str, float] | None) -> Range | None:
    return None if data is None else Range(data["low"], data["central"], data["high"])


def estimate_from_data(data: dict[str, Any]) -> Estimate:
    """The inverse of estimate_data, for an estimate stored as JSON: every figure comes
    back to the digit (JSON keeps a float exactly). The footprint's own notes are part of
    the estimate's notes."""
    parts = [
        Part(
            p["name"],
            _range(p["it_energy_kwh"]),
            Range(**p["facility_energy_kwh"]),
            Range(**p["location_based_kgco2e"]),
            How(p["how"]),
        )
        for p in data["parts"]
    ]
    sensitivity = [
        Sensitivity(s["input"], s["output_low"], s["output_high"], s["share_of_swing"]) for s in data["sensitivity"]
    ]
    figures = {name: _range(data[name]) for name in RANGE_FIGURES}
    footprint = Footprint(**figures, parts=parts, sensitivity=sensitivity)  # type: ignore[arg-type]
    factors = [
        Factor(
            f["name"],
            Range(**f["value"]) if isinstance(f["value"], dict) else f["value"],
            f["unit"],
            f["source"],
            f["year"],
        )
        for f in data["factors"]
    ]
    return Estimate(footprint=footprint, factors=factors, notes=list(data["notes"]), scope=data["scope"])
