"""Prometheus Remote-Write: a real Prometheus server scrapes a dcgm-exporter's series and
writes them to Greenlight, which stores them through the agent ingest path."""

import json
import time
from urllib.parse import urlencode
from urllib.request import urlopen

import cramjam
import pytest
from django.db.models import Max, Min
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from telemetry import queries
from telemetry.models import Device, IngestBatch, MetricsStore, QuarantinedSample, Sample
from telemetry.promql import read_energy
from telemetry.remote_write import V1, V2, RequestV2, WriteRequest
from telemetry.rollups import roll_up_pending
from telemetry.services import create_enrolment_token, enrol_agent
from tests.prometheus import GPUS, WATTS, answer_lost, needs_prometheus, prometheus


def compress(raw: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(raw))  # the block format, as the spec asks


URL = "/api/v1/telemetry/prometheus/write"


def fleet_key(hostname: str = "prometheus") -> str:
    _, token = create_enrolment_token(name="prometheus", label_namespaces=["*"])
    _, key = enrol_agent(enrolment_token=token, hostname=hostname)
    return key


def writer(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def send(client: APIClient, body: bytes, proto: str = V1, **headers: str):
    content_type = "application/x-protobuf" + (f";proto={proto}" if proto != V1 else "")
    return client.generic(
        "POST",
        URL,
        body,
        content_type=content_type,
        HTTP_CONTENT_ENCODING=headers.get("encoding", "snappy"),
        HTTP_X_PROMETHEUS_REMOTE_WRITE_VERSION="2.0.0" if proto == V2 else "0.1.0",
    )


def v1_body(series: list[tuple[dict[str, str], list[tuple[float, int]]]]) -> bytes:
    request = WriteRequest()
    for labels, points in series:
        ts = request.timeseries.add()
        for name, value in sorted(labels.items()):
            ts.labels.add(name=name, value=value)
        for value, ms in points:
            ts.samples.add(value=value, timestamp=ms)
    return compress(request.SerializeToString())


def dcgm_series(now_ms: int, seconds: int = 30) -> list:
    series = []
    for (uuid, gpu), watts in zip(GPUS, WATTS, strict=True):
        base = {"UUID": uuid, "gpu": gpu, "modelName": "NVIDIA H100 80GB HBM3", "Hostname": "node-7"}
        base |= {"namespace": "research", "pod": "train-42", "container": "trainer"}
        points = range(now_ms - seconds * 1000, now_ms + 1, 1000)
        series.append(
            (
                {"__name__": "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", **base},
                [(1e9 + watts * (ms - points[0]), ms) for ms in points],  # mJ: W × ms
            )
        )
        series.append(({"__name__": "DCGM_FI_DEV_POWER_USAGE", **base}, [(watts, ms) for ms in points]))
    series.append(({"__name__": "up", "job": "dcgm"}, [(1.0, now_ms)]))
    return series


def test_a_write_is_stored_as_gpu_samples_once(db):
    client = writer(fleet_key())
    now_ms = int(time.time() * 1000)
    body = v1_body(dcgm_series(now_ms))
    assert send(client, body).status_code == 204
    assert send(client, body).status_code == 204  # Prometheus retries a write it thinks failed
    assert Sample.objects.count() == 2 * 31  # two GPUs × 31 s, once
    assert IngestBatch.objects.count() == 1
    device = Device.objects.get(uuid=GPUS[0][0])
    assert device.energy_counter and device.name == "NVIDIA H100 80GB HBM3"
    assert set(Sample.objects.values_list("label", flat=True)) == {"research/train-42"}
    roll_up_pending()
    start = time.time() - 120
    from datetime import UTC, datetime

    energy = queries.energy(
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(time.time() + 60, UTC),
        labels=["research/train-42"],
    )
    assert energy.method == "counter"
    assert energy.energy_kwh == pytest.approx(sum(WATTS) * 30 / 3.6e6, rel=1e-6)


def test_remote_write_2_with_its_symbol_table(db):
    client = writer(fleet_key())
    now_ms = int(time.time() * 1000)
    request = RequestV2()
    symbols = ["", "__name__", "DCGM_FI_DEV_POWER_USAGE", "UUID", GPUS[0][0], "gpu", "0"]
    request.symbols.extend(symbols)
    ts = request.timeseries.add()
    ts.labels_refs.extend([1, 2, 3, 4, 5, 6])
    ts.samples.add(value=250.0, timestamp=now_ms)
    response = send(client, compress(request.SerializeToString()), proto=V2)
    assert response.status_code == 204
    assert response["X-Prometheus-Remote-Write-Samples-Written"] == "1"
    assert Sample.objects.get().power_w == 250.0


def test_bad_writes_are_refused_with_what_was_wrong(db):
    key = fleet_key()
    client = writer(key)
    assert send(client, b"not snappy at all").status_code == 400
    assert "snappy" in str(send(client, b"not snappy at all").json())
    garbage = compress(b"\xff\xff\xff\xff")
    assert send(client, garbage).status_code == 400
    assert send(client, v1_body([]), encoding="gzip").status_code == 400
    assert send(client, v1_body([]), proto="io.prometheus.write.v9.Request").status_code == 415
    assert writer("gla_nobody_nothing").post(URL, b"", content_type="application/x-protobuf").status_code == 401
    assert APIClient().post(URL, b"", content_type="application/x-protobuf").status_code in (401, 403)
    assert Sample.objects.count() == 0


def test_out_of_range_readings_are_quarantined_not_dropped(db):
    client = writer(fleet_key())
    now_ms = int(time.time() * 1000)
    labels = {"__name__": "DCGM_FI_DEV_POWER_USAGE", "UUID": GPUS[0][0], "gpu": "0"}
    body = v1_body([(labels, [(250.0, now_ms - 1000), (1e9, now_ms), (float("inf"), now_ms + 1)])])
    assert send(client, body).status_code == 204
    assert Sample.objects.count() == 1
    reasons = sorted(QuarantinedSample.objects.values_list("reason", flat=True))
    assert reasons == ["power_w is not a number", "power_w outside 0 to 5000"]


# --- the real peer -------------------------------------------------------------------


@needs_prometheus
def test_a_real_prometheus_server_remote_writes_the_simulators_dcgm_series(
    live_server, transactional_db, tmp_path, settings
):
    """Prometheus scrapes the simulator's dcgm-exporter (GPU 0 in three MIG instances, two
    of them running jobs; GPU 1 whole) and Greenlight's own /metrics (with the metrics
    token), and remote-writes the GPU series to Greenlight through a proxy that loses the
    first three answers, so Prometheus sends those writes again: each GPU's energy matches the
    simulator's counters within 1 %, the MIG GPU's shares add up to its meter within 2 %
    (where summing the instances' series would triple it), and Prometheus reads back what
    Greenlight counted."""
    from datetime import UTC, datetime, timedelta

    from telemetry.agent.backends import SimulatedBackend
    from telemetry.agent.dcgm_exporter import Exporter, Layout, serve

    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "scrape-token-5678", []
    key = fleet_key("prometheus-main")
    exporter = Exporter(
        SimulatedBackend(2, seed=11), Layout(label="research/train-42", mig=3, mig_jobs=["research/a", "research/b"])
    )
    metrics_server = serve(exporter.scrape, 0)
    port = metrics_server.server_port
    whole = exporter.backend.gpus[1].uuid
    duplicated_before = (
        REGISTRY.get_sample_value(
            "greenlight_ingest_samples_total", {"source": "remote_write", "outcome": "duplicated"}
        )
        or 0.0
    )
    # The first three answers are lost on the way back: Prometheus sends those writes again.
    with answer_lost(live_server.url, first=3) as (proxy, hidden):
        config = f"""
global: {{scrape_interval: 1s}}
scrape_configs:
  - job_name: dcgm
    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
  - job_name: greenlight
    authorization: {{type: Bearer, credentials: scrape-token-5678}}
    static_configs: [{{targets: ["{live_server.url.split("//", 1)[1]}"]}}]
remote_write:
  - url: {proxy}{URL}
    authorization: {{type: Bearer, credentials: {key}}}
    queue_config: {{batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 200ms}}
"""
        try:
            with prometheus(tmp_path, config) as server:
                deadline = time.time() + 60
                while time.time() < deadline and Sample.objects.filter(device__uuid=whole).count() < 10:
                    time.sleep(0.5)
                counted = 0.0
                query = 'greenlight_ingest_samples_total{source="remote_write",outcome="accepted"}'
                while time.time() < deadline and not counted:
                    answer = json.load(urlopen(f"{server}/api/v1/query?{urlencode({'query': query})}"))
                    counted = sum(float(r["value"][1]) for r in answer["data"]["result"])
                    time.sleep(0.5)
                # The same Prometheus as a pull-mode store: job a's part of the MIG GPU.
                mig_gpu = exporter.backend.gpus[0].uuid
                span = Sample.objects.filter(device__uuid=mig_gpu).aggregate(first=Min("ts"), last=Max("ts"))
                store = MetricsStore.objects.create(name="fleet Prometheus", url=server, scrape_interval_s=1)
                pulled = read_energy(store, "research/a", span["first"], span["last"])
        finally:
            metrics_server.shutdown()
    assert hidden == [204, 204, 204]  # stored, then sent again by Prometheus …
    resent = (
        REGISTRY.get_sample_value(
            "greenlight_ingest_samples_total", {"source": "remote_write", "outcome": "duplicated"}
        )
        - duplicated_before
    )
    assert resent > 0  # … and recognised: nothing was stored twice
    assert counted > 0  # Prometheus parsed Greenlight's exposition, token and all
    assert not QuarantinedSample.objects.exists()
    roll_up_pending()
    for gpu in exporter.backend.gpus:
        stored = list(Sample.objects.filter(device__uuid=gpu.uuid).order_by("ts").values_list("ts", "energy_mj"))
        assert len(stored) >= 10
        served = [mj for _, mj in exporter.history[gpu.uuid]]
        assert {mj for _, mj in stored} <= set(served)  # every stored reading is one the simulator served
        first, last = stored[0], stored[-1]
        truth_kwh = (last[1] - first[1]) / 3.6e9  # the simulator's own integral of its power between them
        window = (first[0] - timedelta(minutes=1), last[0] + timedelta(minutes=1))
        measured = queries.energy(start=window[0], end=window[1], device_ids=[Device.objects.get(uuid=gpu.uuid).pk])
        assert measured.energy_kwh == pytest.approx(truth_kwh, rel=0.01)
    mig_window = (datetime.now(UTC) - timedelta(minutes=5), datetime.now(UTC) + timedelta(minutes=1))
    balance = queries.balance(label="research/a", start=mig_window[0], end=mig_window[1])
    assert balance.gpus == 1 and balance.closure == pytest.approx(1.0, abs=0.02)
    jobs = [queries.energy(start=mig_window[0], end=mig_window[1], labels=[f"research/{j}"]) for j in "ab"]
    assert jobs[0].energy_kwh > jobs[1].energy_kwh > 0  # instance 1 is the busier
    assert sum(j.energy_kwh for j in jobs) + balance.idle_kwh == pytest.approx(balance.metered_kwh, rel=0.02)
    # Pull mode apportions the same way (by the instances' engine activity, 0.6 : 0.3 : idle).
    assert pulled.status == "ok" and pulled.per_gpu[mig_gpu]["attribution"] == "engine_active"
    assert pulled.per_gpu[mig_gpu]["share"] == pytest.approx(0.6 / 0.9, rel=0.02)
    minutes = (span["first"] - timedelta(minutes=1), span["last"] + timedelta(minutes=1))  # rollups are whole minutes
    pushed_a = queries.energy(start=minutes[0], end=minutes[1], labels=["research/a"])
    assert pulled.energy_kwh == pytest.approx(pushed_a.energy_kwh, rel=0.1)


def test_keplers_container_joules_are_the_pods_host_energy(db):
    """Kepler's package and DRAM counters (dynamic and idle) of a pod's container sum into
    one host-kind counter under the pod's label; its GPU joules are left to DCGM."""
    from datetime import UTC, datetime

    client = writer(fleet_key())
    start_ms = int(time.time() * 1000) - 10 * 60_000
    times = [start_ms + n * 15_000 for n in range(21)]  # 5 minutes
    base = {
        "container_namespace": "research",
        "pod_name": "train-42",
        "container_name": "trainer",
        "container_id": "c0ffee",
        "instance": "node-7:9102",
    }
    series = [
        ({"__name__": name, "mode": mode, **base}, [(1000 + watts * (t - times[0]) / 1000, t) for t in times])
        for name, mode, watts in (
            ("kepler_container_package_joules_total", "dynamic", 20.0),
            ("kepler_container_package_joules_total", "idle", 10.0),
            ("kepler_container_dram_joules_total", "dynamic", 5.0),
            ("kepler_container_gpu_joules_total", "dynamic", 250.0),  # not read: DCGM meters the GPU
        )
    ]
    gpu = {"UUID": GPUS[0][0], "gpu": "0", "namespace": "research", "pod": "train-42"}
    series.append(
        ({"__name__": "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", **gpu}, [(1e9 + 300 * (t - times[0]), t) for t in times])
    )
    assert send(client, v1_body(series)).status_code == 204
    roll_up_pending()
    start, end = datetime.fromtimestamp(times[0] / 1000 - 60, UTC), datetime.fromtimestamp(times[-1] / 1000 + 60, UTC)
    energy = queries.energy(start=start, end=end, labels=["research/train-42"])
    assert energy.energy_kwh == pytest.approx(300 * 300 / 3.6e6, rel=0.01)  # the GPU, from DCGM alone
    assert energy.host_devices == 1
    assert energy.host_energy_kwh == pytest.approx(35 * 300 / 3.6e6, rel=0.01)
    assert Device.objects.get(uuid="kepler:node-7:9102:c0ffee").kind == "host"


def test_hostile_writes_get_a_4xx_or_a_quarantine_and_lose_nothing_else(db):
    client = writer(fleet_key())
    now_ms = int(time.time() * 1000)

    # Another message type: a 2.0 request sent as 1.0 holds no 1.0 field.
    v2 = RequestV2()
    v2.symbols.extend(["", "__name__", "up"])
    v2.timeseries.add().labels_refs.extend([1, 2])
    wrong = send(client, compress(v2.SerializeToString()))
    assert wrong.status_code == 400 and "no field of a prometheus.WriteRequest" in str(wrong.json())
    # A truncated body.
    truncated = send(client, v1_body(dcgm_series(now_ms))[:-7])
    assert truncated.status_code == 400
    # Prometheus' own metadata-only writes are fine.
    metadata = WriteRequest()
    metadata.metadata.add(type=1, metric_family_name="DCGM_FI_DEV_POWER_USAGE", help="Power draw (in W).")
    assert send(client, compress(metadata.SerializeToString())).status_code == 204

    # A million series in one write is refused for its size before it is read; 60,000 for their number.
    for count, said in ((1_000_000, "The compressed write exceeds 2 MiB"), (60_000, "at most 50,000 series")):
        huge = WriteRequest()
        for n in range(count):
            huge.timeseries.add().labels.add(name="__name__", value=f"m{n}")
        answer = send(client, compress(huge.SerializeToString()))
        assert answer.status_code == 400 and said in str(answer.json())
        assert "max_samples_per_send" in str(answer.json())

    # 10 kB labels and a negative counter beside good series: each refused with its reason.
    good = dcgm_series(now_ms, seconds=5)
    long_uuid = {"__name__": "DCGM_FI_DEV_POWER_USAGE", "UUID": "GPU-" + "x" * 10_000}
    long_pod = {"__name__": "DCGM_FI_DEV_POWER_USAGE", "UUID": "GPU-long-pod", "namespace": "r", "pod": "p" * 10_000}
    negative = {"__name__": "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "UUID": "GPU-negative"}
    nan = {"__name__": "DCGM_FI_DEV_POWER_USAGE", "UUID": "GPU-nan"}
    bad = [
        (long_uuid, [(100.0, now_ms)]),
        (long_pod, [(100.0, now_ms)]),
        (negative, [(-5.0, now_ms)]),
        (nan, [(float("nan"), now_ms)]),
    ]
    assert send(client, v1_body(good + bad)).status_code == 204
    reasons = sorted(QuarantinedSample.objects.values_list("reason", flat=True))
    assert reasons == [
        "UUID longer than 96 characters",
        "energy_mj outside 0 to 9223372036854775807",
        "label longer than 200 characters",
    ]
    assert Sample.objects.filter(device__uuid=GPUS[0][0]).count() == 6  # the good series, whole
    assert Sample.objects.get(device__uuid="GPU-nan").power_w is None  # a stale marker: no reading


def test_a_job_of_many_pods_is_one_run_by_its_greenlight_run_label(db):
    client = writer(fleet_key())
    now_ms = int(time.time() * 1000)
    series = []
    for n, (uuid, gpu) in enumerate(GPUS):
        labels = {"UUID": uuid, "gpu": gpu, "namespace": "research", "pod": f"train-42-worker-{n}"}
        labels["greenlight_run"] = "research/train-42"
        series.append(({"__name__": "DCGM_FI_DEV_POWER_USAGE", **labels}, [(200.0, now_ms)]))
    assert send(client, v1_body(series)).status_code == 204
    assert set(Sample.objects.values_list("label", flat=True)) == {"research/train-42"}
