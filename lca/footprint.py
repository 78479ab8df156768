"""The footprint formulas. Pure Python, standard library only: no Django.

Every quantity's unit is in its name. Every result is a Range (see
uncertainty.py for the method). One function per published formula; `compute`
chains them for one workload and is what every interface ends up calling."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from lca.uncertainty import Range, Sensitivity, one_at_a_time

HOURS_PER_YEAR = 8760  # 365 days, as in the SCI specification's worked example
TRAINING_FLOPS_PER_PARAMETER_TOKEN = 6  # forward 2 + backward 4 (Kaplan et al. 2020; Hoffmann et al. 2022)
INFERENCE_FLOPS_PER_PARAMETER_TOKEN = 2  # forward pass only; attention over the context is excluded


def training_flops(active_parameters: float, tokens: float) -> float:
    """C ≈ 6·N·D (EleutherAI, "Transformer Math 101", after Kaplan 2020 and Hoffmann 2022).
    N is the parameters active per token: for mixture-of-experts, the active ones."""
    return TRAINING_FLOPS_PER_PARAMETER_TOKEN * active_parameters * tokens


def inference_flops(active_parameters: float, tokens: float) -> float:
    """≈ 2·N FLOPs per generated token (the forward half of 6·N·D)."""
    return INFERENCE_FLOPS_PER_PARAMETER_TOKEN * active_parameters * tokens


def accelerator_hours_from_flops(flops: float, peak_tflops: float, mfu: Range) -> Range:
    """Device-hours = FLOPs / (peak dense FLOP/s × model FLOPs utilisation) / 3600."""
    return Range.exact(flops) / (Range.exact(peak_tflops * 1e12) * mfu) / 3600


def it_energy_kwh(accelerator_hours: Range, power_per_accelerator_w: Range, host_overhead: Range) -> Range:
    """IT energy = device-hours × average power per device × host overhead factor
    (host CPUs, memory and network on top of the accelerators; 1 = accelerators only)."""
    return accelerator_hours * power_per_accelerator_w * host_overhead / 1000


def facility_energy_kwh(it_energy_kwh: Range, pue: Range) -> Range:
    """PUE = total facility energy / IT energy (The Green Grid). Applied exactly once,
    to IT energy only: energy metered at the facility is not multiplied again."""
    return it_energy_kwh * pue


def location_based_kgco2e(facility_energy_kwh: Range, intensity_g_per_kwh: Range) -> Range:
    """GHG Protocol Scope 2, location-based: energy × average grid intensity."""
    return facility_energy_kwh * intensity_g_per_kwh / 1000


def market_based_kgco2e(facility_energy_kwh: Range, intensity_g_per_kwh: Range, certificate_share: Range) -> Range:
    """GHG Protocol Scope 2, market-based: only the share of electricity not matched by
    certificates (RECs, GOs, PPAs) carries emissions. The unmatched share is valued at the
    grid's average intensity because residual-mix factors are not in the reference data;
    this overstates nothing, since the residual mix is at least as carbon-intensive.
    A separate figure: never added to the location-based one."""
    return facility_energy_kwh * intensity_g_per_kwh * certificate_share.complement() / 1000


def expected_life_hours(lifetime_years: Range, utilisation: Range) -> Range:
    """Hours of use over a device's life: years × 8,760 × share of time in use."""
    return lifetime_years * HOURS_PER_YEAR * utilisation


def embodied_sci_kgco2e(
    total_embodied_kgco2e: Range,
    time_reserved_h: Range,
    expected_life_h: Range,
    resources_reserved: float = 1.0,
    total_resources: float = 1.0,
) -> Range:
    """SCI specification 1.1 (ISO/IEC 21031:2024), embodied emissions:
    M = TE × (TiR / EL) × (RR / ToR)."""
    return total_embodied_kgco2e * time_reserved_h / expected_life_h * (resources_reserved / total_resources)


def capital_goods_kgco2e(total_embodied_kgco2e: Range, units: float) -> Range:
    """GHG Protocol Scope 3 Category 2 (capital goods): the full cradle-to-gate emissions of
    the equipment, reported in the year of purchase, not amortised."""
    return total_embodied_kgco2e * units


def water_l(it_energy_kwh: Range, wue_l_per_kwh: Range) -> Range:
    """On-site water: WUE (litres per kWh of IT energy, The Green Grid) × IT energy."""
    return it_energy_kwh * wue_l_per_kwh


def per_unit(total: Range, units: float) -> Range:
    """A total divided among functional units (requests, thousands of tokens)."""
    if units <= 0:
        raise ValueError("A functional unit count must be positive.")
    return total / units


@dataclass(frozen=True)
class FootprintInputs:
    """One workload. The activity is given one of four ways, in this order of precedence:
    energy metered at the facility, measured IT energy, device-hours, or FLOPs."""

    intensity_g_per_kwh: Range
    pue: Range = Range.exact(1.0)
    certificate_share: Range = Range.exact(0.0)
    facility_energy_kwh: Range | None = None
    it_energy_kwh: Range | None = None
    accelerator_hours: Range | None = None
    flops: float | None = None
    peak_tflops: float | None = None
    mfu: Range = Range(0.35, 0.40, 0.45)
    power_per_accelerator_w: Range | None = None
    host_overhead: Range = Range.exact(1.0)
    wue_l_per_kwh: Range | None = None
    accelerator_count: float | None = None
    accelerators_per_host: float = 8
    accelerator_embodied_kgco2e: Range | None = None
    host_embodied_kgco2e: Range | None = None
    lifetime_years: Range | None = None
    utilisation: Range = Range.exact(1.0)
    tokens: float | None = None
    requests: float | None = None


