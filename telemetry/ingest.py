"""Batch ingest: validate each sample at the edge, keep the bad ones in quarantine
with their reason, and write the good ones with COPY through a staging table so a
replayed sample is a no-op. A batch is idempotent on (agent, batch_seq)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from telemetry import partitions
from telemetry.models import Agent, Device, IngestBatch, QuarantinedSample

COLUMNS = (
    "device_id",
    "ts",
    "label",
    "energy_mj",
    "power_w",
    "power_limit_w",
    "gpu_util",
    "mem_util",
    "mem_used_mb",
    "temp_c",
    "sm_clock_mhz",
    "counter_reset",
    "batch_id",
)
MAX_POWER_W = 5000.0  # no accelerator draws more; a larger value is a unit error
FUTURE_TOLERANCE = timedelta(minutes=5)


class BatchRejected(ValueError):
    """The batch as a whole is malformed (not one bad sample): answered with a 400."""


@dataclass
class IngestResult:
    batch_seq: int
    duplicate_batch: bool = False
    received: int = 0
    accepted: int = 0
    duplicated: int = 0
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    batch_id: int | None = None


def _number(value: Any, *, integer: bool = False) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError
    if integer and not float(value).is_integer():
        raise ValueError
    return int(value) if integer else float(value)


def _check(sample: Any, devices: dict[str, Device], now: datetime, oldest: datetime) -> tuple[tuple[Any, ...], str]:
    """The row to store (without batch id) or raises ValueError with the reason."""
    if not isinstance(sample, dict):
        raise ValueError("not an object")
    device = devices.get(sample.get("device"))  # type: ignore[arg-type]
    if device is None:
        raise ValueError("unknown device")
    try:
        ts = datetime.fromtimestamp(float(sample["ts"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        raise ValueError("missing or invalid timestamp") from None
    if ts > now + FUTURE_TOLERANCE:
        raise ValueError("timestamp in the future")
    if ts < oldest:
        raise ValueError("timestamp older than the raw-data retention")
    try:
        power = _number(sample.get("power_w"))
        energy = _number(sample.get("energy_mj"), integer=True)
        values = [
            _number(sample.get(k), integer=True)
            for k in ("gpu_util", "mem_util", "mem_used_mb", "temp_c", "sm_clock_mhz")
        ]
        limit = _number(sample.get("power_limit_w"))
    except ValueError:
        raise ValueError("a reading is not a finite number") from None
    if power is not None and not 0 <= power <= MAX_POWER_W:
        raise ValueError("negative power" if power < 0 else "power above 5 kW")
    if energy is not None and energy < 0:
        raise ValueError("negative energy counter")
    if any(v is not None and not 0 <= v <= 100 for v in values[:2]):
        raise ValueError("utilisation outside 0-100%")
    label = sample.get("label") or ""
    if not isinstance(label, str) or len(label) > 200:
        raise ValueError("label is not a string of at most 200 characters")
    reset = bool(sample.get("counter_reset", False))
    return (device.pk, ts, label, energy, power, limit, *values, reset), device.uuid


def _register_devices(agent: Agent, declared: Any) -> dict[str, Device]:
    if not isinstance(declared, list):
        raise BatchRejected("'devices' must be a list of the agent's GPUs")
    by_uuid = {d.uuid: d for d in Device.objects.filter(agent=agent)}
    for info in declared:
        if not isinstance(info, dict) or not isinstance(info.get("uuid"), str):
            raise BatchRejected("each device needs a 'uuid'")
        known = by_uuid.get(info["uuid"])
        fields = {
            "name": str(info.get("name", ""))[:200],
            "index": int(info.get("index") or 0),
            "driver": str(info.get("driver", ""))[:64],
            "energy_counter": bool(info.get("energy_counter")),
        }
        if known is None or any(getattr(known, k) != v for k, v in fields.items()):
            # A GPU that moved to another host follows its UUID to the new agent.
            device, _ = Device.objects.update_or_create(uuid=info["uuid"], defaults={"agent": agent, **fields})
            by_uuid[device.uuid] = device
    return by_uuid


def _previous_energy(device_id: int, before: datetime) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT energy_mj FROM telemetry_sample WHERE device_id = %s AND ts < %s AND energy_mj IS NOT NULL "
            "ORDER BY ts DESC LIMIT 1",
            [device_id, before],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _backwards(rows: list[tuple[Any, ...]]) -> set[int]:
    """Indexes of rows whose energy counter went down without a reset flag."""
    bad: set[int] = set()
    order = sorted(range(len(rows)), key=lambda i: (rows[i][0], rows[i][1]))
    last: dict[int, int | None] = {}
    for i in order:
        device_id, ts, energy, reset = rows[i][0], rows[i][1], rows[i][3], rows[i][11]
        if energy is None:
            continue
        if device_id not in last:
            last[device_id] = _previous_energy(device_id, ts)
        previous = last[device_id]
        if previous is not None and energy < previous and not reset:
            bad.add(i)
            continue
        last[device_id] = energy
    return bad


def _copy(rows: list[tuple[Any, ...]]) -> int:
    """COPY into a per-connection staging table, then one INSERT that skips rows
    already stored. Returns how many were new."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS telemetry_staging "
            "(LIKE telemetry_sample INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with cursor.copy(f"COPY telemetry_staging ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO telemetry_sample ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} "
            "FROM telemetry_staging ON CONFLICT (device_id, ts) DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute("TRUNCATE telemetry_staging")
    return inserted


