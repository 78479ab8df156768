"""Printable audit reports (WeasyPrint): what an auditor needs without access to
Greenlight, for one review's frozen snapshot. Rendered by a Celery task."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML, default_url_fetcher

from governance.access import require_visible
from governance.errors import Conflict
from governance.models import AuditReport, ImpactReview, ModelVersion, ReviewState, VersionStatus
from governance.services import audit
from governance.services.budgets import budget_status
from governance.services.footprints import version_footprint
from governance.services.release_gate import evaluate_release_gate
from lca import footprint as formulas
from lca.api.serializers import estimate_data
from lca.charts import line_chart, range_bars
from lca.uncertainty import Range

REPORTABLE = (ReviewState.SUBMITTED, ReviewState.IN_REVIEW, ReviewState.APPROVED)


@transaction.atomic
def request_report(*, review: ImpactReview, actor: AbstractBaseUser) -> AuditReport:
    review = ImpactReview.objects.select_related("model_version__registered_model__project").get(pk=review.pk)
    require_visible(actor, review.model_version.project)
    if review.state not in REPORTABLE:
        raise Conflict("A report is of a submitted review's snapshot: submit the review first.")
    report = AuditReport.objects.create(review=review, snapshot_digest=review.snapshot_digest, requested_by=actor)
    audit.record(
        actor=actor,
        action="report.requested",
        obj=report,
        project_id=review.model_version.project.pk,
        payload={"review": review.pk, "snapshot_digest": review.snapshot_digest},
    )
    transaction.on_commit(lambda: _enqueue(report.pk))
    return report


def _enqueue(report_id: int) -> None:
    # By name: governance.tasks imports this module.
    current_app.tasks["governance.tasks.render_report"].delay(report_id)


def _step(report: AuditReport, progress: int, step: str) -> None:
    AuditReport.objects.filter(pk=report.pk).update(state=AuditReport.State.RENDERING, progress=progress, step=step)


def _previous_release(version: ModelVersion) -> ModelVersion | None:
    return (
        ModelVersion.objects.filter(registered_model=version.registered_model, status=VersionStatus.RELEASED)
        .exclude(pk=version.pk)
        .order_by("-released_at")
        .first()
    )


def report_context(review: ImpactReview, chain_head: str) -> dict[str, Any]:
    """Everything the report prints, computed by the same services the pages use."""
    version = review.model_version
    fp = version_footprint(version)
    snapshot = review.snapshot or {}
    by_stage: dict[str, Range] = defaultdict(lambda: Range.exact(0))
    for rf in fp.runs:
        by_stage[rf.run.get_stage_display()] = (
            by_stage[rf.run.get_stage_display()] + rf.result.footprint.facility_energy_kwh
        )
    cumulative, points = 0.0, []
    for rf in sorted(fp.runs, key=lambda r: r.run.ended_at or r.run.started_at):
        cumulative += rf.result.footprint.location_based_kgco2e.central
        points.append(((rf.run.ended_at or rf.run.started_at).timestamp(), cumulative))
    previous = _previous_release(version)
    previous_fp = version_footprint(previous) if previous else None
    per_token = [(str(version), fp.per_1k_tokens_kgco2e or fp.projected_per_1k_tokens_kgco2e)]
    if previous_fp is not None and previous_fp.per_1k_tokens_kgco2e is not None:
        per_token.append((str(previous), previous_fp.per_1k_tokens_kgco2e))
    per_token = [(label, value) for label, value in per_token if value is not None]
    training_energy_mwh = sum(rf.result.footprint.facility_energy_kwh.central for rf in fp.runs) / 1000
    flops = (
        formulas.training_flops(version.effective_active_parameters, version.training_tokens)
        if version.training_tokens
        else None
    )
    location_g = fp.totals.get("location_based_kgco2e", Range.exact(0)).central * 1000
    factors: dict[tuple[str, str], dict[str, Any]] = {}
    for rf in fp.runs:
        for f in estimate_data(rf.result)["factors"]:
            factors[(f["name"], f["source"])] = f
    first_run = fp.runs[0].run if fp.runs else None
    gate = evaluate_release_gate(version=version, actor=review.author)
    return {
        "review": review,
        "version": version,
        "project": version.project,
        "footprint": fp,
        "snapshot": snapshot,
        "runs": fp.runs,
        "deployments": fp.deployments,
        "decisions": review.decisions.select_related("reviewer"),
        "gate": gate.as_dict(),
        "budgets": [budget_status(b) for b in version.project.budgets.all()],
        "previous": previous,
        "previous_footprint": previous_fp,
        "base": version.base_version,
        "training_energy_mwh": training_energy_mwh,
        "training_flops": flops,
        "model_card": {
            "emissions": round(location_g, 1),
            "source": f"Greenlight audit report, review #{review.pk}, snapshot {review.snapshot_digest[:12]}",
            "training_type": "pre-training" if version.adaptation == "pretraining" else "fine-tuning",
            "geographical_location": first_run.facility.grid_region.name if first_run else "unknown",
            "hardware_used": ", ".join(
                sorted({f"{rf.run.accelerator_count} x {rf.run.hardware.name}" for rf in fp.runs})
            )
            or "unknown",
        },
        "factors": sorted(factors.values(), key=lambda f: f["name"]),
        "chain_head": chain_head,
        "generated_at": timezone.now(),
        "charts": {
            "energy_by_stage": range_bars(sorted(by_stage.items()), "kWh", title="Energy by stage"),
            "carbon_over_time": line_chart(
                [("cumulative location-based carbon", points)],
                title="Carbon over time",
                y_unit="kgCO2e",
                x_labels=("first run", "last run"),
            ),
            "per_token": range_bars(
                per_token,
                "kgCO2e per 1,000 tokens",
                title="Per-token footprint against the previous release",
            ),
        },
    }


def static_only_fetcher(url: str, timeout: int = 10, ssl_context: Any = None) -> dict[str, Any]:
    """WeasyPrint's fetcher, limited to the project's own static files: a report never
    reads another local file or any URL, whatever text reaches it as markup."""
    static = (settings.BASE_DIR / "static").resolve()
    if url.startswith("file://"):
        path = Path(unquote(urlsplit(url).path)).resolve()
        if path.is_relative_to(static):
            return default_url_fetcher(url, timeout=timeout, ssl_context=ssl_context)  # type: ignore[no-any-return]
    raise ValueError(f"The report may only use Greenlight's static files, not {url[:100]}")


def render_pdf(html: str) -> bytes:
    """HTML to PDF with the static-only fetcher."""
    base = (settings.BASE_DIR / "static").as_uri() + "/"
    return HTML(string=html, base_url=base, url_fetcher=static_only_fetcher).write_pdf()  # type: ignore[no-any-return]


def render_report(report_id: int) -> AuditReport:
    """Renders and stores the PDF, reporting progress as it goes. Idempotent: a done
    report is left as it is."""
    report = AuditReport.objects.select_related("review__model_version").get(pk=report_id)
    if report.state == AuditReport.State.DONE:
        return report
    try:
        _step(report, 10, "collecting the figures")
        head = audit.head()
        context = report_context(report.review, head)
        _step(report, 50, "rendering the PDF")
        html = render_to_string("reports/audit_report.html", context)
        pdf = render_pdf(html)
        _step(report, 90, "storing")
        digest = hashlib.sha256(pdf).hexdigest()
        export = {
            "review": report.review_id,
            "snapshot": report.review.snapshot,
            "snapshot_digest": report.snapshot_digest,
            "model_card_co2_eq_emissions": context["model_card"],
            "training_energy_mwh": context["training_energy_mwh"],
            "training_flops": context["training_flops"],
            "gate": context["gate"],
            "chain_head": head,
            "pdf_sha256": digest,
        }
        with transaction.atomic():
            AuditReport.objects.filter(pk=report.pk).update(
                state=AuditReport.State.DONE,
                progress=100,
                step="done",
                pdf=pdf,
                sha256=digest,
                chain_head=head,
                export=json.loads(audit.canonical(export)),
                finished_at=timezone.now(),
            )
            audit.record(
                actor="system",
                action="report.generated",
                obj=report,
                project_id=report.review.model_version.project.pk,
                payload={"sha256": digest},
            )
    except Exception as exc:
        AuditReport.objects.filter(pk=report.pk).update(state=AuditReport.State.FAILED, error=str(exc)[:2000])
        raise
    report.refresh_from_db()
    return report


def model_card_yaml(report: AuditReport) -> str:
    card = (report.export or {}).get("model_card_co2_eq_emissions", {})
    lines = ["co2_eq_emissions:"]
    for key in ("emissions", "source", "training_type", "geographical_location", "hardware_used"):
        value = card.get(key)
        lines.append(f"  {key}: {value}" if isinstance(value, (int, float)) else f'  {key}: "{value}"')
    return "\n".join(lines) + "\n"
