"""The release gate: a version is released only when every rule passes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from config.metrics import GATE_ANSWERS
from governance.access import require_registry_editor, require_visible
from governance.errors import Conflict
from governance.models import (
    AuditReport,
    GateRecord,
    ImpactReview,
    ModelVersion,
    ReviewKind,
    ReviewState,
    StoredFootprint,
    VersionStatus,
)
from governance.services import attestations, audit, disclosure, gate_records, ledger, reviews
from governance.services.budgets import budget_status
from governance.services.footprints import digest

POLICY_VERSION = "2026.11.2"  # the EU model documentation rule
VALID_FOR = timedelta(hours=1)


@dataclass(frozen=True)
class Finding:
    rule: str
    passed: bool
    evidence: dict[str, Any]
    message: str


@dataclass(frozen=True)
class GateDecision:
    allowed: bool
    policy_version: str
    evidence_digest: str
    expires_at: datetime
    findings: list[Finding]

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "policy_version": self.policy_version,
            "evidence_digest": self.evidence_digest,
            "expires_at": self.expires_at,
            "findings": [asdict(f) for f in self.findings],
        }


def _review_rule(
    version: ModelVersion, review: ImpactReview | None, current_digest: str
) -> tuple[Finding, ImpactReview | None]:
    if review is None:
        open_review = (
            version.reviews.filter(kind=ReviewKind.PRE_RELEASE)
            .exclude(state__in=[ReviewState.WITHDRAWN, ReviewState.REJECTED])
            .first()
        )
        state = open_review.get_state_display().lower() if open_review else "missing"
        return Finding(
            "approved_review",
            False,
            {"review": open_review.pk if open_review else None},
            f"No approved impact review (the latest is {state}).",
        ), None
    if review.snapshot_digest != current_digest:
        return Finding(
            "approved_review",
            False,
            {"review": review.pk, "approved_digest": review.snapshot_digest, "current_digest": current_digest},
            "The version's figures changed after the review was approved: the approval no longer "
            "counts. Submit a new review.",
        ), review
    return Finding(
        "approved_review",
        True,
        {"review": review.pk, "snapshot_digest": current_digest},
        f"Review #{review.pk} approved these figures.",
    ), review


def _budget_rule(version: ModelVersion) -> Finding:
    budgets = version.project.budgets.filter(model_version__isnull=True) | version.budgets.all()
    exceeded = []
    for budget in budgets:
        status = budget_status(budget)
        if status.level == "exceeded":
            exceeded.append({"budget": budget.name, "share": round(status.share, 4)})
    if exceeded:
        return Finding(
            "budgets",
            False,
            {"exceeded": exceeded},
            "Exceeded: " + ", ".join(f"{e['budget']} ({e['share']:.0%})" for e in exceeded) + ".",
        )
    return Finding("budgets", True, {"budgets": budgets.count()}, "No budget is exceeded.")


def _freshness_rule(version: ModelVersion) -> Finding:
    """The gate answers on stored figures, never recomputing on a request; a figure whose
    inputs changed and that the background task has not recomputed yet closes the gate
    until it has, rather than letting it answer on old numbers."""
    stale = list(
        StoredFootprint.objects.filter(model_version=version, stale=True).values_list("run__label", flat=True)[:20]
    )
    if stale:
        return Finding(
            "figures_current",
            False,
            {"stale_runs": stale},
            f"{len(stale)} run footprint(s) are being recomputed after a change of their inputs "
            f"({', '.join(stale[:3])}{'…' if len(stale) > 3 else ''}): ask again in a few minutes.",
        )
    return Finding("figures_current", True, {}, "Every run's stored footprint is up to date with its inputs.")


def _coverage_rule(version: ModelVersion) -> Finding:
    threshold = version.project.min_telemetry_coverage
    runs = list(
        StoredFootprint.objects.filter(model_version=version)
        .order_by("started_at", "run_id")
        .values_list("run__label", "coverage", "run__coverage_exception", "problem")
    )
    short = [
        (label, coverage, problem) for label, coverage, excused, problem in runs if coverage < threshold and not excused
    ]
    evidence = {
        "threshold": threshold,
        "runs": {label: round(coverage, 4) for label, coverage, _, _ in runs},
        "exceptions": [label for label, _, excused, _ in runs if excused],
        "not_measured": {label: problem for label, _, _, problem in runs if problem},
    }
    if not runs:
        return Finding("telemetry_coverage", False, evidence, "No runs recorded: nothing was measured.")
    if short:
        names = ", ".join(
            f"{label} ({coverage:.0%}{f': {problem}' if problem else ''})" for label, coverage, problem in short
        )
        return Finding(
            "telemetry_coverage",
            False,
            evidence,
            f"Telemetry coverage below {threshold:.0%} without an approved exception: {names}.",
        )
    return Finding(
        "telemetry_coverage",
        True,
        evidence,
        f"Every run is covered to at least {threshold:.0%} or has an approved exception.",
    )


def _regression_rule(version: ModelVersion, figures: dict[str, Any], review: ImpactReview | None) -> Finding:
    previous = (
        ModelVersion.objects.filter(registered_model=version.registered_model, status=VersionStatus.RELEASED)
        .exclude(pk=version.pk)
        .order_by("-released_at")
        .first()
    )
    if previous is None:
        return Finding("per_token_regression", True, {}, "No earlier release of this model to compare with.")
    before = ledger.version_snapshot(previous)["per_1k_tokens_kgco2e"]
    now = figures["per_1k_tokens_kgco2e"]
    if before is None or now is None:
        return Finding(
            "per_token_regression",
            True,
            {"previous": previous.pk},
            "Per-token footprint not measured for both releases yet; the post-deployment review will compare them.",
        )
    change = now["central"] / before["central"] - 1 if before["central"] else 0.0
    evidence = {
        "previous": previous.pk,
        "previous_kgco2e_per_1k_tokens": before["central"],
        "kgco2e_per_1k_tokens": now["central"],
        "change": round(change, 4),
        "allowed": version.project.max_regression,
    }
    if change <= version.project.max_regression:
        return Finding("per_token_regression", True, evidence, f"Per-token carbon changed by {change:+.1%}.")
    if review is not None and review.justification.strip():
        return Finding(
            "per_token_regression",
            True,
            evidence,
            f"Per-token carbon rose {change:+.1%}, justified in review #{review.pk}.",
        )
    return Finding(
        "per_token_regression",
        False,
        evidence,
        f"Per-token carbon rose {change:+.1%} (allowed {version.project.max_regression:+.0%}) "
        "and the review gives no justification.",
    )


def _eu_documentation_rule(version: ModelVersion, figures: dict[str, Any]) -> Finding:
    """The EU model documentation's checks; advisory unless the project makes them blocking."""
    block = disclosure.eu_documentation(version, figures)
    failing = [c for c in block.get("checks", []) if not c["passed"]]
    blocking = version.project.eu_checks_blocking
    evidence = {"checks": block.get("checks", []), "blocking": blocking}
    if not failing:
        return Finding(
            "eu_documentation", True, evidence, "The EU model documentation's rows are complete and consistent."
        )
    message = " ".join(c["message"] for c in failing)
    if not blocking:
        return Finding("eu_documentation", True, evidence, f"Advisory (not blocking in this project): {message}")
    return Finding("eu_documentation", False, evidence, message)


