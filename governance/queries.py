"""Reads used by several screens."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from governance.models import AuditEvent, ModelVersion


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
