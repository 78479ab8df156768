"""Prometheus Remote-Write into the agent ingest path. A fleet that runs NVIDIA's
dcgm-exporter and Prometheus (or Grafana Agent, Alloy, vmagent) sends its GPU series
here instead of deploying Greenlight's agent; each write becomes agent batches stored by
ingest.ingest_batch, with the same checks, quarantine and idempotence.

Accepted: Remote-Write 1.0 (`prometheus.WriteRequest`) and 2.0
(`io.prometheus.write.v2.Request`), snappy block-compressed (cramjam) protobuf. The schemas are
declared below as protobuf descriptors (the fields this receiver reads; protobuf skips
the others) and decoded by the protobuf library, never by hand."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import cramjam
from django.db import transaction
from google.protobuf import descriptor_pb2, descriptor_pool, message, message_factory

from telemetry.ingest import MAX_SAMPLES_PER_BATCH, IngestResult, ingest_batch
from telemetry.models import Agent, Attribution, QuarantinedSample, TokenCounter
from telemetry.signals import tokens_counted

V1 = "prometheus.WriteRequest"
V2 = "io.prometheus.write.v2.Request"
MAX_BODY_BYTES = 32 * 1024 * 1024  # decompressed; Prometheus sends at most a few MB a request
MAX_SERIES = 50_000  # Prometheus sends max_samples_per_send (2,000 by default) at most
MAX_UUID_CHARS = 96

# The series this receiver understands: the sample field each fills, and the factor from
# the series' unit to the field's. dcgm-exporter's energy counter is DCGM field 156,
# millijoules since the driver loaded; GR_ENGINE_ACTIVE is the share (0 to 1) of time the
# graphics engine was busy, GPU_UTIL the same in percent; FB_USED is in MiB.
METRICS: dict[str, tuple[str, float]] = {
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": ("energy_mj", 1),
    "DCGM_FI_DEV_POWER_USAGE": ("power_w", 1),
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": ("gpu_util", 100),
    "DCGM_FI_DEV_GPU_UTIL": ("gpu_util", 1),
    "DCGM_FI_DEV_GPU_TEMP": ("temp_c", 1),
    "DCGM_FI_DEV_SM_CLOCK": ("sm_clock_mhz", 1),
    "DCGM_FI_DEV_FB_USED": ("mem_used_mb", 1),
}
WHOLE = {"energy_mj", "gpu_util", "temp_c", "sm_clock_mhz", "mem_used_mb"}  # the agent's integer fields
# Kepler's per-container share of its node's RAPL counters (CPU package and memory, in
# joules, split into dynamic and idle modes): stored as the pod's host energy. Its GPU
# joules are not read: dcgm-exporter's meters are.
KEPLER = ("kepler_container_package_joules_total", "kepler_container_dram_joules_total")
# vLLM's counters, for a deployment's measured usage (its pods carry the run label).
TOKEN_METRICS = {
    "vllm:prompt_tokens_total": "input_tokens",
    "vllm:generation_tokens_total": "output_tokens",
    "vllm:request_success_total": "requests",
}


def _schema() -> tuple[type[message.Message], type[message.Message]]:
    f = descriptor_pb2.FieldDescriptorProto
    repeated, optional = f.LABEL_REPEATED, f.LABEL_OPTIONAL

    def msg(name: str, *fields: tuple[str, int, int, int, str]) -> descriptor_pb2.DescriptorProto:
        d = descriptor_pb2.DescriptorProto(name=name)
        for fname, number, label, ftype, type_name in fields:
            added = d.field.add(name=fname, number=number, label=label, type=ftype)
            if type_name:
                added.type_name = type_name
        return d

    v1 = descriptor_pb2.FileDescriptorProto(name="greenlight/prompb_v1.proto", package="prometheus", syntax="proto3")
    v1.message_type.extend(
        [
            msg("Label", ("name", 1, optional, f.TYPE_STRING, ""), ("value", 2, optional, f.TYPE_STRING, "")),
            msg("Sample", ("value", 1, optional, f.TYPE_DOUBLE, ""), ("timestamp", 2, optional, f.TYPE_INT64, "")),
            msg(
                "TimeSeries",
                ("labels", 1, repeated, f.TYPE_MESSAGE, ".prometheus.Label"),
                ("samples", 2, repeated, f.TYPE_MESSAGE, ".prometheus.Sample"),
            ),
            msg(  # Prometheus sends metric metadata in writes of its own; read, not used
                "MetricMetadata",
                ("type", 1, optional, f.TYPE_INT32, ""),
                ("metric_family_name", 2, optional, f.TYPE_STRING, ""),
                ("help", 4, optional, f.TYPE_STRING, ""),
                ("unit", 5, optional, f.TYPE_STRING, ""),
            ),
            msg(
                "WriteRequest",
                ("timeseries", 1, repeated, f.TYPE_MESSAGE, ".prometheus.TimeSeries"),
                ("metadata", 3, repeated, f.TYPE_MESSAGE, ".prometheus.MetricMetadata"),
            ),
        ]
    )
    v2 = descriptor_pb2.FileDescriptorProto(
        name="greenlight/prompb_v2.proto", package="io.prometheus.write.v2", syntax="proto3"
    )
    v2.message_type.extend(
        [
            msg("Sample", ("value", 1, optional, f.TYPE_DOUBLE, ""), ("timestamp", 2, optional, f.TYPE_INT64, "")),
            msg(
                "TimeSeries",
                ("labels_refs", 1, repeated, f.TYPE_UINT32, ""),
                ("samples", 2, repeated, f.TYPE_MESSAGE, ".io.prometheus.write.v2.Sample"),
            ),
            msg(
                "Request",
                ("symbols", 4, repeated, f.TYPE_STRING, ""),
                ("timeseries", 5, repeated, f.TYPE_MESSAGE, ".io.prometheus.write.v2.TimeSeries"),
            ),
        ]
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(v1)
    pool.Add(v2)
    return (
        message_factory.GetMessageClass(pool.FindMessageTypeByName(V1)),
        message_factory.GetMessageClass(pool.FindMessageTypeByName(V2)),
    )


WriteRequest, RequestV2 = _schema()


class MalformedWrite(ValueError):
    """The body is not a snappy-compressed protobuf write request: answered with a 400."""


@dataclass
class WriteResult:
    series: int = 0  # series in the request
    accepted_series: int = 0  # series of a metric this receiver understands, from a GPU it could name
    samples: int = 0
    results: list[IngestResult] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)  # metric name → series not understood
    refused: int = 0  # series quarantined whole (a UUID too long to be a device's)

    @property
    def accepted(self) -> int:
        return sum(r.accepted for r in self.results)

    @property
    def quarantined(self) -> int:
        return sum(r.quarantined for r in self.results) + self.refused


def decode(body: bytes, proto: str) -> Iterator[tuple[dict[str, str], list[tuple[float, int]]]]:
    """(labels, [(value, timestamp ms)]) of each series in a compressed write request."""
    try:
        if cramjam.snappy.decompress_raw_len(body) > MAX_BODY_BYTES:
            raise MalformedWrite(f"the decompressed request exceeds {MAX_BODY_BYTES // 2**20} MiB")
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except MalformedWrite:
        raise
    except cramjam.DecompressionError as exc:
        raise MalformedWrite(f"the body is not snappy block-compressed: {exc}") from exc
    try:
        request: Any = (RequestV2 if proto == V2 else WriteRequest).FromString(raw)
    except message.DecodeError as exc:
        raise MalformedWrite(f"the body is not a {proto} protobuf message: {exc}") from exc
    if len(request.timeseries) > MAX_SERIES:
        raise MalformedWrite(
            f"a write holds at most {MAX_SERIES:,} series, this one {len(request.timeseries):,}: "
            "lower remote_write's queue_config.max_samples_per_send"
        )
    if raw:
        request.DiscardUnknownFields()
        if request.ByteSize() == 0:
            raise MalformedWrite(f"the body holds no field of a {proto} message (another message type?)")
    yield from _series(request, proto)


def _series(request: Any, proto: str) -> Iterator[tuple[dict[str, str], list[tuple[float, int]]]]:
    if proto != V2:
        for ts in request.timeseries:
            yield {lb.name: lb.value for lb in ts.labels}, [(s.value, s.timestamp) for s in ts.samples]
        return
    symbols = list(request.symbols)  # 2.0 names each label by its place in the request's symbol table
    for ts in request.timeseries:
        refs = list(ts.labels_refs)
        if len(refs) % 2 or any(r >= len(symbols) for r in refs):
            raise MalformedWrite("a series refers to a symbol the request does not hold")
        labels = {symbols[refs[i]]: symbols[refs[i + 1]] for i in range(0, len(refs), 2)}
        yield labels, [(s.value, s.timestamp) for s in ts.samples]


RUN_LABEL = "greenlight_run"  # a pod label naming the run its pods share (see the README)


def run_label(labels: dict[str, str]) -> str | None:
    """The job a series belongs to: the run its pod names (`greenlight_run`, for a job of
    many pods), else dcgm-exporter's Kubernetes pod mapping (namespace/pod); Prometheus'
    own `job` label names a scrape target, not a workload, so no label."""
    if labels.get(RUN_LABEL):
        return labels[RUN_LABEL]
    if labels.get("pod"):
        return f"{labels.get('namespace') or 'default'}/{labels['pod']}"
    return None


Consumer = tuple[str, str | None]  # (MIG instance or "", run label) of a series of one GPU


def write(*, agent: Agent, body: bytes, proto: str = V1) -> WriteResult:
    """Stores the GPU series of one remote-write request as agent batches. A replayed
    request stores nothing twice: each batch's sequence number is the digest of the
    request, and each sample is unique on (device, time)."""
    result = WriteResult()
    refused: list[QuarantinedSample] = []
    counters: list[tuple[str, str, dict[str, str], list[tuple[float, int]]]] = []
    containers: dict[str, dict[str, Any]] = {}  # Kepler's, by pseudo-device uuid
    gpus: dict[str, dict[str, Any]] = {}
    # GPU → consumer → time (ms) → readings: dcgm-exporter repeats a whole GPU's readings on
    # each MIG instance of it, and on each pod that time-slices it.
    readings: dict[str, dict[Consumer, dict[int, dict[str, Any]]]] = {}
    for labels, points in decode(body, proto):
        result.series += 1
        name = labels.get("__name__", "")
        if name in KEPLER and labels.get("pod_name"):
            result.accepted_series += 1
            _kepler(containers, labels, points)
            continue
        if name in TOKEN_METRICS and (label := run_label(labels)):
            result.accepted_series += 1
            counters.append((label, name, labels, points))
            continue
        known = METRICS.get(name)
        uuid = labels.get("UUID") or labels.get("uuid")
        if known is None or not uuid:
            result.ignored[name] = result.ignored.get(name, 0) + 1
            continue
        if len(uuid) > MAX_UUID_CHARS:  # kept, with the reason, like a refused sample
            refused.append(
                QuarantinedSample(
                    agent=agent,
                    device_uuid=uuid[:MAX_UUID_CHARS],
                    payload={"series": labels, "samples": len(points)},
                    reason=f"UUID longer than {MAX_UUID_CHARS} characters",
                )
            )
            continue
        result.accepted_series += 1
        reading, scale = known
        gpu = labels.get("gpu", "0")
        device = gpus.setdefault(
            uuid, {"uuid": uuid, "index": int(gpu) if gpu.isdigit() else 0, "name": labels.get("modelName", "")}
        )
        if reading == "energy_mj":
            device["energy_counter"] = True
        by_time = readings.setdefault(uuid, {}).setdefault((labels.get("GPU_I_ID", ""), run_label(labels)), {})
        for value, ts_ms in points:
            by_time.setdefault(ts_ms, {})[reading] = _reading(reading, value * scale)
    devices: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    for uuid, consumers in readings.items():
        devices.append(gpus[uuid])
        if len(consumers) == 1 and not next(iter(consumers))[0]:  # one job on the whole GPU
            (((_, label), by_time),) = consumers.items()
            samples += [{"device": uuid, "ts": ms / 1000, "label": label, **r} for ms, r in by_time.items()]
        else:
            shared_devices, shared_samples = _shares(gpus[uuid], consumers)
            devices += shared_devices
            samples += shared_samples
    for uuid, container in containers.items():
        devices.append(container["device"])
        complete = max(len(parts) for parts in container["points"].values())  # every series of the scrape
        samples += [
            {"device": uuid, "ts": ms / 1000, "label": container["label"], "energy_mj": round(sum(parts) * 1000)}
            for ms, parts in sorted(container["points"].items())
            if len(parts) == complete and all(math.isfinite(p) for p in parts)
        ]
    result.samples = len(samples)
    samples.sort(key=lambda s: (s["device"], s["ts"]))
    digest = int.from_bytes(hashlib.sha256(body).digest()[:8], "big") >> 2  # below 2^62, leaves room for the chunk
    for n, start in enumerate(range(0, len(samples), MAX_SAMPLES_PER_BATCH)):
        payload = {
            "batch_seq": digest + n + 1,
            "agent_version": f"remote-write {'2.0' if proto == V2 else '1.0'}",
            "devices": devices,
            "samples": samples[start : start + MAX_SAMPLES_PER_BATCH],
        }
        result.results.append(ingest_batch(agent=agent, payload=payload))
    if counters:
        count_tokens(agent, counters)
    for q in refused:
        q.batch_seq = digest + 1
    result.refused = len(QuarantinedSample.objects.bulk_create(refused))
    return result


def _kepler(containers: dict[str, dict[str, Any]], labels: dict[str, str], points: list[tuple[float, int]]) -> None:
    """Adds one of a container's Kepler counters (package or DRAM, dynamic or idle) to the
    container's pseudo-device: a host-kind device whose counter is their sum."""
    namespace, pod = labels.get("container_namespace") or "default", labels["pod_name"]
    key = labels.get("container_id") or f"{namespace}/{pod}/{labels.get('container_name', '')}"
    uuid = f"kepler:{labels.get('instance', '')}:{key}"[:96]
    container = containers.setdefault(
        uuid,
        {
            "label": f"{namespace}/{pod}",
            "points": {},
            "device": {
                "uuid": uuid,
                "kind": "host",
                "index": 0,
                "name": f"Kepler: {pod}/{labels.get('container_name', '')} (CPU package and memory)"[:200],
                "energy_counter": True,
            },
        },
    )
    for value, ts_ms in points:
        container["points"].setdefault(ts_ms, []).append(value)


