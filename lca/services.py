"""Reference rows → footprint inputs → footprint. The API, the web pages, the
validation command, reports and governance all call `estimate` here, so a figure
shown in two places cannot disagree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from lca import footprint as fp
from lca.footprint import How, Scope
from lca.models import LIFETIME_RANGE_YEARS, Facility, GridRegion, HardwareModel, HourlyIntensity
from lca.scheduling import Schedule, Skipped, best_start
from lca.uncertainty import Range

# Defaults used when a request leaves a factor out; each is reported with its source.
DEFAULT_TRAINING_MFU = Range(0.20, 0.32, 0.35)
DEFAULT_TRAINING_MFU_SOURCE = (
    "Whole-run MFU (restarts, failures and evaluation included), published FLOPs ÷ (published device-hours × "
    "peak): GPT-3 0.20 (3.14e23 FLOPs, 10,000 V100 × 14.8 days, Patterson et al. 2021), BLOOM 0.32 (6·176e9·366e9, "
    "1,082,990 A100-hours, Luccioni et al. 2023), Llama 3.1 405B 0.35 (3.8e25 FLOPs, 30.84M H100-hours, Meta "
    "2024); steady-state MFU is higher (PaLM 46.2%, Llama 3.1 38–43%)"
)
DEFAULT_INFERENCE_MFU = Range(0.05, 0.20, 0.76)
DEFAULT_INFERENCE_MFU_SOURCE = (
    "Inference MFU over prompt and generated tokens: under 5% for small-batch decoding (SemiAnalysis 2023, 8×H100), "
    "76% for large-batch prompt processing (Pope et al. 2022, PaLM 540B on TPU v4); central 0.20 is the "
    "geometric midpoint, a judgement, not a published figure"
)
DEFAULT_POWER_FRACTION = Range(0.70, 0.85, 1.00)
DEFAULT_POWER_FRACTION_SOURCE = (
    "Average draw 0.7–1.0 × TDP (BLOOM used TDP, Luccioni et al. 2023); central value is the midpoint"
)
DEFAULT_HOST_OVERHEAD = Range(1.20, 1.43, 1.78)
DEFAULT_HOST_OVERHEAD_SOURCE = (
    "Node ÷ accelerator energy: 1.20 (EcoLogits: 1.2 kW per 8-GPU server without GPUs, vs 8 × 700 W), 1.43 "
    "(Google production serving, Aug 2025: host CPU and DRAM 25% vs accelerators 58% of energy), 1.78 (Google TPU v4 "
    "machine vs chips, Schneider et al. 2025)"
)
DEFAULT_UTILISATION = Range(0.70, 0.85, 1.00)
DEFAULT_UTILISATION_SOURCE = (
    "Share of the hardware's life in use: 0.85 (BLOOM LCA, Luccioni et al. 2023), 0.70 (amortisation example of a "
    "research compilation), 1.0 (SCI and CCF amortise over every hour)"
)
DEFAULT_HOST_SLUG = "host-8gpu"
DEFAULT_SCOPE_NOTE = (
    "{name} taken as the accelerators' own (scope 'accelerator', the default): host energy is added by the host "
    "overhead and PUE by the facility. Send {scope_field}='node' if it already includes the host, or 'facility' "
    "if it already includes PUE."
)

Phase = Literal["training", "inference"]


class EstimateError(ValueError):
    """A request that cannot be estimated; the message says what is missing."""

    def __init__(self, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.field_name = field_name


@dataclass(frozen=True)
class Factor:
    name: str
    value: Range | float | str
    unit: str
    source: str
    year: int | None = None


@dataclass(frozen=True)
class EstimateRequest:
    # the activity, one of:
    active_parameters: float | None = None
    tokens: float | None = None  # training tokens, or generated tokens for inference
    input_tokens: float | None = None  # inference only: prompt (prefill) tokens
    phase: Phase = "training"
    accelerator_hours: Range | None = None
    duration_h: Range | None = None  # wall-clock, with accelerator_count
    energy_kwh: Range | None = None
    energy_scope: Scope | None = None
    energy_how: How = How.GIVEN
    host_energy_kwh: Range | None = None
    host_energy_how: How = How.GIVEN
    host_energy_source: str = "given in the request"
    # hardware
    hardware: HardwareModel | None = None
    accelerator_count: float | None = None
    host: HardwareModel | None = None
    accelerators_per_host: float = 8
    peak_tflops: float | None = None
    mfu: Range | None = None
    capacity_in_use: Range | None = None
    power_fraction: Range | None = None
    power_per_accelerator_w: Range | None = None
    power_scope: Scope | None = None
    host_overhead: Range | None = None
    accelerator_embodied_kgco2e: Range | None = None
    host_embodied_kgco2e: Range | None = None
    lifetime_years: Range | None = None
    host_lifetime_years: Range | None = None
    utilisation: Range | None = None
    # where
    facility: Facility | None = None
    grid_region: GridRegion | None = None
    intensity_g_per_kwh: Range | None = None
    intensity_source: str = "given in the request"
    pue: Range | None = None
    certificate_share: Range | None = None
    wue_l_per_kwh: Range | None = None
    start: datetime | None = None  # time-resolved intensity when hourly data covers the run
    # functional units
    tokens_served: float | None = None
    requests: float | None = None


@dataclass(frozen=True)
class Estimate:
    footprint: fp.Footprint
    factors: list[Factor]
    notes: list[str] = field(default_factory=list)
    region: GridRegion | None = None
    scope: str = ""  # what the activity input covered: accelerator, node or facility


def _intensity(req: EstimateRequest, region: GridRegion | None, hours: Range | None, factors: list[Factor]) -> Range:
    if req.intensity_g_per_kwh is not None:
        factors.append(Factor("grid intensity", req.intensity_g_per_kwh, "gCO2e/kWh", req.intensity_source))
        return req.intensity_g_per_kwh
    if region is None:
        raise EstimateError("Give a facility, a grid region, or an explicit grid intensity.", "grid_region")
    if req.start is not None and hours is not None and req.accelerator_count:
        duration = timedelta(hours=hours.central / req.accelerator_count)
        hourly = list(
            HourlyIntensity.objects.filter(
                region=region, hour__gte=req.start, hour__lt=req.start + duration
            ).values_list("intensity_g_per_kwh", flat=True)
        )
        expected = max(1, int(duration.total_seconds() // 3600))
        if len(hourly) >= expected:
            mean = sum(hourly) / len(hourly)
            factors.append(
                Factor(
                    f"grid intensity, {region.code}, hourly mean from {req.start:%Y-%m-%d %H:00} UTC",
                    Range.exact(mean),
                    "gCO2e/kWh",
                    f"{len(hourly)} hourly values",
                )
            )
            return Range.exact(mean)
    intensity = region.intensity_range
    if intensity is None:
        raise EstimateError(f"Grid region {region.code} has no intensity figure.", "grid_region")
    basis = region.get_basis_display().lower()
    factors.append(
        Factor(
            f"grid intensity, {region.code} ({basis}; ±{region.intensity_spread:.0%} default spread)",
            intensity,
            "gCO2e/kWh",
            region.source,
            region.year,
        )
    )
    return intensity


def _from_facility(
    value: Range | None,
    facility_value: Range | None,
    name: str,
    unit: str,
    req: EstimateRequest,
    factors: list[Factor],
) -> Range | None:
    if value is not None:
        factors.append(Factor(name, value, unit, "given in the request"))
        return value
    if req.facility is not None and facility_value is not None:
        factors.append(Factor(name, facility_value, unit, req.facility.source, req.facility.year))
        return facility_value
    return None


def _given(value: Range | None, default: Range, name: str, unit: str, source: str, factors: list[Factor]) -> Range:
    """A request's own value, or the documented default; either way listed as a factor."""
    factors.append(Factor(name, value or default, unit, "given in the request" if value else source))
    return value or default


