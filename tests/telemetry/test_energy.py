"""Energy from rollups against the simulated truth."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from telemetry import queries
from telemetry.agent.backends import ManualClock, SimulatedBackend
from telemetry.rollups import roll_up_pending
from tests.telemetry.helpers import enrolled_client, envelope, post, simulated_samples


def window(clock_start: float, clock_end: float):
    return datetime.fromtimestamp(clock_start - 120, UTC), datetime.fromtimestamp(clock_end + 120, UTC)


@pytest.fixture
def run(db, settings):
    settings.TELEMETRY_ROLLUP_INLINE = False
    clock = ManualClock(time.time() - 3600)
    backend = SimulatedBackend(2, seed=3, clock=clock)
    start = clock.now
    first = {g.uuid: g.energy_j for g in backend.gpus}
    client, _ = enrolled_client()
    samples = simulated_samples(backend, clock, 300, label="train-42")
    for seq, chunk in enumerate(range(0, len(samples), 100), start=1):
        post(client, envelope(backend, seq, samples[chunk : chunk + 100]))
    roll_up_pending()
    truth_kwh = sum(g.energy_j - first[g.uuid] for g in backend.gpus) / 3.6e6
    return start, clock.now, truth_kwh, backend, client, clock


def test_energy_from_counters_matches_the_simulated_truth(run):
    start, end, truth_kwh, *_ = run
    e = queries.energy(start=window(start, end)[0], end=window(start, end)[1], labels=["train-42"])
    assert e.method == "counter"
    assert e.energy_kwh == pytest.approx(truth_kwh, rel=0.005)
    assert e.coverage == pytest.approx(1.0, abs=0.02)
    assert e.devices == 2
    assert 0 < e.idle_energy_kwh < e.energy_kwh  # the idle start of each GPU


def test_rolling_up_again_changes_nothing(run):
    start, end, truth_kwh, *_ = run
    from telemetry.models import IngestBatch
    from telemetry.rollups import roll_up_range

    IngestBatch.objects.update(rolled_up=False)
    roll_up_pending()
    devices = list(IngestBatch.objects.first().agent.devices.values_list("pk", flat=True))
    roll_up_range(devices, datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
    e = queries.energy(start=window(start, end)[0], end=window(start, end)[1], labels=["train-42"])
    assert e.energy_kwh == pytest.approx(truth_kwh, rel=0.005)


def test_lost_samples_lose_no_energy_with_counters_but_lower_coverage(db, settings):
    settings.TELEMETRY_ROLLUP_INLINE = False
    clock = ManualClock(time.time() - 3600)
    backend = SimulatedBackend(1, seed=5, clock=clock)
    start, first = clock.now, backend.gpus[0].energy_j
    client, _ = enrolled_client()
    samples = simulated_samples(backend, clock, 600, step=5)
    kept = samples[:40] + samples[60:]  # 100 s of samples never arrive (a 105 s gap between those kept)
    post(client, envelope(backend, 1, kept))
    roll_up_pending()
    e = queries.energy(
        start=window(start, clock.now)[0], end=window(start, clock.now)[1], device_ids=None, labels=["run-1"]
    )
    assert e.energy_kwh == pytest.approx((backend.gpus[0].energy_j - first) / 3.6e6, rel=0.005)
    assert e.coverage == pytest.approx(1 - 105 / 600, abs=0.02)


def test_power_integration_where_no_counter(db, settings):
    settings.TELEMETRY_ROLLUP_INLINE = False
    clock = ManualClock(time.time() - 3600)
    backend = SimulatedBackend(1, seed=9, clock=clock)
    start, first = clock.now, backend.gpus[0].energy_j
    client, _ = enrolled_client()
    samples = [{**s, "energy_mj": None} for s in simulated_samples(backend, clock, 300)]
    post(client, envelope(backend, 1, samples))
    roll_up_pending()
    e = queries.energy(start=window(start, clock.now)[0], end=window(start, clock.now)[1], labels=["run-1"])
    assert e.method == "power"
    assert e.energy_kwh == pytest.approx((backend.gpus[0].energy_j - first) / 3.6e6, rel=0.01)


def test_a_late_batch_is_rolled_into_its_minutes(run):
    start, _, _, backend, client, clock = run
    late = simulated_samples(backend, clock, 60, label="train-42")
    before = queries.energy(start=window(start, clock.now)[0], end=window(start, clock.now)[1], labels=["train-42"])
    post(client, envelope(backend, 99, late))
    roll_up_pending()
    after = queries.energy(start=window(start, clock.now)[0], end=window(start, clock.now)[1], labels=["train-42"])
    assert after.energy_kwh > before.energy_kwh
    assert after.last_sample > before.last_sample - timedelta(seconds=1)


def test_a_labels_energy_is_read_from_the_rollups_alone(run):
    """Once rolled up, the raw samples are not read: the answer survives their removal."""
    from django.db import connection

    start, end, *_ = run
    before = queries.energy(start=window(start, end)[0], end=window(start, end)[1], labels=["train-42"])
    first = before.first_sample
    assert first is not None and first != first.replace(second=0, microsecond=0)  # a sample's time, not a minute's
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM telemetry_sample")
    after = queries.energy(start=window(start, end)[0], end=window(start, end)[1], labels=["train-42"])
    assert after == before


def test_a_batch_of_windows_gets_what_each_window_gets_alone(run):
    """Recomputing many runs reads their telemetry in one query: the same answers, in order,
    a window with no telemetry included."""
    start, end, *_ = run
    lo, hi = window(start, end)
    middle = lo + (hi - lo) / 2
    windows = [("train-42", lo, hi), ("nobody", lo, hi), ("train-42", middle, hi), ("train-42", lo, middle)]
    batch = queries.label_energies(windows)
    assert batch == [queries.energy(start=s, end=e, labels=[label]) for label, s, e in windows]
    assert batch[1].method == "none" and batch[0].energy_kwh > batch[2].energy_kwh > 0