def _report_rule(review: ImpactReview | None, current_digest: str) -> Finding:
    report = (
        review.reports.filter(state=AuditReport.State.DONE, snapshot_digest=current_digest).first()
        if review is not None
        else None
    )
    if report is None:
        return Finding(
            "audit_report",
            False,
            {"review": review.pk if review else None},
            "No audit report has been generated for the approved snapshot.",
        )
    return Finding(
        "audit_report",
        True,
        {"report": report.pk, "sha256": report.sha256},
        f"Audit report #{report.pk} (SHA-256 {report.sha256[:12]}…) covers these figures.",
    )


def evaluate_release_gate(*, version: ModelVersion, actor: User, stored: bool = True) -> GateDecision:
    """The gate's answer: the stored one while nothing a rule reads has changed (`stored`),
    else evaluated now and stored. A release passes stored=False: it always evaluates."""
    require_visible(actor, version.project)
    record = GateRecord.objects.filter(version=version, stale=False).first() if stored else None
    if record is not None and record.decision["policy_version"] == POLICY_VERSION:
        d = record.decision
        findings = [Finding(**f) for f in d["findings"]]
        GATE_ANSWERS.labels("allowed" if d["allowed"] else "blocked", "stored").inc()
        return GateDecision(d["allowed"], POLICY_VERSION, d["evidence_digest"], timezone.now() + VALID_FOR, findings)
    decision = _evaluate(version)
    GATE_ANSWERS.labels("allowed" if decision.allowed else "blocked", "evaluated").inc()
    stored_form = {k: v for k, v in decision.as_dict().items() if k != "expires_at"}
    GateRecord.objects.update_or_create(
        version=version, defaults={"decision": stored_form, "stale": False, "computed_at": timezone.now()}
    )
    return decision


