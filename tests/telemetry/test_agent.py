"""The agent's own behaviour: spool, retries, refusals, labels, resets. The server
here is a stub on localhost (an outside HTTP endpoint is the one thing we fake)."""

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from telemetry.agent.backends import SimulatedBackend
from telemetry.agent.core import Agent, LabelSource
from telemetry.agent.sender import Sender, backoff_s
from telemetry.agent.spool import Spool


class Stub:
    """Answers each POST with the next (status, headers) in `script`, then 200."""

    def __init__(self, script):
        self.script = list(script)
        self.bodies = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stub.bodies.append(json.loads(gzip.decompress(body)))
                status, headers = stub.script.pop(0) if stub.script else (200, {})
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(b'{"detail": "x"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self):
        self.server.shutdown()


def make_agent(tmp_path: Path, url: str, **kwargs):
    spool = Spool(tmp_path / "spool.db", max_samples=kwargs.pop("max_samples", 10_000))
    return Agent(
        backend=SimulatedBackend(2, seed=11),
        spool=spool,
        sender=Sender(url, "gla_x_y"),
        label=kwargs.pop("label", LabelSource("job-1")),
        batch_size=kwargs.pop("batch_size", 1000),
    ), spool


def test_retry_after_is_honoured_and_5xx_retried(tmp_path):
    stub = Stub([(429, {"Retry-After": "7"}), (503, {}), (500, {})])
    agent, spool = make_agent(tmp_path, stub.url)
    agent.sample_once()
    agent.seal()
    assert agent.send_once() == 7.0  # Retry-After
    assert 0 <= agent.send_once(attempt=1) <= 1.0  # 503 without Retry-After: backoff
    assert agent.send_once(attempt=2) is not None  # 500: retry
    assert agent.send_once() is None  # 200
    assert spool.status().pending_batches == 0 and agent.counters.sent_samples == 2
    assert len({b["batch_seq"] for b in stub.bodies}) == 1  # the same batch each time
    stub.close()


def test_other_4xx_quarantines_the_batch_locally(tmp_path):
    stub = Stub([(400, {})])
    agent, spool = make_agent(tmp_path, stub.url)
    agent.sample_once()
    agent.seal()
    assert agent.send_once() is None
    status = spool.status()
    assert (status.pending_batches, status.quarantined_batches) == (0, 1)
    stub.close()


def test_unreachable_server_keeps_everything_in_the_spool(tmp_path):
    agent, spool = make_agent(tmp_path, "http://127.0.0.1:9")  # nothing listens there
    for _ in range(5):
        agent.sample_once()
    agent.seal()
    assert agent.send_once() is not None
    assert spool.status().pending_batch_samples == 10


def test_spool_bound_is_loud_and_keeps_what_it_has(tmp_path, caplog):
    agent, spool = make_agent(tmp_path, "http://127.0.0.1:9", max_samples=4)
    assert [agent.sample_once() for _ in range(3)] == [2, 2, 0]
    assert agent.counters.dropped == 2
    assert "SPOOL FULL" in caplog.text
    assert spool.status().pending_samples == 4


def test_batch_numbers_survive_a_restart(tmp_path):
    agent, spool = make_agent(tmp_path, "http://127.0.0.1:9")
    agent.sample_once()
    first = spool.seal(agent.envelope, 100)
    spool.close()
    agent, spool = make_agent(tmp_path, "http://127.0.0.1:9")
    agent.sample_once()
    second = spool.seal(agent.envelope, 100)
    assert (first.seq, second.seq) == (1, 2)


def test_label_file_is_reread_when_the_scheduler_rewrites_it(tmp_path):
    label_file = tmp_path / "label"
    label_file.write_text("job-a\n")
    source = LabelSource("none", label_file)
    assert source() == "job-a"
    label_file.write_text("job-b\n")
    import os

    os.utime(label_file, (1, 1))  # a different mtime, even within the same second
    assert source() == "job-b"
    label_file.unlink()
    assert source() == "none"


def test_counter_reset_is_detected_across_restarts(tmp_path):
    agent, spool = make_agent(tmp_path, "http://127.0.0.1:9")
    agent.sample_once()
    spool.close()
    agent, spool = make_agent(tmp_path, "http://127.0.0.1:9")
    for gpu in agent.backend.gpus:  # type: ignore[attr-defined]
        gpu.energy_j = 10.0  # the driver was reloaded while the agent was down
    agent.sample_once()
    batch = spool.seal(agent.envelope, 100)
    samples = json.loads(gzip.decompress(batch.body))["samples"]
    assert [s["counter_reset"] for s in samples[-2:]] == [True, True]


def test_backoff_grows_and_is_capped():
    import random

    rng = random.Random(1)
    assert all(backoff_s(n, rng=rng) <= min(60.0, 0.5 * 2**n) for n in range(12))


def test_once_prints_one_reading(capsys):
    from telemetry.agent.__main__ import main

    assert main(["--simulate", "3", "--once"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [d["kind"] for d in out["devices"]] == ["gpu", "gpu", "gpu", "host"]  # the host's RAPL counters too
    assert len(out["readings"]) == 4 and all(r["energy_mj"] > 0 for r in out["readings"])


@pytest.mark.parametrize("argv", [["--simulate", "1"]])
def test_an_unenrolled_agent_says_how_to_enrol(tmp_path, argv, capsys):
    from telemetry.agent.__main__ import main

    assert main([*argv, "--spool", str(tmp_path / "s.db")]) == 2
    assert "--enrolment-token" in capsys.readouterr().err


def test_a_batch_the_server_keeps_failing_on_is_set_aside(tmp_path):
    from telemetry.agent.core import MAX_SERVER_ERRORS

    stub = Stub([(500, {})] * MAX_SERVER_ERRORS)
    agent, spool = make_agent(tmp_path, stub.url)
    agent.sample_once()
    agent.seal()
    agent.sample_once()
    agent.seal()
    for attempt in range(MAX_SERVER_ERRORS - 1):
        assert agent.send_once(attempt) is not None  # retried
    assert agent.send_once() is None  # the eighth 500 in a row: quarantined locally
    status = spool.status()
    assert (status.pending_batches, status.quarantined_batches) == (1, 1)
    assert agent.send_once() is None  # the next batch goes through
    assert spool.status().pending_batches == 0
    stub.close()


def test_after_an_outage_the_backlog_goes_in_a_few_large_batches(tmp_path):
    from telemetry.agent.core import CATCH_UP_SAMPLES

    stub = Stub([(503, {})] * 3)
    agent, spool = make_agent(tmp_path, stub.url, batch_size=20, max_samples=100_000)
    agent.sample_once()
    assert agent.seal_if_due(since_last_seal_s=60)
    for _ in range(3):  # the server is away: the sealed batch waits, nothing more is sealed
        assert agent.send_once() is not None
        for _ in range(50):
            agent.sample_once()
        assert not agent.seal_if_due(since_last_seal_s=60)
    assert spool.status().pending_batches == 1 and spool.status().pending_samples == 300
    assert agent.send_once() is None  # back: the first batch goes
    assert agent.seal_if_due(since_last_seal_s=60)
    assert agent.send_once() is None
    sizes = [len(b["samples"]) for b in stub.bodies[-2:]]
    assert sizes == [2, 300] and CATCH_UP_SAMPLES >= 300  # one batch for the whole backlog, not 15
    assert spool.status().pending_samples == 0
    stub.close()
