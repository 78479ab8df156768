"""Greenlight's own metrics at /metrics, as Prometheus' parser reads them."""

import time

from prometheus_client.parser import text_string_to_metric_families

from telemetry.agent.backends import ManualClock, SimulatedBackend
from tests.telemetry.helpers import enrolled_client, envelope, post, simulated_samples
from tests.workflow import gate


def scrape(client, **extra) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


def value(metrics, name, **labels) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def test_ingest_is_counted_by_outcome_and_quarantine_reason(db, client):
    before = scrape(client)
    agent_client, _ = enrolled_client()
    clock = ManualClock(time.time() - 600)
    backend = SimulatedBackend(2, seed=4, clock=clock)
    samples = simulated_samples(backend, clock, 10)
    samples[0]["power_w"] = 99999  # out of range: quarantined
    samples[1]["label"] = "elsewhere/job"  # fine: the agent may write any namespace
    post(agent_client, envelope(backend, 1, samples))
    post(agent_client, envelope(backend, 1, samples))  # a resent batch
    after = scrape(client)
    grew = lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)  # noqa: E731
    assert grew("greenlight_ingest_batches_total", source="agent") == 2
    assert grew("greenlight_ingest_samples_total", source="agent", outcome="accepted") == 19
    assert grew("greenlight_ingest_samples_total", source="agent", outcome="quarantined") == 1
    assert grew("greenlight_ingest_samples_total", source="agent", outcome="duplicated") == 20
    assert grew("greenlight_quarantined_samples_total", reason="power_w outside 0 to 5000") == 1
    assert value(after, "greenlight_rollup_batches_pending") >= 0
    assert value(after, "greenlight_footprints_stale") == 0


def test_gate_answers_are_counted_by_decision(world, client):
    _, _, version, pipeline = world
    before = scrape(client)
    gate(pipeline, version)
    gate(pipeline, version)  # the stored answer
    after = scrape(client)
    evaluated = value(after, "greenlight_release_gate_answers_total", decision="blocked", source="evaluated")
    stored = value(after, "greenlight_release_gate_answers_total", decision="blocked", source="stored")
    assert (
        evaluated - value(before, "greenlight_release_gate_answers_total", decision="blocked", source="evaluated") == 1
    )
    assert stored - value(before, "greenlight_release_gate_answers_total", decision="blocked", source="stored") == 1


def test_metrics_are_served_to_allowed_networks_or_with_the_token(db, client, settings):
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", **outside).status_code == 403
    settings.METRICS_TOKEN = "scrape-secret-1234"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", **outside).status_code == 403
    assert scrape(client, HTTP_AUTHORIZATION="Bearer scrape-secret-1234", **outside)
    settings.METRICS_ALLOWED_NETWORKS = ["203.0.113.0/24"]
    assert scrape(client, **outside)
    assert client.post("/metrics").status_code == 405


def test_the_grafana_dashboard_asks_only_for_metrics_greenlight_serves(db, client):
    import json
    import re
    from pathlib import Path

    from django.conf import settings

    dashboard = json.loads((Path(settings.BASE_DIR) / "deploy/grafana/greenlight.json").read_text())
    exposition = client.get("/metrics").content.decode()
    served = {family.name for family in text_string_to_metric_families(exposition)}
    served |= {"greenlight_celery_queue_depth"}  # served only where a broker is configured
    asked = {
        name.removesuffix("_total").removesuffix("_bucket")  # as the parser names a family
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"greenlight_[a-z_]+", target["expr"])
    }
    assert len(dashboard["panels"]) == 12 and asked <= served, asked - served
