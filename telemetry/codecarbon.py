"""CodeCarbon clients report here. Uploaded energy is a delta in kWh with the
client's PUE already applied: it is stored as facility energy and never multiplied
by PUE again. Carbon is recomputed with Greenlight's grid factors; the client's own
figure is kept as client-claimed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Sum

from lca.models import GridRegion
from lca.services import Estimate, EstimateError, EstimateRequest, estimate
from lca.uncertainty import Range
from telemetry.models import Agent, CodeCarbonEmission, CodeCarbonExperiment, CodeCarbonRun

RUN_DETAILS = (
    "os",
    "python_version",
    "codecarbon_version",
    "cpu_count",
    "cpu_model",
    "gpu_count",
    "gpu_model",
    "longitude",
    "latitude",
    "region",
    "provider",
    "ram_total_size",
    "tracking_mode",
)


def create_experiment(*, agent: Agent, data: dict[str, Any]) -> CodeCarbonExperiment:
    return CodeCarbonExperiment.objects.create(
        agent=agent,
        name=data["name"],
        description=data.get("description") or "",
        label=data.get("label") or data["name"],
        country_iso_code=(data.get("country_iso_code") or "").upper()[:3],
        region=data.get("region") or "",
        cloud_provider=data.get("cloud_provider") or "",
        cloud_region=data.get("cloud_region") or "",
    )


def create_run(*, experiment: CodeCarbonExperiment, started_at: datetime, data: dict[str, Any]) -> CodeCarbonRun:
    details = {k: data.get(k) for k in RUN_DETAILS if data.get(k) is not None}
    return CodeCarbonRun.objects.create(experiment=experiment, started_at=started_at, details=details)


def record_emission(*, run: CodeCarbonRun, data: dict[str, Any]) -> CodeCarbonEmission:
    return CodeCarbonEmission.objects.create(
        run=run,
        timestamp=data["timestamp"],
        duration_s=data["duration"],
        energy_kwh=data["energy_consumed"],
        cpu_energy_kwh=data.get("cpu_energy"),
        gpu_energy_kwh=data.get("gpu_energy"),
        ram_energy_kwh=data.get("ram_energy"),
        cpu_power_w=data.get("cpu_power"),
        gpu_power_w=data.get("gpu_power"),
        ram_power_w=data.get("ram_power"),
        client_claimed_kgco2e=data.get("emissions_sum"),
    )


def grid_region(experiment: CodeCarbonExperiment) -> GridRegion | None:
    """The cloud region where the client named one, else its country."""
    codes = []
    if experiment.cloud_provider and experiment.cloud_region:
        codes.append(f"{experiment.cloud_provider.lower()}:{experiment.cloud_region}")
    if experiment.country_iso_code:
        codes.append(experiment.country_iso_code)
    for code in codes:
        region = GridRegion.objects.filter(code=code, intensity_g_per_kwh__isnull=False).first()
        if region is not None:
            return region
    return None


@dataclass(frozen=True)
class RunFootprint:
    energy_kwh: float
    duration_s: float
    client_claimed_kgco2e: float | None
    estimate: Estimate | None
    note: str


def run_footprint(run: CodeCarbonRun) -> RunFootprint:
    totals = run.emissions.aggregate(
        energy=Sum("energy_kwh"), duration=Sum("duration_s"), claimed=Sum("client_claimed_kgco2e")
    )
    energy_kwh = totals["energy"] or 0.0
    region = grid_region(run.experiment)
    if region is None:
        return RunFootprint(
            energy_kwh,
            totals["duration"] or 0.0,
            totals["claimed"],
            None,
            "No Greenlight grid factor for this experiment's country or region: carbon not computed.",
        )
    try:
        result = estimate(EstimateRequest(facility_energy_kwh=Range.exact(energy_kwh), grid_region=region))
    except EstimateError as exc:
        return RunFootprint(energy_kwh, totals["duration"] or 0.0, totals["claimed"], None, str(exc))
    return RunFootprint(
        energy_kwh,
        totals["duration"] or 0.0,
        totals["claimed"],
        result,
        f"Recomputed with {region.code} at {region.intensity_g_per_kwh:g} gCO2e/kWh.",
    )
