"""Imports grid-intensity CSVs as Ember, Our World in Data and Electricity Maps
publish them. Idempotent: a region's annual figure is replaced only by a newer
or equal year, hourly values are keyed by (region, hour). Every row is accounted
for: added, updated, unchanged, or rejected with its reason."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from django.db import transaction

from lca.models import Basis, GridRegion, HourlyIntensity, RegionKind
from lca.signals import reference_changed

FORMATS = {
    "ember": ("Ember, Yearly Electricity Data", "CC-BY-4.0"),
    "owid": ("Our World in Data, energy dataset (carbon_intensity_elec)", "CC-BY-4.0"),
    "electricitymaps": ("Electricity Maps, data portal", "ODbL"),
}


@dataclass(frozen=True)
class Reading:
    code: str
    name: str
    value: float
    year: int
    hour: datetime | None = None  # set for hourly series


@dataclass
class Report:
    format: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)

    def reject(self, line: int, reason: str) -> None:
        self.rejected.append((line, reason))


def detect_format(header: list[str]) -> str:
    columns = set(header)
    if {"ISO 3 code", "Year", "Variable", "Unit", "Value"} <= columns:
        return "ember"
    if {"iso_code", "year", "carbon_intensity_elec"} <= columns:
        return "owid"
    if "Datetime (UTC)" in columns and "Zone Id" in columns:
        return "electricitymaps"
    raise ValueError(
        "Unrecognised CSV header: expected Ember's long format (ISO 3 code, Year, Variable, Unit, Value), "
        "OWID's energy data (iso_code, year, carbon_intensity_elec) or Electricity Maps' (Datetime (UTC), Zone Id, …)."
    )


def _number(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError("negative intensity")
    return value


def _ember(rows: csv.DictReader[str], report: Report) -> list[tuple[int, Reading]]:
    out = []
    for line, row in enumerate(rows, start=2):
        if row["Variable"] != "CO2 intensity":
            continue  # the long format mixes every variable; only intensity rows matter
        if row["Unit"].replace("e", "") != "gCO2/kWh":
            report.reject(line, f"unexpected unit {row['Unit']!r}")
        elif not row["ISO 3 code"]:
            report.reject(line, f"{row.get('Area', '?')}: no ISO code (an aggregate)")
        else:
            try:
                out.append((line, Reading(row["ISO 3 code"], row["Area"], _number(row["Value"]), int(row["Year"]))))
            except ValueError as exc:
                report.reject(line, f"{row['ISO 3 code']}: {exc}")
    return out


def _owid(rows: csv.DictReader[str], report: Report) -> list[tuple[int, Reading]]:
    out = []
    for line, row in enumerate(rows, start=2):
        code = row["iso_code"]
        if not row["carbon_intensity_elec"]:
            continue  # OWID rows exist for years without electricity data
        if not code or code.startswith("OWID_"):
            report.reject(line, f"{row.get('country', '?')}: no ISO code (an aggregate)")
            continue
        try:
            out.append((line, Reading(code, row["country"], _number(row["carbon_intensity_elec"]), int(row["year"]))))
        except ValueError as exc:
            report.reject(line, f"{code}: {exc}")
    return out


def _electricitymaps(rows: csv.DictReader[str], report: Report, basis: str) -> list[tuple[int, Reading]]:
    column = next(
        (
            c
            for c in rows.fieldnames or []
            if c.startswith("Carbon Intensity") and ("Life cycle" in c if basis == Basis.LIFECYCLE else "direct" in c)
        ),
        None,
    )
    if column is None:
        raise ValueError(f"No {basis} carbon-intensity column in this Electricity Maps file.")
    out = []
    for line, row in enumerate(rows, start=2):
        try:
            when = datetime.fromisoformat(row["Datetime (UTC)"]).replace(tzinfo=UTC)
            reading = Reading(
                row["Zone Id"], row.get("Zone Name") or row["Zone Id"], _number(row[column]), when.year, when
            )
        except (ValueError, KeyError) as exc:
            report.reject(line, f"{row.get('Zone Id', '?')}: {exc}")
            continue
        out.append((line, reading))
    return out


def parse(stream: TextIO, report: Report, basis: str) -> list[tuple[int, Reading]]:
    rows = csv.DictReader(stream)
    report.format = detect_format(list(rows.fieldnames or []))
    if report.format == "ember":
        return _ember(rows, report)
    if report.format == "owid":
        return _owid(rows, report)
    readings = _electricitymaps(rows, report, basis)
    per_zone_year = Counter((r.code, r.year) for _, r in readings)
    if all(n == 1 for n in per_zone_year.values()):  # a yearly file: one row per zone and year
        readings = [(line, Reading(r.code, r.name, r.value, r.year)) for line, r in readings]
    return readings


@transaction.atomic
def import_grid_file(path: Path, *, basis: str = Basis.LIFECYCLE, source: str | None = None) -> Report:
    report = Report(format="")
    with path.open(newline="", encoding="utf-8-sig") as stream:
        readings = parse(stream, report, basis)
    label, licence = FORMATS[report.format]
    source = source or f"{label}, imported from {path.name}"
    kind = RegionKind.ZONE if report.format == "electricitymaps" else RegionKind.COUNTRY

    annual: dict[str, Reading] = {}
    hourly: dict[str, list[Reading]] = defaultdict(list)
    for _, r in readings:
        if r.hour is not None:
            hourly[r.code].append(r)
        elif r.code not in annual or r.year >= annual[r.code].year:
            if r.code in annual:
                report.unchanged += 1  # an older year of the same region in this file
            annual[r.code] = r
        else:
            report.unchanged += 1

    for code, r in annual.items():
        region = GridRegion.objects.filter(code=code).first()
        values = {"intensity_g_per_kwh": r.value, "year": r.year, "basis": basis, "source": source, "licence": licence}
        if region is None:
            GridRegion.objects.create(code=code, name=r.name, kind=kind, **values)
            report.added += 1
        elif region.year is not None and region.year > r.year:
            report.unchanged += 1  # the stored figure is newer: keep it
        elif all(getattr(region, k) == v for k, v in values.items()):
            report.unchanged += 1
        else:
            GridRegion.objects.filter(pk=region.pk).update(**values)
            reference_changed.send(sender=GridRegion, grid_regions=[region.pk])
            report.updated += 1

    for code, series in hourly.items():
        region, _ = GridRegion.objects.get_or_create(
            code=code,
            defaults={"name": series[0].name, "kind": kind, "basis": basis, "source": source, "licence": licence},
        )
        existing = dict(
            HourlyIntensity.objects.filter(region=region, hour__in=[r.hour for r in series]).values_list(
                "hour", "intensity_g_per_kwh"
            )
        )
        for r in series:
            if r.hour not in existing:
                report.added += 1
            elif existing[r.hour] == r.value:
                report.unchanged += 1
            else:
                report.updated += 1
        HourlyIntensity.objects.bulk_create(
            [
                HourlyIntensity(
                    region=region, hour=r.hour, intensity_g_per_kwh=r.value, basis=basis, source=source[:200]
                )
                for r in series
                if r.hour is not None  # every reading of an hourly series has its hour
            ],
            update_conflicts=True,
            unique_fields=["region", "hour"],
            update_fields=["intensity_g_per_kwh", "basis", "source"],
        )
    return report
