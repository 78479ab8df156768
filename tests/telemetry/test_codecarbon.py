"""A stock CodeCarbon client records its runs in Greenlight."""

import time

import pytest
from codecarbon import OfflineEmissionsTracker
from rest_framework.test import APIClient

from telemetry.codecarbon import run_footprint
from telemetry.models import CodeCarbonEmission, CodeCarbonRun
from tests.telemetry.helpers import enrolled_client


def codecarbon_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_TOKEN=key)
    return client


@pytest.fixture
def agent_key(transactional_db):
    from telemetry.services import create_enrolment_token, enrol_agent

    _, token = create_enrolment_token(name="cc", label_namespaces=["*"], kind="codecarbon")
    _, key = enrol_agent(enrolment_token=token, hostname="trainer")
    return key


def test_real_codecarbon_client_records_runs_and_emissions(live_server, agent_key, reference_data):
    client = codecarbon_client(agent_key)
    experiment = client.post(
        "/api/v1/codecarbon/experiments",
        {
            "name": "fine-tune",
            "label": "aurora-ft-7",
            "country_iso_code": "FRA",
            "facility": "jean-zay",
            "description": "",
            "on_cloud": False,
            "project_id": "00000000-0000-0000-0000-000000000000",
            "timestamp": "2026-01-01T00:00:00Z",
        },
        format="json",
    ).json()
    tracker = OfflineEmissionsTracker(
        country_iso_code="FRA",
        api_endpoint=f"{live_server.url}/api/v1/codecarbon",
        api_key=agent_key,
        experiment_id=experiment["id"],
        save_to_api=True,
        save_to_file=False,
        measure_power_secs=1,
        api_call_interval=1,
        log_level="error",
    )
    tracker.start()
    deadline = time.time() + 3.5
    while time.time() < deadline:
        sum(i * i for i in range(20_000))
    tracker.stop()

    run = CodeCarbonRun.objects.get()
    assert str(run.experiment.id) == experiment["id"] and run.details["codecarbon_version"]
    emissions = CodeCarbonEmission.objects.filter(run=run)
    assert emissions.exists()
    footprint = run_footprint(run)
    assert footprint.energy_kwh == pytest.approx(sum(e.energy_kwh for e in emissions))
    carbon = footprint.estimate.footprint
    # CodeCarbon's PUE defaults to 1.0 and its uploads carry none: the facility's 1.2 is applied once.
    assert carbon.facility_energy_kwh.central == pytest.approx(footprint.energy_kwh * 1.2)
    assert carbon.location_based_kgco2e.central == pytest.approx(footprint.energy_kwh * 1.2 * 44.18 / 1000, rel=1e-3)
    assert "Jean Zay" in footprint.note and "reported no PUE" in footprint.note
    assert footprint.client_claimed_kgco2e is not None  # kept, not used


def upload(client, experiment, **emission):
    run = client.post(
        "/api/v1/codecarbon/runs",
        {"timestamp": "2026-01-01T00:00:00Z", "experiment_id": experiment},
        format="json",
    ).json()
    body = {"timestamp": "2026-01-01T01:00:00Z", "run_id": run["id"], "duration": 3600, "energy_consumed": 12.0}
    response = client.post("/api/v1/codecarbon/emissions", {**body, **emission}, format="json")
    assert response.status_code == 201, response.json()
    return run_footprint(CodeCarbonRun.objects.get(pk=run["id"]))


def test_a_pue_the_client_reports_is_not_applied_again(agent_key, reference_data):
    client = codecarbon_client(agent_key)
    experiment = client.post(
        "/api/v1/codecarbon/experiments",
        {"name": "x", "country_iso_code": "FRA", "facility": "jean-zay"},
        format="json",
    ).json()["id"]
    own = upload(client, experiment, pue=1.5)
    assert own.estimate.footprint.facility_energy_kwh.central == pytest.approx(12.0)
    assert "own PUE 1.5" in own.note
    default = upload(client, experiment)
    assert default.estimate.footprint.facility_energy_kwh.central == pytest.approx(12.0 * 1.2)


def test_without_a_facility_no_pue_is_guessed(agent_key, reference_data):
    client = codecarbon_client(agent_key)
    experiment = client.post(
        "/api/v1/codecarbon/experiments", {"name": "y", "country_iso_code": "FRA"}, format="json"
    ).json()["id"]
    footprint = upload(client, experiment)
    assert footprint.estimate.footprint.facility_energy_kwh.central == pytest.approx(12.0)
    assert "no facility is known" in footprint.note
    assert any("PUE unknown" in n for n in footprint.estimate.notes)


def test_codecarbon_endpoints_need_an_agent_key(db):
    response = codecarbon_client("glt_x_y").post("/api/v1/codecarbon/experiments", {"name": "x"}, format="json")
    assert response.status_code == 401
    assert APIClient().post("/api/v1/codecarbon/runs", {}, format="json").status_code in (401, 403)


def test_runs_of_another_keys_experiment_are_refused(db):
    from telemetry.codecarbon import create_experiment

    _, owner = enrolled_client("a")
    experiment = create_experiment(agent=owner, data={"name": "theirs"})
    from telemetry.services import create_enrolment_token, enrol_agent

    _, token = create_enrolment_token(name="b", label_namespaces=["*"], kind="codecarbon")
    _, key = enrol_agent(enrolment_token=token, hostname="b")
    response = codecarbon_client(key).post(
        "/api/v1/codecarbon/runs",
        {"timestamp": "2026-01-01T00:00:00Z", "experiment_id": str(experiment.id)},
        format="json",
    )
    assert response.status_code == 400
    assert "Unknown experiment" in response.json()["errors"]["experiment_id"][0]


def test_agent_keys_and_codecarbon_keys_do_only_their_own_job(agent_key, db):
    from telemetry.services import create_enrolment_token, enrol_agent
    from tests.telemetry.helpers import post

    _, token = create_enrolment_token(name="gpus", label_namespaces=["*"])
    _, gpu_key = enrol_agent(enrolment_token=token, hostname="gpu-agent")
    assert (
        codecarbon_client(gpu_key).post("/api/v1/codecarbon/experiments", {"name": "x"}, format="json").status_code
        == 403
    )
    cc = APIClient()
    cc.credentials(HTTP_AUTHORIZATION=f"Agent {agent_key}")  # a CodeCarbon key offered as an agent's
    assert post(cc, {"batch_seq": 1, "samples": []}).status_code == 403


def test_a_codecarbon_key_writes_only_its_namespaces(db):
    from telemetry.services import create_enrolment_token, enrol_agent

    _, token = create_enrolment_token(name="aurora-cc", label_namespaces=["aurora"], kind="codecarbon")
    _, key = enrol_agent(enrolment_token=token, hostname="notebook")
    client = codecarbon_client(key)
    refused = client.post("/api/v1/codecarbon/experiments", {"name": "x", "label": "vision/ft"}, format="json")
    assert refused.status_code == 400 and "aurora" in refused.json()["errors"]["label"][0]
    ok = client.post("/api/v1/codecarbon/experiments", {"name": "x", "label": "aurora/ft"}, format="json")
    assert ok.status_code == 201
