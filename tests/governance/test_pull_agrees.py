"""The same series two ways: remote-written to Greenlight (rolled up by its own minutes)
and backfilled into a real Prometheus asked with PromQL. A run's energy agrees between
them and with the simulator's counters within 1 %; a stopped Prometheus is a finding."""

import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest

from governance.models import StoredFootprint
from governance.services import ledger
from telemetry import queries
from telemetry.agent.backends import ManualClock, SimulatedBackend
from telemetry.models import MetricsStore, StoreReading
from telemetry.promql import ENERGY
from telemetry.rollups import roll_up_pending
from tests.prometheus import needs_prometheus, prometheus, wait_for
from tests.telemetry.test_remote_write import fleet_key, send, v1_body, writer
from tests.workflow import close_run, open_run

STEP_S, MINUTES = 15, 30


@needs_prometheus
def test_pull_and_remote_write_agree_with_the_simulator(world, tmp_path):
    team, _, version, pipeline = world
    label, pod = f"{team.project.slug}/agree", "agree"
    clock = ManualClock(time.time() - 2 * 3600)
    backend = SimulatedBackend(2, seed=5, clock=clock)
    readings = []
    for _ in range(MINUTES * 60 // STEP_S + 1):
        readings += backend.read()[0]
        clock.now += STEP_S

    # Remote-Write: the series as dcgm-exporter and Prometheus would send them.
    series = []
    for gpu in backend.gpus:
        labels = {
            "__name__": ENERGY,
            "UUID": gpu.uuid,
            "gpu": str(gpu.index),
            "namespace": team.project.slug,
            "pod": pod,
        }
        series.append((labels, [(r.energy_mj, round(r.ts * 1000)) for r in readings if r.device == gpu.uuid]))
    assert send(writer(fleet_key()), v1_body(series)).status_code == 204

    # Pull: the same samples backfilled into Prometheus with its own tool.
    lines = [
        f'{ENERGY}{{UUID="{r.device}",namespace="{team.project.slug}",pod="{pod}"}} {r.energy_mj} {r.ts:.3f}\n'
        for r in readings
    ]
    (tmp_path / "dcgm.om").write_text(f"# TYPE {ENERGY} gauge\n" + "".join(lines) + "# EOF\n")
    subprocess.run(
        [
            "promtool",
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "-q",
            str(tmp_path / "dcgm.om"),
            str(tmp_path / "data"),
        ],
        check=True,
    )
    start = datetime.fromtimestamp(readings[0].ts, UTC)
    end = datetime.fromtimestamp(readings[-1].ts, UTC)
    truth_kwh = (
        sum(
            (
                max(r.energy_mj for r in readings if r.device == g.uuid)
                - min(r.energy_mj for r in readings if r.device == g.uuid)
            )
            for g in backend.gpus
        )
        / 3.6e9
    )

    roll_up_pending()
    run_id = open_run(pipeline, version, label, start).json()["id"]
    close_run(pipeline, run_id, end)
    pushed = StoredFootprint.objects.get(run_id=run_id)
    pushed_kwh = queries.energy(start=start - timedelta(minutes=1), end=end + timedelta(minutes=1), labels=[label])
    assert pushed.method == "counter" and pushed_kwh.energy_kwh == pytest.approx(truth_kwh, rel=0.01)

    with prometheus(tmp_path, "global: {scrape_interval: 1m}\nscrape_configs: []\n") as url:
        wait_for(url, f"count_over_time({ENERGY}[3h])")  # the backfilled blocks are loaded
        store = MetricsStore.objects.create(name="fleet Prometheus", url=url, scrape_interval_s=STEP_S)
        team.project.metrics_store = store
        team.project.save()  # its runs are asked again (the store is new)
        ledger.recompute_stale()
        pulled = StoredFootprint.objects.get(run_id=run_id)
        reading = StoreReading.objects.filter(label=label).latest("asked_at")
    assert pulled.method == "prometheus" and reading.status == "ok" and reading.coverage == pytest.approx(1.0)
    assert reading.energy_kwh == pytest.approx(truth_kwh, rel=0.01)
    assert pulled.facility_energy_kwh == pytest.approx(pushed.facility_energy_kwh, rel=0.01)  # the two paths agree

    # Prometheus is stopped: asked again, the store is down — a finding, not a zero.
    store.save()
    ledger.recompute_stale()
    down = StoredFootprint.objects.get(run_id=run_id)
    assert down.source == "estimate" and "unreachable" in down.problem