@transaction.atomic
def count_tokens(agent: Agent, counters: list[tuple[str, str, dict[str, str], list[tuple[float, int]]]]) -> None:
    """What each label's vLLM counters rose by since their last values (a fall is a restart:
    the counter counts from zero again), announced as `tokens_counted` per label. The first
    value ever seen of a series is its baseline."""
    keys = [
        (label, name, hashlib.sha256(json.dumps(sorted(labels.items())).encode()).hexdigest())
        for label, name, labels, _ in counters
    ]
    known = {
        (c.label, c.metric, c.series): c
        for c in TokenCounter.objects.select_for_update().filter(
            label__in={k[0] for k in keys}, metric__in={k[1] for k in keys}
        )
    }
    rises: dict[str, dict[str, Any]] = {}
    for (label, name, series), (_, _, _, points) in zip(keys, counters, strict=True):
        last = known.get((label, name, series))
        previous_ms = int(last.last_ts.timestamp() * 1000) if last else None
        fresh = sorted((ts, v) for v, ts in points if math.isfinite(v) and (previous_ms is None or ts > previous_ms))
        if not fresh or not agent.may_write(label):
            continue
        value = last.last_value if last else fresh[0][1]
        rise = 0.0
        for _, v in fresh:
            rise += v - value if v >= value else v
            value = v
        window = rises.setdefault(label, {"start": previous_ms or fresh[0][0], "end": fresh[-1][0]})
        window["start"], window["end"] = (
            min(window["start"], previous_ms or fresh[0][0]),
            max(window["end"], fresh[-1][0]),
        )
        window[TOKEN_METRICS[name]] = window.get(TOKEN_METRICS[name], 0) + round(rise)
        TokenCounter.objects.update_or_create(
            label=label,
            metric=name,
            series=series,
            defaults={"last_ts": datetime.fromtimestamp(fresh[-1][0] / 1000, UTC), "last_value": value},
        )
    for label, w in rises.items():
        if w["end"] > w["start"]:
            tokens_counted.send(
                sender=TokenCounter,
                label=label,
                start=datetime.fromtimestamp(w["start"] / 1000, UTC),
                end=datetime.fromtimestamp(w["end"] / 1000, UTC),
                input_tokens=w.get("input_tokens", 0),
                output_tokens=w.get("output_tokens", 0),
                requests=w.get("requests", 0),
            )


