"""Ingest throughput: batches through the real HTTP endpoint on gunicorn, against the
same rows loaded with the database's own idempotent COPY, in one run and at the same
concurrency. The baseline writes to devices of its own, so neither ever meets the
other's rows. The two alternate in rounds, so a machine that speeds up or slows down
mid-run (these are shared machines) moves both figures alike. By default a batch is
what the agent sends (8 GPUs sampled at 1 Hz, sent every 10 s) and rollups run as the
server runs them without a broker: inline, after each batch."""

from __future__ import annotations

import gzip
import http.client
import json
import secrets
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import cramjam
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from config.bench import free_port, gunicorn
from telemetry import partitions
from telemetry.agent.backends import ManualClock, SimulatedBackend
from telemetry.ingest import READINGS
from telemetry.models import Agent, Device, IngestBatch, MinuteRollup, QuarantinedSample
from telemetry.remote_write import WriteRequest
from telemetry.services import create_enrolment_token, enrol_agent

DAY_OFFSET = 20  # the benchmark writes into one old day's partition and drops it afterwards
# The baseline: PostgreSQL's own idempotent load of the same typed rows, no checks.
RAW_STAGING = f"""CREATE TEMP TABLE IF NOT EXISTS bench_staging (device_id bigint, ts_epoch double precision,
    label text, {", ".join(f"{n} {t}" for n, (t, *_) in READINGS.items())})"""
RAW_INSERT = f"""INSERT INTO telemetry_sample (device_id, ts, label, {", ".join(READINGS)}, batch_id)
    SELECT device_id, to_timestamp(ts_epoch), label, {", ".join(READINGS)}, 0 FROM bench_staging
    ON CONFLICT (device_id, ts) DO NOTHING"""


