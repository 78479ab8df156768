"""Pull mode: a run's energy asked of the fleet's own Prometheus with PromQL, and every
way that can fail said in the run, the gate and the figures — never a silent zero."""

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import REGISTRY

from governance.models import StoredFootprint
from telemetry.models import MetricsStore, StoreReading
from tests.prometheus import WATTS, dcgm_exporter, free_port, needs_prometheus, prometheus, wait_for
from tests.workflow import close_run, findings, gate, open_run


def open_and_close(pipeline, version, label, start, end):
    run_id = open_run(pipeline, version, f"{version.project.slug}/{label}", start).json()["id"]
    close_run(pipeline, run_id, end)
    return run_id


def use_store(team, **fields):
    store = MetricsStore.objects.create(name="fleet Prometheus", **fields)
    team.project.metrics_store = store
    team.project.save()
    return store


@needs_prometheus
@pytest.mark.django_db(transaction=True)
def test_a_runs_energy_is_asked_of_the_fleets_prometheus(reference_data, world, tmp_path):
    team, _, version, pipeline = world
    config = """
global: {{scrape_interval: 1s}}
scrape_configs:
  - job_name: dcgm
    static_configs: [{{targets: ["{exporter}"]}}]
"""
    # A job of two pods (one per GPU, sharing the run's greenlight_run label), each GPU in
    # two MIG instances: each GPU's counter appears once per instance and counts once.
    with (
        dcgm_exporter(team.project.slug, "train-pull", mig=True, run=f"{team.project.slug}/train-pull") as exporter,
        prometheus(tmp_path, config.format(exporter=exporter)) as url,
    ):
        wait_for(url, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION")  # the series exists before the run starts
        start = datetime.now(UTC) + timedelta(seconds=2)
        end = start + timedelta(seconds=8)
        time.sleep((end - datetime.now(UTC)).total_seconds() + 2.5)  # scraped past the run's end
        store = use_store(team, url=url, scrape_interval_s=1)
        run_id = open_and_close(pipeline, version, "train-pull", start, end)
        record = StoredFootprint.objects.get(run_id=run_id)
        reading = StoreReading.objects.filter(label=f"{team.project.slug}/train-pull").latest("asked_at")
        assert (reading.start, reading.end) == (start, end)  # the closed run's window
        assert (reading.status, reading.url, record.method, record.source) == ("ok", url, "prometheus", "telemetry")
        assert "increase(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" in reading.query and len(reading.per_gpu) == 2
        assert reading.energy_kwh == pytest.approx(sum(WATTS) * 8 / 3.6e6, rel=0.15)
        assert reading.coverage > 0.8 and record.coverage == reading.coverage
        assert "metrics store" in record.note and record.problem == ""
        assert store.readings.count() == 2  # asked when the run opened, and when it closed
    answer = gate(pipeline, version)
    assert findings(answer)["telemetry_coverage"] is True


class Store(BaseHTTPRequestHandler):
    """A Prometheus query API that answers as told: empty, slowly, or with an error."""

    mode = "empty"
    answer = []

    def do_GET(self):
        if self.mode == "slow":
            time.sleep(2)
        if self.mode == "error":
            self.send_response(503)
            self.end_headers()
            return
        result = self.answer if self.mode == "answer" else []
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(
    ("mode", "status", "said"),
    [
        ("empty", "empty", "no DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION series"),
        ("slow", "timeout", "no answer within 1 s"),
        ("error", "down", "HTTP 503"),
        ("closed", "down", "unreachable"),
    ],
)
def test_a_store_that_cannot_answer_is_a_finding_not_a_zero(world, mode, status, said):
    team, _, version, pipeline = world
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("S", (Store,), {"mode": mode}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_port if mode != "closed" else free_port()
    counted = REGISTRY.get_sample_value("greenlight_pull_queries_total", {"status": status}) or 0
    try:
        use_store(team, url=f"http://127.0.0.1:{port}", timeout_s=1)
        end = datetime.now(UTC) - timedelta(minutes=5)
        run_id = open_and_close(pipeline, version, f"pull-{mode}", end - timedelta(hours=1), end)
    finally:
        server.shutdown()
    reading = StoreReading.objects.filter(label__endswith=f"pull-{mode}").latest("asked_at")
    assert REGISTRY.get_sample_value("greenlight_pull_queries_total", {"status": status}) == counted + 2  # open, close
    assert reading.status == status and said in reading.error and reading.energy_kwh is None
    record = StoredFootprint.objects.get(run_id=run_id)
    assert record.source == "estimate" and record.coverage == 0 and said in record.problem
    assert record.facility_energy_kwh > 0  # estimated, and says so
    assert record.note.startswith("Energy not measured: fleet Prometheus")
    answer = gate(pipeline, version)
    coverage = next(f for f in answer["findings"] if f["rule"] == "telemetry_coverage")
    assert coverage["passed"] is False and said in coverage["message"]
    assert said in coverage["evidence"]["not_measured"][f"{team.project.slug}/pull-{mode}"]


def test_a_deployments_energy_is_asked_of_the_store_for_its_usage_windows(world):
    """The per-token figures the gate and the post-release review read come from the
    store too; a store that fails says so in the deployment's note."""
    from governance.services import ledger
    from tests.api.test_webhooks_and_post_release import serve

    team, _, version, pipeline = world
    one_gpu = [{"metric": {"UUID": "GPU-store-0"}, "value": [0, "7200000"]}]  # 7.2e6 mJ = 2 Wh
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("S", (Store,), {"mode": "answer", "answer": one_gpu}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        store = use_store(team, url=f"http://127.0.0.1:{server.server_port}", timeout_s=2)
        serve(pipeline, version, "chat-pull", tokens=2_000)
        (served,) = ledger.version_snapshot(version)["deployments"]
    finally:
        server.shutdown()
    assert served["energy_kwh"] == pytest.approx(0.002) and served["wh_per_1k_tokens"] == pytest.approx(1.0)
    assert StoreReading.objects.filter(store=store, label__endswith="chat-pull", status="ok").exists()

    MetricsStore.objects.filter(pk=store.pk).update(url=f"http://127.0.0.1:{free_port()}")  # the store goes away
    ledger.mark_versions_stale([version.pk])
    (served,) = ledger.version_snapshot(version)["deployments"]
    assert served["note"].startswith("Energy not measured: fleet Prometheus") and "unreachable" in served["note"]
    assert served["wh_per_1k_tokens"] is None
