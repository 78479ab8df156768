"""Printable audit reports (WeasyPrint): what an auditor needs without access to
Greenlight, for one review's frozen snapshot. Rendered by a Celery task."""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from celery import current_app
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML, default_url_fetcher

from config.metrics import REPORT_RENDER_SECONDS, REPORT_RENDERS
from governance.models import AuditReport, ImpactReview, ModelVersion, ReviewKind, ReviewState, VersionStatus
from governance.services import audit, disclosure, exports, gate_records, reviews
from lca.charts import line_chart, range_bars
from lca.uncertainty import Range


@transaction.atomic
def request_report(*, review: ImpactReview, actor: User) -> AuditReport:
    review = ImpactReview.objects.select_related("model_version__registered_model__project").get(pk=review.pk)
    reviews.check(review, actor, "report")
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


def _previous_release(version: ModelVersion) -> tuple[ModelVersion | None, dict[str, Any]]:
    """The registered model's latest other release, with the figures its own approved review froze."""
    previous = (
        ModelVersion.objects.filter(registered_model=version.registered_model, status=VersionStatus.RELEASED)
        .exclude(pk=version.pk)
        .order_by("-released_at")
        .first()
    )
    if previous is None:
        return None, {}
    approved = previous.reviews.filter(kind=ReviewKind.PRE_RELEASE, state=ReviewState.APPROVED).first()
    return previous, (approved.snapshot if approved else {}) or {}


def model_card(review: ImpactReview) -> dict[str, Any]:
    """The Hugging Face model card's co2_eq_emissions block, from the review's snapshot."""
    snapshot = review.snapshot or {}
    card = snapshot.get("model_card") or {
        # a snapshot of the first format froze the totals only
        "emissions": round(
            (snapshot.get("totals", {}).get("location_based_kgco2e") or {"central": 0})["central"] * 1000, 1
        ),
        "training_type": "pre-training" if review.model_version.adaptation == "pretraining" else "fine-tuning",
        "geographical_location": "not in the snapshot",
        "hardware_used": "not in the snapshot",
    }
    source = f"Greenlight audit report, review #{review.pk}, snapshot {review.snapshot_digest[:12]}"
    return {**card, "source": source}


CARD_KEYS = ("emissions", "source", "training_type", "geographical_location", "hardware_used")


def model_card_yaml(card: dict[str, Any]) -> str:
    """The block in the model card's own key order (the stored export sorts its keys)."""
    block = {key: card.get(key) for key in CARD_KEYS}
    return yaml.safe_dump({"co2_eq_emissions": block}, sort_keys=False, allow_unicode=True)


def report_context(review: ImpactReview, chain_head: str) -> dict[str, Any]:
    """Everything the report prints: the review's frozen snapshot and nothing computed
    since, so that the report and the approved figures cannot disagree. What is not a
    figure (who decided, coverage exceptions) comes from the audit-trailed rows."""
    version = review.model_version
    snapshot = review.snapshot or {}
    runs = snapshot.get("runs", [])
    by_stage: dict[str, Range] = defaultdict(lambda: Range.exact(0))
    for run in runs:
        if "stage" in run:
            by_stage[run["stage"]] = by_stage[run["stage"]] + Range(**run["facility_energy_kwh"])
    cumulative, points = 0.0, []
    for run in sorted((r for r in runs if "ended_at" in r), key=lambda r: r["ended_at"]):
        cumulative += run["location_based_kgco2e"]["central"]
        points.append((datetime.fromisoformat(run["ended_at"]).timestamp(), cumulative))
    previous, previous_snapshot = _previous_release(version)
    per_token = [
        (str(version), snapshot.get("per_1k_tokens_kgco2e") or snapshot.get("projected_per_1k_tokens_kgco2e")),
        (f"{previous} (as approved)", previous_snapshot.get("per_1k_tokens_kgco2e")),
    ]
    card = model_card(review)
    return {
        "review": review,
        "version": version,
        "project": version.project,
        "snapshot": snapshot,
        "complete": "format" in snapshot,
        "runs": runs,
        "deployments": snapshot.get("deployments", []),
        "decisions": review.decisions.select_related("reviewer"),
        "exceptions": version.runs.exclude(coverage_exception="").select_related("coverage_exception_by"),
        "previous": previous,
        "base": snapshot.get("base"),
        "training_energy_mwh": snapshot.get("training_energy_mwh"),
        "training_flops": snapshot.get("training_flops"),
        "model_card": card,
        "model_card_yaml": model_card_yaml(card),
        "disclosures": disclosure.of_review(review),  # the frozen figures' EU rows, SCI for AI, boundaries
        "factors": snapshot.get("factors", []),
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
                [(label, Range(**value)) for label, value in per_token if value],
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
    started = time.perf_counter()
    try:
        _step(report, 10, "collecting the figures")
        head = audit.head()
        context = report_context(report.review, head)
        files = exports.render_all(report.review, context["model_card_yaml"], report.created_at)
        context["exports"] = [
            {"kind": kind, "file": name, "sha256": exports.sha256(content)} for kind, (name, content) in files.items()
        ]
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
            "chain_head": head,
            "pdf_sha256": digest,
            "exports": {
                kind: {"file": name, "sha256": exports.sha256(content), "content": content.decode()}
                for kind, (name, content) in files.items()
            },
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
            gate_records.mark_stale([report.review.model_version_id])  # the audit_report rule
            audit.record(
                actor="system",
                action="report.generated",
                obj=report,
                project_id=report.review.model_version.project.pk,
                payload={"sha256": digest, "exports": {e["file"]: e["sha256"] for e in context["exports"]}},
            )
    except Exception as exc:
        AuditReport.objects.filter(pk=report.pk).update(state=AuditReport.State.FAILED, error=str(exc)[:2000])
        REPORT_RENDERS.labels("failed").inc()
        raise
    REPORT_RENDERS.labels("done").inc()
    REPORT_RENDER_SECONDS.observe(time.perf_counter() - started)
    report.refresh_from_db()
    return report
