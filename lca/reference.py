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


def _known(model: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Only the fields this version of the model has: an early migration loads the
    current files into the tables as they were then, and a later one fills the rest."""
    names = {f.name for f in model._meta.get_fields()}
    return {k: v for k, v in values.items() if k in names}


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
        for text in ("licence", "notes", "residual_source"):
            values[text] = row.get(text, "")
        GridRegion.objects.update_or_create(code=row["code"], defaults=_known(GridRegion, values))

    suppliers = json.loads((DATA / "suppliers.json").read_text())
    for row in suppliers:
        Supplier.objects.update_or_create(slug=row["slug"], defaults={k: v for k, v in row.items() if k != "slug"})

    hardware = json.loads((DATA / "hardware.json").read_text())
    for row in hardware:
        values = {k: v for k, v in row.items() if k != "slug"}
        HardwareModel.objects.update_or_create(slug=row["slug"], defaults=_known(HardwareModel, values))

    facilities = json.loads((DATA / "facilities.json").read_text())
    for row in facilities:
        values = {k: v for k, v in row.items() if k not in ("slug", "supplier", "grid_region", "host")}
        values["supplier"] = Supplier.objects.get(slug=row["supplier"])
        values["grid_region"] = GridRegion.objects.get(code=row["grid_region"])
        values["host"] = HardwareModel.objects.get(slug=row["host"]) if row.get("host") else None
        Facility.objects.update_or_create(slug=row["slug"], defaults=_known(Facility, values))

    return {
        "grid regions": len(regions),
        "suppliers": len(suppliers),
        "facilities": len(facilities),
        "hardware models": len(hardware),
    }
