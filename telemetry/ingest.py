"""Batch ingest, split by what each side does fastest. Python checks that every
sample is well-formed (a JSON object whose fields have the right JSON types, from a
known device) and writes the good ones as typed COPY text into a staging table;
PostgreSQL checks the values (time window, ranges, energy counters that go
backwards) in one set-based statement that inserts the good rows with ON CONFLICT
DO NOTHING, so a replayed sample is a no-op. Every refused sample is kept in
quarantine with its reason. A batch is idempotent on (agent, batch_seq)."""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import NoneType
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import JSONField, Value
from django.utils import timezone

from telemetry import partitions
from telemetry.models import Agent, Attribution, Device, DeviceKind, QuarantinedSample, SealedLabel

MAX_POWER_W = 5000  # no accelerator draws more; a larger value is a unit error
# A counter may rise at most this far above the device's power limit (transients), or
# MAX_POWER_W where the limit is unknown: more is a forged or broken counter.
COUNTER_POWER_MARGIN = 1.25
FUTURE_TOLERANCE_S = 60  # clock skew allowed; NTP keeps hosts within a second
MAX_SAMPLES_PER_BATCH = 20_000  # the agent sends 1,000; bounds work and quarantine per request
MAX_DEVICE_INDEX = 2**15 - 1
MAX_LABEL_CHARS = 200
# The readings a sample may carry, each of which may be missing or null: column
# type, whole number?, lowest and highest value accepted.
READINGS: dict[str, tuple[str, bool, int, int]] = {
    "energy_mj": ("bigint", True, 0, 2**63 - 1),
    "power_w": ("double precision", False, 0, MAX_POWER_W),
    "power_limit_w": ("double precision", False, 0, MAX_POWER_W),
    "gpu_util": ("smallint", True, 0, 100),
    "mem_util": ("smallint", True, 0, 100),
    "mem_used_mb": ("integer", True, 0, 2**31 - 1),
    "temp_c": ("smallint", True, -273, 2**15 - 1),
    "sm_clock_mhz": ("integer", True, 0, 2**31 - 1),
}
# Each field's accepted JSON types (a missing field reads as null) and what is wrong otherwise.
FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "device": ((str,), "unknown device"),
    "ts": ((int, float), "missing or invalid timestamp"),
    "label": ((str, NoneType), "label is not a string"),
    "counter_reset": ((bool, NoneType), "counter_reset is not true or false"),
    **{
        name: ((int, NoneType), f"{name} is not a whole number")
        if whole
        else ((int, float, NoneType), f"{name} is not a number")
        for name, (_, whole, _, _) in READINGS.items()
    },
}
# Staging holds the readings as float8 (energy as numeric, exact) so that any number
# Python accepted loads, and PostgreSQL can then say which ones are out of range.
STAGING = f"""CREATE TEMP TABLE IF NOT EXISTS telemetry_staging (
    ord integer, device_id bigint, ts_epoch double precision, label text, counter_reset boolean,
    {", ".join(f"{n} {'numeric' if n == 'energy_mj' else 'double precision'}" for n in READINGS)})"""
