"""Regulatory and standards evidence as a user reads it: the EU model documentation rows
and their checks, SCI for AI, declared boundaries, and the supplier record behind an N/A."""

import math
from datetime import UTC, datetime

import pytest

from governance.models import ModelVersion
from lca import disclosure as rules
from lca.models import Facility
from tests.conftest import client_for
from tests.factories import ModelVersionFactory
from tests.workflow import approved_review, findings, gate, measured_run, open_run, serve


def disclosures(client, version):
    answer = client.get(f"/api/v1/model-versions/{version.pk}/disclosures/")
    assert answer.status_code == 200, answer.json()
    return answer.json()


@pytest.fixture
def measured(world):
    """A version with a measured 10-minute fine-tune on 2 H100s and a measured deployment."""
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-eu", seconds=600)
    serve(pipeline, version, "serve-eu", tokens=40_000)
    return team, second_lead, version, pipeline


def test_the_eu_rows_as_the_form_asks_them(measured):
    _, _, version, pipeline = measured
    eu = disclosures(pipeline, version)["eu_documentation"]
    time, compute, energy = eu["training_time"], eu["training_compute"], eu["training_energy"]
    assert time["national_class"] == "< 1 month" and time["hardware"] == "NVIDIA H100 SXM 80GB"
    assert math.isclose(time["hardware_days"], 2 * 600 / 86400, rel_tol=0.05)  # 2 GPUs × 10 minutes
    assert "wall-clock days" in time["text"] and "accelerator-days" in time["text"]
    # No training-token count: the hardware-based estimate is reported, and the check says why it is alone.
    hardware = compute["hardware_flops"]["central"]
    assert math.isclose(hardware, 2 * 600 * 989e12 * 0.32, rel_tol=0.05)
    mantissa = f"{rules.significant(hardware, 2):.1e}".split("e")[0]
    assert compute["ai_office"].startswith(f"{mantissa} × 10^") and compute["national"].startswith("10^")
    assert "hardware-based" in compute["methodology"]
    assert energy["ai_office"].endswith("MWh (measured)") and energy["mwh"] > 0
    assert len(f"{energy['mwh']:e}".split("e")[0].rstrip("0").replace(".", "")) <= 2  # two significant figures
    words = len(energy["methodology"].split())
    assert 60 <= words <= 160 and "telemetry" in energy["methodology"] and "PUE" in energy["methodology"]
    assert "cumulative energy counters" in energy["methodology"]  # the method the simulated GPUs used
    (inference,) = eu["inference_compute"]
    assert inference["hardware"] == "1 x NVIDIA H100 SXM 80GB" and "text generation" in inference["task"]
    assert inference["flops_per_1k_tokens"] == 2 * version.parameters * 1000
    checks = {c["check"]: c for c in eu["checks"]}
    assert (
        not checks["compute_cross_check"]["passed"]
        and "no training-token count" in checks["compute_cross_check"]["message"]
    )
    assert checks["every_run_counted"]["passed"] and checks["energy_reported"]["passed"]


def test_the_two_compute_estimates_must_agree_within_thirty_percent(measured):
    _, _, version, pipeline = measured
    hardware = disclosures(pipeline, version)["eu_documentation"]["training_compute"]["hardware_flops"]["central"]
    tokens_that_agree = round(hardware / (6 * version.parameters))
    for tokens, agrees in (
        (tokens_that_agree, True),
        (round(tokens_that_agree * 1.25), True),
        (tokens_that_agree * 2, False),
    ):
        ModelVersion.objects.filter(pk=version.pk).update(training_tokens=tokens)
        version.refresh_from_db()
        version.save()  # an edit: its figures are recomputed
        check = {c["check"]: c for c in disclosures(pipeline, version)["eu_documentation"]["checks"]}[
            "compute_cross_check"
        ]
        assert check["passed"] is agrees, check
    assert "beyond the ±30%" in check["message"] and "Hardware-based" in check["message"]


