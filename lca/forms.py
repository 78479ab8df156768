from __future__ import annotations

from typing import Any

from django import forms

from lca.models import Facility, GridRegion, HardwareModel

ACTIVITIES = [
    ("model", "Model size and tokens (6·N·D for training, 2·N·D for inference)"),
    ("accelerator_hours", "Accelerator-hours"),
    ("energy_kwh", "Measured energy (kWh)"),
]
SCOPES = [
    ("accelerator", "The accelerators alone (host and PUE are added)"),
    ("node", "Accelerators and their host (PUE is added)"),
    ("facility", "At the facility meter (PUE included)"),
]
RANGES = ["mfu", "power_fraction"]


class EstimateForm(forms.Form):
    """The web twin of POST /api/v1/estimates/: it produces the same request body, which
    lca.inputs checks with the same cross-field rules, so the page and the API cannot disagree."""

    activity = forms.ChoiceField(choices=ACTIVITIES, widget=forms.RadioSelect, initial="model")
    phase = forms.ChoiceField(
        choices=[("training", "Training"), ("inference", "Inference")], initial="training", required=False
    )
    active_parameters = forms.FloatField(required=False, min_value=1, help_text="N; active parameters for MoE.")
    tokens = forms.FloatField(required=False, min_value=1, help_text="D: training tokens or generated tokens.")
    input_tokens = forms.FloatField(required=False, min_value=0, help_text="Inference: prompt tokens.")
    accelerator_hours = forms.FloatField(required=False, min_value=0, label="Accelerator-hours")
    energy_kwh = forms.FloatField(required=False, min_value=0, label="Energy (kWh)")
    energy_scope = forms.ChoiceField(choices=SCOPES, required=False, initial="accelerator", label="The energy covers")
    hardware = forms.ModelChoiceField(
        HardwareModel.objects.filter(kind="accelerator"), to_field_name="slug", required=False
    )
    accelerator_count = forms.FloatField(required=False, min_value=1)
    host = forms.ModelChoiceField(HardwareModel.objects.filter(kind="host"), to_field_name="slug", required=False)
    facility = forms.ModelChoiceField(Facility.objects.all(), to_field_name="slug", required=False)
    grid_region = forms.ModelChoiceField(
        GridRegion.objects.all(), to_field_name="code", required=False, help_text="Instead of a facility."
    )
    pue = forms.FloatField(
        required=False, min_value=1, label="PUE", help_text="With a grid region; a facility has its own."
    )
    mfu_low = forms.FloatField(required=False, min_value=0, max_value=1, label="MFU low")
    mfu_central = forms.FloatField(required=False, min_value=0, max_value=1, label="MFU central")
    mfu_high = forms.FloatField(required=False, min_value=0, max_value=1, label="MFU high")
    power_fraction_low = forms.FloatField(required=False, min_value=0, max_value=1, label="Power ÷ TDP low")
    power_fraction_central = forms.FloatField(required=False, min_value=0, max_value=1, label="Power ÷ TDP central")
    power_fraction_high = forms.FloatField(required=False, min_value=0, max_value=1, label="Power ÷ TDP high")
    tokens_served = forms.FloatField(required=False, min_value=1, help_text="For the per-1,000-token figure.")
    requests = forms.FloatField(required=False, min_value=1, help_text="For the per-request figure.")

    def api_body(self) -> dict[str, Any]:
        data = self.cleaned_data
        body: dict[str, Any] = {}
        if data["activity"] == "model":
            body.update(
                phase=data["phase"] or "training", active_parameters=data["active_parameters"], tokens=data["tokens"]
            )
            if body["phase"] == "inference":
                body["input_tokens"] = data.get("input_tokens")
        else:
            body[data["activity"]] = data[data["activity"]]
            if data["activity"] == "energy_kwh":
                body["energy_scope"] = data.get("energy_scope") or None
        for name in ("accelerator_count", "pue", "tokens_served", "requests"):
            if data.get(name) is not None:
                body[name] = data[name]
        for name, key in (("hardware", "slug"), ("host", "slug"), ("facility", "slug"), ("grid_region", "code")):
            if data.get(name) is not None:
                body[name] = getattr(data[name], key)
        for name in RANGES:
            central = data.get(f"{name}_central")
            if central is not None:
                body[name] = {
                    "low": data.get(f"{name}_low") or central,
                    "central": central,
                    "high": data.get(f"{name}_high") or central,
                }
        return {k: v for k, v in body.items() if v is not None}
