import pytest

from governance.models import ModelVersion, VersionStatus
from tests.conftest import client_for, token_client
from tests.factories import ModelVersionFactory, RegisteredModelFactory, mark_released


@pytest.fixture
def model(team):
    return RegisteredModelFactory(project=team.project, name="aurora")


def version_body(model, **overrides):
    body = {
        "registered_model": model.pk,
        "version": "1.0",
        "adaptation": "pretraining",
        "parameters": 7_000_000_000,
        "precision": "bf16",
        "training_tokens": 2_000_000_000_000,
    }
    return {**body, **overrides}


def test_pipeline_token_registers_a_version_with_lineage(team, model):
    client, _ = token_client(team.pipeline)
    base = client.post("/api/v1/model-versions/", version_body(model), format="json")
    assert base.status_code == 201, base.json()
    chat = client.post(
        "/api/v1/model-versions/",
        version_body(model, version="1.0-chat", adaptation="adapter", base_version=base.json()["id"]),
        format="json",
    )
    assert chat.status_code == 201, chat.json()
    assert chat.json()["status"] == "draft"
    stored = ModelVersion.objects.get(pk=chat.json()["id"])
    assert stored.lineage() == [ModelVersion.objects.get(pk=base.json()["id"])]


def test_mixture_of_experts_keeps_active_parameters(team, model):
    body = version_body(model, parameters=47_000_000_000, active_parameters=13_000_000_000)
    response = client_for(team.ml_lead).post("/api/v1/model-versions/", body, format="json")
    assert response.status_code == 201
    assert ModelVersion.objects.get(pk=response.json()["id"]).effective_active_parameters == 13_000_000_000


def test_bad_input_is_a_400_naming_every_field(team, model):
    body = version_body(model, adaptation="magic", parameters="lots", colour="green")
    response = client_for(team.ml_lead).post("/api/v1/model-versions/", body, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"adaptation", "parameters", "colour"}
    assert errors["colour"] == ["Unknown field."]
    assert "magic" in errors["adaptation"][0]
    assert not ModelVersion.objects.exists()


def test_active_parameters_above_total_is_refused(team, model):
    body = version_body(model, parameters=10, active_parameters=20)
    response = client_for(team.ml_lead).post("/api/v1/model-versions/", body, format="json")
    assert response.status_code == 400
    assert "active_parameters" in response.json()["errors"]


def test_pretraining_cannot_have_a_base(team, model):
    base = ModelVersionFactory(registered_model=model)
    body = version_body(model, version="2.0", base_version=base.pk)
    response = client_for(team.ml_lead).post("/api/v1/model-versions/", body, format="json")
    assert response.status_code == 400
    assert "base_version" in response.json()["errors"]


def test_base_from_a_project_i_cannot_see_does_not_exist(team, model):
    foreign = ModelVersionFactory()
    body = version_body(model, version="2.0", adaptation="adapter", base_version=foreign.pk)
    response = client_for(team.ml_lead).post("/api/v1/model-versions/", body, format="json")
    assert response.status_code == 400
    assert "does not exist" in response.json()["errors"]["base_version"][0]


def test_duplicate_version_is_a_conflict(team, model):
    ModelVersionFactory(registered_model=model, version="1.0")
    response = client_for(team.ml_lead).post("/api/v1/model-versions/", version_body(model), format="json")
    assert response.status_code == 409
    assert response.json()["errors"] == {"version": ["Already registered."]}


def test_reviewer_and_auditor_cannot_register(team, model):
    for person in (team.reviewer, team.auditor, team.officer):
        response = client_for(person).post("/api/v1/model-versions/", version_body(model), format="json")
        assert response.status_code == 403, person
    assert not ModelVersion.objects.exists()


def test_outsider_cannot_see_or_register(team, model):
    version = ModelVersionFactory(registered_model=model)
    client = client_for(team.outsider)
    assert client.get("/api/v1/model-versions/").json()["count"] == 0
    assert client.get(f"/api/v1/model-versions/{version.pk}/").status_code == 404
    response = client.post("/api/v1/model-versions/", version_body(model, version="9"), format="json")
    assert response.status_code == 400
    assert "does not exist" in response.json()["errors"]["registered_model"][0]


def test_update_changes_fields_but_never_status(team, model):
    version = ModelVersionFactory(registered_model=model)
    url = f"/api/v1/model-versions/{version.pk}/"
    response = client_for(team.ml_lead).patch(url, {"description": "better", "status": "released"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"status": ["Unknown field."]}
    response = client_for(team.ml_lead).patch(url, {"description": "better", "training_tokens": 5}, format="json")
    assert response.status_code == 200
    version.refresh_from_db()
    assert (version.description, version.training_tokens, version.status) == ("better", 5, VersionStatus.DRAFT)


def test_released_version_keeps_its_substance(team, model):
    version = mark_released(ModelVersionFactory(registered_model=model))
    url = f"/api/v1/model-versions/{version.pk}/"
    response = client_for(team.ml_lead).patch(url, {"parameters": 1}, format="json")
    assert response.status_code == 409
    assert "released" in response.json()["message"]
    assert client_for(team.ml_lead).patch(url, {"description": "notes"}, format="json").status_code == 200


def test_a_version_cannot_become_its_own_ancestor(team, model):
    root = ModelVersionFactory(registered_model=model)
    child = ModelVersionFactory(registered_model=model, adaptation="adapter", base_version=root)
    response = client_for(team.ml_lead).patch(
        f"/api/v1/model-versions/{root.pk}/", {"adaptation": "adapter", "base_version": child.pk}, format="json"
    )
    assert response.status_code == 400
    assert "itself" in response.json()["errors"]["base_version"][0]


def test_list_filters_and_paginates(team, model):
    for n in range(3):
        ModelVersionFactory(registered_model=model, version=f"0.{n}", precision="int4" if n else "bf16")
    client = client_for(team.auditor)
    assert client.get("/api/v1/model-versions/?precision=int4").json()["count"] == 2
    page = client.get("/api/v1/model-versions/?page_size=1&ordering=version").json()
    assert page["count"] == 3
    bad = client.get("/api/v1/model-versions/?status=bogus")
    assert bad.status_code == 400
    assert "status" in bad.json()["errors"]