def test_checks_advise_in_the_gate_unless_the_project_makes_them_blocking(measured):
    team, second_lead, version, pipeline = measured
    approved_review(team, second_lead, version)
    answer = gate(pipeline, version)
    eu = next(f for f in answer["findings"] if f["rule"] == "eu_documentation")
    assert eu["passed"] and eu["message"].startswith("Advisory (not blocking in this project)")
    assert answer["allowed"]
    patched = client_for(team.owner).patch(
        f"/api/v1/projects/{team.project.pk}/", {"eu_checks_blocking": True}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["eu_checks_blocking"] is True
    answer = gate(pipeline, version)
    assert findings(answer)["eu_documentation"] is False and not answer["allowed"]
    assert (
        "cannot be estimated two ways"
        in next(f for f in answer["findings"] if f["rule"] == "eu_documentation")["message"]
    )


def test_an_open_run_is_not_counted_and_the_check_says_so(world):
    _, _, version, pipeline = world
    measured_run(pipeline, version, "ft-done")
    open_run(pipeline, version, "aurora/ft-still-going", datetime.now(UTC))
    check = {c["check"]: c for c in disclosures(pipeline, version)["eu_documentation"]["checks"]}["every_run_counted"]
    assert not check["passed"] and "still running: aurora/ft-still-going" in check["message"]


def test_energy_is_na_with_the_suppliers_refusal_when_it_could_not_be_measured(world):
    team, _, version, pipeline = world
    measured_run(pipeline, version, "ft-dark", telemetry=False)  # estimated: no agent on these GPUs
    supplier = Facility.objects.get(slug="gcp-europe-west1").supplier
    officer = client_for(team.officer)
    url = f"/api/v1/suppliers/{supplier.slug}/data-requests/"
    what = "metered energy of our jobs in europe-west1, 2026"
    assert officer.post(url, {"what": what, "state": "requested"}, format="json").status_code == 201
    assert disclosures(pipeline, version)["eu_documentation"]["training_energy"]["mwh"] > 0  # asked: still estimated
    refused = officer.post(url, {"what": what, "state": "refused", "note": "Not offered per customer."}, format="json")
    assert refused.status_code == 201
    energy = disclosures(pipeline, version)["eu_documentation"]["training_energy"]
    assert energy["ai_office"] == "N/A" and energy["mwh"] is None
    assert (
        energy["reason"].startswith(f"Google Cloud refused {what}") and "Not offered per customer." in energy["reason"]
    )
    history = officer.get(url).json()
    assert [h["state"] for h in history] == ["requested", "refused"]
    assert client_for(team.reviewer).post(url, {"what": what, "state": "received"}, format="json").status_code == 403
    check = {c["check"]: c for c in disclosures(pipeline, version)["eu_documentation"]["checks"]}["energy_reported"]
    assert not check["passed"] and "N/A" in check["message"]


def test_a_fine_tune_lists_its_base_models_rows_separately(world):
    _, _, version, pipeline = world
    child = ModelVersionFactory(
        registered_model=version.registered_model, version="2.1", adaptation="adapter", base_version=version
    )
    measured_run(pipeline, version, "pt-base")
    measured_run(pipeline, child, "ft-child")
    answer = disclosures(pipeline, child)
    (base,) = answer["eu_lineage"]
    assert base["version"] == str(version) and base["training_runs"] == 1
    assert answer["eu_documentation"]["training_runs"] == 1  # the child's own run only


def test_sci_for_ai_consumer_and_provider_scores(measured):
    _, _, version, pipeline = measured
    d = disclosures(pipeline, version)
    sci = d["sci_for_ai"]
    assert sci["basis"].startswith("location-based; embodied carbon included; no certificates")
    (consumer,) = sci["consumer"]
    per = {s["functional_unit"]: s["g_co2e"] for s in consumer["scores"]}
    tokens, request = per["1,000 tokens (input + output)"], per["request (model call)"]
    assert math.isclose(request * 1000, tokens * 40, rel_tol=1e-6)  # 40k tokens, 1k requests
    assert [s["primary"] for s in consumer["scores"]] == [True, False]  # a text-generation service
    assert consumer["not_reported"][0].startswith("Per workflow execution (every model call it made): not reported")
    provider = {s["per"]: s["g_co2e"] for s in sci["provider"]["scores"]}
    total_g = sci["provider"]["training_kgco2e"] * 1000
    assert math.isclose(provider["parameter (gross)"], total_g / version.parameters)
    assert "parameter (effective)" not in provider  # a dense model
    assert sci["provider"]["embodied_kgco2e"] > 0  # embodied included
    # Training is never amortised into the Consumer score: serving alone.
    boundary = d["declared_boundaries"][0]
    assert math.isclose(request, boundary["with_embodied_g_co2e_per_request"], rel_tol=1e-6)


def test_every_per_request_figure_declares_its_boundary_beside_reference_points(measured):
    _, _, version, pipeline = measured
    d = disclosures(pipeline, version)
    (b,) = d["declared_boundaries"]
    levels = {level["boundary"]: level for level in b["levels"]}
    assert list(levels) == ["accelerators", "host", "facility"]
    narrow, host, facility = (levels[k]["wh_per_request"] for k in ("accelerators", "host", "facility"))
    assert 0 < narrow < host < facility  # each boundary adds to the one inside it
    assert levels["accelerators"]["declared"].startswith("accelerators only, measured")
    assert b["statistic"].startswith("mean") and b["carbon_basis"] == "location-based"
    points = {(p["boundary"], p["wh_per_request"], p["statistic"]) for p in d["reference_points"]}
    assert ("accelerators", 0.10, "median") in points and ("facility", 0.24, "median") in points
    assert all("arXiv:2508.15734" in p["source"] and p["year"] == 2025 for p in d["reference_points"])
    (run,) = d["run_boundaries"]  # run totals, on the same ladder
    assert 0 < run["accelerators_kwh"] < run["it_kwh"] < run["facility_kwh"]
    assert run["parts"] == {"accelerators": "measured", "host": "estimated"}


def test_the_page_lays_the_rows_out_like_the_form(measured, client):
    team, _, version, _ = measured
    client.force_login(team.auditor)
    page = client.get(f"/versions/{version.pk}/disclosures/").content.decode()
    for row in (
        "Training time",
        "Computational resources used for training",
        "Energy consumption of training",
        "Benchmarked inference computation",
        "National competent authorities",
        "SCI for AI",
        "Published reference points",
    ):
        assert row in page, row
    client.force_login(team.outsider)
    assert client.get(f"/versions/{version.pk}/disclosures/").status_code == 404


def test_an_agentic_deployment_is_scored_per_workflow_execution(world):
    _, _, version, pipeline = world
    deployment = serve(pipeline, version, "agent", tokens=40_000, workflows=125, functional_unit="workflows")
    assert deployment["functional_unit"] == "workflows"
    (consumer,) = disclosures(pipeline, version)["sci_for_ai"]["consumer"]
    per = {s["functional_unit"]: s for s in consumer["scores"]}
    workflow = per["workflow execution (every model call it made)"]
    assert workflow["primary"] and consumer["functional_unit"].startswith("workflow execution")
    # 1,000 model calls in 125 workflow executions: 8 calls' carbon each.
    assert math.isclose(workflow["g_co2e"], per["request (model call)"]["g_co2e"] * 8, rel_tol=1e-6)
    assert consumer["not_reported"] == []


def test_the_review_page_shows_the_checks_on_the_frozen_figures(measured, client):
    team, second_lead, version, _ = measured
    review_id = approved_review(team, second_lead, version)
    client.force_login(team.officer)
    page = client.get(f"/reviews/{review_id}/").content.decode()
    assert "EU model documentation checks" in page and "Advisory in this project" in page
    assert (
        "<strong>FAIL</strong> · <code>compute_cross_check</code>" in page
        and "pass · <code>every_run_counted</code>" in page
    )
