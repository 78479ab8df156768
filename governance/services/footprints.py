"""A run's, a deployment's and a version's footprint: telemetry energy where GPUs
reported, the pre-run estimate otherwise, always saying which. Formulas stay in lca."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from governance.models import Deployment, ModelVersion, Run, StoredFootprint
from governance.services.audit import canonical
from lca.footprint import Footprint, How, Scope, training_flops
from lca.inputs import request_from_data
from lca.models import DataRequestState, HardwareModel, SupplierDataRequest
from lca.present import estimate_data, estimate_from_data, factor_data, range_data
from lca.services import Estimate, EstimateRequest, default_host, estimate
from lca.uncertainty import Range
from telemetry import promql, queries
from telemetry.models import Attribution, MetricsStore, StoreReading

E = Range.exact
FIGURES = ("facility_energy_kwh", "location_based_kgco2e", "market_based_kgco2e", "embodied_kgco2e", "water_l")


# The functional unit of every per-token figure, measured or projected: the same tokens and
# the same boundary, so that the post-release check compares like with like.
PER_1K_TOKENS_UNIT = "SCI per 1,000 tokens processed (input + output)"
PER_1K_TOKENS_BOUNDARY = "accelerators + host + PUE + amortised embodied, location-based"


@dataclass(frozen=True)
class RunFootprint:
    run: Run
    source: str  # "telemetry" or "estimate"
    coverage: float
    method: str
    accelerator_hours: float
    result: Estimate
    note: str
    problem: str = ""  # why a measurement that was asked for is missing (a metrics store that failed)


def _measured(energy: queries.Energy, hours: float, common: dict[str, Any]) -> EstimateRequest:
    """Telemetry's accelerator energy, plus the hosts' own (RAPL) where they reported it;
    where they did not, lca adds the estimated host share with its range and source."""
    host: dict[str, Any] = {}
    if energy.host_devices:
        host = {
            "host_energy_kwh": E(energy.host_energy_kwh),
            "host_energy_how": How.MEASURED,
            "host_energy_source": f"telemetry: RAPL CPU package and memory counters of {energy.host_devices} host(s)",
        }
    return EstimateRequest(
        energy_kwh=E(energy.energy_kwh),
        energy_scope=Scope.ACCELERATOR,
        energy_how=How.MEASURED,
        accelerator_hours=E(hours),
        **host,
        **common,
    )


def _host_note(energy: queries.Energy) -> str:
    return "host measured (RAPL)" if energy.host_devices else "host estimated (no host telemetry)"


def compute_run_footprint(run: Run) -> RunFootprint:
    """A fresh computation from telemetry and reference data: what ledger.refresh stores."""
    return compute_run_footprints([run])[0]


def compute_run_footprints(runs: list[Run]) -> list[RunFootprint]:
    """compute_run_footprint for each run: from the fleet's metrics store where the run's
    project or facility names one, else from Greenlight's telemetry, read for all of
    them in one query."""
    now = timezone.now()
    stores = _metrics_stores(runs)
    energies = iter(queries.label_energies([(r.label, *_window(r, now)) for r in runs if r.pk not in stores]))
    host = functools.cache(default_host)  # read once for the batch
    footprints = []
    for run in runs:
        store = stores.get(run.pk)
        if store is None:
            footprints.append(_run_footprint(run, next(energies), now, host))
            continue
        energy, problem = _store_energy(store, run.label, run.started_at, run.ended_at or now)
        footprints.append(_run_footprint(run, energy, now, host, problem))
    return footprints


def _store_energy(store: MetricsStore, label: str, start: datetime, end: datetime) -> tuple[queries.Energy, str]:
    """The label's energy asked of the fleet's metrics store, or none and why."""
    reading = promql.read_energy(store, label, start, end)
    if reading.status == StoreReading.Status.OK and reading.energy_kwh:
        gpus = len(reading.per_gpu)
        return queries.Energy(reading.energy_kwh, 0.0, reading.coverage, "prometheus", gpus, None, None), ""
    return queries.NO_ENERGY, f"{store.name} ({store.url}): {reading.get_status_display().lower()} — {reading.error}"


def _window(run: Run, now: datetime) -> tuple[datetime, datetime]:
    """The run's telemetry window: its span, a minute wider on each side (its first and
    last minutes are rolled up whole)."""
    margin = timedelta(minutes=1)
    return run.started_at - margin, (run.ended_at or now) + margin


def _shared_note(run: Run, now: datetime) -> str:
    """What the run's energy on shared GPUs (MIG instances, time-sliced pods) is a share of."""
    start, end = _window(run, now)
    b = queries.balance(label=run.label, start=start, end=end)
    how = ", ".join(Attribution(a).label.split(" (")[0].lower() for a in b.attribution.split(", ") if a)
    return (
        f" On {b.gpus} shared GPU(s) the run was attributed {b.label_kwh:.3g} kWh of the {b.metered_kwh:.3g} kWh "
        f"their meters read ({how}); "
        f"attributed {b.attributed_kwh:.3g} + idle {b.idle_kwh:.3g} kWh = {b.closure:.1%} of metered."
    )


