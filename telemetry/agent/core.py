"""The agent's two loops: sampling into the spool, and sending from it."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from telemetry.agent import AGENT_VERSION
from telemetry.agent.backends import Backend
from telemetry.agent.sender import Sender, backoff_s
from telemetry.agent.spool import Spool, SpoolFull

log = logging.getLogger("greenlight.agent")

# The most samples a batch carries when the agent catches up (the server takes 20,000).
CATCH_UP_SAMPLES = 10_000
# A batch the server answers 5xx this many times in a row is set aside in the local
# quarantine: a server bug on one batch must not block every batch behind it.
MAX_SERVER_ERRORS = 8


class LabelSource:
    """The job label: a fixed one, or the contents of a file a scheduler rewrites between jobs."""

    def __init__(self, label: str = "", label_file: Path | None = None) -> None:
        self.label = label
        self.file = label_file
        self._mtime = -1.0
        self._cached = ""

    def __call__(self) -> str:
        if self.file is None:
            return self.label
        try:
            mtime = self.file.stat().st_mtime
            if mtime != self._mtime:
                self._cached, self._mtime = self.file.read_text().strip()[:200], mtime
        except OSError:
            self._cached = self.label  # no file (no job running): fall back
        return self._cached


@dataclass
class Counters:
    sampled: int = 0
    dropped: int = 0
    sent_batches: int = 0
    sent_samples: int = 0
    quarantined: int = 0
    errors: list[str] = field(default_factory=list)


class Agent:
    def __init__(
        self,
        *,
        backend: Backend,
        spool: Spool,
        sender: Sender | None,
        label: Callable[[], str],
        interval_s: float = 1.0,
        batch_size: int = 1000,
        batch_every_s: float = 10.0,
        hostname: str | None = None,
    ) -> None:
        self.backend = backend
        self.spool = spool
        self.sender = sender
        self.label = label
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.batch_every_s = batch_every_s
        self.stop = threading.Event()
        self.counters = Counters()
        self.server_errors: dict[int, int] = {}  # batch seq → consecutive 5xx answers
        self.last_energy: dict[str, int] = json.loads(spool.get("last_energy", "{}") or "{}")
        self.envelope: dict[str, Any] = {
            "agent_version": AGENT_VERSION,
            "host": hostname or socket.gethostname(),
            "devices": [d.__dict__ for d in backend.devices()],
        }

    # --- sampling ---
    def sample_once(self) -> int:
        """Reads every device and spools the readings; returns how many were stored."""
        readings, errors = self.backend.read()
        for error in errors:
            log.warning("device skipped this tick: %s", error)
        label = self.label()
        rows = []
        for r in readings:
            row = r.as_dict()
            row["label"] = label
            previous = self.last_energy.get(r.device)
            # The counter only grows; a smaller value means the driver was reloaded.
            row["counter_reset"] = r.energy_mj is not None and previous is not None and r.energy_mj < previous
            if row["counter_reset"]:
                log.warning(
                    "energy counter of %s went from %s to %s mJ: reset detected", r.device, previous, r.energy_mj
                )
            if r.energy_mj is not None:
                self.last_energy[r.device] = r.energy_mj
            rows.append(row)
        try:
            self.spool.add(rows, self.last_energy)
        except SpoolFull as exc:
            self.counters.dropped += len(rows)
            log.error(
                "SPOOL FULL (%s): %d samples dropped so far; is the server reachable?", exc, self.counters.dropped
            )
            return 0
        self.counters.sampled += len(rows)
        return len(rows)

    def seal(self) -> bool:
        """Seals spooled samples into a numbered batch: the configured size, or, when more
        than that has waited (the server was slow or away), up to CATCH_UP_SAMPLES, so that
        a backlog drains in a few large requests rather than many small ones."""
        waiting = self.spool.status().pending_samples
        limit = self.batch_size if waiting <= self.batch_size else min(waiting, CATCH_UP_SAMPLES)
        return self.spool.seal(self.envelope, limit) is not None

    def seal_if_due(self, since_last_seal_s: float) -> bool:
        """Seals every batch_every_s (sooner when a batch's worth waits), but not while a
        sealed batch is still unsent: behind, samples gather in the spool for one larger batch."""
        status = self.spool.status()
        due = since_last_seal_s >= self.batch_every_s or status.pending_samples >= self.batch_size
        return due and status.pending_batches == 0 and self.seal()

    def sampling_loop(self) -> None:
        next_tick = time.monotonic()
        last_seal = time.monotonic()
        while not self.stop.is_set():
            self.sample_once()
            if self.seal_if_due(time.monotonic() - last_seal):
                last_seal = time.monotonic()
            next_tick += self.interval_s
            self.stop.wait(max(0.0, next_tick - time.monotonic()))

    # --- sending ---
    def send_once(self, attempt: int = 0) -> float | None:
        """Sends the oldest batch. Returns None when it is done with (sent or refused),
        or how long to wait before trying again."""
        assert self.sender is not None
        batch = self.spool.oldest()
        if batch is None:
            return 0.2
        answer = self.sender.send(batch.body)
        previous = self.server_errors.pop(batch.seq, 0)
        errors = previous + 1 if answer.server_error else 0
        if answer.verdict == "sent":
            self.spool.sent(batch.seq)
            self.counters.sent_batches += 1
            self.counters.sent_samples += batch.samples
            return None
        if answer.verdict == "refused" or errors >= MAX_SERVER_ERRORS:
            if errors:
                answer = replace(answer, detail=f"{errors} server errors in a row, last: {answer.detail}")
            self.spool.quarantine(batch.seq, answer.detail)
            self.counters.quarantined += 1
            log.error("batch %d refused and quarantined in the spool: %s", batch.seq, answer.detail)
            return None
        if errors:
            self.server_errors[batch.seq] = errors
        self.spool.failed(batch.seq, answer.detail)
        delay = answer.retry_after_s if answer.retry_after_s is not None else backoff_s(attempt)
        log.warning("batch %d not sent (%s); retrying in %.1f s", batch.seq, answer.detail, delay)
        return delay

    def sending_loop(self) -> None:
        attempt = 0
        while not self.stop.is_set():
            wait = self.send_once(attempt)
            if wait is None:
                attempt = 0
                continue
            attempt = attempt + 1 if wait > 0.2 or self.spool.oldest() else 0
            self.stop.wait(wait)

    def drain(self, timeout_s: float) -> None:
        """After sampling stopped: seal what is left and send it while time allows."""
        while self.seal():
            pass
        deadline = time.monotonic() + timeout_s
        attempt = 0
        while self.sender is not None and self.spool.oldest() is not None and time.monotonic() < deadline:
            wait = self.send_once(attempt)
            if wait is not None:
                attempt += 1
                time.sleep(min(wait, max(0.0, deadline - time.monotonic())))

    def status_line(self) -> str:
        s = self.spool.status()
        c = self.counters
        return (
            f"sampled {c.sampled} · sent {c.sent_samples} in {c.sent_batches} batches · spooled "
            f"{s.pending_samples + s.pending_batch_samples} ({s.pending_batches} batches) · quarantined "
            f"{s.quarantined_batches} batches · dropped {c.dropped}"
        )

    def run(self, *, status_every_s: float = 10.0, drain_timeout_s: float = 10.0) -> None:
        threads = [threading.Thread(target=self.sampling_loop, name="sampling", daemon=True)]
        if self.sender is not None:
            threads.append(threading.Thread(target=self.sending_loop, name="sending", daemon=True))
        for t in threads:
            t.start()
        while not self.stop.wait(status_every_s):
            log.info("%s", self.status_line())
        for t in threads:
            t.join()
        self.drain(drain_timeout_s)
        log.info("stopped: %s", self.status_line())


def default_spool_path() -> Path:
    return Path(os.environ.get("GREENLIGHT_SPOOL", "greenlight-agent.spool"))
