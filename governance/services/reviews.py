"""The pre-release environmental impact review: a state machine with required
sign-off roles and separation of duties, enforced here for every interface."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from governance.access import require_registry_editor, require_visible, roles_in
from governance.errors import Conflict, GovernanceError, NotPermitted
from governance.models import (
    REVIEW_SECTIONS,
    ImpactReview,
    ModelVersion,
    ReviewComment,
    ReviewDecision,
    ReviewKind,
    ReviewState,
    Role,
)
from governance.services import audit, ledger
from governance.services.footprints import digest, in_format_of
from governance.services.notifications import notify
from telemetry import services as telemetry

EDITABLE = (ReviewState.DRAFT, ReviewState.CHANGES_REQUESTED)
OPEN = (ReviewState.SUBMITTED, ReviewState.IN_REVIEW)
REPORTABLE = (ReviewState.SUBMITTED, ReviewState.IN_REVIEW, ReviewState.APPROVED)
FINAL = (ReviewState.APPROVED, ReviewState.REJECTED, ReviewState.WITHDRAWN)
ACTIONS = ("edit", "submit", "decide", "withdraw", "comment", "report")


def _state(review: ImpactReview) -> str:
    return review.get_state_display().lower()


def check(review: ImpactReview, user: User, action: str) -> None:
    """The review's state machine and who may move it: raises the error that explains why
    `user` cannot take `action` now. Services enforce it; pages show buttons by it."""
    project = review.model_version.project
    require_visible(user, project)
    if action == "edit":
        if user.pk != review.author_id:
            raise NotPermitted("Only the review's author edits its assessment.")
        if review.state not in EDITABLE:
            raise Conflict(f"A review that is {_state(review)} cannot be edited.")
    elif action == "submit":
        require_registry_editor(user, project)
        _require_person(user, project, "submit")
        if review.state not in EDITABLE:
            raise Conflict(f"Only a draft can be submitted; this review is {_state(review)}.")
    elif action == "decide":
        _require_person(user, project, "sign off")
        if review.state not in OPEN:
            raise Conflict(f"This review is {_state(review)}: there is nothing to decide.")
        if user.pk in (review.author_id, review.submitted_by_id):
            raise NotPermitted("Separation of duties: the author or submitter of a review cannot decide on it.")
        if not roles_in(user, project) & set(required_roles(review)):
            needed = ", ".join(r.label for r in required_roles(review))
            raise NotPermitted(f"Deciding on this review needs one of the sign-off roles: {needed}.")
        if review.decisions.filter(reviewer=user, snapshot_digest=review.snapshot_digest).exists():
            raise NotPermitted(
                "Separation of duties: each sign-off is by a different person; you have already decided."
            )
    elif action == "withdraw":
        if user.pk != review.author_id:
            raise NotPermitted("Only the author withdraws a review.")
        if review.state in FINAL:
            raise Conflict(f"A review that is {_state(review)} cannot be withdrawn.")
    elif action == "report":
        if review.state not in REPORTABLE:
            raise Conflict("A report is of a submitted review's snapshot: submit the review first.")
    elif action != "comment":
        raise ValueError(f"Unknown review action {action!r}")


def allowed_actions(review: ImpactReview, user: User) -> set[str]:
    """What `user` may do with `review` now: the buttons a page shows."""
    allowed = set()
    for action in ACTIONS:
        try:
            check(review, user, action)
        except GovernanceError:
            continue
        allowed.add(action)
    return allowed


def _require_person(actor: User, project: Any, what: str) -> None:
    """Reviews are written and signed by people. A service account (the Pipeline role) acts
    for whoever controls it, usually the author's own team, so its signature or its
    authorship would defeat separation of duties."""
    if Role.PIPELINE in roles_in(actor, project):
        raise NotPermitted(f"Service accounts (the Pipeline role) cannot {what} an impact review.")


def frozen_content(review: ImpactReview, figures: dict[str, Any]) -> dict[str, Any]:
    """What a submission freezes and its digest covers: the figures, the assessment text
    and the moment of submission, so that any change, or a resubmission, asks every
    reviewer again."""
    return {
        **figures,
        "assessment": {name: getattr(review, name) for name in REVIEW_SECTIONS},
        "submitted_at": review.submitted_at.isoformat() if review.submitted_at else None,
    }


def _log(review: ImpactReview, actor: Any, action: str, payload: dict[str, Any] | None = None) -> None:
    audit.record(
        actor=actor,
        action=f"review.{action}",
        obj=review,
        project_id=review.model_version.project.pk,
        payload={"version": review.model_version_id, "state": review.state, **(payload or {})},
    )


@transaction.atomic
def create_review(
    *, version: ModelVersion, author: User, kind: str = ReviewKind.PRE_RELEASE, **content: str
) -> ImpactReview:
    require_registry_editor(author, version.project)
    _require_person(author, version.project, "write")
    if ImpactReview.objects.filter(model_version=version, state__in=[*EDITABLE, *OPEN], kind=kind).exists():
        raise Conflict(f"Version {version} already has an open {kind.replace('_', '-')} review.")
    review = ImpactReview.objects.create(
        model_version=version, author=author, kind=kind, **{k: v for k, v in content.items() if k in REVIEW_SECTIONS}
    )
    _log(review, author, "created")
    return review


@transaction.atomic
def update_review(*, review: ImpactReview, actor: User, content: dict[str, str]) -> ImpactReview:
    review = ImpactReview.objects.select_for_update().get(pk=review.pk)
    check(review, actor, "edit")
    review.state = ReviewState.DRAFT  # editing after a request for changes reopens the draft
    for name in REVIEW_SECTIONS:
        if name in content:
            setattr(review, name, content[name])
    review.save()
    _log(review, actor, "edited", {"sections": sorted(set(content) & set(REVIEW_SECTIONS))})
    return review


@transaction.atomic
def submit_review(*, review: ImpactReview, actor: User) -> ImpactReview:
    """Freezes the version's figures into the review and asks for sign-off."""
    review = ImpactReview.objects.select_for_update().get(pk=review.pk)
    check(review, actor, "submit")
    missing = [name for name in ("goal_and_scope", "training_inventory") if not getattr(review, name).strip()]
    if missing:
        raise GovernanceError(
            "Fill in the assessment before submitting.",
            field_errors={name: ["Required before submission."] for name in missing},
        )
    review.state, review.submitted_by, review.submitted_at = ReviewState.SUBMITTED, actor, timezone.now()
    frozen = frozen_content(review, ledger.refresh_version(review.model_version).snapshot)  # fresh, at submission
    review.snapshot, review.snapshot_digest = frozen, digest(frozen)
    review.save()
    _log(review, actor, "submitted", {"snapshot_digest": review.snapshot_digest})
    project = review.model_version.project
    notify(
        project=project,
        event="review.submitted",
        subject=f"Impact review of {review.model_version} to sign",
        message=f"{actor} submitted the impact review of {review.model_version} for sign-off.",
        payload={"review": review.pk, "version": review.model_version_id},
    )
    return review


