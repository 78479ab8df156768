"""The agent's durable local queue (SQLite). Every reading is written here before
anything is sent, so neither a server outage nor a killed agent loses samples.

Tables: `samples` (readings not yet in a batch), `batches` (sealed, numbered,
waiting to be sent, or quarantined after a permanent refusal), `meta` (agent id,
key, next batch number, last counter value per device)."""

from __future__ import annotations

import gzip
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY, body BLOB NOT NULL, samples INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class SpoolFull(Exception):
    pass


@dataclass(frozen=True)
class Batch:
    seq: int
    body: bytes  # gzip-compressed JSON, exactly as sent
    samples: int


@dataclass(frozen=True)
class SpoolStatus:
    pending_samples: int
    pending_batches: int
    pending_batch_samples: int
    quarantined_batches: int


class Spool:
    def __init__(self, path: Path, *, max_samples: int = 5_000_000) -> None:
        self.path = path
        self.max_samples = max_samples
        self.lock = threading.Lock()  # one connection shared by the sampling and sending threads
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit survives the process being killed and the machine losing power.
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # --- meta ---
    def get(self, key: str, default: str | None = None) -> str | None:
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set(self, key: str, value: str) -> None:
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # --- samples ---
    def _count(self) -> int:
        samples = self.db.execute("SELECT count(*) FROM samples").fetchone()[0]
        batched = self.db.execute("SELECT coalesce(sum(samples), 0) FROM batches WHERE state = 'pending'").fetchone()
        return int(samples) + int(batched[0])

    def add(self, readings: list[dict[str, Any]], last_energy: dict[str, int]) -> None:
        """Stores one tick's readings and the devices' last counter values, atomically."""
        with self.lock:
            if self._count() + len(readings) > self.max_samples:
                raise SpoolFull(f"spool holds {self.max_samples} samples, its bound")
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany("INSERT INTO samples (body) VALUES (?)", [(json.dumps(r),) for r in readings])
            self.db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_energy', ?)", (json.dumps(last_energy),)
            )
            self.db.execute("COMMIT")

    def seal(self, envelope: dict[str, Any], limit: int) -> Batch | None:
        """Moves up to `limit` samples into a new numbered batch. Numbers never repeat:
        the server uses (agent, number) to make a resent batch a no-op."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            rows = self.db.execute("SELECT id, body FROM samples ORDER BY id LIMIT ?", (limit,)).fetchall()
            if not rows:
                self.db.execute("ROLLBACK")
                return None
            seq_row = self.db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
            seq = int(seq_row[0]) if seq_row else 1
            payload = {**envelope, "batch_seq": seq, "samples": [json.loads(body) for _, body in rows]}
            body = gzip.compress(json.dumps(payload, separators=(",", ":")).encode(), compresslevel=5)
            self.db.execute("INSERT INTO batches (seq, body, samples) VALUES (?, ?, ?)", (seq, body, len(rows)))
            self.db.execute("DELETE FROM samples WHERE id <= ?", (rows[-1][0],))
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?)", (str(seq + 1),))
            self.db.execute("COMMIT")
            return Batch(seq, body, len(rows))

    # --- batches ---
    def oldest(self) -> Batch | None:
        with self.lock:
            row = self.db.execute(
                "SELECT seq, body, samples FROM batches WHERE state = 'pending' ORDER BY seq LIMIT 1"
            ).fetchone()
        return Batch(*row) if row else None

    def sent(self, seq: int) -> None:
        with self.lock:
            self.db.execute("DELETE FROM batches WHERE seq = ?", (seq,))

    def failed(self, seq: int, error: str) -> None:
        with self.lock:
            self.db.execute("UPDATE batches SET attempts = attempts + 1, last_error = ? WHERE seq = ?", (error, seq))

    def quarantine(self, seq: int, reason: str) -> None:
        with self.lock:
            self.db.execute("UPDATE batches SET state = 'quarantined', last_error = ? WHERE seq = ?", (reason, seq))

    def status(self) -> SpoolStatus:
        with self.lock:
            samples = self.db.execute("SELECT count(*) FROM samples").fetchone()[0]
            pending = self.db.execute(
                "SELECT count(*), coalesce(sum(samples), 0) FROM batches WHERE state = 'pending'"
            ).fetchone()
            quarantined = self.db.execute("SELECT count(*) FROM batches WHERE state = 'quarantined'").fetchone()[0]
        return SpoolStatus(samples, pending[0], pending[1], quarantined)
