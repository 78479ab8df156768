import pytest
from rest_framework.test import APIClient

from lca.validation import run
from tests.conftest import client_for, token_client

TRAINING = {
    "active_parameters": 7e9,
    "tokens": 2e12,
    "hardware": "h100-sxm",
    "accelerator_count": 256,
    "host": "host-8gpu",
    "facility": "aws-us-east-1",
    "tokens_served": 1e9,
}


def test_estimate_gives_ranges_and_the_source_of_every_factor(team):
    response = client_for(team.ml_lead).post("/api/v1/estimates/", TRAINING, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    carbon = body["location_based_kgco2e"]
    assert carbon["low"] < carbon["central"] < carbon["high"]
    assert body["market_based_kgco2e"] == carbon  # no certificates known for this facility
    assert body["water_l"]["central"] > 0 and body["capital_goods_kgco2e"]["central"] == 256 * 164 + 32 * 2500
    names = [f["name"] for f in body["factors"]]
    assert "PUE" in names and any(n.startswith("grid intensity, aws:us-east-1") for n in names)
    assert all(f["source"] for f in body["factors"])
    assert body["sensitivity"][0]["input"] == "mfu"  # the whole-run MFU range dominates
    assert any("certificate" in note for note in body["notes"])


def test_estimate_agrees_with_lca_validate_to_the_digit(team):
    body = {
        "accelerator_hours": 1_082_990,
        "power_per_accelerator_w": 400,
        "host_overhead": 1,
        "pue": 1,
        "intensity_g_per_kwh": 57,
    }
    api = client_for(team.auditor).post("/api/v1/estimates/", body, format="json").json()
    command = next(o for o in run() if o.case == "bloom-dynamic" and o.label == "carbon")
    assert api["location_based_kgco2e"]["central"] / 1000 == command.computed


def test_unknown_embodied_is_said(team):
    body = {**TRAINING, "hardware": "mi300x", "host": None}
    body.pop("host")
    notes = client_for(team.ml_lead).post("/api/v1/estimates/", body, format="json").json()["notes"]
    assert any("Embodied carbon of AMD Instinct MI300X 192GB is unknown" in n for n in notes)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"accelerator_hours": 10}, "grid_region"),
        ({"accelerator_hours": 10, "energy_kwh": 5, "grid_region": "FRA"}, "non_field_errors"),
        ({"energy_kwh": 5, "grid_region": "FRA", "energy_scope": "rack"}, "energy_scope"),
        ({"active_parameters": 7e9, "tokens": 1e9, "grid_region": "FRA", "hardware": "h100-sxm", "mfu": 0}, "mfu"),
        ({"accelerator_hours": {"low": 5, "central": 1}, "grid_region": "FRA"}, "accelerator_hours"),
        ({"accelerator_hours": 10, "grid_region": "XXX", "hardware": "h100-sxm"}, "grid_region"),
        ({"accelerator_hours": 10, "grid_region": "FRA", "pue": 0.8, "hardware": "h100-sxm"}, "pue"),
        ({"active_parameters": 7e9, "tokens": 1e9, "grid_region": "FRA", "hardware": "tpu-v5e"}, "hardware"),
        ({"accelerator_hours": 10, "grid_region": "FRA", "colour": "red"}, "colour"),
    ],
)
def test_bad_estimates_are_400_naming_the_field(team, body, field):
    response = client_for(team.ml_lead).post("/api/v1/estimates/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()


def test_compare_ranks_scenarios_and_explains_the_gap(team):
    client, _ = token_client(team.pipeline)
    base = {"accelerator_hours": 10_000, "hardware": "h100-sxm"}
    response = client.post(
        "/api/v1/scenarios/compare/",
        {
            "scenarios": [
                {"name": "Iowa", **base, "facility": "gcp-us-central1"},
                {"name": "Finland", **base, "facility": "gcp-europe-north1"},
                {
                    "name": "Finland on B200",
                    "accelerator_hours": 10_000,
                    "hardware": "b200",
                    "facility": "gcp-europe-north1",
                },
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    ranked = response.json()["scenarios"]
    assert [s["name"] for s in ranked] == ["Finland", "Finland on B200", "Iowa"]
    iowa = ranked[2]["explanation"]
    assert any(line.startswith("grid intensity") for line in iowa)
    assert any(line.startswith("PUE") for line in iowa)


def test_compare_reports_which_scenario_is_invalid(team):
    response = client_for(team.ml_lead).post(
        "/api/v1/scenarios/compare/",
        {
            "scenarios": [
                {"name": "ok", "accelerator_hours": 1, "hardware": "h100-sxm", "grid_region": "FRA"},
                {"name": "bad", "accelerator_hours": 1, "hardware": "nope", "grid_region": "FRA"},
            ]
        },
        format="json",
    )
    assert response.status_code == 400
    assert "scenarios[1]" in response.json()["errors"]


def test_estimates_need_a_login(db):
    assert APIClient().post("/api/v1/estimates/", {}, format="json").status_code in (401, 403)
