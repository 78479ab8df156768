"""The footprint formulas. Pure Python, standard library only: no Django.

Every quantity's unit is in its name. Every result is a Range (see
uncertainty.py for the method). One function per published formula; `compute`
chains them for one workload and is what every interface ends up calling."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from lca.uncertainty import Range, Sensitivity, one_at_a_time

HOURS_PER_YEAR = 8760  # 365 days, as in the SCI specification's worked example
TRAINING_FLOPS_PER_PARAMETER_TOKEN = 6  # forward 2 + backward 4 (Kaplan et al. 2020; Hoffmann et al. 2022)
INFERENCE_FLOPS_PER_PARAMETER_TOKEN = 2  # forward pass only; attention over the context is excluded


def training_flops(active_parameters: float, tokens: float) -> float:
    """C ≈ 6·N·D (EleutherAI, "Transformer Math 101", after Kaplan 2020 and Hoffmann 2022).
    N is the parameters active per token: for mixture-of-experts, the active ones."""
    return TRAINING_FLOPS_PER_PARAMETER_TOKEN * active_parameters * tokens


def inference_flops(active_parameters: float, tokens: float) -> float:
    """≈ 2·N FLOPs per token processed, prompt and generated alike (the forward half of 6·N·D)."""
    return INFERENCE_FLOPS_PER_PARAMETER_TOKEN * active_parameters * tokens


def accelerator_hours_from_flops(flops: float, peak_tflops: float, mfu: Range) -> Range:
    """Device-hours = FLOPs / (peak dense FLOP/s × model FLOPs utilisation) / 3600."""
    return Range.exact(flops) / (Range.exact(peak_tflops * 1e12) * mfu) / 3600


def host_energy_kwh(accelerator_energy_kwh: Range, host_overhead: Range) -> Range:
    """Host CPUs, memory and network on top of the accelerators, from the ratio of
    node energy to accelerator energy (1 = nothing on top): accelerators × (ratio − 1)."""
    if host_overhead.low < 1:
        raise ValueError("A host overhead ratio cannot be below 1.")
    return accelerator_energy_kwh * Range(host_overhead.low - 1, host_overhead.central - 1, host_overhead.high - 1)


def facility_energy_kwh(it_energy_kwh: Range, pue: Range) -> Range:
    """PUE = total facility energy / IT energy (The Green Grid). Applied exactly once,
    to IT energy only: energy metered at the facility is not multiplied again."""
    return it_energy_kwh * pue


def location_based_kgco2e(facility_energy_kwh: Range, intensity_g_per_kwh: Range) -> Range:
    """GHG Protocol Scope 2, location-based: energy × average grid intensity."""
    return facility_energy_kwh * intensity_g_per_kwh / 1000


def market_based_kgco2e(
    facility_energy_kwh: Range,
    intensity_g_per_kwh: Range,
    certificate_share: Range,
    residual_intensity_g_per_kwh: Range | None = None,
) -> Range:
    """GHG Protocol Scope 2 Guidance (2015), market-based: electricity matched by certificates
    (RECs, GOs, PPAs) carries none of the grid's emissions; the unmatched share carries the
    residual mix (the grid once the certificates sold elsewhere are taken out), or the grid
    average where no residual mix is published. A separate figure: never added to the
    location-based one."""
    unmatched = residual_intensity_g_per_kwh or intensity_g_per_kwh
    return facility_energy_kwh * unmatched * certificate_share.complement() / 1000


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


class Scope(StrEnum):
    """What a power or energy figure already includes; the engine adds only the rest."""

    ACCELERATOR = "accelerator"  # the accelerators alone (NVML, TDP): host and PUE are added
    NODE = "node"  # accelerators + their host's CPUs, memory and network (IT energy): PUE is added
    FACILITY = "facility"  # at the facility meter, PUE included: nothing is added


class How(StrEnum):
    MEASURED = "measured"  # metered by telemetry or a client on the machines
    GIVEN = "given"  # stated by the caller or a source
    ESTIMATED = "estimated"  # derived by Greenlight from defaults or rules


@dataclass(frozen=True)
class FootprintInputs:
    """One workload. The activity is given one of three ways, in this order of precedence:
    energy (with its scope), device-hours, or FLOPs; the last two need a power per device."""

    intensity_g_per_kwh: Range
    pue: Range = Range.exact(1.0)
    certificate_share: Range = Range.exact(0.0)
    residual_intensity_g_per_kwh: Range | None = None
    energy_kwh: Range | None = None
    energy_scope: Scope = Scope.ACCELERATOR
    energy_how: How = How.GIVEN
    host_energy_kwh: Range | None = None  # the host's own energy where known; else the overhead estimates it
    host_energy_how: How = How.GIVEN
    accelerator_hours: Range | None = None
    flops: float | None = None
    peak_tflops: float | None = None
    mfu: Range | None = None
    capacity_in_use: Range = Range.exact(1.0)  # share of provisioned device time doing the work
    power_per_accelerator_w: Range | None = None
    power_scope: Scope = Scope.ACCELERATOR
    host_overhead: Range = Range.exact(1.0)
    wue_l_per_kwh: Range | None = None
    accelerator_count: float | None = None
    accelerators_per_host: float = 8
    accelerator_embodied_kgco2e: Range | None = None
    host_embodied_kgco2e: Range | None = None
    lifetime_years: Range | None = None
    host_lifetime_years: Range | None = None  # the accelerators' lifetime where not given
    utilisation: Range = Range.exact(1.0)
    tokens: float | None = None
    requests: float | None = None


@dataclass(frozen=True)
class Part:
    """One share of the operational footprint: what it covers and how it was known.
    Parts add up to the facility energy and the location-based carbon."""

    name: str
    it_energy_kwh: Range | None  # None for energy metered at the facility
    facility_energy_kwh: Range
    location_based_kgco2e: Range
    how: How


@dataclass(frozen=True)
class Footprint:
    accelerator_hours: Range | None
    accelerator_energy_kwh: Range | None
    host_energy_kwh: Range | None
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
    parts: list[Part] = field(default_factory=list)
    sensitivity: list[Sensitivity] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def part(self, name: str) -> Part | None:
        return next((p for p in self.parts if p.name == name), None)


@dataclass(frozen=True)
class Activity:
    hours: Range | None
    accelerators_kwh: Range | None  # IT energy by boundary; None where the input already merged them
    host_kwh: Range | None
    it_kwh: Range | None
    facility_kwh: Range
    parts: list[tuple[str, Range | None, Range, How]]  # (name, IT kWh, facility kWh, how)


def device_hours(i: FootprintInputs) -> Range | None:
    """Device-hours given, or FLOPs / (peak × MFU) stretched by capacity provisioned but idle."""
    if i.accelerator_hours is not None or i.flops is None:
        return i.accelerator_hours
    if not i.peak_tflops or i.mfu is None:
        raise ValueError("Estimating from FLOPs needs the accelerator's peak dense TFLOPs and the MFU.")
    return accelerator_hours_from_flops(i.flops, i.peak_tflops, i.mfu) / i.capacity_in_use


def activity(i: FootprintInputs, notes: list[str]) -> Activity:
    """The energy at each boundary (accelerators → + host → × PUE), applying host overhead
    and PUE only to what the input's scope does not already cover."""
    hours = device_hours(i)
    if i.energy_kwh is not None:
        base, scope, how = i.energy_kwh, i.energy_scope, i.energy_how
    elif hours is None:
        raise ValueError("Give the activity: FLOPs, accelerator-hours, or energy.")
    elif i.power_per_accelerator_w is None:
        raise ValueError("Estimating energy from accelerator-hours needs the power per accelerator.")
    else:
        base, scope, how = hours * i.power_per_accelerator_w / 1000, i.power_scope, How.ESTIMATED

    if scope == Scope.FACILITY:
        notes.append("Energy was metered at the facility: PUE is already included and not applied again.")
        it = base / i.pue if i.pue.low > 0 else None
        return Activity(hours, None, None, it, base, [("facility (metered, PUE included)", it, base, how)])
    if scope == Scope.NODE:
        facility = facility_energy_kwh(base, i.pue)
        return Activity(hours, None, None, base, facility, [("accelerators and host", base, facility, how)])
    if i.host_energy_kwh is not None:
        host, host_how = i.host_energy_kwh, i.host_energy_how
    else:
        host, host_how = host_energy_kwh(base, i.host_overhead), How.ESTIMATED
        if i.host_overhead.high == 1:
            notes.append("Host energy not counted: the host overhead is 1 (accelerators only).")
    parts: list[tuple[str, Range | None, Range, How]] = [
        ("accelerators", base, facility_energy_kwh(base, i.pue), how),
        ("host", host, facility_energy_kwh(host, i.pue), host_how),
    ]
    it = base + host
    return Activity(hours, base, host, it, facility_energy_kwh(it, i.pue), parts)


