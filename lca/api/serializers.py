"""Translate estimate requests and results; the arithmetic lives in lca.footprint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api import MAX_QUANTITY, StrictSerializer
from lca.footprint import How, Scope
from lca.inputs import request_errors
from lca.models import Facility, GridRegion, HardwareModel, Supplier, procurement_score
from lca.present import estimate_data
from lca.scheduling import Schedule, Slot
from lca.services import Comparison, EstimateRequest
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
        "invalid": 'Give a number or {{"low", "central", "high"}} with 0 ≤ low ≤ central ≤ high ≤ 1e15.',
    }

    def to_internal_value(self, data: Any) -> Range:
        try:
            if isinstance(data, Mapping):
                unknown = set(data) - {"low", "central", "high"}
                if unknown or "central" not in data:
                    self.fail("invalid")
                central = float(data["central"])
                value = Range(float(data.get("low", central)), central, float(data.get("high", central)))
            elif isinstance(data, bool):
                self.fail("invalid")
            else:
                value = Range.exact(float(data))
            if value.high > MAX_QUANTITY:  # NaN and infinity already failed the ordering check
                self.fail("invalid")
            return value
        except (TypeError, ValueError):
            self.fail("invalid")
        raise AssertionError  # unreachable: fail() raises

    def to_representation(self, value: Range) -> dict[str, float]:
        return value.as_dict()


SCOPE_HELP = (
    "What the figure already includes: 'accelerator' (the accelerators alone: host overhead and PUE are added), "
    "'node' (accelerators and their host: PUE is added), 'facility' (PUE included: nothing is added). "
    "Default 'accelerator'."
)
SCOPES = [s.value for s in Scope]


class EstimateInput(StrictSerializer):
    """Every number may be a range; each field's help says its unit and, for power and energy, its scope."""

    active_parameters = serializers.FloatField(
        min_value=1, required=False, help_text="N, parameters active per token (the active ones for MoE)."
    )
    tokens = serializers.FloatField(
        min_value=1, required=False, help_text="D: training tokens, or generated (output) tokens for inference."
    )
    input_tokens = serializers.FloatField(
        min_value=0, required=False, help_text="Inference only: prompt (prefill) tokens, counted at 2·N FLOPs each."
    )
    phase = serializers.ChoiceField(choices=["training", "inference"], default="training")
    accelerator_hours = RangeField(required=False, help_text="Device-hours (accelerators × hours).")
    duration_h = RangeField(
        required=False, help_text="Wall-clock hours; with accelerator_count, instead of accelerator_hours."
    )
    energy_kwh = RangeField(required=False, help_text="Energy used, kWh, at the scope given by energy_scope.")
    energy_scope = serializers.ChoiceField(choices=SCOPES, required=False, help_text=SCOPE_HELP)
    host_energy_kwh = RangeField(
        required=False,
        help_text="The host's own energy (CPUs, memory, network), kWh, where measured: replaces the host "
        "overhead estimate. Only with energy_scope 'accelerator'.",
    )
    hardware: serializers.SlugRelatedField[HardwareModel] = serializers.SlugRelatedField(
        slug_field="slug", queryset=HardwareModel.objects.all(), required=False
    )
    accelerator_count = serializers.FloatField(min_value=1, required=False)
    host: serializers.SlugRelatedField[HardwareModel] = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=HardwareModel.objects.filter(kind="host"),
        required=False,
        help_text="Host server model; default: the facility's, else the generic 8-GPU host (said in the notes).",
    )
    accelerators_per_host = serializers.FloatField(min_value=1, default=8)
    peak_tflops = serializers.FloatField(min_value=0.001, required=False, help_text="Peak dense TFLOP/s.")
    mfu = RangeField(
        required=False,
        help_text="Model FLOPs utilisation, share. Default: whole-run 0.20–0.32–0.35 for training, "
        "0.05–0.20–0.76 for inference.",
    )
    capacity_in_use = RangeField(
        required=False,
        help_text="Share of the provisioned accelerator time doing the work (idle or over-provisioned capacity "
        "still draws power). Default 1.",
    )
    power_fraction = RangeField(required=False, help_text="Average draw as a share of TDP (accelerator scope).")
    power_per_accelerator_w = RangeField(
        required=False, help_text="Average power per accelerator, W, at the scope given by power_scope."
    )
    power_scope = serializers.ChoiceField(choices=SCOPES, required=False, help_text=SCOPE_HELP)
    host_overhead = RangeField(
        required=False, help_text="Node ÷ accelerator energy (≥ 1). Default 1.20–1.43–1.78; accelerator scope only."
    )
    accelerator_embodied_kgco2e = RangeField(
        required=False, help_text="Embodied carbon of one accelerator, kgCO2e, instead of the catalogue's."
    )
    host_embodied_kgco2e = RangeField(
        required=False, help_text="Embodied carbon of one host server without accelerators, kgCO2e."
    )
    lifetime_years = RangeField(required=False, help_text="The accelerators' lifetime, years.")
    host_lifetime_years = RangeField(required=False, help_text="The host's lifetime, years.")
    utilisation = RangeField(required=False, help_text="Share of the hardware's lifetime in use. Default 0.7–0.85–1.")
    facility: serializers.SlugRelatedField[Facility] = serializers.SlugRelatedField(
        slug_field="slug", queryset=Facility.objects.all(), required=False
    )
    grid_region: serializers.SlugRelatedField[GridRegion] = serializers.SlugRelatedField(
        slug_field="code", queryset=GridRegion.objects.all(), required=False
    )
    intensity_g_per_kwh = RangeField(required=False, help_text="Grid intensity, gCO2e/kWh.")
    pue = RangeField(required=False, help_text="Power usage effectiveness (≥ 1); the facility's by default.")
    certificate_share = RangeField(required=False, help_text="Share of electricity matched by certificates.")
    wue_l_per_kwh = RangeField(required=False, help_text="On-site water, litres per kWh of IT energy.")
    start = serializers.DateTimeField(required=False)
    tokens_served = serializers.FloatField(min_value=1, required=False, help_text="For per-1,000-token figures.")
    requests = serializers.FloatField(min_value=1, required=False, help_text="For per-request figures.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors = request_errors(attrs)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def to_request(self) -> EstimateRequest:
        data = dict(self.validated_data)
        data.pop("name", None)  # a scenario's label, not an input
        for name in ("energy_scope", "power_scope"):
            if name in data:
                data[name] = Scope(data[name])
        return EstimateRequest(**data)


class ScenarioInput(EstimateInput):
    name = serializers.CharField(max_length=120)


class CompareInput(serializers.Serializer):  # type: ignore[type-arg]
    scenarios = serializers.ListField(child=serializers.DictField(), min_length=2, max_length=20)


class RangeOutput(serializers.Serializer):  # type: ignore[type-arg]
    low = serializers.FloatField()
    central = serializers.FloatField()
    high = serializers.FloatField()


def _range(help_text: str) -> RangeOutput:
    return RangeOutput(allow_null=True, help_text=help_text)


@extend_schema_field({"oneOf": [{"type": "number"}, {"type": "string"}, RANGE_SCHEMA["oneOf"][1]]})
class FactorValueField(serializers.Field):  # type: ignore[type-arg]
    def to_representation(self, value: Any) -> Any:
        return value


class FactorOutput(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField()
    value = FactorValueField()
    unit = serializers.CharField()
    source = serializers.CharField(help_text="Where the figure comes from, or 'given in the request'.")  # type: ignore[assignment]  # named like a Field attribute
    year = serializers.IntegerField(allow_null=True, help_text="The figure's data year, where stated.")


class PartOutput(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(help_text="accelerators, host, accelerators and host, or facility (metered).")
    it_energy_kwh = _range("IT energy of this part, kWh (empty for energy metered at the facility).")
    facility_energy_kwh = _range("This part with PUE applied, kWh.")
    location_based_kgco2e = _range("Location-based carbon of this part, kgCO2e.")
    how = serializers.ChoiceField(choices=[h.value for h in How], help_text="measured, given or estimated.")


class SensitivityOutput(serializers.Serializer):  # type: ignore[type-arg]
    input = serializers.CharField()
    output_low = serializers.FloatField()
    output_high = serializers.FloatField()
    share_of_swing = serializers.FloatField()


class EstimateOutput(serializers.Serializer):  # type: ignore[type-arg]
    """A footprint: every figure a {low, central, high} range, or null where it could not be computed."""

    scope = serializers.ChoiceField(choices=SCOPES, help_text="What the activity input covered.")
    accelerator_hours = _range("Device-hours.")
    accelerator_energy_kwh = _range("The accelerators' own energy, kWh (accelerator scope only).")
    host_energy_kwh = _range("Host CPUs, memory and network, kWh (accelerator scope only).")
    it_energy_kwh = _range("Accelerators and host, kWh.")
    facility_energy_kwh = _range("IT energy × PUE, kWh.")
    location_based_kgco2e = _range("Scope 2 location-based, kgCO2e.")
    market_based_kgco2e = _range("Scope 2 market-based, kgCO2e (a separate figure, never added).")
    embodied_kgco2e = _range("Amortised embodied carbon (SCI M), kgCO2e.")
    embodied_accelerators_kgco2e = _range("Accelerators' share of M, kgCO2e.")
    embodied_hosts_kgco2e = _range("Hosts' share of M, kgCO2e.")
    capital_goods_kgco2e = _range("GHG Protocol Scope 3 Cat. 2: whole devices, kgCO2e.")
    water_l = _range("On-site water, litres.")
    sci_kgco2e = _range("Location-based operational + amortised embodied, kgCO2e.")
    per_1k_tokens_kgco2e = _range("SCI per 1,000 tokens served, kgCO2e.")
    per_request_kgco2e = _range("SCI per request, kgCO2e.")
    per_1k_tokens_kwh = _range("Facility energy per 1,000 tokens served, kWh.")
    per_request_kwh = _range("Facility energy per request, kWh.")
    parts = PartOutput(many=True, help_text="The operational footprint by boundary; the parts add up.")
    sensitivity = SensitivityOutput(many=True)
    factors = FactorOutput(many=True)
    notes = serializers.ListField(child=serializers.CharField())
    method = serializers.CharField()


class ScenarioOutput(serializers.Serializer):  # type: ignore[type-arg]
    rank = serializers.IntegerField()
    name = serializers.CharField()
    distinguishable = serializers.BooleanField(
        help_text="False when its location-based carbon range overlaps the best scenario's."
    )
    explanation = serializers.ListField(child=serializers.CharField())
    result = EstimateOutput()


class ComparisonOutput(serializers.Serializer):  # type: ignore[type-arg]
    warnings = serializers.ListField(child=serializers.CharField(), help_text="Where the scenarios are not alike.")
    scenarios = ScenarioOutput(many=True)


def comparison_data(c: Comparison) -> dict[str, Any]:
    return {
        "warnings": c.warnings,
        "scenarios": [
            {
                "rank": r.rank,
                "name": r.name,
                "distinguishable": r.distinguishable,
                "explanation": r.explanation,
                "result": estimate_data(r.estimate),
            }
            for r in c.scenarios
        ],
    }


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
    sustainability_report_url = serializers.CharField(help_text="A URL, or empty where none is published.")

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
    supplier: serializers.SlugRelatedField[Supplier] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    grid_region: serializers.SlugRelatedField[GridRegion] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )

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


class SlotOutput(serializers.Serializer):  # type: ignore[type-arg]
    region = serializers.CharField()
    start = serializers.DateTimeField()
    mean_intensity_g_per_kwh = serializers.FloatField()
    kgco2e = serializers.FloatField()


class SkippedOutput(serializers.Serializer):  # type: ignore[type-arg]
    region = serializers.CharField()
    reason = serializers.CharField()


class ScheduleOutput(serializers.Serializer):  # type: ignore[type-arg]
    best = SlotOutput()
    now = SlotOutput(allow_null=True, help_text="Starting at the current region's first hour.")
    saving_kgco2e = serializers.FloatField(allow_null=True)
    saving_share = serializers.FloatField(allow_null=True)
    candidates = SlotOutput(many=True, help_text="The best window of every region, lowest carbon first.")
    skipped = SkippedOutput(many=True, help_text="Regions left out, with the reason.")


def schedule_data(schedule: Schedule) -> dict[str, Any]:
    return {
        "best": slot_data(schedule.best),
        "now": slot_data(schedule.now),
        "saving_kgco2e": schedule.saving_kgco2e,
        "saving_share": schedule.saving_share,
        "candidates": [slot_data(c) for c in schedule.candidates],
        "skipped": [{"region": x.region, "reason": x.reason} for x in schedule.skipped],
    }
