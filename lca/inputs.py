"""Estimate requests from plain data: the rules that relate one input to another (used by
the API's input serializer too), and the conversion of a JSON body that an edge has
already received — a run's stored pre-run estimate, the estimate page's form — into an
`EstimateRequest`, with the same names and shapes as POST /api/v1/estimates/."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lca.footprint import Scope
from lca.models import Facility, GridRegion, HardwareModel
from lca.services import EstimateRequest
from lca.uncertainty import Range

ACTIVITIES = ("accelerator_hours", "duration_h", "energy_kwh")
NUMBERS = (
    "active_parameters",
    "tokens",
    "input_tokens",
    "accelerator_count",
    "accelerators_per_host",
    "peak_tflops",
    "tokens_served",
    "requests",
)
RANGES = (
    "accelerator_hours",
    "duration_h",
    "energy_kwh",
    "host_energy_kwh",
    "mfu",
    "capacity_in_use",
    "power_fraction",
    "power_per_accelerator_w",
    "host_overhead",
    "accelerator_embodied_kgco2e",
    "host_embodied_kgco2e",
    "lifetime_years",
    "host_lifetime_years",
    "utilisation",
    "intensity_g_per_kwh",
    "pue",
    "certificate_share",
    "wue_l_per_kwh",
)
ROWS: dict[str, tuple[Any, str, dict[str, str]]] = {
    "hardware": (HardwareModel, "slug", {}),
    "host": (HardwareModel, "slug", {"kind": "host"}),
    "facility": (Facility, "slug", {}),
    "grid_region": (GridRegion, "code", {}),
}
SHARES = ("certificate_share", "utilisation", "mfu", "power_fraction", "capacity_in_use")
DIVISORS = ("mfu", "capacity_in_use", "utilisation", "lifetime_years", "host_lifetime_years")


class InvalidRequest(ValueError):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def request_errors(attrs: Mapping[str, Any]) -> dict[str, list[str]]:
    """What is wrong with a request whose values are each well formed (ranges are `Range`s)."""
    given = [k for k in ACTIVITIES if k in attrs]
    from_model = "active_parameters" in attrs or "tokens" in attrs
    if from_model and not ("active_parameters" in attrs and "tokens" in attrs):
        return {"tokens": ["Give both active_parameters and tokens."]}
    if len(given) + from_model != 1:
        return {
            "non_field_errors": [
                "Give exactly one activity: active_parameters + tokens, accelerator_hours, "
                "duration_h + accelerator_count, or energy_kwh."
            ]
        }
    errors: dict[str, list[str]] = {}
    if "input_tokens" in attrs and attrs.get("phase") != "inference":
        errors["input_tokens"] = ["Input tokens apply to inference only."]
    if "duration_h" in attrs and "accelerator_count" not in attrs:
        errors["accelerator_count"] = ["A wall-clock duration needs the accelerator count."]
    if "energy_scope" in attrs and "energy_kwh" not in attrs:
        errors["energy_scope"] = ["energy_scope describes energy_kwh, which is missing."]
    if "host_energy_kwh" in attrs and (attrs.get("energy_scope", "accelerator") != "accelerator"):
        errors["host_energy_kwh"] = ["Host energy can only be added to accelerator-scope energy."]
    pue = attrs.get("pue")
    if pue is not None and pue.low < 1:
        errors["pue"] = ["PUE cannot be below 1."]
    overhead = attrs.get("host_overhead")
    if overhead is not None and overhead.low < 1:
        errors["host_overhead"] = ["A host overhead ratio cannot be below 1."]
    for share in SHARES:
        if share in attrs and attrs[share].high > 1:
            errors[share] = ["A share cannot exceed 1."]
    for divisor in DIVISORS:
        if divisor in attrs and attrs[divisor].low <= 0:
            errors.setdefault(divisor, []).append("Its low end must be above 0: it divides.")
    return errors


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError("Give a non-negative number.")
    return float(value)


def _range(value: Any) -> Range:
    if isinstance(value, Mapping):
        if set(value) - {"low", "central", "high"} or "central" not in value:
            raise ValueError('Give a number or {"low", "central", "high"}.')
        central = _number(value["central"])
        return Range(_number(value.get("low", central)), central, _number(value.get("high", central)))
    return Range.exact(_number(value))


def request_from_data(body: Mapping[str, Any]) -> EstimateRequest:
    """An `EstimateRequest` from a JSON body; `InvalidRequest` names every field that is wrong."""
    attrs: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in body.items():
        try:
            if name in NUMBERS:
                attrs[name] = _number(value)
            elif name in RANGES:
                attrs[name] = _range(value)
            elif name in ROWS:
                model, key, where = ROWS[name]
                attrs[name] = model.objects.filter(**where).get(**{key: value})
            elif name in ("energy_scope", "power_scope"):
                attrs[name] = Scope(value)
            elif name == "phase":
                if value not in ("training", "inference"):
                    raise ValueError("Give 'training' or 'inference'.")
                attrs[name] = value
            elif name == "start":
                attrs[name] = datetime.fromisoformat(str(value))
            else:
                raise ValueError("Not an estimate input.")
        except (ValueError, TypeError) as exc:
            errors[name] = [str(exc)]
        except (HardwareModel.DoesNotExist, Facility.DoesNotExist, GridRegion.DoesNotExist):
            errors[name] = [f"No {name.replace('_', ' ')} '{value}'."]
    errors = errors or request_errors(attrs)
    if errors:
        raise InvalidRequest(errors)
    return EstimateRequest(**attrs)