def default_host() -> HardwareModel | None:
    return HardwareModel.objects.filter(slug=DEFAULT_HOST_SLUG, kind="host").first()


def _host(
    req: EstimateRequest, notes: list[str], default_host: Callable[[], HardwareModel | None]
) -> HardwareModel | None:
    """The host model named by the request or its facility, else the documented default."""
    if req.host is not None:
        return req.host
    if req.facility is not None and req.facility.host is not None:
        return req.facility.host
    default = default_host()
    if default is None:
        notes.append("Host model not named and the default host row is missing: host embodied carbon not counted.")
    else:
        notes.append(f"Host model not named: the default “{default.name}” is assumed for its embodied carbon.")
    return default


def _activity(req: EstimateRequest, factors: list[Factor]) -> tuple[float | None, Range | None, Range | None]:
    """(FLOPs, MFU, capacity in use) when the activity is model size × tokens, else Nones."""
    if req.active_parameters is None or req.tokens is None:
        return None, None, None
    if req.phase == "training":
        flops, rule = fp.training_flops(req.active_parameters, req.tokens), "6·N·D"
        mfu = _given(
            req.mfu,
            DEFAULT_TRAINING_MFU,
            "model FLOPs utilisation (whole run)",
            "share",
            DEFAULT_TRAINING_MFU_SOURCE,
            factors,
        )
    else:
        tokens = req.tokens + (req.input_tokens or 0)
        flops, rule = fp.inference_flops(req.active_parameters, tokens), "2·N·(input + generated tokens)"
        mfu = _given(
            req.mfu,
            DEFAULT_INFERENCE_MFU,
            "model FLOPs utilisation (inference)",
            "share",
            DEFAULT_INFERENCE_MFU_SOURCE,
            factors,
        )
    capacity = req.capacity_in_use or Range.exact(1.0)
    if req.capacity_in_use is not None:
        factors.append(Factor("share of provisioned capacity in use", capacity, "share", "given in the request"))
    factors.insert(
        0,
        Factor(
            f"{req.phase} compute ({rule})",
            flops,
            "FLOP",
            "Kaplan et al. 2020; Hoffmann et al. 2022 (EleutherAI, Transformer Math 101)",
        ),
    )
    return flops, mfu, capacity


