"""Builds agent batches the way the agent does, from simulated GPUs."""

from __future__ import annotations

import gzip
import json
from typing import Any

from rest_framework.test import APIClient

from telemetry.agent.backends import ManualClock, SimulatedBackend
from telemetry.services import create_enrolment_token, enrol_agent


def enrolled_client(hostname: str = "gpu-1") -> tuple[APIClient, Any]:
    _, token = create_enrolment_token(name="test", label_namespaces=["*"])
    agent, key = enrol_agent(enrolment_token=token, hostname=hostname)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Agent {key}")
    return client, agent


def simulated_samples(
    backend: SimulatedBackend, clock: ManualClock, seconds: int, step: float = 1.0, label: str = "run-1"
) -> list[dict[str, Any]]:
    samples = []
    for _ in range(int(seconds / step)):
        clock.now += step
        for reading in backend.read()[0]:
            samples.append({**reading.as_dict(), "label": label, "counter_reset": False})
    return samples


def envelope(backend: SimulatedBackend, seq: int, samples: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "batch_seq": seq,
        "agent_version": "1.0",
        "host": "gpu-1",
        "devices": [d.__dict__ for d in backend.devices()],
        "samples": samples,
    }


def post(client: APIClient, body: dict[str, Any], *, compress: bool = False) -> Any:
    raw = json.dumps(body).encode()
    if compress:
        return client.post(
            "/api/v1/telemetry/batches/",
            gzip.compress(raw),
            content_type="application/json",
            HTTP_CONTENT_ENCODING="gzip",
        )
    return client.post("/api/v1/telemetry/batches/", raw, content_type="application/json")
