"""A real Prometheus server (Debian's package) and a dcgm-exporter exposition for it to
scrape: the peers of the Remote-Write, /metrics and pull-mode tests."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from telemetry.agent.dcgm_exporter import serve

GPUS = [("GPU-5fa1c0de-0000-4000-8000-000000000000", "0"), ("GPU-5fa1c0de-0000-4000-8000-000000000001", "1")]
WATTS = [300.0, 150.0]

needs_prometheus = pytest.mark.skipif(
    shutil.which("prometheus") is None, reason="needs Debian's prometheus (make test installs it)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def dcgm_exporter(namespace: str, pod: str, mig: bool = False, run: str = "") -> Iterator[str]:
    """dcgm-exporter's metrics for two GPUs (one series per MIG instance when `mig`) whose
    energy counters rise with real time at a constant WATTS, each GPU in its own pod
    (`pod`-0, `pod`-1) when `run` names the run the pods share; yields host:port."""
    started = time.time()

    def scrape() -> str:
        elapsed_ms = (time.time() - started) * 1000
        lines = []
        for (uuid, gpu), watts in zip(GPUS, WATTS, strict=True):
            for instance in ("1", "2") if mig else ("",):
                labels = (
                    f'gpu="{gpu}",UUID="{uuid}",device="nvidia{gpu}",modelName="NVIDIA H100 80GB HBM3",'
                    f'Hostname="node-7",container="trainer",namespace="{namespace}",'
                    + (f'pod="{pod}-{gpu}",greenlight_run="{run}"' if run else f'pod="{pod}"')
                    + (f',GPU_I_ID="{instance}"' if instance else "")
                )
                lines.append(f"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{{{labels}}} {int(5e9 + watts * elapsed_ms)}")
                lines.append(f"DCGM_FI_DEV_POWER_USAGE{{{labels}}} {watts}")
                lines.append(f"DCGM_FI_PROF_GR_ENGINE_ACTIVE{{{labels}}} 0.9")
        return "\n".join(lines) + "\n"

    server = serve(scrape, 0)
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextlib.contextmanager
def prometheus(tmp_path: Path, config: str) -> Iterator[str]:
    """A Prometheus server with this configuration; yields its URL. Its log is attached
    to the failure of an assertion made inside the block."""
    (tmp_path / "prometheus.yml").write_text(config)
    port = free_port()
    server = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    except AssertionError as exc:
        server.terminate()
        log = server.communicate(timeout=30)[1].decode(errors="replace")
        raise AssertionError(f"{exc}\n--- prometheus log ---\n{log[-3000:]}") from exc
    finally:
        if server.poll() is None:
            server.terminate()
            server.communicate(timeout=30)


def wait_for(url: str, query: str, timeout_s: float = 30) -> None:
    """Until the server has scraped something that answers `query`."""
    import json
    from urllib.parse import urlencode
    from urllib.request import urlopen

    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            answer = json.load(urlopen(f"{url}/api/v1/query?{urlencode({'query': query})}", timeout=2))
            if answer["data"]["result"]:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.25)
    raise AssertionError(f"Prometheus at {url} never answered {query}")


@contextlib.contextmanager
def answer_lost(target: str, first: int) -> Iterator[tuple[str, list[int]]]:
    """An HTTP proxy to `target` that forwards every request but, for the first `first`
    of them, tells the sender 503 instead of the answer: the write was stored, and the
    sender, not knowing, sends it again. Yields (its URL, the statuses it hid)."""
    import urllib.error
    import urllib.request
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hidden: list[int] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            request = urllib.request.Request(f"{target}{self.path}", data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    status, payload = answer.status, answer.read()
            except urllib.error.HTTPError as exc:
                status, payload = exc.code, exc.read()
            with lock:
                lose = len(hidden) < first
                if lose:
                    hidden.append(status)
            self.send_response(503 if lose else status)
            self.send_header("Content-Length", "0" if lose else str(len(payload)))
            self.end_headers()
            if not lose:
                self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", hidden
    finally:
        server.shutdown()
