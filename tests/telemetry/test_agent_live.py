"""The real agent process against a live Greenlight: outages and kills lose nothing
and double nothing. A TCP proxy between them plays the server going down."""

import contextlib
import gzip
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from telemetry.models import Sample
from telemetry.services import create_enrolment_token

ROOT = Path(__file__).resolve().parents[2]


class Proxy:
    """Forwards localhost:port to the live server; `down()` refuses and cuts connections."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.port = self._free_port()
        self.listener: socket.socket | None = None
        self.conns: list[socket.socket] = []
        self.up()

    @staticmethod
    def _free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def up(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def down(self) -> None:
        assert self.listener is not None
        self.listener.close()
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
                c.close()
        self.conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            self.conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def start_agent(proxy: Proxy, spool: Path, token: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "telemetry.agent",
            "--server",
            f"http://127.0.0.1:{proxy.port}",
            "--enrolment-token",
            token,
            "--simulate",
            "2",
            "--seed",
            "4",
            "--interval",
            "0.05",
            "--batch-every",
            "0.3",
            "--batch-size",
            "200",
            "--spool",
            str(spool),
            "--status-every",
            "0.5",
            "--drain-timeout",
            "30",
            "--label",
            "live-run",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def stop_agent(agent: subprocess.Popen[str]) -> tuple[int, str]:
    agent.send_signal(signal.SIGTERM)
    out, err = agent.communicate(timeout=60)
    sampled = int(out.split("sampled ")[1].split(" ")[0])
    return sampled, err


def spooled_keys(spool: Path) -> set[tuple[str, float]]:
    def key(s: dict) -> tuple[str, float]:  # milliseconds: ticks are 50 ms apart, rounding differs below
        return s["device"], round(s["ts"], 3)

    db = sqlite3.connect(spool)
    keys = {key(json.loads(body)) for (body,) in db.execute("SELECT body FROM samples")}
    for (body,) in db.execute("SELECT body FROM batches WHERE state = 'pending'"):
        keys |= {key(s) for s in json.loads(gzip.decompress(body))["samples"]}
    db.close()
    return keys


def stored() -> set[tuple[str, float]]:
    return {(uuid, round(ts.timestamp(), 3)) for uuid, ts in Sample.objects.values_list("device__uuid", "ts")}


@pytest.fixture
def setup(live_server, transactional_db, tmp_path):
    # The raw table is unmanaged, so the test flush between live tests does not empty it.
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE telemetry_sample")
    _, token = create_enrolment_token(name="live", label_namespaces=["*"])
    proxy = Proxy(int(live_server.url.rsplit(":", 1)[1]))
    yield proxy, tmp_path / "agent.spool", token
    proxy.down()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE telemetry_sample")


def test_server_outage_mid_run_delivers_every_sample_exactly_once(setup):
    proxy, spool, token = setup
    agent = start_agent(proxy, spool, token)
    time.sleep(1.5)
    proxy.down()
    time.sleep(2.0)
    proxy.up()
    time.sleep(1.5)
    sampled, log = stop_agent(agent)
    assert "retrying" in log  # the outage was felt
    assert Sample.objects.count() == sampled > 0
    assert len(stored()) == sampled  # no (device, ts) twice


def test_agent_killed_and_restarted_loses_and_doubles_nothing(setup):
    proxy, spool, token = setup
    agent = start_agent(proxy, spool, token)
    time.sleep(1.5)
    proxy.down()  # some batches wait in the spool when the agent dies
    time.sleep(0.8)
    agent.kill()
    agent.wait()
    before = stored() | spooled_keys(spool)
    proxy.up()
    agent = start_agent(proxy, spool, token)
    time.sleep(1.5)
    sampled_after, _ = stop_agent(agent)
    final = stored()
    assert before <= final  # everything sampled before the kill arrived
    assert len(final) == len(before) + sampled_after  # and the new samples, each once
    assert Sample.objects.count() == len(final)
