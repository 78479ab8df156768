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
from governance.services.footprints import (
    SNAPSHOT_FORMAT,
    compute_run_footprints,
    inputs_digest,
    snapshot,
    version_footprint,
)
from lca.present import estimate_data

RUN_RELATED = (
    "model_version__registered_model__project__metrics_store",
    "facility__grid_region",
    "facility__host",
    "hardware",
    "host",
)
STORED_FIELDS = (
    "project_id",
    "model_version_id",
    "started_at",
    "ended_at",
    "source",
    "method",
    "coverage",
    "accelerator_hours",
    "note",
    "problem",
    "result",
    "facility_energy_kwh",
    "location_based_kgco2e",
    "inputs_digest",
    "stale",
    "computed_at",
)


@transaction.atomic
def refresh(run_id: int) -> StoredFootprint:
    """Computes the run's footprint now and stores it if anything changed. The run's row is
    locked, so two workers refreshing the same run take turns and the second finds nothing
    to change."""
    run = Run.objects.select_for_update(of=("self",)).select_related(*RUN_RELATED).get(pk=run_id)
    return _store([run])[0]


def _store(runs: list[Run]) -> list[StoredFootprint]:
    """Computes these runs' footprints (their rows locked by the caller) and stores those
    that changed, with their budgets' entries, in a fixed number of statements per batch."""
    existing = {r.run_id: r for r in StoredFootprint.objects.filter(run__in=runs)}
    now = timezone.now()
    records, changed, settled = [], [], []
    for rf in compute_run_footprints(runs):
        run, f = rf.run, rf.result.footprint
        record = StoredFootprint(
            run=run,
            project_id=run.model_version.registered_model.project_id,
            model_version_id=run.model_version_id,
            started_at=run.started_at,
            ended_at=run.ended_at,
            source=rf.source,
            method=rf.method,
            coverage=rf.coverage,
            accelerator_hours=rf.accelerator_hours,
            note=rf.note,
            problem=rf.problem,
            result=estimate_data(rf.result),
            facility_energy_kwh=f.facility_energy_kwh.central,
            location_based_kgco2e=f.location_based_kgco2e.central,
            inputs_digest=inputs_digest(rf),
            stale=False,
            computed_at=now,
        )
        before = existing.get(run.pk)
        if before is not None and before.inputs_digest == record.inputs_digest:
            if before.stale:
                before.stale = False
                settled.append(before)
            records.append(before)
        else:
            changed.append(record)
            records.append(record)
    if settled:
        StoredFootprint.objects.filter(run__in=[r.run_id for r in settled]).update(stale=False)
        gate_records.mark_stale({r.model_version_id for r in settled})  # the gate's figures_current rule
    if changed:
        # The runs' rows are locked: nobody else writes their footprints meanwhile.
        StoredFootprint.objects.bulk_create(
            changed, update_conflicts=True, unique_fields=["run"], update_fields=STORED_FIELDS
        )
        budgets.post_runs(changed)
        mark_versions_stale({r.model_version_id for r in changed})
    return records


def version_snapshot(version: ModelVersion) -> dict[str, Any]:
    """The version's figures as stored; computed now only when something changed since."""
    record = VersionFigures.objects.filter(version=version, stale=False).first()
    if record is not None and record.snapshot.get("format") != SNAPSHOT_FORMAT:
        record = None  # stored before the format gained what is read now
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
    """Recomputes up to `limit` stale footprints in one transaction (a failure leaves them
    stale for the retry); returns how many it recomputed. Two workers take different runs:
    each skips the rows the other has locked."""
    with transaction.atomic():
        runs = list(
            Run.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related(*RUN_RELATED)
            .filter(stored_footprint__stale=True)
            .order_by("pk")[:limit]
        )
        _store(runs)
    return len(runs)


def refresh_running(batch: int = 500) -> int:
    """A running run's footprint grows with time: the beat refreshes it every few minutes."""
    done, after = 0, 0
    while True:
        with transaction.atomic():
            runs = list(
                Run.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related(*RUN_RELATED)
                .filter(status=RunStatus.RUNNING, pk__gt=after)
                .order_by("pk")[:batch]
            )
            _store(runs)
        done += len(runs)
        if len(runs) < batch:
            return done
        after = runs[-1].pk


def stale_count() -> int:
    return StoredFootprint.objects.filter(stale=True).count()


def mark_stale_for_labels(labels: Iterable[str], start: datetime, end: datetime) -> int:
    """Telemetry rolled up for these labels in [start, end): the runs it may belong to.
    Called after every rolled-up batch, so it asks two indexed questions and stops there
    when the labels belong to no run or deployment."""
    labels = list(labels)
    run_ids = list(
        Run.objects.filter(label__in=labels, started_at__lt=end)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=start))
        .values_list("pk", flat=True)
    )
    version_ids = list(Deployment.objects.filter(label__in=labels).values_list("model_version_id", flat=True))
    if version_ids:
        mark_versions_stale(version_ids)
    return mark_stale(Run.objects.filter(pk__in=run_ids)) if run_ids else 0


def mark_stale_for_reference(
    *,
    grid_regions: Iterable[int] = (),
    facilities: Iterable[int] = (),
    hardware: Iterable[int] = (),
    suppliers: Iterable[int] = (),
) -> int:
    """A reference row changed: the runs whose footprint used it. A supplier's answer to a
    data request changes no footprint, only the figures of the versions trained there."""
    if suppliers:
        at = Run.objects.filter(facility__supplier__in=list(suppliers))
        mark_versions_stale(at.values_list("model_version_id", flat=True))
    uses = (
        Q(facility__grid_region__in=list(grid_regions))
        | Q(facility__in=list(facilities))
        | Q(hardware__in=list(hardware))
        | Q(host__in=list(hardware))
    )
    mark_versions_stale(Deployment.objects.filter(uses).values_list("model_version_id", flat=True))
    return mark_stale(Run.objects.filter(uses))