def _metrics_stores(runs: list[Run]) -> dict[int, MetricsStore]:
    """The store each run's energy is read from: its project's, else its facility's."""
    by_facility: dict[int, MetricsStore] = {}
    facilities = {r.facility_id for r in runs if r.model_version.registered_model.project.metrics_store_id is None}
    if facilities:
        for store in MetricsStore.objects.filter(facility_id__in=facilities).order_by("-pk"):
            by_facility[store.facility_id] = store  # type: ignore[index]  # filtered on facility
    stores = {}
    for run in runs:
        chosen = run.model_version.registered_model.project.metrics_store or by_facility.get(run.facility_id)
        if chosen is not None:
            stores[run.pk] = chosen
    return stores


def _deployment_store(deployment: Deployment) -> MetricsStore | None:
    project = deployment.model_version.registered_model.project
    return (
        project.metrics_store or MetricsStore.objects.filter(facility_id=deployment.facility_id).order_by("-pk").first()
    )


def _run_footprint(
    run: Run,
    energy: queries.Energy,
    now: datetime,
    host: Callable[[], HardwareModel | None],
    problem: str = "",
) -> RunFootprint:
    end = run.ended_at or now
    hours = max((end - run.started_at).total_seconds(), 0.0) / 3600 * run.accelerator_count
    common: dict[str, Any] = {
        "hardware": run.hardware,
        "facility": run.facility,
        "accelerator_count": run.accelerator_count,
        "host": run.host,
    }
    if energy.energy_kwh > 0:
        source = "the fleet's metrics store (PromQL increase of the DCGM energy counter)"
        note = (
            f"Accelerators measured by {source if energy.method == 'prometheus' else 'telemetry'} ({energy.method}), "
            f"{energy.coverage:.0%} coverage; {_host_note(energy)}."
        ) + (_shared_note(run, now) if energy.shared_gpus else "")
        result = estimate(_measured(energy, hours, common), host)
        return RunFootprint(run, "telemetry", energy.coverage, energy.method, hours, result, note)
    missing = f"Energy not measured: {problem}." if problem else "No telemetry for this run."
    if run.estimate:
        request = request_from_data(run.estimate)
        note = f"{missing} Its pre-run estimate is used."
    else:
        request = EstimateRequest(accelerator_hours=E(hours), **common)
        note = f"{missing} No pre-run estimate: estimated from accelerator-hours × power."
    return RunFootprint(run, "estimate", 0.0, "none", hours, estimate(request, host), note, problem)


def inputs_digest(rf: RunFootprint) -> str:
    """The digest of every input a run's footprint used: the run's own fields, its energy
    with method and coverage, and each factor with its value, source and year."""
    run = rf.run
    return digest(
        {
            "run": [run.hardware_id, run.host_id, run.facility_id, run.accelerator_count, run.estimate],
            "window": [run.started_at.isoformat(), run.ended_at.isoformat() if run.ended_at else None],
            "energy": [rf.source, rf.method, rf.coverage, rf.accelerator_hours, rf.note],
            "factors": [factor_data(f) for f in rf.result.factors],
        }
    )


def from_stored(record: StoredFootprint) -> RunFootprint:
    return RunFootprint(
        record.run,
        record.source,
        record.coverage,
        record.method,
        record.accelerator_hours,
        estimate_from_data(record.result),
        record.note,
        record.problem,
    )


