"""The stored answers of the release gate (GateRecord): what marks them stale. Every
input a gate rule reads calls here when it changes; a release never reads a stored answer."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from governance.models import GateRecord, ModelVersion


def mark_stale(version_ids: Iterable[int]) -> None:
    """A rule's input changed for these versions: their gates, and those of every version
    of the same models (the per-token rule compares with the model's previous release)."""
    ids = version_ids if isinstance(version_ids, QuerySet) else list(version_ids)
    models = ModelVersion.objects.filter(pk__in=ids).values("registered_model_id")
    GateRecord.objects.filter(version__registered_model_id__in=models, stale=False).update(stale=True)


def mark_project_stale(project_id: int) -> None:
    """A project-wide input changed (its policy, a budget): every gate of the project."""
    GateRecord.objects.filter(version__registered_model__project_id=project_id, stale=False).update(stale=True)
