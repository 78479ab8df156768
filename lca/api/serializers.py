"""Translate estimate requests and results; the arithmetic lives in lca.footprint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api import StrictSerializer
from lca.models import Facility, GridRegion, HardwareModel, Supplier, procurement_score
from lca.scheduling import Schedule, Slot
from lca.services import Estimate, EstimateRequest, Factor, ScenarioResult
from lca.uncertainty import Range

RANGE_SCHEMA = {
    "oneOf": [
        {"type": "number", "minimum": 0},
        {
            "type": "object",
            "properties": {"low": {"type": "number"}, "central": {"type": "number"}, "high": {"type": "number"}},
            "required": ["central"],
        },
    ]
}


@extend_schema_field(RANGE_SCHEMA)
class RangeField(serializers.Field):  # type: ignore[type-arg]
    """A number, or {"low": …, "central": …, "high": …} (low and high default to central)."""

    default_error_messages = {
        "invalid": 'Give a number or {{"low", "central", "high"}} with 0 ≤ low ≤ central ≤ high.',
    }

    def to_internal_value(self, data: Any) -> Range:
        try:
            if isinstance(data, Mapping):
                unknown = set(data) - {"low", "central", "high"}
                if unknown or "central" not in data:
                    self.fail("invalid")
                central = float(data["central"])
                return Range(float(data.get("low", central)), central, float(data.get("high", central)))
            if isinstance(data, bool):
                self.fail("invalid")
            return Range.exact(float(data))
        except (TypeError, ValueError):
            self.fail("invalid")
        raise AssertionError  # unreachable: fail() raises

    def to_representation(self, value: Range) -> dict[str, float]:
        return value.as_dict()


class EstimateInput(StrictSerializer):
    active_parameters = serializers.FloatField(min_value=1, required=False, help_text="N (active for MoE).")
    tokens = serializers.FloatField(min_value=1, required=False, help_text="D: training tokens or generated tokens.")
    phase = serializers.ChoiceField(choices=["training", "inference"], default="training")
    accelerator_hours = RangeField(required=False)
    it_energy_kwh = RangeField(required=False, help_text="Measured IT energy; PUE is applied once.")
    facility_energy_kwh = RangeField(required=False, help_text="Metered at the facility; PUE is not applied.")
    hardware = serializers.SlugRelatedField(slug_field="slug", queryset=HardwareModel.objects.all(), required=False)
    accelerator_count = serializers.FloatField(min_value=1, required=False)
    host = serializers.SlugRelatedField(
        slug_field="slug", queryset=HardwareModel.objects.filter(kind="host"), required=False
    )
    accelerators_per_host = serializers.FloatField(min_value=1, default=8)
    peak_tflops = serializers.FloatField(min_value=0.001, required=False)
    mfu = RangeField(required=False)
    power_fraction = RangeField(required=False, help_text="Average draw as a share of TDP.")
    power_per_accelerator_w = RangeField(required=False)
    host_overhead = RangeField(required=False)
    lifetime_years = RangeField(required=False)
    utilisation = RangeField(required=False)
    facility = serializers.SlugRelatedField(slug_field="slug", queryset=Facility.objects.all(), required=False)
    grid_region = serializers.SlugRelatedField(slug_field="code", queryset=GridRegion.objects.all(), required=False)
    intensity_g_per_kwh = RangeField(required=False)
    pue = RangeField(required=False)
    certificate_share = RangeField(required=False)
    wue_l_per_kwh = RangeField(required=False)
    start = serializers.DateTimeField(required=False)
    tokens_served = serializers.FloatField(min_value=1, required=False, help_text="For per-1,000-token figures.")
    requests = serializers.FloatField(min_value=1, required=False, help_text="For per-request figures.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [k for k in ("accelerator_hours", "it_energy_kwh", "facility_energy_kwh") if k in attrs]
        from_model = "active_parameters" in attrs or "tokens" in attrs
        if from_model and not ("active_parameters" in attrs and "tokens" in attrs):
            raise serializers.ValidationError({"tokens": ["Give both active_parameters and tokens."]})
        if len(given) + from_model != 1:
            raise serializers.ValidationError(
                {
                    "non_field_errors": [
                        "Give exactly one activity: active_parameters + tokens, accelerator_hours, "
                        "it_energy_kwh or facility_energy_kwh."
                    ]
                }
            )
        pue = attrs.get("pue")
        if pue is not None and pue.low < 1:
            raise serializers.ValidationError({"pue": ["PUE cannot be below 1."]})
        for share in ("certificate_share", "utilisation", "mfu", "power_fraction"):
            if share in attrs and attrs[share].high > 1:
                raise serializers.ValidationError({share: ["A share cannot exceed 1."]})
        return attrs

    def to_request(self) -> EstimateRequest:
        return EstimateRequest(**self.validated_data)


class ScenarioInput(EstimateInput):
    name = serializers.CharField(max_length=120)

    def to_request(self) -> EstimateRequest:
        data = dict(self.validated_data)
        data.pop("name")
        return EstimateRequest(**data)


class CompareInput(serializers.Serializer):  # type: ignore[type-arg]
    scenarios = serializers.ListField(child=serializers.DictField(), min_length=2, max_length=20)


def range_data(value: Range | None) -> dict[str, float] | None:
    return None if value is None else value.as_dict()


def _factor(f: Factor) -> dict[str, Any]:
    value = f.value.as_dict() if isinstance(f.value, Range) else f.value
    return {"name": f.name, "value": value, "unit": f.unit, "source": f.source, "year": f.year}


def estimate_data(e: Estimate) -> dict[str, Any]:
    f = e.footprint
    return {
        "accelerator_hours": range_data(f.accelerator_hours),
        "it_energy_kwh": range_data(f.it_energy_kwh),
        "facility_energy_kwh": range_data(f.facility_energy_kwh),
        "location_based_kgco2e": range_data(f.location_based_kgco2e),
        "market_based_kgco2e": range_data(f.market_based_kgco2e),
        "embodied_kgco2e": range_data(f.embodied_kgco2e),
        "embodied_accelerators_kgco2e": range_data(f.embodied_accelerators_kgco2e),
        "embodied_hosts_kgco2e": range_data(f.embodied_hosts_kgco2e),
        "capital_goods_kgco2e": range_data(f.capital_goods_kgco2e),
        "water_l": range_data(f.water_l),
        "sci_kgco2e": range_data(f.sci_kgco2e),
        "per_1k_tokens_kgco2e": range_data(f.per_1k_tokens_kgco2e),
        "per_request_kgco2e": range_data(f.per_request_kgco2e),
        "per_1k_tokens_kwh": range_data(f.per_1k_tokens_kwh),
        "per_request_kwh": range_data(f.per_request_kwh),
        "sensitivity": [
            {
                "input": s.input_name,
                "output_low": s.output_low,
                "output_high": s.output_high,
                "share_of_swing": s.share_of_swing,
            }
            for s in f.sensitivity
        ],
        "factors": [_factor(x) for x in e.factors],
        "notes": e.notes,
        "method": "Interval propagation (monotone formulas); sensitivity one input at a time on SCI carbon "
        "(location-based operational + amortised embodied).",
    }


def scenario_data(r: ScenarioResult) -> dict[str, Any]:
    return {"rank": r.rank, "name": r.name, "explanation": r.explanation, "result": estimate_data(r.estimate)}


class GridRegionOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = GridRegion
        fields = [
            "code",
            "name",
            "kind",
            "intensity_g_per_kwh",
            "year",
            "basis",
            "cfe_share",
            "source",
            "licence",
            "notes",
        ]


class SupplierOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    procurement = serializers.SerializerMethodField()

    class Meta:
        model = Supplier
        fields = [
            "slug",
            "name",
            "kind",
            "iso_14001_since",
            "iso_50001_since",
            "certifications",
            "renewable_share",
            "renewable_share_note",
            "take_back_programme",
            "conflict_minerals_policy",
            "labour_policy",
            "sustainability_report_url",
            "cdp_disclosure",
            "source",
            "year",
            "procurement",
        ]

    def get_procurement(self, supplier: Supplier) -> dict[str, Any]:
        score, rules = procurement_score(supplier)  # reads only the row's own fields: no query
        return {"score": score, "out_of": 100, "rules": rules}


class FacilityOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    supplier = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    grid_region = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Facility
        fields = [
            "slug",
            "name",
            "supplier",
            "grid_region",
            "pue",
            "wue_l_per_kwh",
            "certificate_share",
            "heat_reuse",
            "source",
            "year",
        ]


class HardwareOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = HardwareModel
        fields = [
            "slug",
            "name",
            "kind",
            "vendor",
            "tdp_w",
            "peak_bf16_tflops",
            "memory_gb",
            "embodied_low_kgco2e",
            "embodied_central_kgco2e",
            "embodied_high_kgco2e",
            "embodied_source",
            "lifetime_years",
            "lifetime_source",
            "source",
            "year",
        ]


class ScheduleInput(StrictSerializer):
    regions = serializers.SlugRelatedField(slug_field="code", queryset=GridRegion.objects.all(), many=True)
    current_region = serializers.SlugRelatedField(slug_field="code", queryset=GridRegion.objects.all(), required=False)
    duration_h = serializers.IntegerField(min_value=1, max_value=24 * 31)
    energy_kwh = serializers.FloatField(min_value=0)
    earliest = serializers.DateTimeField()


def slot_data(slot: Slot | None) -> dict[str, Any] | None:
    if slot is None:
        return None
    return {
        "region": slot.region,
        "start": slot.start,
        "mean_intensity_g_per_kwh": slot.mean_intensity_g_per_kwh,
        "kgco2e": slot.kgco2e,
    }


def schedule_data(schedule: Schedule) -> dict[str, Any]:
    return {
        "best": slot_data(schedule.best),
        "now": slot_data(schedule.now),
        "saving_kgco2e": schedule.saving_kgco2e,
        "saving_share": schedule.saving_share,
        "candidates": [slot_data(c) for c in schedule.candidates],
    }