def required_roles(review: ImpactReview) -> list[Role]:
    return [Role(r) for r in review.model_version.project.signoff_roles]


def awaits(review: ImpactReview, user: User) -> bool:
    """Whether the review waits for `user`: they may decide and hold a role whose sign-off is missing."""
    if review.state not in OPEN or "decide" not in allowed_actions(review, user):
        return False
    return bool(set(missing_signoffs(review)) & roles_in(user, review.model_version.project))


def missing_signoffs(review: ImpactReview) -> list[Role]:
    approved = {
        d.role
        for d in review.decisions.filter(verdict=ReviewDecision.Verdict.APPROVE, snapshot_digest=review.snapshot_digest)
    }
    return [role for role in required_roles(review) if role.value not in approved]


@transaction.atomic
def decide(
    *,
    review: ImpactReview,
    reviewer: User,
    verdict: str,
    note: str,
    role: str | None = None,
    by_token: bool = False,
) -> ImpactReview:
    """Records a reviewer's decision. Separation of duties: the reviewer is a person signed
    in (not an API token, not a service account), holds a required role, is neither the
    author nor the submitter, and has not already signed this submission."""
    review = ImpactReview.objects.select_for_update().get(pk=review.pk)
    project = review.model_version.project
    require_visible(reviewer, project)
    if by_token:
        raise NotPermitted("API tokens cannot sign off an impact review: sign in to the web pages.")
    check(review, reviewer, "decide")
    if not note.strip():
        raise GovernanceError("Every decision carries a note.", field_errors={"note": ["Required."]})
    held = roles_in(reviewer, project) & set(required_roles(review))
    if role is not None:
        held = {r for r in held if r.value == role}
    if not held:
        raise NotPermitted(f"You do not hold the role {role} in project '{project.slug}'.")
    open_roles = [r for r in missing_signoffs(review) if r in held]
    chosen = open_roles[0] if open_roles else sorted(held, key=lambda r: r.value)[0]
    ReviewDecision.objects.create(
        review=review,
        reviewer=reviewer,
        role=chosen,
        verdict=verdict,
        note=note.strip(),
        snapshot_digest=review.snapshot_digest,
    )
    if verdict == ReviewDecision.Verdict.APPROVE:
        review.state = ReviewState.IN_REVIEW if missing_signoffs(review) else ReviewState.APPROVED
    elif verdict == ReviewDecision.Verdict.REQUEST_CHANGES:
        review.state = ReviewState.CHANGES_REQUESTED
    else:
        review.state = ReviewState.REJECTED
    if review.state in (ReviewState.APPROVED, ReviewState.REJECTED):
        review.decided_at = timezone.now()
    if review.state == ReviewState.APPROVED:
        # The approved figures stand: no late batch may change the energy of their runs.
        for label in review.model_version.runs.values_list("label", flat=True):
            telemetry.seal_label(label=label, reason=f"its figures were approved in review #{review.pk}")
    review.save()
    _log(review, reviewer, verdict, {"role": chosen.value, "note": note.strip()})
    return review