def stored_run_footprints(version: ModelVersion) -> list[RunFootprint]:
    """The version's runs' stored footprints, in one query (two when some run has none yet)."""
    missing = list(version.runs.filter(stored_footprint__isnull=True).values_list("pk", flat=True))
    if missing:
        # Runs recorded before footprints were stored get theirs once; from then on, reads read.
        from governance.services import ledger  # ledger builds on this module

        for run_id in missing:
            ledger.refresh(run_id)
    records = StoredFootprint.objects.filter(model_version=version).select_related(
        "run__facility__grid_region", "run__facility__supplier", "run__hardware", "run__host"
    )
    # In the runs' own order, as snapshots froze them.
    return [from_stored(r) for r in records.order_by("started_at", "run_id")]


def run_footprint(run: Run) -> RunFootprint:
    """A run's stored footprint."""
    record = StoredFootprint.objects.select_related("run").filter(run=run).first()
    if record is None:
        from governance.services import ledger  # as in stored_run_footprints

        record = ledger.refresh(run.pk)
    return from_stored(record)


@dataclass(frozen=True)
class DeploymentFootprint:
    deployment: Deployment
    tokens: int  # input + output
    input_tokens: int
    requests: int
    energy_kwh: float
    coverage: float
    result: Estimate | None
    note: str
    window: tuple[datetime, datetime] | None = None  # the first usage window's start, the last one's end
    workflows: int = 0  # agentic workflow executions completed in the windows

    # Production energy per unit of service: the accelerators' metered energy over the
    # usage windows (idle time included), divided by what the inference servers counted.
    @property
    def output_tokens(self) -> int:
        return self.tokens - self.input_tokens

    @property
    def j_per_output_token(self) -> float | None:
        return self.energy_kwh * 3.6e6 / self.output_tokens if self.energy_kwh and self.output_tokens else None

    @property
    def wh_per_1k_tokens(self) -> float | None:
        return self.energy_kwh * 1e6 / self.tokens if self.energy_kwh and self.tokens else None

    @property
    def wh_per_request(self) -> float | None:
        return self.energy_kwh * 1000 / self.requests if self.energy_kwh and self.requests else None


def deployment_footprint(deployment: Deployment) -> DeploymentFootprint:
    """Energy of the deployment's GPUs (and hosts, measured or estimated) over its reported
    usage windows, idle time included, divided by the tokens and requests served in them."""
    usage = list(deployment.usage.all())
    input_tokens = sum(u.input_tokens for u in usage)
    tokens = input_tokens + sum(u.output_tokens for u in usage)
    requests = sum(u.requests for u in usage)
    if not usage:
        return DeploymentFootprint(deployment, 0, 0, 0, 0.0, 0.0, None, "No usage reported yet.")
    start, end = min(u.window_start for u in usage), max(u.window_end for u in usage)
    store, problem = _deployment_store(deployment), ""
    if store is not None:
        energy, problem = _store_energy(store, deployment.label, start, end)
    else:
        energy = queries.energy(start=start, end=end, labels=[deployment.label])
    if energy.energy_kwh <= 0 or tokens == 0:
        why = f"Energy not measured: {problem}" if problem else "No telemetry energy in the usage windows"
        return DeploymentFootprint(
            deployment,
            tokens,
            input_tokens,
            requests,
            0.0,
            energy.coverage,
            None,
            f"{why}: per-token footprint unknown.",
        )
    hours = (end - start).total_seconds() / 3600 * deployment.accelerator_count
    common: dict[str, Any] = {
        "hardware": deployment.hardware,
        "facility": deployment.facility,
        "accelerator_count": deployment.accelerator_count,
        "host": deployment.host,
        "tokens_served": float(tokens),
        "requests": float(requests) or None,
    }
    result = estimate(_measured(energy, hours, common))
    return DeploymentFootprint(
        deployment,
        tokens,
        input_tokens,
        requests,
        energy.energy_kwh,
        energy.coverage,
        result,
        f"Telemetry ({energy.method}), {energy.coverage:.0%} coverage, idle included; {_host_note(energy)}.",
        (start, end),
        sum(u.workflow_executions for u in usage),
    )


@dataclass
class VersionFootprint:
    version: ModelVersion
    runs: list[RunFootprint]
    deployments: list[DeploymentFootprint]
    totals: dict[str, Range] = field(default_factory=dict)
    base_share: dict[str, Range] = field(default_factory=dict)
    per_1k_tokens_kgco2e: Range | None = None
    per_1k_tokens_definition: str = ""
    per_request_kgco2e: Range | None = None
    min_coverage: float | None = None
    projected_per_1k_tokens_kgco2e: Range | None = None
    projected_per_1k_tokens_definition: str = ""
    notes: list[str] = field(default_factory=list)