class Command(BaseCommand):
    help = "Measures telemetry ingest through HTTP (gunicorn) against raw COPY; prints samples/s and latency."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batches", type=int, default=1200, help="Batches sent through HTTP.")
        parser.add_argument(
            "--batch-size", type=int, default=80, help="Samples per batch (the agent's: 8 GPUs × 10 s)."
        )
        parser.add_argument(
            "--rollups", choices=["inline", "off"], default="inline", help="Roll up after each batch, or leave it."
        )
        parser.add_argument("--concurrency", type=int, default=2, help="Concurrent senders (one agent each).")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes.")
        parser.add_argument("--rounds", type=int, default=4, help="Alternating HTTP and COPY rounds.")
        parser.add_argument(
            "--remote-write",
            action="store_true",
            help="Also send the same readings as Prometheus Remote-Write (dcgm-exporter series), in the same rounds.",
        )

    def handle(
        self,
        *args: Any,
        batches: int,
        batch_size: int,
        concurrency: int,
        workers: int,
        rounds: int,
        rollups: str,
        remote_write: bool,
        **opts: Any,
    ) -> None:
        day = datetime.now(UTC).date() - timedelta(days=DAY_OFFSET)
        partitions.ensure({day})
        start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        # The remote-write path has agents and GPUs of its own, so neither path meets the other's rows.
        agents: list[tuple[Agent, str]] = []
        writers: list[tuple[Agent, str]] = []
        for n in range(concurrency * (2 if remote_write else 1)):
            _, token = create_enrolment_token(name="bench", label_namespaces=["*"])
            agent, key = enrol_agent(enrolment_token=token, hostname=f"bench-{n}-{secrets.token_hex(3)}")
            (agents if n < concurrency else writers).append((agent, key))
        self.stdout.write(f"Preparing {batches} batches of {batch_size} samples …")
        bodies = self._bodies(agents, batches, batch_size, start)
        writes = [
            (key, _remote_write(body_samples), body_samples)
            for key, _, body_samples in (self._bodies(writers, batches, batch_size, start) if writers else [])
        ]
        port = free_port()
        server = gunicorn(port, workers, TELEMETRY_ROLLUP_INLINE="1" if rollups == "inline" else "0")
        http_s = copy_s = write_s = 0.0
        latencies: list[float] = []
        try:
            self._warm_up(port, bodies)
            size = -(-len(bodies) // rounds)
            for part in (bodies[i : i + size] for i in range(0, len(bodies), size)):
                elapsed, part_latencies = self._send(port, part, concurrency)
                http_s += elapsed
                latencies += part_latencies
                copy_s += self._raw_copy(part, self._raw_devices(agents), concurrency)
                if writes:
                    first = bodies.index(part[0])
                    write_s += self._send(port, writes[first : first + len(part)], concurrency, remote=True)[0]
            # The endpoint's own floor: empty batches (authentication, the batch's row, a commit).
            empties: list[tuple[str, bytes, Any]] = [
                (
                    key,
                    gzip.compress(json.dumps({"batch_seq": 2 * 10**9 + n, "devices": [], "samples": []}).encode()),
                    [],
                )
                for n, (_, key) in enumerate(agents * (400 // len(agents)))
            ]
            empty_s, _ = self._send(port, empties, concurrency)
        finally:
            server.terminate()
            server.wait(timeout=30)
        self._clean(agents + writers, day)

        total = sum(len(b[2]) for b in bodies)
        http_rate, copy_rate = total / http_s, total / copy_s
        p50 = statistics.median(latencies) * 1000
        p99 = statistics.quantiles(latencies, n=100)[98] * 1000
        self.stdout.write(f"samples                 {total:>12,}")
        self.stdout.write(
            f"HTTP ingest             {http_rate:>12,.0f} samples/s ({workers} gunicorn workers, "
            f"{concurrency} senders, batches of {batch_size}, rollups {rollups})"
        )
        self.stdout.write(
            f"raw idempotent COPY     {copy_rate:>12,.0f} samples/s (staging table + INSERT … ON CONFLICT DO NOTHING, "
            f"{concurrency} connections)"
        )
        self.stdout.write(f"ratio HTTP / COPY       {http_rate / copy_rate:>12.2f}")
        if writes:
            write_rate = total / write_s
            self.stdout.write(
                f"Remote-Write ingest     {write_rate:>12,.0f} samples/s (dcgm-exporter series, snappy protobuf; "
                f"{write_rate / copy_rate:.2f} of COPY, {write_rate / http_rate:.2f} of the agent path)"
            )
        self.stdout.write(f"batch latency p50       {p50:>12.1f} ms")
        self.stdout.write(f"batch latency p99       {p99:>12.1f} ms")
        self.stdout.write(f"GPUs at 1 Hz per server {http_rate:>12,.0f} (one sample per GPU per second)")
        empty_rate = len(empties) / empty_s
        self.stdout.write(
            f"empty batches           {empty_rate:>12,.0f} /s (the request's fixed cost: "
            f"at {batch_size} samples a batch, no HTTP ingest can pass {empty_rate * batch_size:,.0f} samples/s, "
            f"{empty_rate * batch_size / copy_rate:.2f} of COPY)"
        )

    def _bodies(
        self, agents: list[tuple[Agent, str]], batches: int, batch_size: int, start: float
    ) -> list[tuple[str, bytes, list[dict[str, Any]]]]:
        bodies = []
        gpus = 8
        sims: dict[int, tuple[ManualClock, SimulatedBackend, int]] = {}
        for n in range(batches):
            agent, key = agents[n % len(agents)]
            if agent.pk not in sims:
                clock = ManualClock(start)
                backend = SimulatedBackend(gpus, seed=agent.pk, clock=clock)
                for g in backend.gpus:  # each agent its own GPUs
                    g.uuid = f"GPU-BENCH-{agent.pk}-{g.index}"
                sims[agent.pk] = (clock, backend, 0)
            clock, backend, seq = sims[agent.pk]
            sims[agent.pk] = (clock, backend, seq + 1)
            samples = []
            for _ in range(batch_size // gpus):
                clock.now += 1
                samples += [{**r.as_dict(), "label": "bench", "counter_reset": False} for r in backend.read()[0]]
            payload = {"batch_seq": seq + 1, "devices": [d.__dict__ for d in backend.devices()], "samples": samples}
            bodies.append((key, gzip.compress(json.dumps(payload).encode(), 5), samples))
        return bodies

    def _warm_up(self, port: int, bodies: list[tuple[str, bytes, Any]]) -> None:
        """Every worker connects to the database and runs the ingest once (empty batches)."""
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for n in range(20):
            key = bodies[n % len(bodies)][0]
            body = json.dumps({"batch_seq": 10**9 + n, "devices": [], "samples": []})
            warm.request("POST", "/api/v1/telemetry/batches/", body, {"Authorization": f"Agent {key}"})
            warm.getresponse().read()

    def _send(
        self, port: int, bodies: list[tuple[str, bytes, Any]], concurrency: int, remote: bool = False
    ) -> tuple[float, list[float]]:
        """Seconds to send `bodies` with `concurrency` senders, and each batch's latency."""
        queue = list(enumerate(bodies))
        lock = threading.Lock()
        latencies: list[float] = []
        failures: list[str] = []

        def sender() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while True:
                with lock:
                    if not queue:
                        return
                    _, (key, body, _) = queue.pop(0)
                t0 = time.perf_counter()
                if remote:
                    headers = {
                        "Content-Type": "application/x-protobuf",
                        "Content-Encoding": "snappy",
                        "X-Prometheus-Remote-Write-Version": "0.1.0",
                        "Authorization": f"Bearer {key}",
                    }
                    conn.request("POST", "/api/v1/telemetry/prometheus/write", body, headers)
                else:
                    headers = {
                        "Content-Type": "application/json",
                        "Content-Encoding": "gzip",
                        "Authorization": f"Agent {key}",
                    }
                    conn.request("POST", "/api/v1/telemetry/batches/", body, headers)
                response = conn.getresponse()
                response.read()
                latency = time.perf_counter() - t0
                with lock:
                    latencies.append(latency)
                    if response.status != (204 if remote else 200):
                        failures.append(str(response.status))

        threads = [threading.Thread(target=sender) for _ in range(concurrency)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        if failures:
            raise RuntimeError(f"{len(failures)} batches failed: {sorted(set(failures))[:5]}")
        return elapsed, latencies

    def _raw_devices(self, agents: list[tuple[Agent, str]]) -> dict[str, int]:
        """A twin of each benchmark GPU for the baseline: its rows never collide with HTTP's."""
        twins = {}
        for device in Device.objects.filter(agent__in=[a for a, _ in agents], uuid__startswith="GPU-BENCH-"):
            twin, _ = Device.objects.get_or_create(
                uuid=device.uuid.replace("BENCH", "RAW"), defaults={"agent_id": device.agent_id, "name": "raw"}
            )
            twins[device.uuid] = twin.pk
        return twins

    def _raw_copy(
        self, bodies: list[tuple[str, bytes, list[dict[str, Any]]]], devices: dict[str, int], concurrency: int
    ) -> float:
        """Seconds to load the same rows into the twin devices, rendered to typed COPY text
        before the clock starts, one batch per transaction, on as many connections as HTTP
        has senders: what PostgreSQL itself does for an idempotent load."""
        chunks = [
            "".join(
                f"{devices[s['device']]}\t{s['ts']!r}\t{s['label']}\t"
                + "\t".join("\\N" if s[f] is None else str(s[f]) for f in READINGS)
                + "\n"
                for s in samples
            )
            for _, _, samples in bodies
        ]
        lock = threading.Lock()

        def loader() -> None:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(RAW_STAGING)
                    while True:
                        with lock:
                            if not chunks:
                                return
                            chunk = chunks.pop()
                        with transaction.atomic():
                            with cursor.copy("COPY bench_staging FROM STDIN") as copy:
                                copy.write(chunk)
                            cursor.execute(RAW_INSERT)
                            cursor.execute("TRUNCATE bench_staging")
            finally:
                connection.close()  # each thread has its own connection

        threads = [threading.Thread(target=loader) for _ in range(concurrency)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - t0

    def _clean(self, agents: list[tuple[Agent, str]], day: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP TABLE IF EXISTS "{partitions.name_for(day)}"')
        ids = [a.pk for a, _ in agents]
        IngestBatch.objects.filter(agent_id__in=ids).delete()
        QuarantinedSample.objects.filter(agent_id__in=ids).delete()
        MinuteRollup.objects.filter(device__agent_id__in=ids).delete()
        Device.objects.filter(agent_id__in=ids).delete()
        Agent.objects.filter(pk__in=ids).delete()


def _remote_write(samples: list[dict[str, Any]]) -> bytes:
    """The same readings as dcgm-exporter series, as Prometheus would remote-write them."""
    request: Any = WriteRequest()
    for uuid in sorted({s["device"] for s in samples}):
        mine = [s for s in samples if s["device"] == uuid]
        labels = {"UUID": uuid, "gpu": uuid.rsplit("-", 1)[1], "modelName": "H100", "namespace": "bench", "pod": "job"}
        for name, field, scale in (
            ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "energy_mj", 1),
            ("DCGM_FI_DEV_POWER_USAGE", "power_w", 1),
            ("DCGM_FI_DEV_GPU_UTIL", "gpu_util", 1),
        ):
            series = request.timeseries.add()
            for k, v in sorted({"__name__": name, **labels}.items()):
                series.labels.add(name=k, value=v)
            for s in mine:
                series.samples.add(value=s[field] * scale, timestamp=round(s["ts"] * 1000))
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
