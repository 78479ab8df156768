"""CodeCarbon clients report here. Uploaded energy is a delta in kWh of the machine
(CPU, GPU and RAM). CodeCarbon's PUE defaults to 1.0, so Greenlight applies the
facility's PUE unless the client reported a PUE of its own (then the energy is taken
as facility energy and never multiplied again); the footprint says which. Carbon is
recomputed with Greenlight's grid factors; the client's own figure is kept as
client-claimed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Max, Sum

from lca.footprint import How, Scope
from lca.models import Facility, GridRegion, RegionKind
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


class LabelRefused(ValueError):
    """The experiment's label lies outside the key's namespaces."""


def create_experiment(*, agent: Agent, data: dict[str, Any]) -> CodeCarbonExperiment:
    label = data.get("label") or data["name"]
    if not agent.may_write(label):
        raise LabelRefused(f"This key writes labels of {', '.join(agent.label_namespaces)} only ('namespace/…').")
    return CodeCarbonExperiment.objects.create(
        agent=agent,
        name=data["name"],
        description=data.get("description") or "",
        label=label,
        country_iso_code=(data.get("country_iso_code") or "").upper()[:3],
        region=data.get("region") or "",
        cloud_provider=data.get("cloud_provider") or "",
        cloud_region=data.get("cloud_region") or "",
        facility=data.get("facility"),
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
        client_pue=data.get("pue"),
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


def facility(experiment: CodeCarbonExperiment, region: GridRegion) -> Facility | None:
    """The facility the experiment names, else the catalogue's facility of its cloud region;
    a country alone says nothing of the data centre, so it gives none."""
    if experiment.facility is not None:
        return experiment.facility
    if region.kind != RegionKind.CLOUD_REGION:
        return None
    return Facility.objects.filter(grid_region=region).order_by("slug").first()


@dataclass(frozen=True)
class RunFootprint:
    energy_kwh: float
    duration_s: float
    client_claimed_kgco2e: float | None
    estimate: Estimate | None
    note: str


def run_footprint(run: CodeCarbonRun) -> RunFootprint:
    totals = run.emissions.aggregate(
        energy=Sum("energy_kwh"),
        duration=Sum("duration_s"),
        claimed=Sum("client_claimed_kgco2e"),
        client_pue=Max("client_pue"),
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
    site = facility(run.experiment, region)
    client_pue = totals["client_pue"]
    if client_pue is not None and client_pue > 1:
        scope, pue_note = Scope.FACILITY, f"the client applied its own PUE {client_pue:g}, so none is added"
    else:
        scope = Scope.NODE
        pue_note = (
            f"the client reported no PUE (CodeCarbon's default is 1.0), so {site.name}'s PUE is applied"
            if site is not None and site.pue is not None
            else "the client reported no PUE and no facility is known for this experiment: PUE not counted"
        )
    request = EstimateRequest(
        energy_kwh=Range.exact(energy_kwh),
        energy_scope=scope,
        energy_how=How.MEASURED,
        grid_region=region,
        facility=site,
    )
    try:
        result = estimate(request)
    except EstimateError as exc:
        return RunFootprint(energy_kwh, totals["duration"] or 0.0, totals["claimed"], None, str(exc))
    return RunFootprint(
        energy_kwh,
        totals["duration"] or 0.0,
        totals["claimed"],
        result,
        f"Recomputed with {region.code} at {region.intensity_g_per_kwh:g} gCO2e/kWh; machine energy (CPU, GPU, RAM); "
        f"{pue_note}.",
    )