def _add(totals: dict[str, Range], name: str, value: Range | None) -> None:
    if value is not None:
        totals[name] = totals.get(name, E(0)) + value


def version_footprint(version: ModelVersion, *, _depth: int = 0) -> VersionFootprint:
    runs = stored_run_footprints(version)
    deployments = [
        deployment_footprint(d)
        for d in version.deployments.select_related(
            "facility__grid_region", "hardware", "host", "model_version__registered_model__project__metrics_store"
        )
    ]
    result = VersionFootprint(version, runs, deployments)
    for rf in runs:
        for name in FIGURES:
            _add(result.totals, name, getattr(rf.result.footprint, name))
    if version.base_version_id and version.share_of_base > 0 and _depth < 10:
        base = version_footprint(version.base_version, _depth=_depth + 1)  # type: ignore[arg-type]
        for name, value in base.totals.items():
            result.base_share[name] = value * version.share_of_base
            _add(result.totals, name, value * version.share_of_base)
        result.notes.append(f"Includes {version.share_of_base:.0%} of {version.base_version}'s footprint.")
    measured = [d for d in deployments if d.result is not None]
    if measured:
        best = max(measured, key=lambda d: d.tokens)  # the deployment with the most traffic speaks for the version
        result.per_1k_tokens_kgco2e = best.result.footprint.per_1k_tokens_kgco2e  # type: ignore[union-attr]
        result.per_request_kgco2e = best.result.footprint.per_request_kgco2e  # type: ignore[union-attr]
        result.per_1k_tokens_definition = (
            f"{PER_1K_TOKENS_UNIT}, measured on “{best.deployment.name}” by telemetry, idle time included; "
            f"{PER_1K_TOKENS_BOUNDARY}"
        )
    input_share = _input_share(deployments)
    result.projected_per_1k_tokens_kgco2e = _projection(version, input_share)
    if result.projected_per_1k_tokens_kgco2e is not None:
        mix = "no usage yet: output tokens only" if input_share is None else f"{input_share:.0%} input tokens"
        result.projected_per_1k_tokens_definition = (
            f"{PER_1K_TOKENS_UNIT} ({mix}), projected at 2·N FLOPs per token, inference MFU, busy time only; "
            f"{PER_1K_TOKENS_BOUNDARY}"
        )
    if runs:
        result.min_coverage = min(rf.coverage for rf in runs)
    else:
        result.notes.append("No runs recorded: the training footprint is empty.")
    return result


def _input_share(deployments: list[DeploymentFootprint]) -> float | None:
    """The share of input tokens in the version's reported traffic, so that the projection
    counts the same mix of tokens as the measurement."""
    tokens = sum(d.tokens for d in deployments)
    return sum(d.input_tokens for d in deployments) / tokens if tokens else None


def _projection(version: ModelVersion, input_share: float | None) -> Range | None:
    """Projected SCI per 1,000 tokens processed (input + output at the reported mix): 2·N FLOPs
    per token on the first deployment's hardware and facility (lca's inference estimate)."""
    deployment = version.deployments.select_related("facility", "hardware", "host").order_by("started_at").first()
    if deployment is None or not deployment.hardware.peak_bf16_tflops:
        return None
    share = input_share or 0.0
    result = estimate(
        EstimateRequest(
            active_parameters=float(version.effective_active_parameters),
            tokens=1000.0 * (1 - share) or None,
            input_tokens=1000.0 * share or None,
            phase="inference",
            hardware=deployment.hardware,
            facility=deployment.facility,
            accelerator_count=1,
            host=deployment.host,
            tokens_served=1000.0,
        )
    )
    return result.footprint.per_1k_tokens_kgco2e


def run_footprint_data(rf: RunFootprint) -> dict[str, Any]:
    return {
        "run": rf.run.pk,
        "label": rf.run.label,
        "status": rf.run.status,
        "source": rf.source,
        "coverage": rf.coverage,
        "method": rf.method,
        "accelerator_hours": rf.accelerator_hours,
        "note": rf.note,
        "result": estimate_data(rf.result),
    }


