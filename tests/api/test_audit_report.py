"""The printable audit report: generated from a review's snapshot, read back as text."""

from io import BytesIO
from pathlib import Path

import pypdfium2
import yaml
from pypdf import PdfReader

from governance.models import AuditEvent, AuditReport
from governance.services.reports import render_report
from tests.conftest import client_for
from tests.workflow import approved_review, measured_run

ARTEFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def test_report_pdf_shows_figures_both_carbon_views_reviewers_and_chain_hash(world):
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-report")
    review_id = approved_review(team, second_lead, version)
    report = AuditReport.objects.get(review_id=review_id)
    assert report.state == "done" and report.progress == 100 and len(report.sha256) == 64

    client = client_for(team.auditor)
    response = client.get(f"/api/v1/reports/{report.pk}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["X-Content-SHA256"] == report.sha256
    text = pdf_text(response.content)
    snapshot = report.review.snapshot
    for needle in (
        "Location-based carbon",
        "Market-based carbon",
        "Executive summary",
        "EU AI Act",
        "co2_eq_emissions",
        "officer",
        "mllead2",
        "Figures checked.",
        report.chain_head[:40],
        "ft-report",
        "Methodology and sources",
        f"Greenlight audit report · {version} · page 1 of",  # the running footer names the version
    ):
        assert needle in text.replace("\n", " ") or needle in text, needle
    location = snapshot["totals"]["location_based_kgco2e"]["central"]
    assert f"{location:.3g}"[:4] in text  # the headline figure, as printed
    assert AuditEvent.objects.filter(hash=report.chain_head).exists()  # a real link of the chain

    ARTEFACTS.mkdir(exist_ok=True)
    first_page = pypdfium2.PdfDocument(response.content)[0].render(scale=60 / 72).to_pil()
    first_page.save(ARTEFACTS / "report-1.png")
    assert first_page.size[0] > 400  # an A4 page at 60 dpi is about 496 px wide


def pdf_text(pdf: bytes) -> str:
    """The PDF's text as a reader's tools extract it (pypdf, pure Python)."""
    return "\n".join(page.extract_text() or "" for page in PdfReader(BytesIO(pdf)).pages)


def test_model_card_and_json_export(world):
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-card")
    review_id = approved_review(team, second_lead, version)
    report = AuditReport.objects.get(review_id=review_id)
    client = client_for(team.ml_lead)
    card = yaml.safe_load(client.get(f"/api/v1/reports/{report.pk}/model-card/").content)["co2_eq_emissions"]
    assert list(card) == ["emissions", "source", "training_type", "geographical_location", "hardware_used"]
    assert card["training_type"] == "pre-training" and card["hardware_used"] == "2 x NVIDIA H100 SXM 80GB"
    assert card["emissions"] == round(report.review.snapshot["totals"]["location_based_kgco2e"]["central"] * 1000, 1)
    export = client.get(f"/api/v1/reports/{report.pk}/export/").json()
    assert export["pdf_sha256"] == report.sha256 and export["snapshot_digest"] == report.snapshot_digest
    assert client.get(f"/api/v1/reports/{report.pk}/other/").status_code == 404
    assert client_for(team.outsider).get(f"/api/v1/reports/{report.pk}/pdf/").status_code == 404


def test_a_draft_has_no_report(world):
    team, _, version, _ = world
    author = client_for(team.ml_lead)
    review = author.post("/api/v1/reviews/", {"model_version": version.pk, "goal_and_scope": "x"}, format="json").json()
    response = author.post(f"/api/v1/reviews/{review['id']}/reports/")
    assert response.status_code == 409 and "submit the review first" in response.json()["message"]


def test_the_pdf_renderer_fetches_nothing_but_static_files(tmp_path, settings):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from governance.services.reports import render_pdf

    requests = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b'body::after { content: "FROM-LOOPBACK" }')

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    local = tmp_path / "leak.css"
    local.write_text('body::before { content: "FROM-A-LOCAL-FILE" }')
    html = f"""<html><head>
      <link rel="stylesheet" href="{local.as_uri()}">
      <link rel="stylesheet" href="http://127.0.0.1:{server.server_port}/x.css">
      </head><body><p>Report</p><img src="file:///etc/hostname"><img src="http://127.0.0.1:{server.server_port}/i.png">
      </body></html>"""
    text = pdf_text(render_pdf(html))
    server.shutdown()
    assert "Report" in text
    assert "FROM-A-LOCAL-FILE" not in text and "FROM-LOOPBACK" not in text
    assert requests == []  # the loopback server was never asked
    # the project's own static files still load
    static = settings.BASE_DIR / "static"
    css = next(static.rglob("*.css"))
    assert "Report" in pdf_text(render_pdf(f'<link rel="stylesheet" href="{css.as_uri()}"><p>Report</p>'))


