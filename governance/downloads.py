"""A finished audit report's files, as the web pages and the API both serve them."""

from __future__ import annotations

import json

from django.http import Http404, HttpResponse

from governance.models import AuditReport
from governance.services.reports import model_card_yaml

KINDS = ("pdf", "model-card", "export", "cyclonedx", "spdx", "impact-manifest")
EXPORT_TYPES = {
    "cyclonedx": "application/vnd.cyclonedx+json",
    "spdx": "application/ld+json",
    "impact-manifest": "text/yaml",
}


def report_file(report: AuditReport, kind: str) -> HttpResponse:
    """The PDF, the model card's co2_eq_emissions block (YAML), the JSON export, or one of
    the standards' exports (CycloneDX, SPDX, Impact Framework) as the report listed them."""
    if kind not in KINDS or report.state != AuditReport.State.DONE:
        raise Http404
    name = f"greenlight-review-{report.review_id}-report-{report.pk}"
    if kind == "pdf":
        response = HttpResponse(bytes(report.pdf or b""), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
        response["X-Content-SHA256"] = report.sha256
        return response
    if kind in EXPORT_TYPES:
        export = (report.export or {}).get("exports", {}).get(kind)
        if export is None:  # a report rendered before the exports, or of an earlier snapshot format
            raise Http404
        response = HttpResponse(export["content"].encode(), content_type=EXPORT_TYPES[kind])
        response["Content-Disposition"] = f'attachment; filename="{export["file"]}"'
        response["X-Content-SHA256"] = export["sha256"]
        return response
    if kind == "model-card":
        card = (report.export or {}).get("model_card_co2_eq_emissions", {})
        return HttpResponse(model_card_yaml(card), content_type="text/yaml; charset=utf-8")
    response = HttpResponse(json.dumps(report.export, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{name}.json"'
    return response
