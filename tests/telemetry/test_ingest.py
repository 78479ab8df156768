import time
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from telemetry.agent.backends import ManualClock, SimulatedBackend
from telemetry.models import Agent, IngestBatch, QuarantinedSample, Sample
from telemetry.services import revoke_agent
from tests.conftest import token_client
from tests.telemetry.helpers import enrolled_client, envelope, post, simulated_samples


@pytest.fixture
def sim():
    clock = ManualClock(time.time() - 600)
    return SimulatedBackend(2, seed=7, clock=clock), clock


def test_enrolment_gives_an_agent_its_own_key(db):
    from telemetry.services import create_enrolment_token

    _, token = create_enrolment_token(name="cluster", label_namespaces=["*"])
    response = APIClient().post(
        "/api/v1/telemetry/agents/", {"enrolment_token": token, "hostname": "gpu-7"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["key"].startswith("gla_")
    assert Agent.objects.get(pk=body["agent_id"]).key_hash != body["key"]


def test_bad_enrolment_token_is_refused(db):
    response = APIClient().post(
        "/api/v1/telemetry/agents/", {"enrolment_token": "gle_x_y", "hostname": "h"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["message"] == "Unknown or revoked enrolment token."


def test_batch_is_stored_and_a_replay_changes_nothing(db, sim):
    backend, clock = sim
    client, _ = enrolled_client()
    body = envelope(backend, 1, simulated_samples(backend, clock, 30))
    first = post(client, body, compress=True).json()
    assert (first["accepted"], first["duplicated"], first["quarantined"]) == (60, 0, 0)
    again = post(client, body, compress=True).json()
    assert again["duplicate_batch"] is True and again["accepted"] == 0 and again["duplicated"] == 60
    assert Sample.objects.count() == 60 and IngestBatch.objects.count() == 1


def test_same_samples_in_a_new_batch_are_counted_as_duplicates(db, sim):
    backend, clock = sim
    client, _ = enrolled_client()
    samples = simulated_samples(backend, clock, 5)
    post(client, envelope(backend, 1, samples))
    answer = post(client, envelope(backend, 2, samples)).json()
    assert (answer["accepted"], answer["duplicated"]) == (0, 10)


def test_bad_samples_are_quarantined_with_reasons_and_good_ones_kept(db, sim):
    backend, clock = sim
    client, agent = enrolled_client()
    samples = simulated_samples(backend, clock, 5)
    device = samples[0]["device"]
    bad = [
        {**samples[0], "ts": clock.now + 1, "power_w": -5},
        {**samples[0], "ts": clock.now + 2, "energy_mj": 1},  # counter went backwards, no reset flag
        {**samples[0], "ts": time.time() + 3600},
        {**samples[0], "device": "GPU-UNKNOWN", "ts": clock.now + 3},
        {**samples[0], "ts": "yesterday"},
        "not an object",
    ]
    answer = post(client, envelope(backend, 1, samples + bad)).json()
    assert answer["accepted"] == 10 and answer["quarantined"] == 6
    assert answer["reasons"] == {
        "power_w outside 0 to 5000": 1,
        "energy counter went backwards without a reset flag": 1,
        "timestamp in the future": 1,
        "unknown device": 1,
        "missing or invalid timestamp": 1,
        "not an object": 1,
    }
    stored = QuarantinedSample.objects.filter(agent=agent)
    assert stored.count() == 6 and stored.filter(device_uuid=device, reason="power_w outside 0 to 5000").exists()


def test_readings_of_the_wrong_kind_are_quarantined_field_by_field(db, sim):
    backend, clock = sim
    client, agent = enrolled_client()
    (sample,) = simulated_samples(backend, clock, 1)[:1]
    bad = [
        {**sample, "ts": clock.now + 1, "gpu_util": 50.5},
        {**sample, "ts": clock.now + 2, "temp_c": "hot"},
        {**sample, "ts": clock.now + 3, "mem_used_mb": -1},
        {**sample, "ts": clock.now + 4, "energy_mj": 2**70},
        {**sample, "ts": clock.now + 5, "label": "x" * 201},
        {**sample, "ts": clock.now + 6, "counter_reset": "yes"},
        {**sample, "ts": clock.now + 7, "label": "job\x00one"},
    ]
    ok = {**sample, "ts": clock.now + 8, "energy_mj": sample["energy_mj"] + 5, "power_w": None, "label": None}
    odd_label = {**ok, "ts": clock.now + 9, "label": "team\\a\tjob\n2"}
    answer = post(client, envelope(backend, 1, [*bad, ok, odd_label])).json()
    assert answer["accepted"] == 2
    assert answer["reasons"] == {
        "gpu_util is not a whole number": 1,
        "temp_c is not a whole number": 1,
        "mem_used_mb outside 0 to 2147483647": 1,
        "energy_mj is not a whole number": 1,  # beyond 64 bits, JSON parsers give a float
        "label longer than 200 characters": 1,
        "counter_reset is not true or false": 1,
        "label contains a NUL character": 1,
    }
    kept = QuarantinedSample.objects.get(agent=agent, reason__startswith="label contains")
    assert kept.payload["label"] == "job\ufffdone"  # readable, and nothing else changed
    stored = Sample.objects.order_by("ts")
    assert [(s.power_w, s.label) for s in stored] == [(None, ""), (None, "team\\a\tjob\n2")]


def test_a_counter_that_falls_is_judged_against_the_highest_value_before_it(db, sim):
    backend, clock = sim
    client, _ = enrolled_client()
    (first,) = simulated_samples(backend, clock, 1)[:1]
    post(client, envelope(backend, 1, [first]))  # stored before this batch
    e, t = first["energy_mj"], clock.now

    def at(dt: float, energy: int, reset: bool = False) -> dict:
        return {**first, "ts": t + dt, "energy_mj": energy, "counter_reset": reset}

    batch = [
        at(1, e - 10),  # below the stored value: backwards
        at(2, e + 100),
        at(3, e + 50),  # below e + 100 even though above the sample before it
        at(4, e + 60),  # still below e + 100: backwards too
        at(5, 7, reset=True),  # a driver reload starts the counter again
        at(6, 20),
        at(7, 15),  # below 20 within the new run
    ]
    answer = post(client, envelope(backend, 2, list(reversed(batch)))).json()  # order in the batch does not matter
    assert answer["reasons"] == {"energy counter went backwards without a reset flag": 4}
    kept = sorted(round(ts.timestamp() - t) for ts in Sample.objects.values_list("ts", flat=True))
    assert kept == [0, 2, 5, 6]


def test_a_counter_reset_flag_is_accepted(db, sim):
    backend, clock = sim
    client, _ = enrolled_client()
    samples = simulated_samples(backend, clock, 3)
    reset = {**samples[0], "ts": clock.now + 1, "energy_mj": 5, "counter_reset": True}
    assert post(client, envelope(backend, 1, [*samples, reset])).json()["accepted"] == 7


def test_malformed_batches_are_400_with_the_reason(db):
    client, _ = enrolled_client()
    response = client.post("/api/v1/telemetry/batches/", b"{not json", content_type="application/json")
    assert response.status_code == 400 and "not valid JSON" in response.json()["message"]
    response = post(client, {"batch_seq": "one", "samples": []})
    assert response.status_code == 400 and "batch_seq" in response.json()["errors"]["batch"][0]
    response = client.post(
        "/api/v1/telemetry/batches/", b"garbage", content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )
    assert response.status_code == 400 and "gzip" in response.json()["message"]


def test_agent_key_can_only_ingest(db, team):
    client, _ = enrolled_client()
    assert client.get("/api/v1/projects/").status_code in (401, 403)
    assert client.get("/api/v1/telemetry/devices/").status_code in (401, 403)


def test_api_tokens_and_sessions_cannot_ingest(db, team, sim):
    backend, clock = sim
    client, _ = token_client(team.pipeline)
    response = post(client, envelope(backend, 1, simulated_samples(backend, clock, 1)))
    assert response.status_code in (401, 403)


def test_revoked_agent_key_is_refused(db, sim):
    backend, clock = sim
    client, agent = enrolled_client()
    revoke_agent(agent=agent)
    response = post(client, envelope(backend, 1, simulated_samples(backend, clock, 1)))
    assert response.status_code == 401
    assert response.json()["message"] == "Unknown or revoked agent key."


def test_samples_of_another_day_get_their_partition(db, sim):
    backend, clock = sim
    clock.now -= timedelta(days=3).total_seconds()
    client, _ = enrolled_client()
    assert post(client, envelope(backend, 1, simulated_samples(backend, clock, 2))).json()["accepted"] == 4


def test_an_enrolment_token_enrols_as_many_agents_as_it_says(db):
    from telemetry.services import EnrolmentRefused, create_enrolment_token, enrol_agent

    _, once = create_enrolment_token(name="one host", label_namespaces=["*"])
    enrol_agent(enrolment_token=once, hostname="a")
    with pytest.raises(EnrolmentRefused, match="enrolled its 1 agent"):
        enrol_agent(enrolment_token=once, hostname="b")
    _, twice = create_enrolment_token(name="two hosts", label_namespaces=["*"], max_uses=2)
    enrol_agent(enrolment_token=twice, hostname="a")
    enrol_agent(enrolment_token=twice, hostname="b")
    answer = APIClient().post("/api/v1/telemetry/agents/", {"enrolment_token": twice, "hostname": "c"}, format="json")
    assert answer.status_code == 403 and "already" in answer.json()["message"]
