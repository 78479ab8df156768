"""Reference data: grids, suppliers, facilities, hardware. Every figure carries its
source and year; an unknown figure is empty (NULL), never a guess."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from lca.uncertainty import Range

# Where a source gives one figure, its range comes from a default spread (± share of the
# central value) set by what is known of how such figures move; see README, "Reference ranges".
# Same country-year between two releases of one dataset: US 2023 is 369.5 g in OWID's pull and
# 393 g in Ember's 2026 release (6%), and a year apart values move as much again.
COUNTRY_INTENSITY_SPREAD = 0.10
# Provider region factors move by about ±20% from one year's report to the next.
CLOUD_REGION_INTENSITY_SPREAD = 0.20
# A figure with no stated data year (CCF's AWS and Azure factors): one more step of doubt.
UNDATED_EXTRA_SPREAD = 0.10
# PUE: Google's own regions span 1.07-1.13 around a fleet 1.10 (±3%); a fleet figure used
# for one site (AWS, Azure) is less certain than a site's own.
PUE_SPREAD = 0.05
# WUE: Microsoft's fleet WUE fell from 0.49 (2021) to 0.30 L/kWh in three years; sites differ more.
WUE_SPREAD = 0.50
# Hardware lifetime: 3 years (EcoLogits), 4 (CCF), 5 (LLMCarbon, Amazon, Meta), 6 (BLOOM, Boavizta,
# Google's TPU LCA; Alphabet's and Microsoft's accounting lives).
LIFETIME_RANGE_YEARS = (3.0, 6.0)


def spread(central: float, share: float, floor: float = 0.0) -> Range:
    return Range(max(floor, central * (1 - share)), central, central * (1 + share))


class Basis(models.TextChoices):
    LIFECYCLE = "lifecycle", "Lifecycle (incl. upstream)"
    DIRECT = "direct", "Direct / operational"


class RegionKind(models.TextChoices):
    COUNTRY = "country", "Country"
    ZONE = "zone", "Sub-national zone"
    CLOUD_REGION = "cloud_region", "Cloud region"
    AGGREGATE = "aggregate", "Aggregate"


class GridRegion(models.Model):
    code = models.CharField(max_length=64, unique=True, help_text="ISO 3166 alpha-3, a zone, or provider:region.")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=RegionKind.choices)
    intensity_g_per_kwh = models.FloatField(null=True, blank=True, help_text="Annual average, gCO2e/kWh.")
    year = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Data year; empty if not stated.")
    basis = models.CharField(max_length=16, choices=Basis.choices)
    cfe_share = models.FloatField(null=True, blank=True, help_text="Carbon-free energy share (provider-reported).")
    source = models.TextField()
    licence = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    residual_intensity_g_per_kwh = models.FloatField(
        null=True, blank=True, help_text="Residual mix (grid less certificates sold), gCO2/kWh, for market-based."
    )
    residual_year = models.PositiveSmallIntegerField(null=True, blank=True)
    residual_source = models.TextField(blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(intensity_g_per_kwh__isnull=True) | Q(intensity_g_per_kwh__gte=0),
                name="grid_region_intensity_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(cfe_share__isnull=True) | Q(cfe_share__gte=0, cfe_share__lte=1),
                name="grid_region_cfe_share_is_a_share",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    @property
    def intensity_spread(self) -> float:
        share = CLOUD_REGION_INTENSITY_SPREAD if self.kind == RegionKind.CLOUD_REGION else COUNTRY_INTENSITY_SPREAD
        return share + (UNDATED_EXTRA_SPREAD if self.year is None else 0.0)

    @property
    def intensity_range(self) -> Range | None:
        if self.intensity_g_per_kwh is None:
            return None
        return spread(self.intensity_g_per_kwh, self.intensity_spread)

    @property
    def residual_range(self) -> Range | None:
        if self.residual_intensity_g_per_kwh is None:
            return None
        return spread(self.residual_intensity_g_per_kwh, COUNTRY_INTENSITY_SPREAD)


class HourlyIntensity(models.Model):
    """An hourly grid intensity, for time-resolved accounting and scheduling."""

    region = models.ForeignKey(GridRegion, on_delete=models.CASCADE, related_name="hourly")
    hour = models.DateTimeField(help_text="Start of the hour, UTC.")
    intensity_g_per_kwh = models.FloatField()
    basis = models.CharField(max_length=16, choices=Basis.choices)
    source = models.CharField(max_length=200)

    class Meta:
        ordering = ["region", "hour"]
        constraints = [
            models.UniqueConstraint(fields=["region", "hour"], name="hourly_intensity_one_per_hour"),
            models.CheckConstraint(condition=Q(intensity_g_per_kwh__gte=0), name="hourly_intensity_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.region.code} {self.hour:%Y-%m-%d %H:00} {self.intensity_g_per_kwh:g} g/kWh"


class SupplierKind(models.TextChoices):
    CLOUD = "cloud", "Cloud provider"
    COLOCATION = "colocation", "Colocation / HPC centre"
    HARDWARE = "hardware", "Hardware vendor"


class Supplier(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=SupplierKind.choices)
    iso_14001_since = models.DateField(null=True, blank=True, help_text="ISO 14001 (environmental management).")
    iso_50001_since = models.DateField(null=True, blank=True, help_text="ISO 50001 (energy management).")
    certifications = models.JSONField(
        default=list, blank=True, help_text='Others: [{"name": ..., "since": "YYYY-MM-DD"}]'
    )
    renewable_share = models.FloatField(
        null=True, blank=True, help_text="Share of electricity from renewable procurement."
    )
    renewable_share_note = models.CharField(max_length=300, blank=True)
    take_back_programme = models.BooleanField(null=True, blank=True, help_text="Recycling / take-back of hardware.")
    conflict_minerals_policy = models.BooleanField(null=True, blank=True)
    labour_policy = models.BooleanField(null=True, blank=True)
    sustainability_report_url = models.URLField(blank=True)
    cdp_disclosure = models.CharField(max_length=60, blank=True, help_text="CDP climate score or 'disclosed'.")
    source = models.TextField(blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(renewable_share__isnull=True) | Q(renewable_share__gte=0, renewable_share__lte=1),
                name="supplier_renewable_share_is_a_share",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DataRequestState(models.TextChoices):
    REQUESTED = "requested", "Requested"
    RECEIVED = "received", "Received"
    REFUSED = "refused", "Refused"


class SupplierDataRequest(models.Model):
    """One step of what was asked of a supplier and what came of it (each step a row, so
    the history stays): the evidence behind an 'N/A' in the EU model documentation."""

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="data_requests")
    what = models.CharField(max_length=200, help_text="What was asked, e.g. 'metered energy of our jobs, 2026'.")
    state = models.CharField(max_length=10, choices=DataRequestState.choices)
    note = models.TextField(blank=True, help_text="The supplier's answer or reason, as given.")
    recorded_by = models.CharField(max_length=150)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["supplier", "recorded_at", "pk"]

    def __str__(self) -> str:
        return f"{self.supplier}: {self.what} ({self.state})"


class Facility(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="facilities")
    grid_region = models.ForeignKey(GridRegion, on_delete=models.PROTECT, related_name="facilities")
    pue = models.FloatField(null=True, blank=True, help_text="Power usage effectiveness (≥ 1).")
    wue_l_per_kwh = models.FloatField(null=True, blank=True, help_text="On-site water, litres per IT kWh.")
    certificate_share = models.FloatField(
        null=True, blank=True, help_text="Share of electricity matched by renewable certificates (market-based)."
    )
    heat_reuse = models.BooleanField(null=True, blank=True)
    host = models.ForeignKey(
        "HardwareModel",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        limit_choices_to={"kind": "host"},
        help_text="The host server model its accelerators sit in, where known.",
    )
    source = models.TextField(blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "facilities"
        constraints = [
            models.CheckConstraint(condition=Q(pue__isnull=True) | Q(pue__gte=1), name="facility_pue_at_least_one"),
            models.CheckConstraint(
                condition=Q(wue_l_per_kwh__isnull=True) | Q(wue_l_per_kwh__gte=0), name="facility_wue_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(certificate_share__isnull=True) | Q(certificate_share__gte=0, certificate_share__lte=1),
                name="facility_certificate_share_is_a_share",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def pue_range(self) -> Range | None:
        return None if self.pue is None else spread(self.pue, PUE_SPREAD, floor=1.0)

    @property
    def wue_range(self) -> Range | None:
        return None if self.wue_l_per_kwh is None else spread(self.wue_l_per_kwh, WUE_SPREAD)


class HardwareKind(models.TextChoices):
    ACCELERATOR = "accelerator", "Accelerator"
    HOST = "host", "Server / host"


class HardwareModel(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=HardwareKind.choices)
    vendor = models.CharField(max_length=100)
    tdp_w = models.FloatField(null=True, blank=True, help_text="Rated power (TDP/TGP), watts.")
    peak_bf16_tflops = models.FloatField(null=True, blank=True, help_text="Peak dense BF16/FP16, no sparsity.")
    memory_gb = models.FloatField(null=True, blank=True)
    embodied_low_kgco2e = models.FloatField(null=True, blank=True)
    embodied_central_kgco2e = models.FloatField(null=True, blank=True)
    embodied_high_kgco2e = models.FloatField(null=True, blank=True)
    embodied_source = models.TextField(blank=True)
    lifetime_years = models.FloatField(null=True, blank=True)
    lifetime_source = models.CharField(max_length=300, blank=True)
    source = models.TextField(blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "vendor", "name"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(embodied_central_kgco2e__isnull=True)
                    | (
                        Q(embodied_low_kgco2e__lte=models.F("embodied_central_kgco2e"))
                        & Q(embodied_central_kgco2e__lte=models.F("embodied_high_kgco2e"))
                    )
                ),
                name="hardware_embodied_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def embodied_kgco2e(self) -> Range | None:
        if self.embodied_central_kgco2e is None:
            return None
        central = self.embodied_central_kgco2e
        return Range(self.embodied_low_kgco2e or central, central, self.embodied_high_kgco2e or central)

    @property
    def lifetime_range(self) -> Range | None:
        if self.lifetime_years is None:
            return None
        low, high = LIFETIME_RANGE_YEARS
        return Range(min(low, self.lifetime_years), self.lifetime_years, max(high, self.lifetime_years))


# The procurement score: each rule, its weight, and how it reads a supplier. Shown
# next to every score so that a reader can recompute it. Unknown earns nothing.
PROCUREMENT_RULES: list[tuple[str, int]] = [
    ("ISO 14001 environmental management certification", 15),
    ("ISO 50001 energy management certification", 15),
    ("Renewable procurement share (weight × share)", 25),
    ("Hardware recycling / take-back programme", 10),
    ("Conflict-minerals sourcing policy", 10),
    ("Labour-rights policy for the supply chain", 10),
    ("Public sustainability report", 10),
    ("CDP climate disclosure", 5),
]


def procurement_score(supplier: Supplier) -> tuple[float, list[dict[str, object]]]:
    """(score out of 100, one line per rule with the points earned and whether the fact is known)."""
    facts: list[tuple[bool | None, float]] = [
        (supplier.iso_14001_since is not None or None, 1.0),
        (supplier.iso_50001_since is not None or None, 1.0),
        (None if supplier.renewable_share is None else True, supplier.renewable_share or 0.0),
        (supplier.take_back_programme, 1.0),
        (supplier.conflict_minerals_policy, 1.0),
        (supplier.labour_policy, 1.0),
        (bool(supplier.sustainability_report_url) or None, 1.0),
        (bool(supplier.cdp_disclosure) or None, 1.0),
    ]
    lines = []
    for (rule, weight), (met, fraction) in zip(PROCUREMENT_RULES, facts, strict=True):
        points = weight * fraction if met else 0.0
        lines.append({"rule": rule, "weight": weight, "points": round(points, 1), "known": met is not None})
    return round(sum(line["points"] for line in lines), 1), lines  # type: ignore[misc]
