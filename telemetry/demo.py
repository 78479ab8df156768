"""Demo telemetry: a GPU host with simulated H100s (and its CPUs and memory through
RAPL) and two hours of a training job's readings, ingested and rolled up exactly as an
agent's batches would be."""

from __future__ import annotations

import time
from typing import Any

import cramjam

from telemetry import remote_write
from telemetry.agent.backends import ManualClock, SimulatedBackend
from telemetry.ingest import ingest_batch
from telemetry.models import Agent
from telemetry.rollups import roll_up_pending
from telemetry.services import create_enrolment_token, enrol_agent

DEMO_HOST = "demo-gpu-host-1"
DEMO_PROMETHEUS = "demo-prometheus"  # a fleet's Prometheus, remote-writing dcgm-exporter series
DEMO_POD_LABEL = "aurora/eval-sweep"  # dcgm-exporter's namespace/pod
DEMO_SERVING_LABEL = "aurora/chat-serve"  # a vLLM pod serving aurora-chat 1.1
DEMO_LABEL = "aurora/chat-1.1-ft"  # the project's namespace, then the job
DEMO_NAMESPACE = "aurora"


def seed_telemetry(*, gpus: int = 4, hours: float = 2.0, step_s: float = 10.0) -> str:
    """Ingests a finished training run (idempotent) and returns a fresh enrolment token
    for the live demo agent."""
    _, token = create_enrolment_token(name="demo cluster", label_namespaces=[DEMO_NAMESPACE])
    if Agent.objects.filter(hostname=DEMO_HOST).exists():
        return token
    agent, _ = enrol_agent(enrolment_token=token, hostname=DEMO_HOST)
    clock = ManualClock(time.time() - hours * 3600 - 3600)  # it ended an hour ago
    backend = SimulatedBackend(gpus, seed=2024, clock=clock, host=True)  # the host reports RAPL too
    devices = [d.__dict__ for d in backend.devices()]
    samples = []
    for _ in range(int(hours * 3600 / step_s)):
        clock.now += step_s
        samples += [{**r.as_dict(), "label": DEMO_LABEL, "counter_reset": False} for r in backend.read()[0]]
    for seq, start in enumerate(range(0, len(samples), 1000), start=1):
        ingest_batch(
            agent=agent, payload={"batch_seq": seq, "devices": devices, "samples": samples[start : start + 1000]}
        )
    while roll_up_pending():
        pass
    _, token = create_enrolment_token(name="demo cluster", label_namespaces=[DEMO_NAMESPACE])
    return token


def seed_prometheus(*, minutes: int = 60, scrape_s: int = 15) -> None:
    """A fleet without Greenlight's agent: its Prometheus remote-writes an hour of
    dcgm-exporter series for a node whose GPU 0 runs a vLLM pod serving aurora-chat 1.1
    (its token and request counters too) and whose GPU 1 is split into MIG instances, one
    running an evaluation pod at 70 % activity, one a notebook at 10 %, one idle
    (idempotent)."""
    if Agent.objects.filter(hostname=DEMO_PROMETHEUS).exists():
        return
    _, token = create_enrolment_token(name="demo Prometheus", label_namespaces=[DEMO_NAMESPACE])
    agent, _ = enrol_agent(enrolment_token=token, hostname=DEMO_PROMETHEUS)
    request: Any = remote_write.WriteRequest()
    end_ms = int(time.time() * 1000) - 600_000
    points = range(end_ms - minutes * 60_000, end_ms + 1, scrape_s * 1000)
    pod, serving = DEMO_POD_LABEL.split("/", 1)[1], DEMO_SERVING_LABEL.split("/", 1)[1]
    consumers = [  # (GPU, watts, MIG instance, pod, activity)
        (0, 520.0, "", serving, 0.85),
        (1, 410.0, "1", pod, 0.7),
        (1, 410.0, "2", "notebook-ada", 0.1),
        (1, 410.0, "3", "", 0.0),
    ]
    for gpu, watts, instance, job, activity in consumers:
        labels = {
            "UUID": f"GPU-d3c0-demo-{gpu:04d}",
            "gpu": str(gpu),
            "modelName": "NVIDIA H100 80GB HBM3",
            "Hostname": "dcgm-node-1",
            **({"GPU_I_ID": instance} if instance else {}),
            **({"namespace": DEMO_NAMESPACE, "pod": job} if job else {}),
        }
        names = ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_PROF_GR_ENGINE_ACTIVE")
        series = {}
        for name in names:
            series[name] = request.timeseries.add()
            for k, v in sorted({"__name__": name, **labels}.items()):
                series[name].labels.add(name=k, value=v)
        for ms in points:
            for name, value in zip(names, (7e9 + watts * (ms - points[0]), watts, activity), strict=True):
                series[name].samples.add(value=value, timestamp=ms)
    # vLLM's counters on the serving pod: 1,200 prompt and 400 generated tokens, 2 requests a second.
    for name, per_s in (
        ("vllm:prompt_tokens_total", 1200),
        ("vllm:generation_tokens_total", 400),
        ("vllm:request_success_total", 2),
    ):
        counter = request.timeseries.add()
        for k, v in sorted(
            {"__name__": name, "namespace": DEMO_NAMESPACE, "pod": serving, "model_name": "aurora-chat"}.items()
        ):
            counter.labels.add(name=k, value=v)
        for ms in points:
            counter.samples.add(value=per_s * (ms - points[0]) / 1000, timestamp=ms)
    remote_write.write(agent=agent, body=bytes(cramjam.snappy.compress_raw(request.SerializeToString())))
    while roll_up_pending():
        pass
