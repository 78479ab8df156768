import time

from telemetry.agent.backends import ManualClock, SimulatedBackend
from telemetry.rollups import roll_up_pending
from tests.factories import PASSWORD
from tests.telemetry.helpers import enrolled_client, envelope, post, simulated_samples
from tests.workflow import measured_run


def test_devices_page_and_label_chart(client, world):
    team, _, version, pipeline = world
    clock = ManualClock(time.time() - 300)
    backend = SimulatedBackend(2, seed=21, clock=clock)
    agent_client, _ = enrolled_client("gpu-node-9")
    label = f"{team.project.slug}/train-7"
    post(agent_client, envelope(backend, 1, simulated_samples(backend, clock, 240, label=label)))
    roll_up_pending()  # what the periodic task does
    measured_run(pipeline, version, "train-7")  # the project's run: the label is the project's
    client.login(username=team.ml_lead.username, password=PASSWORD)
    html = client.get("/telemetry/").content.decode()
    assert "gpu-node-9" in html and "online" in html and "train-7" in html
    html = client.get(f"/telemetry/chart/?label={label}&hours=1").content.decode()
    assert html.count("<svg") == 2 and "counter" in html and "kWh" in html
    assert client.get(f"/telemetry/chart/?label={label}&hours=abc").status_code == 400


def test_an_outsider_sees_no_label_energy_and_no_device(client, world):
    team, _, version, pipeline = world
    measured_run(pipeline, version, "secret-run")
    label = f"{team.project.slug}/secret-run"
    client.login(username=team.outsider.username, password=PASSWORD)
    html = client.get("/telemetry/").content.decode()
    assert "secret-run" not in html
    assert client.get(f"/telemetry/chart/?label={label}").status_code == 404
    from tests.conftest import client_for

    api = client_for(team.outsider)
    assert api.get(f"/api/v1/telemetry/energy/?label={label}").status_code == 404
    assert api.get("/api/v1/telemetry/devices/").json()["count"] == 0
    assert api.get("/api/v1/telemetry/quarantine/").status_code == 403
    member = client_for(team.auditor)
    assert member.get(f"/api/v1/telemetry/energy/?label={label}").json()["energy_kwh"] > 0
    assert member.get("/api/v1/telemetry/devices/").json()["count"] == 2


def test_devices_page_explains_how_to_start(client, team):
    client.login(username=team.ml_lead.username, password=PASSWORD)
    assert "create_enrolment_token" in client.get("/telemetry/").content.decode()
