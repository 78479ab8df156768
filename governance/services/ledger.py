"""Footprints as maintained state. A run's footprint is computed when one of its inputs
changes — the run opens or closes, telemetry for it is rolled up, a reference factor it
used is edited — and stored with the digest of those inputs; each budget it counts
toward is corrected in the same transaction. Pages, budgets and the release gate read
what is stored and never recompute on a read."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from governance.models import (
    Deployment,
    ModelVersion,
    Run,
    RunStatus,
    StoredFootprint,
    VersionFigures,
)
from governance.services import budgets, gate_records
from governance.services.footprints import compute_run_footprint, inputs_digest, snapshot, version_footprint
from lca.present import estimate_data


@transaction.atomic
def refresh(run_id: int) -> StoredFootprint:
    """Computes the run's footprint now and stores it if anything changed. The run's row is
    locked, so two workers refreshing the same run take turns and the second finds nothing
    to change."""
    run = (
        Run.objects.select_for_update(of=("self",))
        .select_related("model_version__registered_model", "facility__grid_region", "hardware", "host")
        .get(pk=run_id)
    )
    rf = compute_run_footprint(run)
    digest = inputs_digest(rf)
    f = rf.result.footprint
    values = {
        "project_id": run.model_version.registered_model.project_id,
        "model_version_id": run.model_version_id,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "source": rf.source,
        "method": rf.method,
        "coverage": rf.coverage,
        "accelerator_hours": rf.accelerator_hours,
        "note": rf.note,
        "result": estimate_data(rf.result),
        "facility_energy_kwh": f.facility_energy_kwh.central,
        "location_based_kgco2e": f.location_based_kgco2e.central,
        "inputs_digest": digest,
        "stale": False,
        "computed_at": timezone.now(),
    }
    record = StoredFootprint.objects.filter(run=run).first()
    if record is not None and record.inputs_digest == digest:
        if record.stale:
            StoredFootprint.objects.filter(run=run).update(stale=False)
            record.stale = False
            gate_records.mark_stale([run.model_version_id])  # the gate's figures_current rule
        return record
    if record is None:
        record = StoredFootprint.objects.create(run=run, **values)
    else:  # the run's row is locked: nobody else writes its footprint meanwhile
        StoredFootprint.objects.filter(run=run).update(**values)
        for name, value in values.items():
            setattr(record, name, value)
    budgets.post_run(record)
    mark_versions_stale([run.model_version_id])
    return record


def version_snapshot(version: ModelVersion) -> dict[str, Any]:
    """The version's figures as stored; computed now only when something changed since."""
    record = VersionFigures.objects.filter(version=version, stale=False).first()
    figures: dict[str, Any] = (record or refresh_version(version)).snapshot
    return figures


def refresh_version(version: ModelVersion) -> VersionFigures:
    record, _ = VersionFigures.objects.update_or_create(
        version=version,
        defaults={"snapshot": snapshot(version_footprint(version)), "stale": False, "computed_at": timezone.now()},
    )
    # As jsonb gives it back (1e+16 returns as the integer 10000000000000000): a digest taken
    # now must equal one taken from a later read.
    record.refresh_from_db(fields=["snapshot"])
    return record


def mark_versions_stale(version_ids: Iterable[int]) -> int:
    """These versions' figures changed, and so did those of the versions derived from them
    (they include a share of their base)."""
    ids = frontier = set(version_ids)
    for _ in range(10):  # the depth version_footprint follows
        frontier = set(ModelVersion.objects.filter(base_version__in=frontier).values_list("pk", flat=True)) - ids
        if not frontier:
            break
        ids = ids | frontier
    gate_records.mark_stale(ids)
    return VersionFigures.objects.filter(version__in=ids, stale=False).update(stale=True)


def mark_stale(runs: QuerySet[Run]) -> int:
    """Marks these runs' stored footprints stale and queues their recomputation."""
    count = StoredFootprint.objects.filter(run__in=runs, stale=False).update(stale=True)
    gate_records.mark_stale(runs.values_list("model_version_id", flat=True))
    if count:
        transaction.on_commit(lambda: current_app.tasks["governance.tasks.recompute_footprints"].delay())
    return count


def recompute_stale(limit: int = 500) -> int:
    """Recomputes up to `limit` stale footprints, each in its own transaction (a failure
    leaves that one stale for the retry); returns how many it recomputed."""
    ids = list(StoredFootprint.objects.filter(stale=True).order_by("run_id").values_list("run_id", flat=True)[:limit])
    for run_id in ids:
        refresh(run_id)
    return len(ids)


def refresh_running() -> int:
    """A running run's footprint grows with time: the beat refreshes it every few minutes."""
    ids = list(Run.objects.filter(status=RunStatus.RUNNING).values_list("pk", flat=True))
    for run_id in ids:
        refresh(run_id)
    return len(ids)


def stale_count() -> int:
    return StoredFootprint.objects.filter(stale=True).count()


def mark_stale_for_labels(labels: Iterable[str], start: datetime, end: datetime) -> int:
    """Telemetry rolled up for these labels in [start, end): the runs it may belong to."""
    runs = Run.objects.filter(label__in=list(labels), started_at__lt=end).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gte=start)
    )
    mark_versions_stale(Deployment.objects.filter(label__in=list(labels)).values_list("model_version_id", flat=True))
    return mark_stale(runs)


def mark_stale_for_reference(
    *, grid_regions: Iterable[int] = (), facilities: Iterable[int] = (), hardware: Iterable[int] = ()
) -> int:
    """A reference row changed: the runs whose footprint used it."""
    uses = (
        Q(facility__grid_region__in=list(grid_regions))
        | Q(facility__in=list(facilities))
        | Q(hardware__in=list(hardware))
        | Q(host__in=list(hardware))
    )
    mark_versions_stale(Deployment.objects.filter(uses).values_list("model_version_id", flat=True))
    return mark_stale(Run.objects.filter(uses))
