"""Batches written to break or forge telemetry: each gets a 400 or a quarantine with
its reason, never a 500, and none can rewrite another agent's energy."""

import gzip
import json
import time

import pytest

from telemetry.agent.backends import ManualClock, SimulatedBackend
from telemetry.models import Device, QuarantinedSample, Sample
from tests.telemetry.helpers import enrolled_client, envelope, post, simulated_samples


@pytest.fixture
def sim():
    clock = ManualClock(time.time() - 600)
    return SimulatedBackend(1, seed=13, clock=clock), clock


def device(**changes):
    return {"uuid": "GPU-1", "name": "H100", "index": 0, "driver": "555", "energy_counter": True, **changes}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"batch_seq": 2**63, "samples": []}, "batch_seq"),
        ({"batch_seq": 1, "devices": [device(index="zero")], "samples": []}, "'index' must be a whole number"),
        ({"batch_seq": 1, "devices": [device(index=70_000)], "samples": []}, "'index' must be a whole number"),
        ({"batch_seq": 1, "devices": [device(uuid="G" * 97)], "samples": []}, "1 to 96 characters"),
        ({"batch_seq": 1, "devices": [device(name="H100\x00")], "samples": []}, "NUL"),
        ({"batch_seq": 1, "devices": [device(driver=5)], "samples": []}, "'driver' must be a string"),
        ({"batch_seq": 1, "devices": ["GPU-1"], "samples": []}, "each device must be an object"),
    ],
)
def test_a_malformed_batch_is_a_400_with_the_reason(db, body, reason):
    client, _ = enrolled_client()
    response = post(client, body)
    assert response.status_code == 400, response.content
    assert reason in response.json()["errors"]["batch"][0]


def test_odd_samples_are_quarantined_not_a_500(db, sim):
    backend, clock = sim
    client, _ = enrolled_client()
    good = simulated_samples(backend, clock, 2)
    odd = [None, {**good[0], "device": ["GPU-1"]}, {**good[0], "device": {"x": 1}}]
    answer = post(client, envelope(backend, 1, [*good, *odd]))
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["accepted"], body["quarantined"]) == (2, 3)
    assert body["reasons"] == {"not an object": 1, "unknown device": 2}
    assert QuarantinedSample.objects.filter(reason="not an object").get().payload is None  # kept as received


def test_a_counter_cannot_jump_faster_than_the_device_draws(db, sim):
    backend, clock = sim
    client, _ = enrolled_client()
    samples = simulated_samples(backend, clock, 10)
    forged = {**samples[-1], "ts": samples[-1]["ts"] + 1, "energy_mj": 10**15}
    answer = post(client, envelope(backend, 1, [*samples, forged])).json()
    assert answer["accepted"] == 10 and answer["reasons"] == {
        "energy counter rose faster than the device can draw power": 1
    }
    # across batches too: the last stored value is the reference
    again = {**samples[-1], "ts": samples[-1]["ts"] + 2, "energy_mj": samples[-1]["energy_mj"] + 10**12}
    assert post(client, envelope(backend, 2, [again])).json()["quarantined"] == 1
    # a long gap allows as much as the power limit allows over it, no more
    later = {**samples[-1], "ts": samples[-1]["ts"] + 100, "energy_mj": samples[-1]["energy_mj"] + 60_000_000}
    assert post(client, envelope(backend, 3, [later])).json()["accepted"] == 1


def test_another_agent_cannot_take_a_device_over(db, sim):
    backend, clock = sim
    owner_client, owner = enrolled_client("owner-host")
    samples = simulated_samples(backend, clock, 5)
    assert post(owner_client, envelope(backend, 1, samples)).json()["accepted"] == 5
    thief_client, _ = enrolled_client("thief-host")
    forged = [{**s, "ts": s["ts"] + 30, "label": "someone-elses-run"} for s in samples]
    answer = post(thief_client, envelope(backend, 1, forged)).json()
    assert answer["accepted"] == 0 and answer["reasons"] == {"device belongs to another agent": 5}
    assert Device.objects.get(uuid=backend.gpus[0].uuid).agent == owner
    assert not Sample.objects.filter(label="someone-elses-run").exists()


def test_timestamps_beyond_a_minute_ahead_are_refused(db, sim):
    backend, clock = sim
    client, _ = enrolled_client()
    sample = simulated_samples(backend, clock, 1)[0]
    ahead = {**sample, "ts": time.time() + 120}
    assert post(client, envelope(backend, 1, [ahead])).json()["reasons"] == {"timestamp in the future": 1}


def test_samples_per_batch_are_bounded_before_any_work(db, sim):
    backend, _ = sim
    client, _ = enrolled_client()
    tiny = json.dumps({"batch_seq": 1, "samples": [{}] * 300_000}).encode()
    response = client.post(
        "/api/v1/telemetry/batches/",
        gzip.compress(tiny),
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
    )
    assert response.status_code == 400 and "at most 20,000 samples" in response.json()["message"]
    big = envelope(backend, 2, [{"device": "x"}] * 20_001)
    response = post(client, big)
    assert response.status_code == 400


def test_power_above_the_devices_limit_is_refused(db, sim):
    backend, clock = sim
    client, _ = enrolled_client()
    sample = simulated_samples(backend, clock, 1)[0]
    forged = {**sample, "power_w": 4000.0, "power_limit_w": 700.0}
    answer = post(client, envelope(backend, 1, [forged])).json()
    assert answer["reasons"] == {"power_w above the device's power limit": 1}


def test_a_batch_that_inflates_past_8_mib_is_refused_and_stores_nothing(db, sim):
    backend, clock = sim
    client, _ = enrolled_client()
    sample = simulated_samples(backend, clock, 1)[0]
    padded = envelope(backend, 1, [{**sample, "label": "x" * 200}] * 19_000)  # ~9 MiB of JSON, 60 KiB gzipped
    raw = json.dumps(padded).encode()
    assert len(raw) > 8 * 2**20 and len(gzip.compress(raw)) < 2**20
    response = client.post(
        "/api/v1/telemetry/batches/", gzip.compress(raw), content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )
    assert response.status_code == 400
    assert response.json()["message"] == "The decompressed batch exceeds 8 MiB."
    assert Sample.objects.count() == 0 and QuarantinedSample.objects.count() == 0
    assert post(client, envelope(backend, 1, [sample])).json()["accepted"] == 1  # the agent's next batch goes in


def test_samples_older_than_the_retention_are_quarantined_with_the_reason(db, sim, settings):
    backend, clock = sim
    client, _ = enrolled_client()
    good = simulated_samples(backend, clock, 2)
    stale = {**good[0], "ts": time.time() - (settings.TELEMETRY_RAW_RETENTION_DAYS + 1) * 86400}
    answer = post(client, envelope(backend, 1, [*good, stale])).json()
    assert (answer["accepted"], answer["quarantined"]) == (2, 1)
    assert answer["reasons"] == {"timestamp older than the raw-data retention": 1}
    assert QuarantinedSample.objects.get().payload["ts"] == stale["ts"]  # kept as received
