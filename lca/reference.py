"""Loads the shipped reference data (lca/data/) into the database, idempotently:
rows are matched by code or slug, so re-loading updates figures in place."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"


def _blank_to_none(value: str) -> str | None:
    return value if value != "" else None


def load(get_model: Any) -> dict[str, int]:
    """`get_model(name)` returns the model class (a migration passes its historical models)."""
    GridRegion = get_model("GridRegion")
    Supplier = get_model("Supplier")
    Facility = get_model("Facility")
    HardwareModel = get_model("HardwareModel")

    with (DATA / "grid_regions.csv").open(newline="") as f:
        regions = list(csv.DictReader(f))
    for row in regions:
        values = {k: _blank_to_none(v) for k, v in row.items() if k != "code"}
        values["licence"] = row["licence"]
        values["notes"] = row["notes"]
        GridRegion.objects.update_or_create(code=row["code"], defaults=values)

    suppliers = json.loads((DATA / "suppliers.json").read_text())
    for row in suppliers:
        Supplier.objects.update_or_create(slug=row["slug"], defaults={k: v for k, v in row.items() if k != "slug"})

    facilities = json.loads((DATA / "facilities.json").read_text())
    for row in facilities:
        values = {k: v for k, v in row.items() if k not in ("slug", "supplier", "grid_region")}
        values["supplier"] = Supplier.objects.get(slug=row["supplier"])
        values["grid_region"] = GridRegion.objects.get(code=row["grid_region"])
        Facility.objects.update_or_create(slug=row["slug"], defaults=values)

    hardware = json.loads((DATA / "hardware.json").read_text())
    for row in hardware:
        HardwareModel.objects.update_or_create(slug=row["slug"], defaults={k: v for k, v in row.items() if k != "slug"})

    return {
        "grid regions": len(regions),
        "suppliers": len(suppliers),
        "facilities": len(facilities),
        "hardware models": len(hardware),
    }