_RANGE_CHECKS = "\n        ".join(
    f"WHEN {n} NOT BETWEEN {low} AND {high} THEN '{n} outside {low} to {high}'"
    for n, (_, _, low, high) in READINGS.items()
)
# One statement from staging (which it empties) to storage. `judged` finds energy
# counters that went backwards: a counter never falls below the highest value before
# it on the same device, unless a sample flags a reset, which starts a new run of
# values (the first run also compares with the last stored value).
STORE = f"""
WITH staged AS (
    DELETE FROM telemetry_staging RETURNING *
), checked AS (
    SELECT *, CASE
        WHEN ts_epoch > %(latest_s)s THEN 'timestamp in the future'
        WHEN ts_epoch < %(oldest_s)s THEN 'timestamp older than the raw-data retention'
        {_RANGE_CHECKS}
        WHEN power_w > power_limit_w * {COUNTER_POWER_MARGIN} THEN 'power_w above the device''s power limit'
        WHEN length(label) > {MAX_LABEL_CHARS} THEN 'label longer than {MAX_LABEL_CHARS} characters'
    END AS reason
    FROM staged
), valid AS (
    SELECT ord, device_id, to_timestamp(ts_epoch) AS ts, label, coalesce(counter_reset, false) AS counter_reset,
        {", ".join(f"{n}::{t} AS {n}" for n, (t, *_) in READINGS.items())}
    FROM checked WHERE reason IS NULL
), runs AS (
    SELECT *, count(*) FILTER (WHERE counter_reset AND energy_mj IS NOT NULL)
        OVER (PARTITION BY device_id ORDER BY ts, ord) AS counter_run
    FROM valid
), stored AS (
    SELECT f.device_id, s.energy_mj, s.ts
    FROM (SELECT device_id, min(ts) AS first FROM valid WHERE energy_mj IS NOT NULL GROUP BY device_id) f
    LEFT JOIN LATERAL (SELECT s.energy_mj, s.ts FROM telemetry_sample s WHERE s.device_id = f.device_id
        AND s.ts < f.first AND s.energy_mj IS NOT NULL ORDER BY s.ts DESC LIMIT 1) s ON true
), paired AS (
    SELECT r.*, s.energy_mj AS stored_mj,
        coalesce(lag(r.energy_mj) OVER w, CASE WHEN r.counter_run = 0 THEN s.energy_mj END) AS prev_mj,
        coalesce(lag(r.ts) OVER w, CASE WHEN r.counter_run = 0 THEN s.ts END) AS prev_ts
    FROM runs r LEFT JOIN stored s USING (device_id)
    WINDOW w AS (PARTITION BY r.device_id, r.counter_run, r.energy_mj IS NULL ORDER BY r.ts, r.ord)
), judged AS (
    SELECT p.*, coalesce(NOT p.counter_reset AND p.energy_mj < greatest(
        max(p.energy_mj) OVER (PARTITION BY p.device_id, p.counter_run ORDER BY p.ts, p.ord
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
        CASE WHEN p.counter_run = 0 THEN p.stored_mj END), false) AS backwards,
        coalesce(NOT p.counter_reset AND p.energy_mj - p.prev_mj
            > least(coalesce(p.power_limit_w * {COUNTER_POWER_MARGIN}, {MAX_POWER_W}), {MAX_POWER_W}) * 1000
              * greatest(extract(epoch FROM p.ts - p.prev_ts), 1), false) AS too_fast
    FROM paired p
), good AS (
    SELECT * FROM judged WHERE NOT backwards AND NOT too_fast
), refused AS (
    SELECT ord, reason FROM checked WHERE reason IS NOT NULL
    UNION ALL SELECT ord, 'energy counter went backwards without a reset flag' FROM judged WHERE backwards
    UNION ALL SELECT ord, 'energy counter rose faster than the device can draw power'
        FROM judged WHERE too_fast AND NOT backwards
), inserted AS (
    INSERT INTO telemetry_sample (device_id, ts, label, counter_reset, batch_id, {", ".join(READINGS)})
    SELECT device_id, ts, label, counter_reset, %(batch_id)s, {", ".join(READINGS)} FROM good
    ON CONFLICT (device_id, ts) DO NOTHING
    RETURNING 1
), latest AS (
    UPDATE telemetry_device d SET last_seen_at = v.ts, last_power_w = v.power_w, last_label = v.label
    FROM (SELECT DISTINCT ON (device_id) device_id, ts, power_w, label FROM good ORDER BY device_id, ts DESC) v
    WHERE d.id = v.device_id AND (d.last_seen_at IS NULL OR d.last_seen_at < v.ts)
), totals AS (
    SELECT (SELECT count(*) FROM inserted) AS inserted, count(*) AS stored, min(ts) AS min_ts, max(ts) AS max_ts
    FROM good
), batch AS (
    UPDATE telemetry_ingestbatch SET accepted = t.inserted, duplicated = t.stored - t.inserted,
        quarantined = %(refused_before)s + (SELECT count(*) FROM refused), min_ts = t.min_ts, max_ts = t.max_ts,
        rolled_up = t.stored = 0
    FROM totals t WHERE id = %(batch_id)s
)
SELECT t.*, r.* FROM totals t, (SELECT array_agg(ord), array_agg(reason) FROM refused) r
"""
# A batch is recorded once per (agent, seq): a resent one inserts nothing and returns no row.
NEW_BATCH = """INSERT INTO telemetry_ingestbatch
    (agent_id, seq, received_at, samples, accepted, duplicated, quarantined, rolled_up)
    VALUES (%s, %s, %s, %s, 0, 0, 0, false) ON CONFLICT (agent_id, seq) DO NOTHING RETURNING id"""