def version_footprint_data(vf: VersionFootprint) -> dict[str, Any]:
    return {
        "version": vf.version.pk,
        "totals": {name: range_data(value) for name, value in vf.totals.items()},
        "base_share": {name: range_data(value) for name, value in vf.base_share.items()},
        "per_1k_tokens_kgco2e": range_data(vf.per_1k_tokens_kgco2e),
        "per_1k_tokens_definition": vf.per_1k_tokens_definition,
        "per_request_kgco2e": range_data(vf.per_request_kgco2e),
        "projected_per_1k_tokens_kgco2e": range_data(vf.projected_per_1k_tokens_kgco2e),
        "projected_per_1k_tokens_definition": vf.projected_per_1k_tokens_definition,
        "min_coverage": vf.min_coverage,
        "runs": [run_footprint_data(rf) for rf in vf.runs],
        "deployments": [
            {
                "deployment": d.deployment.pk,
                "tokens": d.tokens,
                "input_tokens": d.input_tokens,
                "requests": d.requests,
                "energy_kwh": d.energy_kwh,
                "coverage": d.coverage,
                "note": d.note,
                "per_1k_tokens_kgco2e": range_data(d.result.footprint.per_1k_tokens_kgco2e) if d.result else None,
            }
            for d in vf.deployments
        ],
        "notes": vf.notes,
    }


def _r(value: Range | None) -> dict[str, float] | None:
    if value is None:
        return None
    return {k: _g(v) for k, v in value.as_dict().items()}


def _g(value: float) -> float:
    return float(f"{value:.6g}")


def _facility(run: Run) -> dict[str, Any]:
    f, supplier, region = run.facility, run.facility.supplier, run.facility.grid_region
    since = {name: getattr(supplier, name) for name in ("iso_14001_since", "iso_50001_since")}
    return {
        "name": f.name,
        "supplier": supplier.name,
        "grid_region": region.code,
        "intensity_g_per_kwh": region.intensity_g_per_kwh,
        "basis": region.get_basis_display(),
        "pue": f.pue,
        "wue_l_per_kwh": f.wue_l_per_kwh,
        **{name: value.isoformat() if value else None for name, value in since.items()},
        "renewable_share": supplier.renewable_share,
        "take_back_programme": supplier.take_back_programme,
    }