def test_a_report_prints_the_approved_snapshot_whatever_changed_since(world):
    """A run added after approval changes the version's live figures, not its report."""
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-before")
    review_id = approved_review(team, second_lead, version)
    measured_run(pipeline, version, "ft-after", seconds=900)
    author = client_for(team.ml_lead)
    requested = author.post(f"/api/v1/reviews/{review_id}/reports/").json()
    report = render_report(requested["id"])
    snapshot = report.review.snapshot
    live = author.get(f"/api/v1/model-versions/{version.pk}/footprint/").json()
    frozen_kwh = snapshot["totals"]["facility_energy_kwh"]["central"]
    assert live["totals"]["facility_energy_kwh"]["central"] > frozen_kwh * 1.5  # the live figure did move

    export = author.get(f"/api/v1/reports/{report.pk}/export/").json()
    assert export["snapshot"] == snapshot
    assert export["training_energy_mwh"] == snapshot["training_energy_mwh"] == float(f"{frozen_kwh / 1000:.6g}")
    assert export["model_card_co2_eq_emissions"]["emissions"] == round(
        snapshot["totals"]["location_based_kgco2e"]["central"] * 1000, 1
    )
    text = pdf_text(author.get(f"/api/v1/reports/{report.pk}/pdf/").content).replace("\n", " ")
    assert f"training energy {snapshot['training_energy_mwh']:.4f} MWh" in text
    assert "ft-before" in text and "ft-after" not in text
    from lca.templatetags.figures import number

    for label, name, unit in (
        ("Facility energy (training and evaluation runs)", "facility_energy_kwh", "kWh"),
        ("Location-based carbon", "location_based_kgco2e", "kgCO2e"),
        ("Market-based carbon (separate view, never added)", "market_based_kgco2e", "kgCO2e"),
    ):  # each headline figure as frozen, not as it is now
        assert f"{label} {number(snapshot['totals'][name]['central'])} {unit}" in text, name


def test_a_review_frozen_in_the_first_format_stays_current_and_its_report_says_what_it_lacks(world):
    from governance.models import ImpactReview
    from governance.services.footprints import LEGACY_KEYS, LEGACY_RUN_KEYS, digest
    from tests.workflow import findings, gate

    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-old")
    review = ImpactReview.objects.get(pk=approved_review(team, second_lead, version))
    old = {k: review.snapshot[k] for k in (*LEGACY_KEYS, "assessment", "submitted_at")}
    old["runs"] = [{k: run[k] for k in LEGACY_RUN_KEYS} for run in old["runs"]]
    ImpactReview.objects.filter(pk=review.pk).update(snapshot=old, snapshot_digest=digest(old))
    review.decisions.update(snapshot_digest=digest(old))
    assert findings(gate(pipeline, version))["approved_review"] is True

    report = render_report(client_for(team.ml_lead).post(f"/api/v1/reviews/{review.pk}/reports/").json()["id"])
    text = pdf_text(bytes(report.pdf)).replace("\n", " ")
    assert "frozen before Greenlight froze the whole inventory" in text and "ft-old" in text
    assert "training energy not in the snapshot" in text


def test_a_report_that_fails_to_render_says_why_and_a_new_one_can_be_asked(world, monkeypatch):
    import pytest

    from governance.services import reports

    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-fail")
    review_id = approved_review(team, second_lead, version)
    author = client_for(team.ml_lead)
    requested = author.post(f"/api/v1/reviews/{review_id}/reports/").json()

    def out_of_memory(html):
        raise MemoryError("cannot allocate the page layout")

    monkeypatch.setattr(reports, "render_pdf", out_of_memory)
    with pytest.raises(MemoryError):
        render_report(requested["id"])
    failed = author.get(f"/api/v1/reports/{requested['id']}/").json()
    assert failed["state"] == "failed" and "cannot allocate the page layout" in failed["error"]
    answer = author.get(f"/api/v1/reports/{requested['id']}/pdf/")
    assert answer.status_code == 409 and answer.json()["message"].startswith("The report is failed")
    assert "report.generated" not in [e.action for e in AuditEvent.objects.filter(object_id=str(requested["id"]))]

    monkeypatch.undo()
    again = author.post(f"/api/v1/reviews/{review_id}/reports/").json()
    assert render_report(again["id"]).state == "done"