# The agent's last contact, written at most once a minute: a batch every 10 s need not update it.
LAST_SEEN_EVERY = timedelta(minutes=1)


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


def _device_fields(info: Any) -> dict[str, Any]:
    """A declared device's fields, checked: a malformed declaration rejects the batch (400)."""
    if not isinstance(info, dict):
        raise BatchRejected("each device must be an object")
    uuid, index = info.get("uuid"), info.get("index", 0)
    if not isinstance(uuid, str) or not 0 < len(uuid) <= 96:
        raise BatchRejected("each device needs a 'uuid' of 1 to 96 characters")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= MAX_DEVICE_INDEX:
        raise BatchRejected(f"device {uuid!r}: 'index' must be a whole number from 0 to {MAX_DEVICE_INDEX}")
    kind = info.get("kind", DeviceKind.GPU)
    if kind not in DeviceKind.values:
        raise BatchRejected(f"device {uuid!r}: kind must be one of {', '.join(DeviceKind.values)}")
    fields = {"uuid": uuid, "kind": kind, "index": index, "energy_counter": info.get("energy_counter") is True}
    parent, attribution = info.get("parent"), info.get("attribution", "")
    if parent is not None and (not isinstance(parent, str) or parent == uuid or len(parent) > 96):
        raise BatchRejected(f"device {uuid!r}: 'parent' must be the uuid of another device")
    if attribution not in ("", *Attribution.values) or (attribution and parent is None):
        raise BatchRejected(f"device {uuid!r}: 'attribution' is one of {', '.join(Attribution.values)}, for a share")
    fields |= {"parent": parent, "attribution": attribution}
    for name, limit in (("name", 200), ("driver", 64)):
        value = info.get(name, "")
        if not isinstance(value, str):
            raise BatchRejected(f"device {uuid!r}: {name!r} must be a string")
        fields[name] = value[:limit]
    if any("\x00" in str(v) for v in fields.values()):
        raise BatchRejected(f"device {uuid!r}: a field contains a NUL character")
    return fields


def _register_devices(agent: Agent, declared: Any) -> tuple[dict[str, Device], set[str]]:
    """The agent's devices by UUID, registering new ones, and the UUIDs it declared that
    belong to another agent: a device stays with the agent that enrolled it (moving it is
    an explicit, audited action), so another agent cannot take it over."""
    if not isinstance(declared, list):
        raise BatchRejected("'devices' must be a list of the agent's GPUs (and its host, where it reads RAPL)")
    wanted = [_device_fields(info) for info in declared]
    uuids = [f["uuid"] for f in wanted] + [f["parent"] for f in wanted if f["parent"]]
    known = {d.uuid: d for d in Device.objects.filter(uuid__in=uuids)}
    mine: dict[str, Device] = {}
    foreign: set[str] = set()
    for fields in wanted:  # a share's parent is declared before it, or was in an earlier batch
        device = known.get(fields["uuid"])
        if device is not None and device.agent_id != agent.pk:
            foreign.add(fields["uuid"])
            continue
        parent_uuid = fields.pop("parent")
        parent = mine.get(parent_uuid) or known.get(parent_uuid) if parent_uuid else None
        if parent_uuid and (parent is None or parent.agent_id != agent.pk or parent.parent_id is not None):
            raise BatchRejected(f"device {fields['uuid']!r}: its parent {parent_uuid!r} is not a GPU of this agent")
        fields["parent_id"] = parent.pk if parent else None
        if device is None or any(getattr(device, k) != v for k, v in fields.items()):
            device, _ = Device.objects.update_or_create(uuid=fields["uuid"], defaults={"agent": agent, **fields})
        mine[device.uuid] = device
    return mine, foreign


