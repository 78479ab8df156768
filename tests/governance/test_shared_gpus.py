"""Shared GPUs: a MIG GPU's metered energy apportioned to its instances by engine
activity, a time-sliced GPU's split equally between its pods; the parts add up to the
meter (within 2%), and a run's footprint says what its energy is a share of."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from governance.models import StoredFootprint
from telemetry import queries
from telemetry.models import Device
from telemetry.rollups import roll_up_pending
from tests.telemetry.test_remote_write import fleet_key, send, v1_body, writer
from tests.workflow import close_run, open_run

MIG_GPU, SLICED_GPU = "GPU-aaaaaaaa-0000-4000-8000-000000000000", "GPU-bbbbbbbb-0000-4000-8000-000000000001"
SCRAPE_MS, POINTS = 15_000, 61  # 15 minutes of 15 s scrapes


def _series(start_ms: int) -> list:
    """GPU 0 (300 W) in three MIG instances: all idle for 5 minutes, then instance 1 (pod
    train-a) 60 % busy and instance 2 (pod train-b) 20 %; instance 3 runs no pod. GPU 1
    (150 W) time-sliced by pods train-a and train-c, with no activity per pod."""
    times = [start_ms + n * SCRAPE_MS for n in range(POINTS)]
    series = []

    def add(name, labels, values):
        series.append(({"__name__": name, **labels}, list(zip(values, times, strict=True))))

    for gpu, uuid, watts, consumers in (
        (
            "0",
            MIG_GPU,
            300.0,
            [({"GPU_I_ID": "1"}, "train-a", 0.6), ({"GPU_I_ID": "2"}, "train-b", 0.2), ({"GPU_I_ID": "3"}, None, 0.0)],
        ),
        ("1", SLICED_GPU, 150.0, [({}, "train-a", None), ({}, "train-c", None)]),
    ):
        for extra, pod, busy in consumers:
            labels = {"UUID": uuid, "gpu": gpu, "modelName": "NVIDIA H100 80GB HBM3", **extra}
            if pod:
                labels |= {"namespace": "aurora", "pod": pod}
            add("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", labels, [1e9 + watts * (t - times[0]) for t in times])
            add("DCGM_FI_DEV_POWER_USAGE", labels, [watts] * POINTS)
            if busy is not None:
                add("DCGM_FI_PROF_GR_ENGINE_ACTIVE", labels, [0.0 if t - times[0] < 300_000 else busy for t in times])
    return series


def test_shared_gpus_are_apportioned_and_add_up_to_the_meter(world):
    _, _, version, pipeline = world
    client = writer(fleet_key())
    start_ms = int(time.time() * 1000) - 20 * 60_000
    body = v1_body(_series(start_ms))
    assert send(client, body).status_code == 204
    assert send(client, body).status_code == 204  # replayed: nothing twice
    roll_up_pending()

    shares = Device.objects.filter(parent__uuid=MIG_GPU)
    assert shares.count() == 3 and set(shares.values_list("attribution", flat=True)) == {"engine_active"}
    assert set(Device.objects.filter(parent__uuid=SLICED_GPU).values_list("attribution", flat=True)) == {"equal"}

    start = datetime.fromtimestamp(start_ms / 1000, UTC) - timedelta(minutes=1)
    end = start + timedelta(minutes=17)
    kwh = lambda joules: joules / 3.6e6  # noqa: E731
    # train-a: a third of 300 W for 5 minutes, then 0.6 / (0.6 + 0.2) of it for 10; half of 150 W throughout.
    a = queries.energy(start=start, end=end, labels=["aurora/train-a"])
    assert a.energy_kwh == pytest.approx(kwh(100 * 300 + 225 * 600 + 75 * 900), rel=0.02)
    assert a.shared_gpus == 2
    b = queries.energy(start=start, end=end, labels=["aurora/train-b"])
    assert b.energy_kwh == pytest.approx(kwh(100 * 300 + 75 * 600), rel=0.02)

    balance = queries.balance(label="aurora/train-a", start=start, end=end)
    assert balance.metered_kwh == pytest.approx(kwh(450 * 900), rel=0.001)  # the counters
    # Instance 3, while all were idle (the scrape that sees the switch shares its 15 s between the two).
    assert balance.idle_kwh == pytest.approx(kwh(100 * 300), rel=0.03)
    assert balance.closure == pytest.approx(1.0, abs=0.02)
    assert balance.label_kwh == pytest.approx(a.energy_kwh, rel=1e-9)

    # The run that carried the label says what its energy is a share of.
    started = datetime.fromtimestamp(start_ms / 1000, UTC)
    run_id = open_run(pipeline, version, "aurora/train-a", started).json()["id"]
    close_run(pipeline, run_id, started + timedelta(seconds=900))
    note = StoredFootprint.objects.get(run_id=run_id).note
    assert "On 2 shared GPU(s)" in note and "by each share's graphics-engine activity, equal split" in note
    assert "% of metered" in note


def test_an_agent_declares_shares_of_its_own_gpus_only(db):
    from tests.telemetry.helpers import enrolled_client

    client, _ = enrolled_client("host-a")
    other, _ = enrolled_client("host-b")
    gpu = {"uuid": "GPU-own-0", "index": 0, "name": "H100"}
    share = {"uuid": "GPU-own-0/1", "index": 0, "name": "H100 MIG 1", "parent": "GPU-own-0", "attribution": "equal"}
    ok = client.post(
        "/api/v1/telemetry/batches/", {"batch_seq": 1, "devices": [gpu, share], "samples": []}, format="json"
    )
    assert ok.status_code == 200 and Device.objects.get(uuid="GPU-own-0/1").parent.uuid == "GPU-own-0"
    theirs = {**share, "uuid": "GPU-theirs-0/1"}
    refused = other.post(
        "/api/v1/telemetry/batches/", {"batch_seq": 1, "devices": [theirs], "samples": []}, format="json"
    )
    assert refused.status_code == 400 and "is not a GPU of this agent" in str(refused.json())
    bad = {**share, "uuid": "GPU-own-0/2", "attribution": "by-feel"}
    refused = client.post(
        "/api/v1/telemetry/batches/", {"batch_seq": 2, "devices": [gpu, bad], "samples": []}, format="json"
    )
    assert refused.status_code == 400 and "attribution" in str(refused.json())
