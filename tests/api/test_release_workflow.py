"""The whole pre-release workflow through the API, with personas: a pipeline, an
author, two reviewers with the required roles, a reviewer without one, an outsider."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import InternalError, ProgrammingError

from governance.models import AuditEvent, ModelVersion, VersionStatus
from governance.services.reports import render_report
from tests.conftest import client_for, token_client
from tests.workflow import REVIEW_TEXT, approved_review, findings, gate, measured_run, post_budget


def test_gate_refuses_until_every_rule_passes_then_allows_release(world):
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-1")
    answer = gate(pipeline, version)
    assert answer["allowed"] is False and findings(answer)["approved_review"] is False
    assert answer["policy_version"] and len(answer["evidence_digest"]) == 64 and answer["expires_at"]
    refused = pipeline.post(f"/api/v1/model-versions/{version.pk}/release/")
    assert refused.status_code == 409 and "No approved impact review" in refused.json()["message"]
    trail = AuditEvent.objects.filter(action="release.refused", object_id=str(version.pk))
    assert trail.count() == 1 and trail.get().payload["allowed"] is False  # the refusal stays on record

    author = client_for(team.ml_lead)
    review = author.post("/api/v1/reviews/", {"model_version": version.pk, **REVIEW_TEXT}, format="json").json()
    submitted = author.post(f"/api/v1/reviews/{review['id']}/submit/").json()
    assert submitted["state"] == "submitted" and submitted["snapshot"]["totals"]["location_based_kgco2e"]

    decisions = f"/api/v1/reviews/{review['id']}/decisions/"
    own = author.post(decisions, {"verdict": "approve", "note": "mine"}, format="json")
    assert own.status_code == 403 and "author or submitter" in own.json()["message"]
    no_role = client_for(team.reviewer).post(decisions, {"verdict": "approve", "note": "ok"}, format="json")
    assert no_role.status_code == 403 and "sign-off roles" in no_role.json()["message"]
    no_note = client_for(team.officer).post(decisions, {"verdict": "approve", "note": ""}, format="json")
    assert no_note.status_code == 400 and "note" in no_note.json()["errors"]

    first = client_for(team.officer).post(decisions, {"verdict": "approve", "note": "Energy checked."}, format="json")
    assert first.json()["state"] == "in_review"
    twice = client_for(team.officer).post(decisions, {"verdict": "approve", "note": "again"}, format="json")
    assert twice.status_code == 403 and "different person" in twice.json()["message"]
    assert findings(gate(pipeline, version))["approved_review"] is False

    second = client_for(second_lead).post(decisions, {"verdict": "approve", "note": "Mitigations fine."}, format="json")
    assert second.json()["state"] == "approved"
    answer = gate(pipeline, version)
    assert answer["allowed"] is False and findings(answer) == {
        "approved_review": True,
        "figures_current": True,
        "budgets": True,
        "telemetry_coverage": True,
        "per_token_regression": True,
        "audit_report": False,
        "eu_documentation": True,  # advisory in this project
    }
    report = author.post(f"/api/v1/reviews/{review['id']}/reports/").json()
    render_report(report["id"])
    answer = gate(pipeline, version)
    assert answer["allowed"] is True, answer["findings"]

    released = pipeline.post(f"/api/v1/model-versions/{version.pk}/release/")
    assert released.status_code == 200 and released.json()["status"] == "released"
    version.refresh_from_db()
    assert version.status == VersionStatus.RELEASED
    assert AuditEvent.objects.filter(action="release.released", object_id=str(version.pk)).exists()


def test_a_change_after_approval_recloses_the_gate(world):
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-a")
    approved_review(team, second_lead, version)
    assert gate(pipeline, version)["allowed"] is True
    measured_run(pipeline, version, "ft-b")  # a new run changes the footprint
    answer = gate(pipeline, version)
    assert answer["allowed"] is False
    message = next(f["message"] for f in answer["findings"] if f["rule"] == "approved_review")
    assert "changed after the review was approved" in message


def test_low_coverage_needs_an_officers_exception(world):
    team, second_lead, version, pipeline = world
    run_id = measured_run(pipeline, version, "ft-dark", telemetry=False)
    approved_review(team, second_lead, version)
    answer = gate(pipeline, version)
    assert findings(answer)["telemetry_coverage"] is False
    url = f"/api/v1/runs/{run_id}/coverage-exception/"
    assert client_for(team.ml_lead).post(url, {"note": "x"}, format="json").status_code == 403
    assert client_for(team.officer).post(url, {"note": "Agent not yet rolled out."}, format="json").status_code == 200
    assert findings(gate(pipeline, version))["telemetry_coverage"] is True


def test_an_exceeded_budget_closes_the_gate(world):
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-big")
    approved_review(team, second_lead, version)
    response = post_budget(team, "Q4", limit_kwh=0.001)
    assert response.status_code == 201 and response.json()["level"] == "exceeded"
    assert findings(gate(pipeline, version))["budgets"] is False
    assert AuditEvent.objects.filter(action="budget.exceeded").exists()


def test_outsiders_and_scope_limits(world):
    team, _, version, _ = world
    assert client_for(team.outsider).get(f"/api/v1/model-versions/{version.pk}/release-gate/").status_code == 404
    read_only, _ = token_client(team.pipeline, ["registry:read"])
    assert read_only.post(f"/api/v1/model-versions/{version.pk}/release/").status_code == 403
    assert client_for(team.outsider).get("/api/v1/reviews/").json()["count"] == 0


def test_nobody_can_release_around_the_gate(world):
    _, _, version, _ = world
    refused = pytest.raises((InternalError, ProgrammingError), match="only be released through the release gate")
    with refused, transaction.atomic():
        ModelVersion.objects.filter(pk=version.pk).update(status=VersionStatus.RELEASED)


def test_changes_requested_sends_the_review_back_to_draft(world):
    team, _second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-c")
    author = client_for(team.ml_lead)
    review = author.post("/api/v1/reviews/", {"model_version": version.pk, **REVIEW_TEXT}, format="json").json()
    author.post(f"/api/v1/reviews/{review['id']}/submit/")
    answer = client_for(team.officer).post(
        f"/api/v1/reviews/{review['id']}/decisions/",
        {"verdict": "request_changes", "note": "Add mitigations."},
        format="json",
    )
    assert answer.json()["state"] == "changes_requested"
    edited = author.patch(f"/api/v1/reviews/{review['id']}/", {"mitigations": "BF16; region choice."}, format="json")
    assert edited.json()["state"] == "draft"
    comment = client_for(team.auditor).post(
        f"/api/v1/reviews/{review['id']}/comments/", {"body": "Sources?"}, format="json"
    )
    assert comment.status_code == 201


def test_tampered_audit_row_is_named_by_the_verify_command(world):
    _team, _second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-audit")
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)
    assert "Audit chain intact" in out.getvalue()
    with pytest.raises((InternalError, ProgrammingError), match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=AuditEvent.objects.first().pk).update(actor="mallory")
    victim = AuditEvent.objects.order_by("id")[1]
    with connection.cursor() as cursor:  # an attacker with table-owner rights goes around the trigger
        cursor.execute("ALTER TABLE governance_auditevent DISABLE TRIGGER governance_auditevent_append_only")
        cursor.execute('UPDATE governance_auditevent SET payload = \'{"label": "forged"}\' WHERE id = %s', [victim.pk])
        cursor.execute("ALTER TABLE governance_auditevent ENABLE TRIGGER governance_auditevent_append_only")
    with pytest.raises(CommandError, match=f"broken at event #{victim.pk}: its content does not match its hash"):
        call_command("verify_audit_chain", stdout=StringIO())


def test_the_stored_gate_answer_always_equals_a_fresh_evaluation(world):
    """Pipelines read a stored answer; after every kind of change it must be what a fresh
    evaluation says, never an old one."""
    from governance.models import GateRecord
    from governance.services import release_gate

    team, second_lead, version, pipeline = world

    def agrees():
        stored = gate(pipeline, version)
        fresh = release_gate.evaluate_release_gate(version=version, actor=team.ml_lead, stored=False).as_dict()
        stored.pop("expires_at"), fresh.pop("expires_at")
        assert stored == fresh
        assert GateRecord.objects.filter(version=version, stale=False).exists()  # it was stored

    agrees()
    run_id = measured_run(pipeline, version, "ft-g1", telemetry=False)
    agrees()  # a run: figures, coverage
    approved_review(team, second_lead, version)
    agrees()  # a review, decisions, a report
    client_for(team.officer).post(f"/api/v1/runs/{run_id}/coverage-exception/", {"note": "ok"}, format="json")
    agrees()  # a coverage exception
    post_budget(team, "Tight", days_before=9, days_after=9, limit_kwh=0.0001)
    agrees()  # a budget exceeded
    team.project.min_telemetry_coverage = 0.01
    team.project.save()
    agrees()  # the project's policy
    measured_run(pipeline, version, "ft-g2", telemetry=False)
    agrees()  # a new run after approval


def test_serving_after_release_keeps_the_approval_and_the_gate_open(world):
    """A CI pipeline asks the gate before each deploy of a released version: its deployments'
    usage (followed by the post-release review) must not close it; a new training run must."""
    from tests.workflow import serve

    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-served")
    approved_review(team, second_lead, version)
    assert pipeline.post(f"/api/v1/model-versions/{version.pk}/release/").status_code == 200
    serve(pipeline, version, "serve-after-release", tokens=40_000)
    answer = gate(pipeline, version)
    assert answer["allowed"] is True, answer["findings"]
    assert pipeline.get(f"/api/v1/model-versions/{version.pk}/footprint/").json()["per_1k_tokens_kgco2e"]  # measured
    measured_run(pipeline, version, "ft-after-release")
    assert findings(gate(pipeline, version))["approved_review"] is False
