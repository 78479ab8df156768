"""Values that serializers let through but storage or arithmetic cannot take are refused
at the edge, naming the field: none of them reaches a page or the gate as a 500."""

import pytest

from tests.conftest import client_for, token_client

BUDGET = {"name": "Year", "period_start": "2026-01-01", "period_end": "2026-12-31", "limit_kwh": 1000}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"limit_kwh": "NaN"}, "limit_kwh"),
        ({"limit_kgco2e": "Infinity"}, "limit_kgco2e"),
        ({"limit_kwh": "1e999"}, "limit_kwh"),
        ({"period_end": "9999-12-31"}, "period_end"),
        ({"name": "Year\x00"}, "name"),
    ],
)
def test_a_poisoned_budget_is_refused(team, change, field):
    response = client_for(team.officer).post(
        "/api/v1/budgets/", {"project": team.project.pk, **BUDGET, **change}, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert client_for(team.officer).get("/api/v1/budgets/").status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"started_at": "0001-01-01T00:00:00Z"}, "started_at"),
        ({"facility": "gcp\x00"}, "facility"),
        ({"accelerator_count": 2**40}, "accelerator_count"),
    ],
)
def test_a_poisoned_run_is_refused(team, change, field):
    from tests.factories import ModelVersionFactory, RegisteredModelFactory

    version = ModelVersionFactory(registered_model=RegisteredModelFactory(project=team.project))
    client, _ = token_client(team.pipeline)
    body = {
        "model_version": version.pk,
        "stage": "pretraining",
        "facility": "gcp-europe-west1",
        "hardware": "h100-sxm",
        "accelerator_count": 8,
        "label": "poison",
        **change,
    }
    response = client.post("/api/v1/runs/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    "body",
    [
        {"energy_kwh": 10, "grid_region": "FRA\x00"},
        {"energy_kwh": 10, "grid_region": "FRA", "hardware": "h100\x00"},
        {"active_parameters": "Infinity", "tokens": 1e9, "grid_region": "FRA", "hardware": "h100-sxm"},
        {"energy_kwh": 10, "grid_region": "FRA", "start": "0001-01-01T00:00:00Z"},
    ],
)
def test_a_poisoned_estimate_is_a_400(team, body):
    response = client_for(team.ml_lead).post("/api/v1/estimates/", body, format="json")
    assert response.status_code == 400, response.content


def test_codecarbon_fields_match_their_columns(db):
    from rest_framework.test import APIClient

    from telemetry.services import create_enrolment_token, enrol_agent

    _, token = create_enrolment_token(name="cc", label_namespaces=["*"], kind="codecarbon")
    _, key = enrol_agent(enrolment_token=token, hostname="cc-host")
    client = APIClient()
    client.credentials(HTTP_X_API_TOKEN=key)
    response = client.post("/api/v1/codecarbon/experiments", {"name": "x", "region": "r" * 101}, format="json")
    assert response.status_code == 400 and "region" in response.json()["errors"]


@pytest.mark.parametrize("path", ["/api/v1/model-versions/{}/", "/api/v1/webhooks/{}/rotate-secret/", "/versions/{}/"])
def test_an_id_too_large_for_the_database_is_a_404(team, path):
    client = client_for(team.owner)
    answer = client.post(path.format(2**70)) if "rotate" in path else client.get(path.format(2**70))
    assert answer.status_code == 404


def test_quantities_whose_results_would_overflow_are_refused(team):
    client = client_for(team.ml_lead)
    huge = {"active_parameters": 1e300, "tokens": 1e300, "grid_region": "FRA", "hardware": "h100-sxm"}
    assert client.post("/api/v1/estimates/", huge, format="json").status_code == 400
    schedule = {"regions": ["FRA"], "duration_h": 1, "energy_kwh": 1e308, "earliest": "2026-01-01T00:00:00Z"}
    answer = client.post("/api/v1/scheduling/best-start/", schedule, format="json")
    assert answer.status_code == 400 and "energy_kwh" in answer.json()["errors"]


def test_a_nul_in_any_value_of_a_repeated_form_field_is_a_400(team):
    """A form sends a list as repeated fields; a NUL in one that is not the last still counts."""
    from lca.models import GridRegion
    from tests.conftest import client_for

    code = GridRegion.objects.first().code
    body = {"duration_h": 5, "earliest": "2026-01-01T00:00:00Z", "energy_kwh": 1, "regions": ["a\x00", code]}
    response = client_for(team.ml_lead).post("/api/v1/scheduling/best-start/", body, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"]["regions"] == ["Null characters are not allowed."]
