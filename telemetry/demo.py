"""Demo telemetry: a GPU host with simulated H100s (and its CPUs and memory through
RAPL) and two hours of a training job's readings, ingested and rolled up exactly as an
agent's batches would be."""

from __future__ import annotations

import time

from telemetry.agent.backends import ManualClock, SimulatedBackend
from telemetry.ingest import ingest_batch
from telemetry.models import Agent
from telemetry.rollups import roll_up_pending
from telemetry.services import create_enrolment_token, enrol_agent

DEMO_HOST = "demo-gpu-host-1"
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