def _embodied(i: FootprintInputs, hours: Range | None, notes: list[str]) -> tuple[Range | None, Range | None]:
    if i.accelerator_embodied_kgco2e is None and i.host_embodied_kgco2e is None:
        notes.append("Embodied carbon not computed: the hardware's embodied carbon is unknown.")
        return None, None
    if hours is None:
        notes.append("Embodied carbon not computed: it needs the accelerator-hours.")
        return None, None
    accelerators = hosts = None
    if i.accelerator_embodied_kgco2e is None:
        notes.append("The accelerators' embodied carbon is unknown: only the host share is counted.")
    elif i.lifetime_years is None:
        notes.append("The accelerators' embodied carbon is not counted: their lifetime is unknown.")
    else:
        life_h = expected_life_hours(i.lifetime_years, i.utilisation)
        accelerators = embodied_sci_kgco2e(i.accelerator_embodied_kgco2e, hours, life_h)
    host_lifetime = i.host_lifetime_years or i.lifetime_years
    if i.host_embodied_kgco2e is None:
        notes.append("The host server's embodied carbon is unknown: only the accelerators are counted.")
    elif host_lifetime is None:
        notes.append("The host server's embodied carbon is not counted: its lifetime is unknown.")
    else:
        host_life_h = expected_life_hours(host_lifetime, i.utilisation)
        hosts = embodied_sci_kgco2e(i.host_embodied_kgco2e, hours / i.accelerators_per_host, host_life_h)
    return accelerators, hosts