def _evaluate(version: ModelVersion) -> GateDecision:
    figures = ledger.version_snapshot(version)  # stored; computed now only if something changed
    approved = version.reviews.filter(kind=ReviewKind.PRE_RELEASE, state=ReviewState.APPROVED).first()
    current = reviews.current_digest(approved, figures) if approved else digest(figures)
    review_finding, review = _review_rule(version, approved, current)
    findings = [
        review_finding,
        _freshness_rule(version),
        _budget_rule(version),
        _coverage_rule(version),
        _regression_rule(version, figures, review),
        _report_rule(review, current),
        _eu_documentation_rule(version, figures),
    ]
    evidence = digest({"policy": POLICY_VERSION, "snapshot": current, "findings": [asdict(f) for f in findings]})
    return GateDecision(all(f.passed for f in findings), POLICY_VERSION, evidence, timezone.now() + VALID_FOR, findings)


class GateClosed(Conflict):
    def __init__(self, decision: GateDecision) -> None:
        failed = " ".join(f.message for f in decision.findings if not f.passed)
        super().__init__(f"The release gate is closed: {failed}")
        self.decision = decision


def release_version(*, version: ModelVersion, actor: User) -> tuple[ModelVersion, GateDecision]:
    """Releases the version if, and only if, the gate allows it now. A refusal is audited
    too, in a transaction of its own: the refused release rolls back, its record stays."""
    try:
        return _release(version=version, actor=actor)
    except GateClosed as closed:
        with transaction.atomic():
            audit.record(
                actor=actor,
                action="release.refused",
                obj=version,
                project_id=version.project.pk,
                payload=closed.decision.as_dict(),
            )
        raise


@transaction.atomic
def _release(*, version: ModelVersion, actor: User) -> tuple[ModelVersion, GateDecision]:
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    require_registry_editor(actor, version.project)  # the owner, ML leads and pipelines release
    if version.status == VersionStatus.RELEASED:
        raise Conflict(f"{version} is already released.")
    decision = evaluate_release_gate(version=version, actor=actor, stored=False)
    if not decision.allowed:
        raise GateClosed(decision)
    # The audit event first: the database releases a version only right after its release
    # is audited, through a function the application's role cannot imitate (migration 0010).
    audit.record(
        actor=actor, action="release.released", obj=version, project_id=version.project.pk, payload=decision.as_dict()
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT governance_release_version(%s, %s)", [version.pk, timezone.now()])
    version.refresh_from_db(fields=["status", "released_at"])
    gate_records.mark_stale([version.pk])  # a new previous release for the model's other versions
    attestations.issue(version, decision.as_dict())
    return version, decision