def _run_figures(rf: RunFootprint, supplier_data: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """What an audit report prints of a run, beyond the figures of the first format."""
    f, run = rf.result.footprint, rf.run
    return {
        "stage": run.get_stage_display(),
        "method": rf.method,
        "hardware": f"{run.accelerator_count} x {run.hardware.name}",
        "facility": _facility(run),
        "ended_at": (run.ended_at or run.started_at).isoformat(),
        "note": rf.note,
        **{name: _r(getattr(f, name)) for name in ("market_based_kgco2e", "embodied_kgco2e", "water_l")},
        "capital_goods_kgco2e": _r(f.capital_goods_kgco2e),
        "parts": [{"name": p.name, "how": str(p.how)} for p in f.parts],
        "sensitivity": [{"input": x.input_name, "share_of_swing": _g(x.share_of_swing)} for x in f.sensitivity[:3]],
        "compute": {
            "started_at": run.started_at.isoformat(),
            "accelerators": run.accelerator_count,
            "accelerator_hours": _g(rf.accelerator_hours),
            "peak_tflops": run.hardware.peak_bf16_tflops,
        },
        "energy_by_boundary": _by_boundary(f),
        "supplier_data": supplier_data.get(run.facility.supplier_id),
    }


def _deployment_carbon(d: DeploymentFootprint) -> dict[str, Any]:
    """Format 4: energy by boundary and the carbon terms (E × I, M) of what was measured."""
    if d.result is None or d.window is None:
        return dict.fromkeys(DEPLOYMENT_CARBON_KEYS)
    f = d.result.footprint
    return {
        "energy_by_boundary": _by_boundary(f),
        "sci_kgco2e": _r(f.sci_kgco2e),
        "intensity_g_per_kwh": d.deployment.facility.grid_region.intensity_g_per_kwh,
        "embodied_kgco2e": _g(f.embodied_kgco2e.central) if f.embodied_kgco2e else 0.0,
        "window_start": d.window[0].isoformat(),
        "window_end": d.window[1].isoformat(),
    }


def latest_supplier_answers(supplier_ids: set[int]) -> dict[int, dict[str, Any]]:
    """Each supplier's latest data request: what was asked, when first, and what came of it."""
    answers: dict[int, dict[str, Any]] = {}
    for r in SupplierDataRequest.objects.filter(supplier_id__in=supplier_ids).select_related("supplier"):
        earlier = answers.get(r.supplier_id)
        asked = earlier["requested_on"] if earlier and earlier["what"] == r.what else r.recorded_at.date().isoformat()
        answers[r.supplier_id] = {
            "supplier": r.supplier.name,
            "what": r.what,
            "state": r.state,
            "note": r.note,
            "requested_on": asked,
            "answered_on": None if r.state == DataRequestState.REQUESTED else r.recorded_at.date().isoformat(),
        }
    return answers


def _by_boundary(f: Footprint) -> dict[str, Any]:
    """Energy from the narrowest boundary outwards (central, kWh): accelerators, + host
    (IT), × PUE (facility); None where the input did not separate them."""
    return {
        name: None if value is None else _g(value.central)
        for name, value in (
            ("accelerators_kwh", f.accelerator_energy_kwh),
            ("host_kwh", f.host_energy_kwh),
            ("it_kwh", f.it_energy_kwh),
            ("facility_kwh", f.facility_energy_kwh),
        )
    }


def _model_card(footprint: VersionFootprint) -> dict[str, Any]:
    """The Hugging Face model card's co2_eq_emissions fields (its `source` names the review)."""
    version, runs = footprint.version, footprint.runs
    location = footprint.totals.get("location_based_kgco2e", E(0)).central
    return {
        "emissions": round(location * 1000, 1),  # grams
        "training_type": "pre-training" if version.adaptation == "pretraining" else "fine-tuning",
        "geographical_location": runs[0].run.facility.grid_region.name if runs else "unknown",
        "hardware_used": ", ".join(sorted({f"{rf.run.accelerator_count} x {rf.run.hardware.name}" for rf in runs}))
        or "unknown",
    }


# The keys of the first snapshot format, which reviews frozen before the second keep.
LEGACY_KEYS: tuple[str, ...] = ("version", "totals", "runs", "per_1k_tokens_kgco2e", "per_1k_tokens_definition")
LEGACY_KEYS += ("projected_per_1k_tokens_kgco2e", "projected_per_1k_tokens_definition", "per_request_kgco2e")
LEGACY_RUN_KEYS = ("run", "label", "status", "source", "coverage", "location_based_kgco2e", "facility_energy_kwh")
SNAPSHOT_FORMAT = 4
# Added in format 3: a deployment's production energy per unit of service.
PER_UNIT_FIGURES = ("j_per_output_token", "wh_per_1k_tokens", "wh_per_request")
PER_UNIT_KEYS = ("input_tokens", "output_tokens", *PER_UNIT_FIGURES)
# Added in format 4: what the EU model documentation, SCI for AI and declared boundaries
# read — each run's compute and energy by boundary, its supplier's data, each deployment's
# hardware and energy by boundary, and the model's size.
FORMAT_4_RUN_KEYS = ("compute", "energy_by_boundary", "supplier_data")
DEPLOYMENT_CARBON_KEYS = (
    "energy_by_boundary",
    "sci_kgco2e",
    "intensity_g_per_kwh",
    "embodied_kgco2e",
    "window_start",
    "window_end",
)
FORMAT_4_DEPLOYMENT_KEYS = ("hardware", "functional_unit", "workflow_executions", *DEPLOYMENT_CARBON_KEYS)
FORMAT_4_KEYS = ("model",)
PER_UNIT_BOUNDARY = "accelerators only (GPU meters), measured, idle time in the usage windows included"


def snapshot(footprint: VersionFootprint) -> dict[str, Any]:
    """The figures a review freezes, and everything its audit report prints of them: rounded
    to 6 significant digits, so that only a real change (a run, a corrected factor) changes
    the digest. A report is built from this alone."""
    version = footprint.version
    factors = {}
    for rf in footprint.runs:
        for f in rf.result.factors:
            data = factor_data(f)
            factors[(data["name"], data["source"])] = data
    training_kwh = sum(rf.result.footprint.facility_energy_kwh.central for rf in footprint.runs)
    flops = (
        training_flops(version.effective_active_parameters, version.training_tokens)
        if version.training_tokens
        else None
    )
    supplier_data = latest_supplier_answers({rf.run.facility.supplier_id for rf in footprint.runs})
    return {
        "format": SNAPSHOT_FORMAT,
        "version": version.pk,
        "model": {
            "parameters": version.parameters,
            "active_parameters": version.active_parameters,
            "training_tokens": version.training_tokens,
            "adaptation": version.adaptation,
            "precision": version.precision,
        },
        "totals": {k: _r(v) for k, v in sorted(footprint.totals.items())},
        "runs": [
            {
                "run": rf.run.pk,
                "label": rf.run.label,
                "status": rf.run.status,
                "source": rf.source,
                "coverage": round(rf.coverage, 4),
                "location_based_kgco2e": _r(rf.result.footprint.location_based_kgco2e),
                "facility_energy_kwh": _r(rf.result.footprint.facility_energy_kwh),
                **_run_figures(rf, supplier_data),
            }
            for rf in footprint.runs
        ],
        "deployments": [
            {
                "name": d.deployment.name,
                "label": d.deployment.label,
                "tokens": d.tokens,
                "requests": d.requests,
                "energy_kwh": _g(d.energy_kwh),
                "note": d.note,
                "input_tokens": d.input_tokens,
                "output_tokens": d.output_tokens,
                **{name: None if getattr(d, name) is None else _g(getattr(d, name)) for name in PER_UNIT_FIGURES},
                "per_unit_boundary": PER_UNIT_BOUNDARY,
                "hardware": f"{d.deployment.accelerator_count} x {d.deployment.hardware.name}",
                "functional_unit": d.deployment.functional_unit,
                "workflow_executions": d.workflows,
                **_deployment_carbon(d),
            }
            for d in footprint.deployments
        ],
        "per_1k_tokens_kgco2e": _r(footprint.per_1k_tokens_kgco2e),
        "per_1k_tokens_definition": footprint.per_1k_tokens_definition,
        "projected_per_1k_tokens_kgco2e": _r(footprint.projected_per_1k_tokens_kgco2e),
        "projected_per_1k_tokens_definition": footprint.projected_per_1k_tokens_definition,
        "per_request_kgco2e": _r(footprint.per_request_kgco2e),
        "training_energy_mwh": _g(training_kwh / 1000),
        "training_flops": _g(flops) if flops is not None else None,
        "base": {"version": str(version.base_version), "share": version.share_of_base}
        if version.base_version
        else None,
        "model_card": _model_card(footprint),
        "factors": sorted(factors.values(), key=lambda f: (f["name"], f["source"])),
        "notes": footprint.notes,
    }


def in_format_of(frozen: dict[str, Any], figures: dict[str, Any]) -> dict[str, Any]:
    """Today's figures in the format a review froze, so that a review frozen in the first
    format stays current while its figures do not change."""
    if frozen.get("format") in (2, 3):
        dropped: tuple[str, ...] = FORMAT_4_DEPLOYMENT_KEYS
        if frozen["format"] == 2:  # before deployments had per-unit figures
            dropped += (*PER_UNIT_KEYS, "per_unit_boundary")
        deployments = [{k: v for k, v in d.items() if k not in dropped} for d in figures["deployments"]]
        runs = [{k: v for k, v in r.items() if k not in FORMAT_4_RUN_KEYS} for r in figures["runs"]]
        kept = {k: v for k, v in figures.items() if k not in FORMAT_4_KEYS}
        return {**kept, "format": frozen["format"], "deployments": deployments, "runs": runs}
    if "format" in frozen:
        return figures
    legacy = {k: figures[k] for k in LEGACY_KEYS}
    legacy["runs"] = [{k: run[k] for k in LEGACY_RUN_KEYS} for run in figures["runs"]]
    return legacy


def digest(data: Any) -> str:
    return hashlib.sha256(canonical(data)).hexdigest()


def carbon_by_month(versions: QuerySet[ModelVersion]) -> list[tuple[str, float, float]]:
    """(YYYY-MM, facility kWh, location-based kgCO2e) of the runs of these versions, by the
    month they ended: one aggregate over the stored footprints."""
    rows = (
        StoredFootprint.objects.filter(model_version__in=versions)
        .annotate(month=TruncMonth(Coalesce("ended_at", "started_at"), tzinfo=UTC))
        .values("month")
        .order_by("month")
        .annotate(kwh=Sum("facility_energy_kwh"), kg=Sum("location_based_kgco2e"))
    )
    return [(row["month"].strftime("%Y-%m"), row["kwh"], row["kg"]) for row in rows]


def statement_totals(versions: list[ModelVersion]) -> dict[str, Range]:
    """Totals over versions, for the public statement."""
    totals: dict[str, Range] = {}
    for version in versions:
        for name, value in version_footprint(version).totals.items():
            _add(totals, name, value)
    return totals