def estimate(req: EstimateRequest, default_host: Callable[[], HardwareModel | None] = default_host) -> Estimate:
    """The footprint of one workload, with every factor used and where it came from. A
    caller estimating many workloads at once may pass the default host's lookup cached."""
    factors: list[Factor] = []
    notes: list[str] = []
    hw = req.hardware
    region = req.grid_region or (req.facility.grid_region if req.facility else None)
    if region is None and req.intensity_g_per_kwh is None:
        raise EstimateError("Give a facility, a grid region, or an explicit grid intensity.", "grid_region")

    hours = req.accelerator_hours
    if hours is None and req.duration_h is not None:
        if not req.accelerator_count:
            raise EstimateError("A wall-clock duration needs the accelerator count.", "accelerator_count")
        hours = req.duration_h * req.accelerator_count
    flops, mfu, capacity = (None, None, None) if hours is not None else _activity(req, factors)
    peak = req.peak_tflops or (hw.peak_bf16_tflops if hw else None)
    if flops is not None:
        if peak is None:
            raise EstimateError("Estimating from model size needs hardware with a known peak TFLOPs.", "hardware")
        factors.append(
            Factor(
                "peak dense BF16",
                peak,
                "TFLOP/s",
                hw.source if hw and not req.peak_tflops else "given in the request",
                hw.year if hw else None,
            )
        )

    scope = req.energy_scope if req.energy_kwh is not None else req.power_scope
    power = req.power_per_accelerator_w
    if req.energy_kwh is not None:
        if req.energy_scope is None:
            notes.append(DEFAULT_SCOPE_NOTE.format(name="energy_kwh", scope_field="energy_scope"))
    elif power is not None:
        factors.append(Factor("average power per accelerator", power, "W", "given in the request"))
        if req.power_scope is None:
            notes.append(DEFAULT_SCOPE_NOTE.format(name="power_per_accelerator_w", scope_field="power_scope"))
    else:
        if hw is None or hw.tdp_w is None:
            raise EstimateError(
                "Estimating energy needs the power per accelerator, or hardware with a known TDP.", "hardware"
            )
        scope = Scope.ACCELERATOR  # a TDP is the accelerator's own rating
        fraction = _given(
            req.power_fraction,
            DEFAULT_POWER_FRACTION,
            "average draw as a share of TDP",
            "share",
            DEFAULT_POWER_FRACTION_SOURCE,
            factors,
        )
        power = fraction * hw.tdp_w
        factors.append(Factor(f"TDP, {hw.name}", hw.tdp_w, "W", hw.source, hw.year))
    scope = scope or Scope.ACCELERATOR

    host_overhead = Range.exact(1.0)
    if scope == Scope.ACCELERATOR:
        if req.host_energy_kwh is not None:
            factors.append(Factor("host energy", req.host_energy_kwh, "kWh", req.host_energy_source))
        else:
            host_overhead = _given(
                req.host_overhead,
                DEFAULT_HOST_OVERHEAD,
                "host energy overhead",
                "×",
                DEFAULT_HOST_OVERHEAD_SOURCE,
                factors,
            )

    pue = _from_facility(req.pue, req.facility.pue_range if req.facility else None, "PUE", "×", req, factors)
    if pue is None:
        pue = Range.exact(1.0)
        if scope != Scope.FACILITY:
            notes.append("PUE unknown: 1.0 used (IT energy only; facility overhead not counted).")
    certificates = _from_facility(
        req.certificate_share,
        Range.exact(req.facility.certificate_share)
        if req.facility and req.facility.certificate_share is not None
        else None,
        "certificate-matched share",
        "share",
        req,
        factors,
    )
    if certificates is None:
        certificates = Range.exact(0.0)
        notes.append("No certificate-matched share known: no certificates counted in market-based carbon.")
    residual = region.residual_range if region else None
    if residual is not None and region is not None:
        factors.append(
            Factor(f"residual mix, {region.code}", residual, "gCO2/kWh", region.residual_source, region.residual_year)
        )
    else:
        notes.append(
            "No residual mix published for this grid here: market-based carbon values the electricity not matched "
            "by certificates at the grid average."
        )
    wue = _from_facility(
        req.wue_l_per_kwh, req.facility.wue_range if req.facility else None, "WUE", "L/kWh", req, factors
    )

    accelerator_embodied = req.accelerator_embodied_kgco2e
    if accelerator_embodied is not None:
        factors.append(Factor("embodied carbon, accelerator", accelerator_embodied, "kgCO2e", "given in the request"))
    elif hw is not None and hw.embodied_kgco2e is not None:
        accelerator_embodied = hw.embodied_kgco2e
        factors.append(Factor(f"embodied carbon, {hw.name}", accelerator_embodied, "kgCO2e", hw.embodied_source))
    elif hw is not None:
        notes.append(f"Embodied carbon of {hw.name} is unknown: {hw.embodied_source}")
    host = None
    host_embodied = req.host_embodied_kgco2e
    if host_embodied is not None:
        factors.append(Factor("embodied carbon, host", host_embodied, "kgCO2e", "given in the request"))
    else:
        host = _host(req, notes, default_host)
        if host is not None and host.embodied_kgco2e is not None:
            host_embodied = host.embodied_kgco2e
            factors.append(Factor(f"embodied carbon, {host.name}", host_embodied, "kgCO2e", host.embodied_source))
    lifetime = host_lifetime = utilisation = None
    if accelerator_embodied is not None:
        lifetime = _lifetime(req.lifetime_years, hw, "accelerator lifetime", factors)
    if host_embodied is not None:
        host_lifetime = _lifetime(req.host_lifetime_years, host, "host lifetime", factors)
    if accelerator_embodied is not None or host_embodied is not None:
        utilisation = _given(
            req.utilisation,
            DEFAULT_UTILISATION,
            "share of lifetime in use",
            "share",
            DEFAULT_UTILISATION_SOURCE,
            factors,
        )

    try:
        inputs = fp.FootprintInputs(
            intensity_g_per_kwh=Range.exact(0),  # set below, once device-hours are known
            pue=pue,
            certificate_share=certificates,
            residual_intensity_g_per_kwh=residual,
            energy_kwh=req.energy_kwh,
            energy_scope=scope,
            energy_how=req.energy_how,
            host_energy_kwh=req.host_energy_kwh,
            host_energy_how=req.host_energy_how,
            accelerator_hours=hours,
            flops=flops,
            peak_tflops=peak,
            mfu=mfu,
            capacity_in_use=capacity or Range.exact(1.0),
            power_per_accelerator_w=power,
            power_scope=scope,
            host_overhead=host_overhead,
            wue_l_per_kwh=wue,
            accelerator_count=req.accelerator_count,
            accelerators_per_host=req.accelerators_per_host,
            accelerator_embodied_kgco2e=accelerator_embodied,
            host_embodied_kgco2e=host_embodied,
            lifetime_years=lifetime,
            host_lifetime_years=host_lifetime,
            utilisation=utilisation or Range.exact(1.0),
            tokens=req.tokens_served,
            requests=req.requests,
        )
        device_hours = fp.device_hours(inputs) if req.start else None
        inputs = replace(inputs, intensity_g_per_kwh=_intensity(req, region, device_hours, factors))
        result = fp.compute(inputs)
    except ZeroDivisionError as exc:
        raise EstimateError(
            "A range reaches zero where it divides (MFU, share of capacity in use, or PUE): give a low end above 0.",
            "mfu" if req.mfu is not None else "capacity_in_use" if req.capacity_in_use is not None else None,
        ) from exc
    except ValueError as exc:
        raise EstimateError(str(exc)) from exc
    return Estimate(footprint=result, factors=factors, notes=notes + result.notes, region=region, scope=str(scope))


