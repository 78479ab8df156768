"""Post-deployment review: N days after release, compare the per-token footprint
projected at review time with the one measured in production."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F

from governance.models import ImpactReview, ModelVersion, ReviewKind, ReviewState, VersionStatus
from governance.services import audit
from governance.services.footprints import PER_1K_TOKENS_UNIT, version_footprint
from governance.services.notifications import notify


@transaction.atomic
def check_version(version: ModelVersion, *, now: datetime) -> ImpactReview | None:
    """Records the comparison; opens a follow-up review when the deviation is too large."""
    project = version.project
    approved = version.reviews.filter(kind=ReviewKind.PRE_RELEASE, state=ReviewState.APPROVED).first()
    snapshot = (approved.snapshot or {}) if approved else {}
    projected = snapshot.get("projected_per_1k_tokens_kgco2e") or {}
    footprint = version_footprint(version)
    measured = footprint.per_1k_tokens_kgco2e
    definitions = {
        "projected_definition": snapshot.get("projected_per_1k_tokens_definition")
        or "per 1,000 generated tokens, accelerators and estimated host (a snapshot taken before token definitions "
        "were recorded)",
        "measured_definition": footprint.per_1k_tokens_definition or None,
    }
    ModelVersion.objects.filter(pk=version.pk).update(post_release_checked_at=now)
    comparable = str(definitions["projected_definition"]).startswith(PER_1K_TOKENS_UNIT)
    if not projected.get("central") or measured is None or not comparable:
        audit.record(
            actor="system",
            action="post_release.unmeasurable",
            obj=version,
            project_id=project.pk,
            payload={
                "projected": projected or None,
                "measured": measured and measured.as_dict(),
                "reason": "the projection counts other tokens than the measurement" if not comparable else None,
                **definitions,
            },
        )
        return None
    deviation = measured.central / projected["central"] - 1
    payload = {
        "projected_kgco2e_per_1k_tokens": projected["central"],
        "measured_kgco2e_per_1k_tokens": measured.central,
        "deviation": round(deviation, 4),
        "allowed": project.max_deviation,
        **definitions,
    }
    audit.record(actor="system", action="post_release.compared", obj=version, project_id=project.pk, payload=payload)
    if abs(deviation) <= project.max_deviation:
        return None
    review = ImpactReview.objects.create(
        model_version=version,
        kind=ReviewKind.POST_DEPLOYMENT,
        author=project.owner,
        goal_and_scope=f"Follow-up: measured per-token carbon deviates {deviation:+.0%} from the projection.",
    )
    audit.record(actor="system", action="review.created", obj=review, project_id=project.pk, payload=payload)
    notify(
        project=project,
        event="post_release.deviation",
        subject=f"{version}: per-token footprint {deviation:+.0%} off the projection",
        message=f"A follow-up review of {version} was opened: measured {measured.central:.4g} vs projected "
        f"{projected['central']:.4g} kgCO2e per 1,000 tokens.\nMeasured: {definitions['measured_definition']}.\n"
        f"Projected: {definitions['projected_definition']}.",
        payload={"review": review.pk, **payload},
    )
    return review


def run_due(*, now: datetime) -> list[ModelVersion]:
    due = [
        v
        for v in ModelVersion.objects.filter(status=VersionStatus.RELEASED, post_release_checked_at__isnull=True)
        .select_related("registered_model__project")
        .annotate(days=F("registered_model__project__post_release_review_days"))
        if v.released_at and v.released_at + timedelta(days=v.days) <= now  # type: ignore[attr-defined]
    ]
    for version in due:
        check_version(version, now=now)
    return due
