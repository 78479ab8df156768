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


def estimate_of(team, **body):
    response = client_for(team.ml_lead).post("/api/v1/estimates/", body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def test_supplied_system_power_is_not_inflated(team):
    # Patterson et al. publish measured system power per accelerator, host included.
    node = estimate_of(
        team, accelerator_hours=1000, power_per_accelerator_w=330, power_scope="node", intensity_g_per_kwh=429
    )
    assert node["it_energy_kwh"]["central"] == pytest.approx(330)
    assert node["scope"] == "node" and [p["name"] for p in node["parts"]] == ["accelerators and host"]
    assert not any(f["name"] == "host energy overhead" for f in node["factors"])
    # Not saying the scope takes the documented default and says so.
    default = estimate_of(team, accelerator_hours=1000, power_per_accelerator_w=330, intensity_g_per_kwh=429)
    assert default["scope"] == "accelerator" and default["it_energy_kwh"]["central"] == pytest.approx(330 * 1.43)
    assert any("default" in n and "power_scope" in n for n in default["notes"])
    facility = estimate_of(team, energy_kwh=1000, energy_scope="facility", facility="aws-us-east-1")
    assert facility["facility_energy_kwh"]["central"] == 1000  # PUE already in it


def test_training_defaults_to_a_whole_run_mfu_and_inference_has_its_own(team):
    common = {"active_parameters": 7e9, "hardware": "h100-sxm", "grid_region": "FRA"}
    training = estimate_of(team, **common, tokens=2e12)
    mfu = next(f for f in training["factors"] if f["name"].startswith("model FLOPs utilisation"))
    assert mfu["name"].endswith("(whole run)") and mfu["value"] == {"low": 0.2, "central": 0.32, "high": 0.35}
    assert "Llama 3.1 405B 0.35" in mfu["source"]
    inference = estimate_of(team, **common, phase="inference", tokens=1e6)
    mfu = next(f for f in inference["factors"] if f["name"].startswith("model FLOPs utilisation"))
    assert mfu["name"].endswith("(inference)") and mfu["value"]["central"] == 0.2


def test_inference_counts_prompt_tokens_and_idle_capacity(team):
    common = {"active_parameters": 7e9, "hardware": "h100-sxm", "grid_region": "FRA", "phase": "inference"}
    output_only = estimate_of(team, **common, tokens=1e6)
    with_prompts = estimate_of(team, **common, tokens=1e6, input_tokens=3e6)
    half_idle = estimate_of(team, **common, tokens=1e6, input_tokens=3e6, capacity_in_use=0.5)
    hours = [e["accelerator_hours"]["central"] for e in (output_only, with_prompts, half_idle)]
    assert hours[1] == pytest.approx(4 * hours[0]) and hours[2] == pytest.approx(2 * hours[1])


def test_explicit_embodied_duration_and_host_lifetime(team):
    body = {
        "duration_h": 10,
        "accelerator_count": 16,
        "power_per_accelerator_w": 700,
        "intensity_g_per_kwh": 0,
        "accelerator_embodied_kgco2e": {"low": 150, "central": 200, "high": 300},
        "lifetime_years": 4,
        "host_embodied_kgco2e": 2500,
        "host_lifetime_years": 5,
        "utilisation": 1,
    }
    result = estimate_of(team, **body)
    assert result["accelerator_hours"]["central"] == 160
    hours_per_year = 8760
    assert result["embodied_accelerators_kgco2e"]["central"] == pytest.approx(200 * 160 / (4 * hours_per_year))
    assert result["embodied_hosts_kgco2e"]["central"] == pytest.approx(2500 * 20 / (5 * hours_per_year))
    assert result["capital_goods_kgco2e"]["central"] == 16 * 200 + 2 * 2500


def test_reference_factors_carry_ranges_that_reach_the_output(team):
    result = estimate_of(team, energy_kwh=1000, energy_scope="node", facility="aws-us-east-1")
    factors = {f["name"].split(",")[0].split(" (")[0]: f for f in result["factors"]}
    pue, grid = factors["PUE"]["value"], factors["grid intensity"]["value"]
    assert pue["low"] < pue["central"] < pue["high"] and grid["low"] < grid["central"] < grid["high"]
    assert "±20%" in factors["grid intensity"]["name"]  # a provider region factor
    assert {s["input"] for s in result["sensitivity"]} >= {"intensity_g_per_kwh", "pue"}
    assert factors["grid intensity"]["year"] == 2021  # AWS factors now carry a data year


def test_market_based_uses_a_published_residual_mix(team):
    italy = estimate_of(team, energy_kwh=1000, energy_scope="facility", grid_region="ITA", certificate_share=0.5)
    assert italy["market_based_kgco2e"]["central"] == pytest.approx(1000 * 0.5 * 441 / 1000)
    assert any(f["name"] == "residual mix, ITA" and f["year"] == 2024 for f in italy["factors"])
    france = estimate_of(team, energy_kwh=1000, energy_scope="facility", grid_region="FRA", certificate_share=0.5)
    assert any("at the grid average" in n for n in france["notes"])


def test_compare_warns_when_grid_factor_bases_differ_and_marks_overlaps(team):
    base = {"energy_kwh": 1000, "energy_scope": "facility"}
    response = client_for(team.ml_lead).post(
        "/api/v1/scenarios/compare/",
        {
            "scenarios": [
                {"name": "Ohio (direct)", **base, "grid_region": "aws:us-east-2"},
                {"name": "United States (lifecycle)", **base, "grid_region": "USA"},
                {"name": "France", **base, "grid_region": "FRA"},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["warnings"] and body["warnings"][0].startswith("NOT LIKE FOR LIKE")
    ranked = {s["name"]: s for s in body["scenarios"]}
    assert ranked["France"]["rank"] == 1 and ranked["France"]["distinguishable"]
    # 369 g ± 10% against 411 g ± 20%: the two US ranges overlap each other, not France's
    assert ranked["United States (lifecycle)"]["distinguishable"]
    assert ranked["Ohio (direct)"]["distinguishable"]


def test_overlapping_ranges_are_not_distinguishable(team):
    base = {"energy_kwh": 1000, "energy_scope": "facility"}
    body = (
        client_for(team.ml_lead)
        .post(
            "/api/v1/scenarios/compare/",
            {
                "scenarios": [
                    {"name": "Iowa", **base, "grid_region": "gcp:us-central1"},
                    {"name": "Virginia", **base, "grid_region": "gcp:us-east4"},
                ]
            },
            format="json",
        )
        .json()
    )
    second = body["scenarios"][1]
    assert not second["distinguishable"] and "Not distinguishable" in second["explanation"][0]
    assert body["warnings"] == []


def test_validation_feeds_only_what_each_source_states():
    from lca.validation import cases

    for case in cases():
        request = case.request
        assert request.host_overhead is None and request.mfu is None, case.id
        if request.energy_kwh is not None:
            assert request.energy_scope is not None, case.id
        if request.power_per_accelerator_w is not None:
            assert request.power_scope is not None, case.id