def compute(i: FootprintInputs) -> Footprint:
    """The whole footprint of one workload, with ranges and a ranking of the inputs
    that dominate the range of its SCI carbon (location-based operational + embodied)."""
    result = _compute(i)
    ranking = [s for s in one_at_a_time(i, lambda x: _compute(x).sci_kgco2e) if s.output_high > s.output_low]
    return replace(result, sensitivity=ranking)


def _compute(i: FootprintInputs) -> Footprint:
    notes: list[str] = []
    a = activity(i, notes)
    facility = a.facility_kwh
    location = location_based_kgco2e(facility, i.intensity_g_per_kwh)
    market = market_based_kgco2e(facility, i.intensity_g_per_kwh, i.certificate_share, i.residual_intensity_g_per_kwh)
    parts = [
        Part(name, it, part_kwh, location_based_kgco2e(part_kwh, i.intensity_g_per_kwh), how)
        for name, it, part_kwh, how in a.parts
    ]
    emb_acc, emb_host = _embodied(i, a.hours, notes)
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
    elif a.it_kwh is None:
        notes.append("Water not computed: IT energy is unknown (metered facility energy with no PUE).")
    else:
        water = water_l(a.it_kwh, i.wue_l_per_kwh)

    sci = location + (embodied or 0)
    per_tokens = per_request = per_tokens_kwh = per_request_kwh = None
    if i.tokens:
        per_tokens = per_unit(sci, i.tokens / 1000)
        per_tokens_kwh = per_unit(facility, i.tokens / 1000)
    if i.requests:
        per_request = per_unit(sci, i.requests)
        per_request_kwh = per_unit(facility, i.requests)

    return Footprint(
        accelerator_hours=a.hours,
        accelerator_energy_kwh=a.accelerators_kwh,
        host_energy_kwh=a.host_kwh,
        it_energy_kwh=a.it_kwh,
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
        parts=parts,
        notes=notes,
    )
