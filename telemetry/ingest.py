"""Batch ingest: validate each sample at the edge, keep the bad ones in quarantine
with their reason, and write the good ones with COPY through a staging table so a
replayed sample is a no-op. A batch is idempotent on (agent, batch_seq)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
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
# Row layout while ingesting: ts stays epoch seconds (a float) until PostgreSQL converts it.
DEVICE, TS, LABEL, ENERGY, POWER, RESET = 0, 1, 2, 3, 4, 11
MAX_POWER_W = 5000.0  # no accelerator draws more; a larger value is a unit error
FUTURE_TOLERANCE_S = 300.0
NUMBER = (int, float)
STAGING = """CREATE TEMP TABLE IF NOT EXISTS telemetry_staging (
    device_id bigint, ts_epoch double precision, label text, energy_mj bigint, power_w double precision,
    power_limit_w double precision, gpu_util smallint, mem_util smallint, mem_used_mb integer, temp_c smallint,
    sm_clock_mhz integer, counter_reset boolean, batch_id bigint) ON COMMIT DELETE ROWS"""
INSERT = f"""INSERT INTO telemetry_sample ({", ".join(COLUMNS)})
    SELECT device_id, to_timestamp(ts_epoch), {", ".join(COLUMNS[2:])} FROM telemetry_staging
    ON CONFLICT (device_id, ts) DO NOTHING"""


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


def _finite(value: Any) -> bool:
    return value is None or (type(value) in NUMBER and math.isfinite(value))


def _check(sample: Any, devices: dict[str, Device], now_s: float, oldest_s: float) -> tuple[Any, ...]:
    """The row to store (without its batch id), or ValueError with the reason. Kept
    tight: it runs for every sample."""
    if type(sample) is not dict:
        raise ValueError("not an object")
    device = devices.get(sample.get("device"))  # type: ignore[arg-type]
    if device is None:
        raise ValueError("unknown device")
    ts = sample.get("ts")
    if type(ts) not in NUMBER or not math.isfinite(ts):
        raise ValueError("missing or invalid timestamp")
    if ts > now_s + FUTURE_TOLERANCE_S:
        raise ValueError("timestamp in the future")
    if ts < oldest_s:
        raise ValueError("timestamp older than the raw-data retention")
    get = sample.get
    power, energy, limit = get("power_w"), get("energy_mj"), get("power_limit_w")
    ints = (get("gpu_util"), get("mem_util"), get("mem_used_mb"), get("temp_c"), get("sm_clock_mhz"))
    if not (_finite(power) and _finite(limit) and all(v is None or type(v) is int for v in ints)) or not (
        energy is None or type(energy) is int
    ):
        raise ValueError("a reading is not a finite number")
    if power is not None and not 0 <= power <= MAX_POWER_W:
        raise ValueError("negative power" if power < 0 else "power above 5 kW")
    if energy is not None and energy < 0:
        raise ValueError("negative energy counter")
    if (ints[0] is not None and not 0 <= ints[0] <= 100) or (ints[1] is not None and not 0 <= ints[1] <= 100):
        raise ValueError("utilisation outside 0-100%")
    label = get("label") or ""
    if type(label) is not str or len(label) > 200:
        raise ValueError("label is not a string of at most 200 characters")
    return (device.pk, float(ts), label, energy, power, limit, *ints, bool(get("counter_reset", False)))


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


def _previous_energies(firsts: dict[int, float]) -> dict[int, int | None]:
    """Each device's last stored counter value before its first sample in this batch:
    one query, an index probe per device."""
    if not firsts:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d.id, (SELECT s.energy_mj FROM telemetry_sample s WHERE s.device_id = d.id "
            "AND s.ts < to_timestamp(d.first) AND s.energy_mj IS NOT NULL ORDER BY s.ts DESC LIMIT 1) "
            "FROM unnest(%s::bigint[], %s::double precision[]) AS d(id, first)",
            [list(firsts), list(firsts.values())],
        )
        return dict(cursor.fetchall())


def _backwards(rows: list[tuple[Any, ...]]) -> set[int]:
    """Indexes of rows whose energy counter went down without a reset flag."""
    order = sorted(range(len(rows)), key=lambda i: (rows[i][DEVICE], rows[i][TS]))
    firsts: dict[int, float] = {}
    for i in order:
        if rows[i][ENERGY] is not None:
            firsts.setdefault(rows[i][DEVICE], rows[i][TS])
    last = _previous_energies(firsts)
    bad: set[int] = set()
    for i in order:
        device_id, energy = rows[i][DEVICE], rows[i][ENERGY]
        if energy is None:
            continue
        previous = last.get(device_id)
        if previous is not None and energy < previous and not rows[i][RESET]:
            bad.add(i)
        else:
            last[device_id] = energy
    return bad


def copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    return str(value)


def _copy(rows: list[tuple[Any, ...]]) -> int:
    """COPY (one text buffer) into a per-connection staging table, then one INSERT that
    skips rows already stored. Returns how many were new."""
    lines = []
    for row in rows:
        label = row[LABEL].replace("\\", "\\\\").replace("\t", " ").replace("\n", " ").replace("\r", " ")
        lines.append("\t".join([copy_value(row[0]), repr(row[1]), label, *map(copy_value, row[3:])]))
    with connection.cursor() as cursor:
        cursor.execute(STAGING)
        with cursor.copy("COPY telemetry_staging FROM STDIN") as copy:
            copy.write("\n".join(lines) + "\n")
        cursor.execute(INSERT)
        inserted = cursor.rowcount
        cursor.execute("TRUNCATE telemetry_staging")
    return int(inserted)


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
    now_s = now.timestamp()
    oldest_s = now_s - settings.TELEMETRY_RAW_RETENTION_DAYS * 86400
    with transaction.atomic():
        try:
            with transaction.atomic():
                batch = IngestBatch.objects.create(agent=agent, seq=seq, samples=len(samples))
        except IntegrityError:
            result.duplicate_batch = True
            result.duplicated = len(samples)
            return result
        devices = _register_devices(agent, payload.get("devices", []))
        rows: list[tuple[Any, ...]] = []
        quarantine: list[QuarantinedSample] = []

        def reject(sample: Any, reason: str) -> None:
            result.reasons[reason] += 1
            uuid = sample.get("device", "") if isinstance(sample, dict) else ""
            quarantine.append(
                QuarantinedSample(agent=agent, batch_seq=seq, device_uuid=str(uuid)[:96], payload=sample, reason=reason)
            )

        for sample in samples:
            try:
                rows.append((*_check(sample, devices, now_s, oldest_s), batch.pk))
            except ValueError as exc:
                reject(sample, str(exc))
        by_pk = {d.pk: d.uuid for d in devices.values()}
        for i in sorted(_backwards(rows), reverse=True):
            bad = rows.pop(i)
            reject(
                {"device": by_pk[bad[DEVICE]], "ts": bad[TS], "energy_mj": bad[ENERGY]},
                "energy counter went backwards without a reset flag",
            )
        inserted = 0
        if rows:
            partitions.ensure({datetime.fromtimestamp(ts, UTC).date() for ts in {r[TS] // 86400 * 86400 for r in rows}})
            inserted = _copy(rows)
            _note_last_readings(rows)
        QuarantinedSample.objects.bulk_create(quarantine)
        result.accepted = inserted
        result.duplicated = len(rows) - inserted
        result.quarantined = len(quarantine)
        result.batch_id = batch.pk
        stamps = [r[TS] for r in rows]
        IngestBatch.objects.filter(pk=batch.pk).update(
            accepted=inserted,
            duplicated=result.duplicated,
            quarantined=result.quarantined,
            min_ts=datetime.fromtimestamp(min(stamps), UTC) if stamps else None,
            max_ts=datetime.fromtimestamp(max(stamps), UTC) if stamps else None,
            rolled_up=not rows,
        )
        Agent.objects.filter(pk=agent.pk).update(
            last_seen_at=now, agent_version=str(payload.get("agent_version", ""))[:20]
        )
    return result


def _note_last_readings(rows: list[tuple[Any, ...]]) -> None:
    """Each device's newest power and label, for the live view: one statement for all."""
    latest: dict[int, tuple[Any, ...]] = {}
    for r in rows:
        if r[DEVICE] not in latest or r[TS] > latest[r[DEVICE]][TS]:
            latest[r[DEVICE]] = r
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE telemetry_device d SET last_seen_at = to_timestamp(v.ts), last_power_w = v.power, "
            "last_label = v.label FROM unnest(%s::bigint[], %s::double precision[], %s::double precision[], "
            "%s::text[]) AS v(id, ts, power, label) "
            "WHERE d.id = v.id AND (d.last_seen_at IS NULL OR d.last_seen_at < to_timestamp(v.ts))",
            [
                [r[DEVICE] for r in latest.values()],
                [r[TS] for r in latest.values()],
                [r[POWER] for r in latest.values()],
                [r[LABEL] for r in latest.values()],
            ],
        )