@transaction.atomic
def withdraw_review(*, review: ImpactReview, actor: User) -> ImpactReview:
    review = ImpactReview.objects.select_for_update().get(pk=review.pk)
    check(review, actor, "withdraw")
    review.state = ReviewState.WITHDRAWN
    review.save(update_fields=["state"])
    _log(review, actor, "withdrawn")
    return review


@transaction.atomic
def comment(*, review: ImpactReview, author: User, body: str) -> ReviewComment:
    check(review, author, "comment")
    if not body.strip():
        raise GovernanceError("A comment needs text.", field_errors={"body": ["Required."]})
    note = ReviewComment.objects.create(review=review, author=author, body=body.strip())
    _log(review, author, "commented", {"comment": note.pk})
    return note


# What serving adds to a version's figures: its deployments' usage and the per-token figures
# measured on them or projected for them. Serving is judged after release (the post-release
# review, the regression rule): it does not undo the approval of what the reviewers saw.
SERVING_KEYS = (
    "deployments",
    "per_1k_tokens_kgco2e",
    "per_1k_tokens_definition",
    "per_request_kgco2e",
    "projected_per_1k_tokens_kgco2e",
    "projected_per_1k_tokens_definition",
)


def current_digest(review: ImpactReview, figures: dict[str, Any]) -> str:
    """The digest the review's submission would have with today's figures: equal to its
    snapshot digest while nothing it covers has changed (serving aside: see SERVING_KEYS)."""
    frozen = review.snapshot or {}
    figures = in_format_of(frozen, figures)
    figures = {**figures, **{key: frozen[key] for key in SERVING_KEYS if key in frozen}}
    if "assessment" not in frozen:  # frozen before the text was covered
        return digest(figures)
    return digest(frozen_content(review, figures))


def is_current(review: ImpactReview) -> bool:
    """Whether the figures the review approved are still the version's figures."""
    return review.snapshot_digest == current_digest(review, ledger.version_snapshot(review.model_version))
