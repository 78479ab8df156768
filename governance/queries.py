"""Reads used by several screens."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from governance.models import AuditEvent, ImpactReview, ModelVersion, Project
from governance.services.reviews import OPEN, awaits


def history_of(version: ModelVersion) -> QuerySet[AuditEvent]:
    """The audit events of a version, its runs, deployments and reviews, newest first."""
    runs = [str(pk) for pk in version.runs.values_list("pk", flat=True)]
    reviews = [str(pk) for pk in version.reviews.values_list("pk", flat=True)]
    deployments = [str(pk) for pk in version.deployments.values_list("pk", flat=True)]
    return AuditEvent.objects.filter(
        Q(object_type="ModelVersion", object_id=str(version.pk))
        | Q(object_type="Run", object_id__in=runs)
        | Q(object_type="ImpactReview", object_id__in=reviews)
        | Q(object_type="Deployment", object_id__in=deployments)
    ).order_by("-id")[:100]


def project_history(project_id: int) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(project_id=project_id).order_by("-id")[:50]


def reviews_waiting_for(user: Any) -> list[ImpactReview]:
    """Open reviews this person could sign now (reviews.awaits)."""
    candidates = ImpactReview.objects.filter(
        state__in=OPEN, model_version__in=ModelVersion.objects.visible_to(user)
    ).select_related("model_version__registered_model__project", "author")
    return [review for review in candidates if awaits(review, user)]


def recent_gate_decisions(user: Any, limit: int = 10) -> QuerySet[AuditEvent]:
    visible = Project.objects.visible_to(user).values("pk")
    return AuditEvent.objects.filter(
        project_id__in=visible, action__in=["release.released", "release.refused"]
    ).order_by("-id")[:limit]
