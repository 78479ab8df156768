"""Personas and helpers for the release workflow: a second ML lead (so that two
different people can sign), a measured run, an approved review."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from governance.models import Role
from governance.services import registry
from governance.services.reports import render_report
from telemetry.agent.backends import ManualClock, SimulatedBackend
from telemetry.rollups import roll_up_pending
from tests.conftest import client_for, token_client
from tests.factories import ModelVersionFactory, RegisteredModelFactory, UserFactory
from tests.telemetry.helpers import enrolled_client, envelope, post, simulated_samples

REVIEW_TEXT = {"goal_and_scope": "Per 1,000 tokens; training and inference.", "training_inventory": "One run."}


@pytest.fixture
def world(team, settings):
    settings.TELEMETRY_ROLLUP_INLINE = False
    second_lead = UserFactory(username="mllead2")
    registry.set_membership(project=team.project, actor=team.owner, user=second_lead, roles=[Role.ML_LEAD])
    model = RegisteredModelFactory(project=team.project, name="aurora")
    version = ModelVersionFactory(registered_model=model, version="2.0")
    pipeline, _ = token_client(team.pipeline)
    return team, second_lead, version, pipeline


def open_run(pipeline, version, label, started, **run_fields):
    """Opens a fine-tuning run on 2 H100s in europe-west1 through the API; its response."""
    response = pipeline.post(
        "/api/v1/runs/",
        {
            "model_version": version.pk,
            "stage": "fine_tuning",
            "facility": "gcp-europe-west1",
            "hardware": "h100-sxm",
            "accelerator_count": 2,
            "label": label,
            "started_at": started.isoformat(),
            **run_fields,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response


def close_run(pipeline, run_id, ended):
    closed = pipeline.post(
        f"/api/v1/runs/{run_id}/close/", {"status": "succeeded", "ended_at": ended.isoformat()}, format="json"
    )
    assert closed.status_code == 200, closed.json()


def open_deployment(pipeline, version, label, started, **fields):
    """A one-H100 deployment in europe-west1, opened through the API; its JSON."""
    response = pipeline.post(
        "/api/v1/deployments/",
        {
            "model_version": version.pk,
            "name": "chat",
            "facility": "gcp-europe-west1",
            "hardware": "h100-sxm",
            "accelerator_count": 1,
            "label": label,
            "started_at": started.isoformat(),
            **fields,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def measured_run(pipeline, version, label, *, seconds=300, telemetry=True, host_telemetry=False, **run_fields):
    label = f"{version.registered_model.project.slug}/{label}"  # labels live in their project's namespace
    clock = ManualClock(time.time() - seconds - 120)
    started = datetime.fromtimestamp(clock.now, UTC)
    response = open_run(pipeline, version, label, started, **run_fields)
    if telemetry:
        backend = SimulatedBackend(2, seed=hash(label) % 1000, clock=clock, host=host_telemetry)
        agent, _ = enrolled_client(f"host-{label}")
        post(agent, envelope(backend, 1, simulated_samples(backend, clock, seconds, step=5, label=label)))
        roll_up_pending()
    close_run(pipeline, response.json()["id"], started + timedelta(seconds=seconds))
    return response.json()["id"]


def gate(client, version):
    return client.get(f"/api/v1/model-versions/{version.pk}/release-gate/").json()


def findings(answer):
    return {f["rule"]: f["passed"] for f in answer["findings"]}


def approved_review(team, second_lead, version):
    author = client_for(team.ml_lead)
    review = author.post("/api/v1/reviews/", {"model_version": version.pk, **REVIEW_TEXT}, format="json").json()
    assert author.post(f"/api/v1/reviews/{review['id']}/submit/").status_code == 200
    for person in (team.officer, second_lead):
        answer = client_for(person).post(
            f"/api/v1/reviews/{review['id']}/decisions/",
            {"verdict": "approve", "note": "Figures checked."},
            format="json",
        )
        assert answer.status_code == 200, answer.json()
    report = author.post(f"/api/v1/reviews/{review['id']}/reports/").json()
    render_report(report["id"])  # what the worker does (tests do not run on-commit callbacks)
    return review["id"]


def post_budget(team, name, *, by=None, days_before=30, days_after=30, **limits):
    """A budget around today, set through the API by a sustainability officer (or `by`)."""
    today = datetime.now(UTC).date()
    return client_for(by or team.officer).post(
        "/api/v1/budgets/",
        {
            "project": team.project.pk,
            "name": name,
            "period_start": str(today - timedelta(days=days_before)),
            "period_end": str(today + timedelta(days=days_after)),
            **limits,
        },
        format="json",
    )


def serve(pipeline, version, label, tokens, seconds=600, workflows=0, **fields):
    """A one-H100 deployment measured by a simulated agent for `seconds`, which served
    1,000 requests (model calls) and `tokens` tokens (half input), in `workflows` agentic
    workflow executions; its JSON."""
    label = f"{version.registered_model.project.slug}/{label}"
    clock = ManualClock(time.time() - seconds - 60)
    start = datetime.fromtimestamp(clock.now, UTC)
    deployment = open_deployment(pipeline, version, label, start, **fields)
    backend = SimulatedBackend(1, seed=77, clock=clock)
    agent, _ = enrolled_client(f"serve-{label}")
    post(agent, envelope(backend, 1, simulated_samples(backend, clock, seconds, step=5, label=label)))
    roll_up_pending()
    usage = pipeline.post(
        f"/api/v1/deployments/{deployment['id']}/usage/",
        {
            "window_start": start.isoformat(),
            "window_end": (start + timedelta(seconds=seconds)).isoformat(),
            "requests": 1000,
            "input_tokens": tokens // 2,
            "output_tokens": tokens // 2,
            "workflow_executions": workflows,
        },
        format="json",
    )
    assert usage.status_code == 201, usage.json()
    return deployment
