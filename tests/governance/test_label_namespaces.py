"""Labels live in their project's namespace: an agent writes only the namespaces it was
enrolled for, no project can claim another's label, and a closed run takes no more samples."""

import time

from telemetry.agent.backends import ManualClock, SimulatedBackend
from telemetry.models import Sample
from telemetry.services import create_enrolment_token, enrol_agent
from tests.conftest import token_client
from tests.factories import ModelVersionFactory, ProjectFactory, RegisteredModelFactory
from tests.telemetry.helpers import envelope, post, simulated_samples
from tests.workflow import measured_run


def agent_for(*namespaces: str):
    from rest_framework.test import APIClient

    _, token = create_enrolment_token(name="ns", label_namespaces=list(namespaces))
    _, key = enrol_agent(enrolment_token=token, hostname=f"host-{'-'.join(namespaces)}")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Agent {key}")
    return client


def test_an_agent_writes_only_its_projects_labels(world):
    team, *_ = world
    clock = ManualClock(time.time() - 120)
    backend = SimulatedBackend(1, seed=41, clock=clock)
    outsider_agent = agent_for("vision-lab")
    forged = simulated_samples(backend, clock, 5, label=f"{team.project.slug}/ft-1")
    answer = post(outsider_agent, envelope(backend, 1, forged)).json()
    assert answer["accepted"] == 0
    assert answer["reasons"] == {"label outside this agent's namespaces (vision-lab)": 5}
    own = post(outsider_agent, envelope(backend, 2, simulated_samples(backend, clock, 5, label="vision-lab/x"))).json()
    assert own["accepted"] == 5


def test_a_label_must_be_in_its_projects_namespace(world):
    team, _, version, pipeline = world
    body = {
        "model_version": version.pk,
        "stage": "fine_tuning",
        "facility": "gcp-europe-west1",
        "hardware": "h100-sxm",
        "accelerator_count": 1,
    }
    answer = pipeline.post("/api/v1/runs/", {**body, "label": "someone-elses-run"}, format="json")
    assert answer.status_code == 400 and f"'{team.project.slug}/'" in answer.json()["errors"]["label"][0]
    # another project cannot claim this project's label first
    other = ProjectFactory(owner=team.outsider, slug="other-team")
    other_version = ModelVersionFactory(registered_model=RegisteredModelFactory(project=other))
    outsider, _ = token_client(team.outsider)
    claim = outsider.post(
        "/api/v1/runs/",
        {**body, "model_version": other_version.pk, "label": f"{team.project.slug}/ft-9"},
        format="json",
    )
    assert claim.status_code == 400


def test_a_closed_run_takes_no_backfill(world):
    team, _, version, pipeline = world
    measured_run(pipeline, version, "closed-run")
    label = f"{team.project.slug}/closed-run"
    before = Sample.objects.filter(label=label).count()
    clock = ManualClock(time.time() - 200)
    backend = SimulatedBackend(1, seed=43, clock=clock)
    late = post(agent_for(team.project.slug), envelope(backend, 1, simulated_samples(backend, clock, 30, label=label)))
    assert late.json()["accepted"] == 0 and next(iter(late.json()["reasons"])).startswith("label sealed: run")
    assert Sample.objects.filter(label=label).count() == before


def test_an_approved_review_seals_its_runs_even_if_one_is_still_open(world):
    from telemetry.models import SealedLabel
    from tests.workflow import approved_review

    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "approved-run")
    open_run = pipeline.post(
        "/api/v1/runs/",
        {
            "model_version": version.pk,
            "stage": "evaluation",
            "facility": "gcp-europe-west1",
            "hardware": "h100-sxm",
            "accelerator_count": 1,
            "label": f"{team.project.slug}/still-open",
        },
        format="json",
    )
    assert open_run.status_code == 201
    approved_review(team, second_lead, version)
    sealed = SealedLabel.objects.get(label=f"{team.project.slug}/still-open")
    assert "approved in review" in sealed.reason
