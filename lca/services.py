"""Reference rows → footprint inputs → footprint. The API, the web pages, the
validation command, reports and governance all call `estimate` here, so a figure
shown in two places cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from lca import footprint as fp
from lca.models import Facility, GridRegion, HardwareModel, HourlyIntensity
from lca.scheduling import Schedule, best_start
from lca.uncertainty import Range

# Defaults used when a request leaves a factor out; each is reported with its source.
DEFAULT_MFU = Range(0.35, 0.40, 0.45)
DEFAULT_MFU_SOURCE = (
    "MFU 0.35–0.45 for large dense runs: PaLM 46.2% (Chowdhery et al. 2022), Llama 3.1 405B 38–43% (Meta 2024)"
)
DEFAULT_POWER_FRACTION = Range(0.70, 0.85, 1.00)
DEFAULT_POWER_FRACTION_SOURCE = (
    "Average draw 0.7–1.0 × TDP (BLOOM used TDP, Luccioni et al. 2023); central value is the midpoint"
)
DEFAULT_HOST_OVERHEAD = Range(1.0, 1.2, 1.7)
DEFAULT_HOST_OVERHEAD_SOURCE = (
    "Host CPU, memory and network on top of accelerators: 1.0 (none) – 1.2 (EcoLogits, 1.2 kW per 8-GPU server) – "
    "1.7 (Google production serving, Aug 2025)"
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
    tokens: float | None = None
    phase: Phase = "training"
    accelerator_hours: Range | None = None
    it_energy_kwh: Range | None = None
    facility_energy_kwh: Range | None = None
    # hardware
    hardware: HardwareModel | None = None
    accelerator_count: float | None = None
    host: HardwareModel | None = None
    accelerators_per_host: float = 8
    peak_tflops: float | None = None
    mfu: Range | None = None
    power_fraction: Range | None = None
    power_per_accelerator_w: Range | None = None
    host_overhead: Range | None = None
    lifetime_years: Range | None = None
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
    if region.intensity_g_per_kwh is None:
        raise EstimateError(f"Grid region {region.code} has no intensity figure.", "grid_region")
    basis = region.get_basis_display().lower()
    factors.append(
        Factor(
            f"grid intensity, {region.code} ({basis})",
            region.intensity_g_per_kwh,
            "gCO2e/kWh",
            region.source,
            region.year,
        )
    )
    return Range.exact(region.intensity_g_per_kwh)


def _from_facility(
    value: Range | None,
    facility_value: float | None,
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
        return Range.exact(facility_value)
    return None


def estimate(req: EstimateRequest) -> Estimate:
    """The footprint of one workload, with every factor used and where it came from."""
    factors: list[Factor] = []
    notes: list[str] = []
    hw = req.hardware
    region = req.grid_region or (req.facility.grid_region if req.facility else None)
    if region is None and req.intensity_g_per_kwh is None:
        raise EstimateError("Give a facility, a grid region, or an explicit grid intensity.", "grid_region")

    flops = None
    if req.accelerator_hours is None and req.active_parameters is not None and req.tokens is not None:
        rule = fp.training_flops if req.phase == "training" else fp.inference_flops
        flops = rule(req.active_parameters, req.tokens)
        factors.append(
            Factor(
                f"{req.phase} compute ({'6' if req.phase == 'training' else '2'}·N·D)",
                flops,
                "FLOP",
                "Kaplan et al. 2020; Hoffmann et al. 2022 (EleutherAI, Transformer Math 101)",
            )
        )
    peak = req.peak_tflops or (hw.peak_bf16_tflops if hw else None)
    mfu = req.mfu or DEFAULT_MFU
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
        factors.append(
            Factor("model FLOPs utilisation", mfu, "share", "given in the request" if req.mfu else DEFAULT_MFU_SOURCE)
        )

    power = req.power_per_accelerator_w
    if power is not None:
        factors.append(Factor("average power per accelerator", power, "W", "given in the request"))
    elif req.it_energy_kwh is None and req.facility_energy_kwh is None:
        if hw is None or hw.tdp_w is None:
            raise EstimateError(
                "Estimating energy needs the power per accelerator, or hardware with a known TDP.", "hardware"
            )
        fraction = req.power_fraction or DEFAULT_POWER_FRACTION
        power = fraction * hw.tdp_w
        factors.append(Factor(f"TDP, {hw.name}", hw.tdp_w, "W", hw.source, hw.year))
        factors.append(
            Factor(
                "average draw as a share of TDP",
                fraction,
                "share",
                "given in the request" if req.power_fraction else DEFAULT_POWER_FRACTION_SOURCE,
            )
        )
    host_overhead = Range.exact(1.0)
    if req.it_energy_kwh is None and req.facility_energy_kwh is None:
        host_overhead = req.host_overhead or DEFAULT_HOST_OVERHEAD
        factors.append(
            Factor(
                "host energy overhead",
                host_overhead,
                "×",
                "given in the request" if req.host_overhead else DEFAULT_HOST_OVERHEAD_SOURCE,
            )
        )

    pue = _from_facility(req.pue, req.facility.pue if req.facility else None, "PUE", "×", req, factors)
    if pue is None:
        pue = Range.exact(1.0)
        notes.append("PUE unknown: 1.0 used (IT energy only; facility overhead not counted).")
    certificates = _from_facility(
        req.certificate_share,
        req.facility.certificate_share if req.facility else None,
        "certificate-matched share",
        "share",
        req,
        factors,
    )
    if certificates is None:
        certificates = Range.exact(0.0)
        notes.append("No certificate-matched share known: market-based carbon equals location-based.")
    wue = _from_facility(
        req.wue_l_per_kwh, req.facility.wue_l_per_kwh if req.facility else None, "WUE", "L/kWh", req, factors
    )

    accelerator_embodied = hw.embodied_kgco2e if hw else None
    if hw is not None and accelerator_embodied is not None:
        factors.append(Factor(f"embodied carbon, {hw.name}", accelerator_embodied, "kgCO2e", hw.embodied_source))
    elif hw is not None:
        notes.append(f"Embodied carbon of {hw.name} is unknown: {hw.embodied_source}")
    host_embodied = req.host.embodied_kgco2e if req.host else None
    if req.host is not None and host_embodied is not None:
        factors.append(Factor(f"embodied carbon, {req.host.name}", host_embodied, "kgCO2e", req.host.embodied_source))
    lifetime = req.lifetime_years or (Range.exact(hw.lifetime_years) if hw and hw.lifetime_years else None)
    if lifetime is not None and (accelerator_embodied or host_embodied):
        factors.append(
            Factor(
                "hardware lifetime",
                lifetime,
                "years",
                "given in the request" if req.lifetime_years else hw.lifetime_source if hw else "",
            )
        )
    utilisation = req.utilisation or Range.exact(1.0)
    if req.utilisation:
        factors.append(Factor("share of lifetime in use", utilisation, "share", "given in the request"))

    try:
        inputs = fp.FootprintInputs(
            intensity_g_per_kwh=Range.exact(0),  # set below, once device-hours are known
            pue=pue,
            certificate_share=certificates,
            facility_energy_kwh=req.facility_energy_kwh,
            it_energy_kwh=req.it_energy_kwh,
            accelerator_hours=req.accelerator_hours,
            flops=flops,
            peak_tflops=peak,
            mfu=mfu,
            power_per_accelerator_w=power,
            host_overhead=host_overhead,
            wue_l_per_kwh=wue,
            accelerator_count=req.accelerator_count,
            accelerators_per_host=req.accelerators_per_host,
            accelerator_embodied_kgco2e=accelerator_embodied,
            host_embodied_kgco2e=host_embodied,
            lifetime_years=lifetime,
            utilisation=utilisation,
            tokens=req.tokens_served,
            requests=req.requests,
        )
        hours = fp.activity(inputs, [])[0] if req.start else None
        inputs = replace(inputs, intensity_g_per_kwh=_intensity(req, region, hours, factors))
        result = fp.compute(inputs)
    except (ValueError, ZeroDivisionError) as exc:
        raise EstimateError(str(exc)) from exc
    return Estimate(footprint=result, factors=factors, notes=notes + result.notes, region=region)


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    estimate: Estimate
    rank: int
    explanation: list[str]


def _ratio_phrase(what: str, mine: float, best: float) -> str | None:
    if best == 0 or mine == best:
        return None
    ratio = mine / best
    return f"{what} {ratio:.2f}× the best scenario's ({mine:,.4g} vs {best:,.4g})"


def compare(scenarios: list[tuple[str, EstimateRequest]]) -> list[ScenarioResult]:
    """Estimates each scenario and ranks them by central location-based carbon. Each
    scenario's gap to the best is explained by splitting carbon = IT energy × PUE ×
    grid intensity into its three ratios (they multiply to the carbon ratio)."""
    estimates = [(name, estimate(req)) for name, req in scenarios]
    ranked = sorted(estimates, key=lambda item: item[1].footprint.location_based_kgco2e.central)
    best_name, best = ranked[0]

    def parts(e: Estimate) -> tuple[float, float, float]:
        f = e.footprint
        facility = f.facility_energy_kwh.central
        it = f.it_energy_kwh.central if f.it_energy_kwh else facility
        pue = facility / it if it else 1.0
        intensity = f.location_based_kgco2e.central * 1000 / facility if facility else 0.0
        return it, pue, intensity

    results = []
    for rank, (name, e) in enumerate(ranked, start=1):
        if rank == 1:
            explanation = ["Lowest location-based carbon of the scenarios compared."]
        else:
            mine, theirs = parts(e), parts(best)
            carbon = e.footprint.location_based_kgco2e.central
            best_carbon = best.footprint.location_based_kgco2e.central
            lines = [
                _ratio_phrase("IT energy (kWh)", mine[0], theirs[0]),
                _ratio_phrase("PUE", mine[1], theirs[1]),
                _ratio_phrase("grid intensity (gCO2e/kWh)", mine[2], theirs[2]),
            ]
            extra = carbon - best_carbon
            explanation = [f"{extra:,.4g} kgCO2e more than “{best_name}”:"] + [x for x in lines if x]
        results.append(ScenarioResult(name=name, estimate=e, rank=rank, explanation=explanation))
    return results


def plan_start(
    *, regions: list[GridRegion], duration_h: int, energy_kwh: float, earliest: datetime, current: GridRegion | None
) -> Schedule:
    """The lowest-carbon start hour and region from the stored hourly series."""
    series = {}
    for region in regions:
        rows = list(
            HourlyIntensity.objects.filter(region=region, hour__gte=earliest)
            .order_by("hour")
            .values_list("hour", "intensity_g_per_kwh")
        )
        if rows:
            series[region.code] = rows
    missing = [r.code for r in regions if r.code not in series]
    if not series:
        raise EstimateError(
            f"No hourly intensity from {earliest:%Y-%m-%d %H:00} UTC for {', '.join(missing)}: "
            "import a series with manage.py import_grid_intensity.",
            "regions",
        )
    try:
        return best_start(
            duration_h=duration_h,
            energy_kwh=energy_kwh,
            series=series,
            current_region=current.code if current else None,
        )
    except ValueError as exc:
        raise EstimateError(str(exc), "duration_h") from exc