@functools.lru_cache(maxsize=8192)  # about 4,600 accepted combinations; bounded against odd input
def _line_format(types: tuple[type, ...]) -> str | None:
    """The COPY line for samples whose fields have these types (ord and device id
    first), or None if a type is not accepted. A null is written as \\N and its
    value swallowed by %.0s."""
    if not all(t in kinds for t, (kinds, _) in zip(types, FIELDS.values(), strict=True)):
        return None
    readings = types[3:]  # after device, ts and label, which are always written
    return "%s\t%s\t%r\t%s\t" + "\t".join("\\N%.0s" if t is NoneType else "%r" for t in readings) + "\n"


def _copy_label(label: str | None) -> str | None:
    """The label as COPY text, or None where PostgreSQL cannot hold it (a NUL)."""
    if label is None:
        return ""
    if "\x00" in label:
        return None
    return label.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _why(sample: Any, devices: dict[str, int], foreign: set[str]) -> str:
    """The reason _staging_text refused a sample: the slow path, for the few that fail."""
    if type(sample) is not dict:
        return "not an object"
    for name, (kinds, reason) in FIELDS.items():
        if type(sample.get(name)) not in kinds:
            return reason
    if sample["device"] in foreign:
        return "device belongs to another agent"
    if sample["device"] not in devices:
        return "unknown device"
    return "label contains a NUL character"


def _label_verdicts(agent: Agent, samples: list[Any]) -> dict[str | None, str | None]:
    """The reason each distinct label is refused, or None: a namespace the agent may not
    write, or a label sealed because its run closed. One query a batch."""
    labels = {s.get("label") for s in samples if type(s) is dict and type(s.get("label")) is str}
    storable = [x for x in labels if x and "\x00" not in x]  # a NUL is refused later, and PostgreSQL cannot query it
    sealed = dict(SealedLabel.objects.filter(label__in=storable).values_list("label", "reason"))
    verdicts: dict[str | None, str | None] = {}
    for label in labels:
        if label and not agent.may_write(label):
            verdicts[label] = f"label outside this agent's namespaces ({', '.join(agent.label_namespaces) or 'none'})"
        elif label in sealed:
            verdicts[label] = f"label sealed: {sealed[label]}"
    return verdicts


def _staging_text(
    samples: list[Any], devices: dict[str, int], foreign: set[str], verdicts: dict[str | None, str | None]
) -> tuple[str, list[tuple[int, str]]]:
    """COPY text of the well-formed samples, and (index, reason) of the others. The
    loop runs for every sample, so it does as little as it can: one lookup decides
    whether all of a sample's fields have accepted types."""
    lines, refused = [], []
    labels: dict[str | None, str | None] = {}
    names = tuple(FIELDS)
    for i, sample in enumerate(samples):
        if type(sample) is dict:
            values: tuple[Any, ...] = tuple(map(sample.get, names))
            line = _line_format(tuple(map(type, values)))
            device = devices.get(values[0]) if line is not None else None  # a str: the format checked it
            if line is not None and device is not None:
                if verdicts and (why := verdicts.get(values[2])) is not None:
                    refused.append((i, why))
                    continue
                if values[2] not in labels:
                    labels[values[2]] = _copy_label(values[2])
                if (label := labels[values[2]]) is not None:
                    lines.append(line % (i, device, values[1], label, *values[3:]))
                    continue
        refused.append((i, _why(sample, devices, foreign)))
    return "".join(lines), refused