def ingest_batch(*, agent: Agent, payload: Any) -> IngestResult:
    """Stores one agent batch. Safe to call again with the same batch: nothing doubles."""
    if not isinstance(payload, dict):
        raise BatchRejected("the body must be a JSON object")
    seq = payload.get("batch_seq")
    samples = payload.get("samples")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise BatchRejected("'batch_seq' must be a positive integer")
    if not isinstance(samples, list):
        raise BatchRejected("'samples' must be a list")
    result = IngestResult(batch_seq=seq, received=len(samples))
    now = timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                batch = IngestBatch.objects.create(agent=agent, seq=seq, samples=len(samples))
        except IntegrityError:
            result.duplicate_batch = True
            result.duplicated = len(samples)
            return result
        devices = _register_devices(agent, payload.get("devices", []))
        oldest = now - timedelta(days=settings.TELEMETRY_RAW_RETENTION_DAYS)
        rows: list[tuple[Any, ...]] = []
        quarantine: list[QuarantinedSample] = []
        for sample in samples:
            try:
                row, _ = _check(sample, devices, now, oldest)
            except ValueError as exc:
                reason = str(exc)
                result.reasons[reason] += 1
                uuid = sample.get("device", "") if isinstance(sample, dict) else ""
                quarantine.append(
                    QuarantinedSample(
                        agent=agent, batch_seq=seq, device_uuid=str(uuid)[:96], payload=sample, reason=reason
                    )
                )
                continue
            rows.append((*row, batch.pk))
        for i in sorted(_backwards(rows), reverse=True):
            bad = rows.pop(i)
            reason = "energy counter went backwards without a reset flag"
            result.reasons[reason] += 1
            quarantine.append(
                QuarantinedSample(
                    agent=agent,
                    batch_seq=seq,
                    device_uuid=next(d.uuid for d in devices.values() if d.pk == bad[0]),
                    payload={"ts": bad[1].timestamp(), "energy_mj": bad[3]},
                    reason=reason,
                )
            )
        if rows:
            partitions.ensure({r[1].date() for r in rows})
            inserted = _copy(rows)
        else:
            inserted = 0
        QuarantinedSample.objects.bulk_create(quarantine)
        result.accepted = inserted
        result.duplicated = len(rows) - inserted
        result.quarantined = len(quarantine)
        result.batch_id = batch.pk

        latest: dict[int, tuple[Any, ...]] = {}
        for r in rows:
            if r[0] not in latest or r[1] > latest[r[0]][1]:
                latest[r[0]] = r
        for device_id, r in latest.items():
            Device.objects.filter(Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=r[1]), pk=device_id).update(
                last_seen_at=r[1], last_power_w=r[4], last_label=r[2]
            )
        IngestBatch.objects.filter(pk=batch.pk).update(
            accepted=inserted,
            duplicated=result.duplicated,
            quarantined=result.quarantined,
            min_ts=min((r[1] for r in rows), default=None),
            max_ts=max((r[1] for r in rows), default=None),
            rolled_up=not rows,
        )
        Agent.objects.filter(pk=agent.pk).update(
            last_seen_at=now, agent_version=str(payload.get("agent_version", ""))[:20]
        )
    return result
