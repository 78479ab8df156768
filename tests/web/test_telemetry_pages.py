import time

from telemetry.agent.backends import ManualClock, SimulatedBackend
from telemetry.rollups import roll_up_pending
from tests.factories import PASSWORD
from tests.telemetry.helpers import enrolled_client, envelope, post, simulated_samples


def test_devices_page_and_label_chart(client, team):
    clock = ManualClock(time.time() - 300)
    backend = SimulatedBackend(2, seed=21, clock=clock)
    agent_client, _ = enrolled_client("gpu-node-9")
    post(agent_client, envelope(backend, 1, simulated_samples(backend, clock, 240, label="train-7")))
    roll_up_pending()  # what the periodic task does
    client.login(username=team.ml_lead.username, password=PASSWORD)
    html = client.get("/telemetry/").content.decode()
    assert "gpu-node-9" in html and "online" in html and "train-7" in html
    html = client.get("/telemetry/chart/?label=train-7&hours=1").content.decode()
    assert html.count("<svg") == 2 and "counter" in html and "kWh" in html


def test_devices_page_explains_how_to_start(client, team):
    client.login(username=team.ml_lead.username, password=PASSWORD)
    assert "create_enrolment_token" in client.get("/telemetry/").content.decode()