def _days(samples: list[Any], oldest_s: float, latest_s: float) -> set[date]:
    """The days the storable samples fall on, whose partitions must exist before the insert."""
    stamps: set[Any] = {s.get("ts") for s in samples if type(s) is dict}
    return {
        datetime.fromtimestamp(day * 86400, UTC).date()
        for day in {ts // 86400 for ts in stamps if type(ts) in (int, float) and oldest_s <= ts <= latest_s}
    }


def _without_nul(value: Any) -> Any:
    """A quarantined sample as jsonb can hold it: NUL becomes U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def ingest_batch(*, agent: Agent, payload: Any) -> IngestResult:
    """Stores one agent batch. Safe to call again with the same batch: nothing doubles."""
    if not isinstance(payload, dict):
        raise BatchRejected("the body must be a JSON object")
    seq = payload.get("batch_seq")
    samples = payload.get("samples")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq < 2**63:
        raise BatchRejected("'batch_seq' must be a whole number from 1 to 2^63 - 1")
    if not isinstance(samples, list):
        raise BatchRejected("'samples' must be a list")
    if len(samples) > MAX_SAMPLES_PER_BATCH:
        raise BatchRejected(f"a batch holds at most {MAX_SAMPLES_PER_BATCH:,} samples; this one has {len(samples):,}")
    result = IngestResult(batch_seq=seq, received=len(samples))
    now = timezone.now()
    latest_s = now.timestamp() + FUTURE_TOLERANCE_S
    oldest_s = now.timestamp() - settings.TELEMETRY_RAW_RETENTION_DAYS * 86400
    with transaction.atomic(), connection.cursor() as cursor:
        # The staging table (a connection's own, created once) in the same round trip.
        cursor.execute(f"{STAGING}; {NEW_BATCH}", [agent.pk, seq, now, len(samples)])
        cursor.nextset()
        row = cursor.fetchone()
        if row is None:
            result.duplicate_batch = True
            result.duplicated = len(samples)
            return result
        result.batch_id = row[0]
        mine, foreign = _register_devices(agent, payload.get("devices", []))
        devices = {uuid: d.pk for uuid, d in mine.items()}
        partitions.ensure(_days(samples, oldest_s, latest_s))
        text, refused = _staging_text(samples, devices, foreign, _label_verdicts(agent, samples))
        with cursor.copy("COPY telemetry_staging FROM STDIN") as copy:
            copy.write(text)
        cursor.execute(
            STORE,
            {"latest_s": latest_s, "oldest_s": oldest_s, "batch_id": result.batch_id, "refused_before": len(refused)},
        )
        inserted, stored, _, _, ords, reasons = cursor.fetchone()
        refused += zip(ords or [], reasons or [], strict=True)
        QuarantinedSample.objects.bulk_create(
            QuarantinedSample(
                agent=agent,
                batch_seq=seq,
                device_uuid=str(samples[i].get("device") or "" if isinstance(samples[i], dict) else "")[:96],
                payload=_without_nul(samples[i]) if samples[i] is not None else Value(None, JSONField()),
                reason=reason,
            )
            for i, reason in refused
        )
        result.accepted = inserted
        result.duplicated = stored - inserted
        result.quarantined = len(refused)
        result.reasons = Counter(reason for _, reason in refused)
        version = str(payload.get("agent_version", ""))[:20]
        if agent.last_seen_at is None or now - agent.last_seen_at >= LAST_SEEN_EVERY or agent.agent_version != version:
            Agent.objects.filter(pk=agent.pk).update(last_seen_at=now, agent_version=version)
    return result