WHOLE_GPU = ("energy_mj", "power_w", "temp_c", "sm_clock_mhz", "mem_used_mb")  # the same on every share


def _shares(
    gpu: dict[str, Any], consumers: dict[Consumer, dict[int, dict[str, Any]]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A shared GPU: its own samples carry the metered readings and no label; each share
    (a MIG instance, or a pod time-slicing it) is a device whose samples carry the GPU's
    power × the share's part and the share's label. The part is the share's graphics-engine
    activity over the activity of all shares at that time where every share reports it,
    else an equal split; the shares' energy then adds up to the GPU's."""
    keys = sorted(consumers, key=lambda c: (c[0], c[1] or ""))
    engine = all("gpu_util" in r for c in keys for r in consumers[c].values())
    shares = [
        {
            "uuid": f"{gpu['uuid']}/{instance or hashlib.sha256((label or '').encode()).hexdigest()[:12]}",
            "index": gpu["index"],
            "name": f"{gpu['name']} " + (f"MIG instance {instance}" if instance else f"share of {label or 'no job'}"),
            "parent": gpu["uuid"],
            "attribution": Attribution.ENGINE_ACTIVE if engine else Attribution.EQUAL,
        }
        for instance, label in keys
    ]
    samples: list[dict[str, Any]] = []
    for ms in sorted({ms for c in keys for ms in consumers[c]}):
        at = [consumers[c].get(ms, {}) for c in keys]
        whole = {name: next((r[name] for r in at if name in r), None) for name in WHOLE_GPU}
        activity = [r.get("gpu_util") for r in at]
        numeric = [a for a in activity if isinstance(a, int | float)]
        total = sum(numeric)
        parts = (
            [a / total for a in numeric]
            if engine and total > 0 and len(numeric) == len(keys)
            else [1 / len(keys)] * len(keys)
        )
        power = whole["power_w"]
        samples.append(
            {"device": gpu["uuid"], "ts": ms / 1000, "label": None, "gpu_util": min(total, 100) if numeric else None}
            | whole
        )
        for share, (_, label), part, util in zip(shares, keys, parts, activity, strict=True):
            samples.append(
                {
                    "device": share["uuid"],
                    "ts": ms / 1000,
                    "label": label,
                    "power_w": power * part if isinstance(power, int | float) else None,
                    "gpu_util": util,
                }
            )
    return shares, samples


def _reading(reading: str, value: float) -> float | int | str | None:
    """A value as the agent's sample field holds it. NaN is Prometheus' stale marker (no
    reading); an infinite value is passed on as Prometheus writes it ("+Inf"), which
    ingest quarantines as not a number, and which JSON can keep."""
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return round(value) if reading in WHOLE else value
