from governance.models import RegisteredModel
from tests.conftest import client_for
from tests.factories import RegisteredModelFactory


def test_ml_lead_registers_a_model(team):
    response = client_for(team.ml_lead).post(
        "/api/v1/models/", {"project": team.project.pk, "name": "aurora"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert RegisteredModel.objects.filter(project=team.project, name="aurora").exists()


def test_duplicate_model_name_is_a_conflict(team):
    RegisteredModelFactory(project=team.project, name="aurora")
    response = client_for(team.owner).post(
        "/api/v1/models/", {"project": team.project.pk, "name": "aurora"}, format="json"
    )
    assert response.status_code == 409


def test_outsider_cannot_register_into_a_project(team):
    response = client_for(team.outsider).post(
        "/api/v1/models/", {"project": team.project.pk, "name": "x"}, format="json"
    )
    assert response.status_code == 400
    assert not RegisteredModel.objects.exists()


def test_models_filter_by_project_slug_and_hide_others(team):
    RegisteredModelFactory(project=team.project, name="mine")
    RegisteredModelFactory(name="theirs")
    body = client_for(team.reviewer).get("/api/v1/models/?project__slug=aurora").json()
    assert [m["name"] for m in body["results"]] == ["mine"]
    assert client_for(team.reviewer).get("/api/v1/models/").json()["count"] == 1


def test_rename_model(team):
    model = RegisteredModelFactory(project=team.project, name="old")
    response = client_for(team.ml_lead).patch(f"/api/v1/models/{model.pk}/", {"name": "new"}, format="json")
    assert response.status_code == 200
    model.refresh_from_db()
    assert model.name == "new"
    response = client_for(team.outsider).patch(f"/api/v1/models/{model.pk}/", {"name": "x"}, format="json")
    assert response.status_code == 404