def _lifetime(given: Range | None, row: HardwareModel | None, name: str, factors: list[Factor]) -> Range | None:
    if given is not None:
        factors.append(Factor(name, given, "years", "given in the request"))
        return given
    if row is None or row.lifetime_range is None:
        return None
    factors.append(
        Factor(
            f"{name}, {row.name}",
            row.lifetime_range,
            "years",
            f"{row.lifetime_source}; range {LIFETIME_RANGE_YEARS[0]:g}–{LIFETIME_RANGE_YEARS[1]:g} years across LCA "
            "tools and accounting lives",
        )
    )
    return row.lifetime_range


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    estimate: Estimate
    rank: int
    explanation: list[str]
    distinguishable: bool  # False when its carbon range overlaps the best scenario's


@dataclass(frozen=True)
class Comparison:
    scenarios: list[ScenarioResult]
    warnings: list[str]


def _ratio_phrase(what: str, mine: float, best: float) -> str | None:
    if best == 0 or mine == best:
        return None
    ratio = mine / best
    return f"{what} {ratio:.2f}× the best scenario's ({mine:,.4g} vs {best:,.4g})"


def _basis(e: Estimate) -> str:
    return e.region.get_basis_display().lower() if e.region is not None else "given in the request"


def compare(scenarios: list[tuple[str, EstimateRequest]]) -> Comparison:
    """Estimates each scenario and ranks them by central location-based carbon. Each
    scenario's gap to the best is explained by splitting carbon = IT energy × PUE ×
    grid intensity into its three ratios (they multiply to the carbon ratio). A scenario
    whose range overlaps the best's is marked not distinguishable, and a comparison that
    mixes grid-factor bases (lifecycle against direct) says so."""
    estimates = [(name, estimate(req)) for name, req in scenarios]
    ranked = sorted(estimates, key=lambda item: item[1].footprint.location_based_kgco2e.central)
    best_name, best = ranked[0]
    warnings = []
    bases: dict[str, list[str]] = {}
    for name, e in estimates:
        bases.setdefault(_basis(e), []).append(name)
    if len(bases) > 1:
        listed = "; ".join(f"{basis}: {', '.join(names)}" for basis, names in sorted(bases.items()))
        warnings.append(
            f"NOT LIKE FOR LIKE: the scenarios use grid factors of different bases ({listed}). Direct (operational) "
            "factors leave out upstream emissions that lifecycle factors include, so the ranking favours direct ones."
        )

    def parts(e: Estimate) -> tuple[float, float, float]:
        f = e.footprint
        facility = f.facility_energy_kwh.central
        it = f.it_energy_kwh.central if f.it_energy_kwh else facility
        pue = facility / it if it else 1.0
        intensity = f.location_based_kgco2e.central * 1000 / facility if facility else 0.0
        return it, pue, intensity

    results = []
    best_range = best.footprint.location_based_kgco2e
    for rank, (name, e) in enumerate(ranked, start=1):
        carbon = e.footprint.location_based_kgco2e
        distinguishable = rank == 1 or carbon.low > best_range.high
        if rank == 1:
            explanation = ["Lowest location-based carbon of the scenarios compared."]
        else:
            mine, theirs = parts(e), parts(best)
            lines = [
                _ratio_phrase("IT energy (kWh)", mine[0], theirs[0]),
                _ratio_phrase("PUE", mine[1], theirs[1]),
                _ratio_phrase("grid intensity (gCO2e/kWh)", mine[2], theirs[2]),
            ]
            extra = carbon.central - best_range.central
            explanation = [f"{extra:,.4g} kgCO2e more than “{best_name}”:"] + [x for x in lines if x]
            if not distinguishable:
                explanation.insert(0, f"Not distinguishable from “{best_name}”: the carbon ranges overlap.")
        results.append(ScenarioResult(name, e, rank, explanation, distinguishable))
    return Comparison(results, warnings)


def plan_start(
    *, regions: list[GridRegion], duration_h: int, energy_kwh: float, earliest: datetime, current: GridRegion | None
) -> Schedule:
    """The lowest-carbon start hour and region from the stored hourly series; regions
    without a long enough run of consecutive hours are listed with the reason."""
    series = {}
    skipped = []
    for region in regions:
        rows = list(
            HourlyIntensity.objects.filter(region=region, hour__gte=earliest)
            .order_by("hour")
            .values_list("hour", "intensity_g_per_kwh")
        )
        if rows:
            series[region.code] = rows
        else:
            skipped.append(Skipped(region.code, f"no hourly intensity from {earliest:%Y-%m-%d %H:00} UTC"))
    if not series:
        raise EstimateError(
            f"No hourly intensity from {earliest:%Y-%m-%d %H:00} UTC for {', '.join(s.region for s in skipped)}: "
            "import a series with manage.py import_grid_intensity.",
            "regions",
        )
    try:
        schedule = best_start(
            duration_h=duration_h,
            energy_kwh=energy_kwh,
            series=series,
            current_region=current.code if current else None,
        )
    except ValueError as exc:
        raise EstimateError(str(exc), "duration_h") from exc
    return replace(schedule, skipped=skipped + schedule.skipped)