@dataclass(frozen=True)
class Footprint:
    accelerator_hours: Range | None
    it_energy_kwh: Range | None
    facility_energy_kwh: Range
    location_based_kgco2e: Range
    market_based_kgco2e: Range
    embodied_accelerators_kgco2e: Range | None
    embodied_hosts_kgco2e: Range | None
    embodied_kgco2e: Range | None
    capital_goods_kgco2e: Range | None
    water_l: Range | None
    sci_kgco2e: Range  # location-based operational + amortised embodied (SCI excludes market instruments)
    per_1k_tokens_kgco2e: Range | None
    per_request_kgco2e: Range | None
    per_1k_tokens_kwh: Range | None
    per_request_kwh: Range | None
    sensitivity: list[Sensitivity] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def activity(i: FootprintInputs, notes: list[str]) -> tuple[Range | None, Range | None, Range]:
    """(device-hours, IT energy, facility energy) from whichever activity was given."""
    hours = i.accelerator_hours
    if hours is None and i.flops is not None:
        if not i.peak_tflops:
            raise ValueError("Estimating from FLOPs needs the accelerator's peak dense TFLOPs.")
        hours = accelerator_hours_from_flops(i.flops, i.peak_tflops, i.mfu)
    if i.facility_energy_kwh is not None:
        notes.append("Energy was metered at the facility: PUE is already included and not applied again.")
        it = i.facility_energy_kwh / i.pue if i.pue.low > 0 else None
        return hours, it, i.facility_energy_kwh
    it = i.it_energy_kwh
    if it is None:
        if hours is None:
            raise ValueError("Give the activity: FLOPs, accelerator-hours, or energy.")
        if i.power_per_accelerator_w is None:
            raise ValueError("Estimating energy from accelerator-hours needs the power per accelerator.")
        it = it_energy_kwh(hours, i.power_per_accelerator_w, i.host_overhead)
    return hours, it, facility_energy_kwh(it, i.pue)


def _embodied(i: FootprintInputs, hours: Range | None, notes: list[str]) -> tuple[Range | None, Range | None]:
    if i.accelerator_embodied_kgco2e is None and i.host_embodied_kgco2e is None:
        notes.append("Embodied carbon not computed: the hardware's embodied carbon is unknown.")
        return None, None
    if hours is None or i.lifetime_years is None:
        notes.append("Embodied carbon not computed: it needs the accelerator-hours and the hardware lifetime.")
        return None, None
    life_h = expected_life_hours(i.lifetime_years, i.utilisation)
    accelerators = (
        embodied_sci_kgco2e(i.accelerator_embodied_kgco2e, hours, life_h)
        if i.accelerator_embodied_kgco2e is not None
        else None
    )
    hosts = (
        embodied_sci_kgco2e(i.host_embodied_kgco2e, hours / i.accelerators_per_host, life_h)
        if i.host_embodied_kgco2e is not None
        else None
    )
    if accelerators is None:
        notes.append("The accelerators' embodied carbon is unknown: only the host share is counted.")
    if hosts is None:
        notes.append("The host server's embodied carbon is unknown: only the accelerators are counted.")
    return accelerators, hosts


def compute(i: FootprintInputs) -> Footprint:
    """The whole footprint of one workload, with ranges and a ranking of the inputs
    that dominate the range of its SCI carbon (location-based operational + embodied)."""
    result = _compute(i)
    ranking = [s for s in one_at_a_time(i, lambda x: _compute(x).sci_kgco2e) if s.output_high > s.output_low]
    return replace(result, sensitivity=ranking)


def _compute(i: FootprintInputs) -> Footprint:
    notes: list[str] = []
    hours, it, facility = activity(i, notes)
    location = location_based_kgco2e(facility, i.intensity_g_per_kwh)
    market = market_based_kgco2e(facility, i.intensity_g_per_kwh, i.certificate_share)
    emb_acc, emb_host = _embodied(i, hours, notes)
    embodied = None if emb_acc is None and emb_host is None else Range.exact(0) + (emb_acc or 0) + (emb_host or 0)

    capital = None
    if i.accelerator_count is not None and i.accelerator_embodied_kgco2e is not None:
        capital = capital_goods_kgco2e(i.accelerator_embodied_kgco2e, i.accelerator_count)
        if i.host_embodied_kgco2e is not None:
            capital = capital + capital_goods_kgco2e(
                i.host_embodied_kgco2e, max(1.0, i.accelerator_count / i.accelerators_per_host)
            )

    water = None
    if i.wue_l_per_kwh is None:
        notes.append("Water not computed: the facility's WUE is unknown.")
    elif it is None:
        notes.append("Water not computed: IT energy is unknown (metered facility energy with no PUE).")
    else:
        water = water_l(it, i.wue_l_per_kwh)

    sci = location + (embodied or 0)
    per_tokens = per_request = per_tokens_kwh = per_request_kwh = None
    if i.tokens:
        per_tokens = per_unit(sci, i.tokens / 1000)
        per_tokens_kwh = per_unit(facility, i.tokens / 1000)
    if i.requests:
        per_request = per_unit(sci, i.requests)
        per_request_kwh = per_unit(facility, i.requests)

    return Footprint(
        accelerator_hours=hours,
        it_energy_kwh=it,
        facility_energy_kwh=facility,
        location_based_kgco2e=location,
        market_based_kgco2e=market,
        embodied_accelerators_kgco2e=emb_acc,
        embodied_hosts_kgco2e=emb_host,
        embodied_kgco2e=embodied,
        capital_goods_kgco2e=capital,
        water_l=water,
        sci_kgco2e=sci,
        per_1k_tokens_kgco2e=per_tokens,
        per_request_kgco2e=per_request,
        per_1k_tokens_kwh=per_tokens_kwh,
        per_request_kwh=per_request_kwh,
        notes=notes,
    )
