from governance.models import Membership, Project
from tests.conftest import client_for, token_client


def test_owner_creates_project_and_owns_it(db):
    from tests.factories import UserFactory

    user = UserFactory()
    response = client_for(user).post(
        "/api/v1/projects/", {"name": "Nova", "slug": "nova", "description": "LLM"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["owner"] == user.username
    assert Project.objects.get(slug="nova").owner == user


def test_members_see_their_project(team):
    for person in (team.owner, team.ml_lead, team.officer, team.auditor):
        body = client_for(person).get("/api/v1/projects/").json()
        assert [p["slug"] for p in body["results"]] == ["aurora"]


def test_outsider_sees_no_project(team):
    client = client_for(team.outsider)
    assert client.get("/api/v1/projects/").json()["results"] == []
    assert client.get(f"/api/v1/projects/{team.project.pk}/").status_code == 404
    assert client.get(f"/api/v1/projects/{team.project.pk}/members/").status_code == 404


def test_anonymous_is_refused(team):
    from rest_framework.test import APIClient

    response = APIClient().get("/api/v1/projects/")
    assert response.status_code in (401, 403)
    assert "message" in response.json()


def test_duplicate_slug_is_a_conflict_naming_the_field(team):
    response = client_for(team.outsider).post("/api/v1/projects/", {"name": "x", "slug": "aurora"}, format="json")
    assert response.status_code == 409
    assert response.json()["errors"] == {"slug": ["Already taken."]}


def test_only_owner_updates_project(team):
    url = f"/api/v1/projects/{team.project.pk}/"
    assert client_for(team.ml_lead).patch(url, {"name": "Renamed"}, format="json").status_code == 403
    response = client_for(team.owner).patch(url, {"name": "Renamed"}, format="json")
    assert response.status_code == 200
    team.project.refresh_from_db()
    assert team.project.name == "Renamed"


def test_owner_sets_and_removes_member_roles(team):
    url = f"/api/v1/projects/{team.project.pk}/members/"
    client = client_for(team.owner)
    response = client.post(url, {"username": "outsider", "roles": ["reviewer", "auditor"]}, format="json")
    assert response.status_code == 200, response.json()
    assert sorted(response.json()["roles"]) == ["auditor", "reviewer"]
    assert client_for(team.outsider).get(f"/api/v1/projects/{team.project.pk}/").status_code == 200

    assert client.post(url, {"username": "outsider", "roles": []}, format="json").status_code == 204
    assert not Membership.objects.filter(project=team.project, user=team.outsider).exists()


def test_member_cannot_change_membership(team):
    url = f"/api/v1/projects/{team.project.pk}/members/"
    response = client_for(team.ml_lead).post(url, {"username": "outsider", "roles": ["reviewer"]}, format="json")
    assert response.status_code == 403
    assert "owner" in response.json()["message"]


def test_members_list_shows_roles(team):
    body = client_for(team.auditor).get(f"/api/v1/projects/{team.project.pk}/members/").json()
    assert {m["username"]: m["roles"] for m in body}["officer"] == ["sustainability_officer"]


def test_projects_filter_by_slug(team):
    client, _ = token_client(team.pipeline)
    assert client.get("/api/v1/projects/?slug=aurora").json()["count"] == 1
    assert client.get("/api/v1/projects/?slug=other").json()["count"] == 0


def test_registry_changes_are_in_the_audit_trail_and_on_the_project_page(team, client):
    from governance.models import AuditEvent
    from tests.factories import PASSWORD

    client_for(team.owner).post(
        f"/api/v1/projects/{team.project.pk}/members/", {"username": "outsider", "roles": ["auditor"]}, format="json"
    )
    event = AuditEvent.objects.filter(action="member.roles_set", project_id=team.project.pk).last()
    assert event.actor == "owner" and event.payload == {"user": "outsider", "roles": ["auditor"]}
    client.login(username="auditor", password=PASSWORD)
    assert "member.roles_set" in client.get("/projects/aurora/").content.decode()


def test_roles_are_matched_by_their_stable_value_not_their_label(team):
    from django.contrib.auth.models import Group

    from governance.access import roles_in
    from governance.models import Membership, Role

    membership = Membership.objects.get(project=team.project, user=team.officer)
    assert [g.name for g in membership.roles.all()] == [Role.SUSTAINABILITY_OFFICER.value]
    # A group that merely carries a role's display label grants nothing.
    membership.roles.set([Group.objects.get_or_create(name=Role.SUSTAINABILITY_OFFICER.label)[0]])
    assert roles_in(team.officer, team.project) == set()
