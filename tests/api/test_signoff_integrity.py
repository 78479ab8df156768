"""Approvals mean what they say: people sign, not tokens or service accounts, and an
approval covers the exact submission it was given for."""

from governance.models import ReviewDecision, Role
from governance.services import registry
from tests.conftest import client_for, token_client
from tests.workflow import REVIEW_TEXT, measured_run


def submitted(team, version):
    author = client_for(team.ml_lead)
    review = author.post("/api/v1/reviews/", {"model_version": version.pk, **REVIEW_TEXT}, format="json").json()
    assert author.post(f"/api/v1/reviews/{review['id']}/submit/").status_code == 200
    return review["id"]


def decide(client, review_id, verdict="approve"):
    return client.post(
        f"/api/v1/reviews/{review_id}/decisions/", {"verdict": verdict, "note": "Checked."}, format="json"
    )


def test_a_service_account_cannot_be_given_a_signoff_role(world):
    team, *_ = world
    response = client_for(team.owner).post(
        f"/api/v1/projects/{team.project.pk}/members/",
        {"username": team.pipeline.username, "roles": ["pipeline", "sustainability_officer"]},
        format="json",
    )
    assert response.status_code == 400 and "service account" in response.json()["message"]


def test_api_tokens_cannot_sign_off(world):
    team, _, version, pipeline = world
    measured_run(pipeline, version, "ft-token-sign")
    review_id = submitted(team, version)
    officer_token, _ = token_client(team.officer)
    answer = decide(officer_token, review_id)
    assert answer.status_code == 403 and "API tokens cannot sign off" in answer.json()["message"]
    assert decide(client_for(team.officer), review_id).status_code == 200  # the same person, signed in


def test_a_service_account_cannot_write_a_review(world):
    _, _, version, pipeline = world
    answer = pipeline.post("/api/v1/reviews/", {"model_version": version.pk, **REVIEW_TEXT}, format="json")
    assert answer.status_code == 403 and "Service accounts" in answer.json()["message"]


def test_a_rewritten_assessment_asks_every_reviewer_again(world):
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-rewrite-text")
    review_id = submitted(team, version)
    assert decide(client_for(team.officer), review_id).status_code == 200
    assert decide(client_for(second_lead), review_id, "request_changes").json()["state"] == "changes_requested"
    author = client_for(team.ml_lead)
    author.patch(f"/api/v1/reviews/{review_id}/", {"mitigations": "Nothing, after all."}, format="json")
    assert author.post(f"/api/v1/reviews/{review_id}/submit/").status_code == 200
    # The officer's approval covered the old text: it no longer counts, and the officer may decide again.
    again = decide(client_for(team.officer), review_id)
    assert again.status_code == 200 and again.json()["state"] == "in_review"
    assert ReviewDecision.objects.filter(review_id=review_id, reviewer=team.officer).count() == 2


def test_resubmitting_unchanged_still_resets_the_decisions(world):
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-resubmit")
    review_id = submitted(team, version)
    decide(client_for(team.officer), review_id)
    decide(client_for(second_lead), review_id, "request_changes")
    author = client_for(team.ml_lead)
    assert author.post(f"/api/v1/reviews/{review_id}/submit/").status_code == 200
    assert decide(client_for(second_lead), review_id).json()["state"] == "in_review"  # the officer must sign again


def test_roles_granted_are_recorded(world):
    team, *_ = world
    from governance.models import AuditEvent
    from tests.factories import UserFactory

    newcomer = UserFactory(username="newcomer")
    registry.set_membership(project=team.project, actor=team.owner, user=newcomer, roles=[Role.REVIEWER])
    event = AuditEvent.objects.filter(action="member.roles_set").last()
    assert event.payload == {"user": "newcomer", "roles": ["reviewer"]}
