"""The simulated GPUs in dcgm-exporter's exposition format, MIG instances included, so
that the Prometheus paths (Remote-Write, pull) can be shown and tested without a GPU:

    python -m telemetry.agent --simulate 2 --serve-metrics 9400 --label aurora/train-42 \\
        --mig 3 --mig-jobs aurora/train-a,aurora/train-b

serves GPU 0 split into three MIG instances (two running the jobs named, one idle) and
the other GPUs whole, running --label's job. Pure Python, like the rest of the agent."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from telemetry.agent.backends import Reading, SimulatedBackend

MODEL = "NVIDIA H100 80GB HBM3"
# A MIG instance's share of its GPU's engine activity, by position: the jobs are unequal.
INSTANCE_WEIGHTS = (0.6, 0.3, 0.1, 0.05, 0.05, 0.05, 0.05)


@dataclass
class Layout:
    """Which job runs where: `label` on whole GPUs; on GPU 0, when `mig` > 0, one MIG
    instance per entry of `mig_jobs` (an empty entry: no job) up to `mig` instances."""

    label: str = ""
    mig: int = 0
    mig_jobs: Sequence[str] = ()
    hostname: str = "sim-node-1"


@dataclass
class Exporter:
    backend: SimulatedBackend
    layout: Layout
    history: dict[str, list[tuple[float, int]]] = field(default_factory=dict)  # uuid → (ts, energy mJ) served
    lock: threading.Lock = field(default_factory=threading.Lock)

    def scrape(self) -> str:
        """One scrape: the GPUs read now, as dcgm-exporter would print them."""
        with self.lock:
            readings, _ = self.backend.read()
            lines: list[str] = []
            for reading in readings:
                if reading.device.startswith("GPU-"):
                    self.history.setdefault(reading.device, []).append((reading.ts, reading.energy_mj or 0))
                    lines += self._gpu(reading)
            return "\n".join(lines) + "\n"

    def _gpu(self, r: Reading) -> list[str]:
        index = next(g.index for g in self.backend.gpus if g.uuid == r.device)
        base = f'gpu="{index}",UUID="{r.device}",device="nvidia{index}",modelName="{MODEL}"'
        base += f',Hostname="{self.layout.hostname}"'
        if index == 0 and self.layout.mig:
            consumers = [
                (f'{base},GPU_I_ID="{n + 1}",GPU_I_PROFILE="1g.10gb"', job, INSTANCE_WEIGHTS[n % len(INSTANCE_WEIGHTS)])
                for n, job in enumerate(list(self.layout.mig_jobs)[: self.layout.mig] + [""] * self.layout.mig)
            ][: self.layout.mig]
        else:
            consumers = [(base, self.layout.label, 1.0)]
        util = (r.gpu_util or 0) / 100
        lines = []
        for labels, job, weight in consumers:
            if job:
                namespace, _, pod = job.partition("/")
                labels += f',namespace="{namespace}",pod="{pod}",container="main"'
            lines += [
                f"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{{{labels}}} {r.energy_mj}",
                f"DCGM_FI_DEV_POWER_USAGE{{{labels}}} {r.power_w}",
                f"DCGM_FI_PROF_GR_ENGINE_ACTIVE{{{labels}}} {util * weight if job else 0.0:.4f}",
                f"DCGM_FI_DEV_GPU_TEMP{{{labels}}} {r.temp_c}",
                f"DCGM_FI_DEV_SM_CLOCK{{{labels}}} {r.sm_clock_mhz}",
                f"DCGM_FI_DEV_FB_USED{{{labels}}} {r.mem_used_mb}",
            ]
        return lines


def serve(scrape: Callable[[], str], port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serves what `scrape` prints (an Exporter's scrape) as /metrics in a background
    thread; returns the server (shutdown() to stop). Port 0 picks a free one."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = scrape().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
