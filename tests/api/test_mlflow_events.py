"""MLflow registry webhooks as MLflow 3.x sends them (envelope, headers and v1 HMAC as its
delivery code builds them): each bad delivery is refused clearly, audited, and creates
nothing. tests/e2e/test_mlflow.py has a real MLflow server deliver them."""

import json
import time
import uuid

import pytest
from django.core import mail

from governance.models import AuditEvent, ImpactReview, MlflowDelivery, ModelVersion
from governance.services.mlflow_events import sign
from tests.factories import ModelVersionFactory, RegisteredModelFactory

URL = "/api/v1/integrations/mlflow/aurora/"


@pytest.fixture
def hook(team, api):
    RegisteredModelFactory(project=team.project, name="aurora-chat")
    answer = api(team.owner).post(
        f"/api/v1/projects/{team.project.pk}/mlflow/", {"default_author": "mllead"}, format="json"
    )
    assert answer.status_code == 201, answer.json()
    return answer.json()


def created(name="aurora-chat", version="1", **tags):
    return {
        "name": name,
        "version": version,
        "source": "models:/m-4b1e9c0d2f",
        "run_id": "177d299f765d4f2f98ab37fc1ebffc3a",
        "tags": {"greenlight.parameters": "7000000000", "greenlight.precision": "bf16", **tags},
        "description": "nightly build",
    }


def deliver(client, secret, data, entity="model_version", action="created", delivery_id=None, timestamp=None, **hdr):
    body = json.dumps(
        {"entity": entity, "action": action, "timestamp": "2026-11-24T10:46:18.834792+00:00", "data": data}
    ).encode()
    delivery_id = delivery_id or str(uuid.uuid4())
    timestamp = str(timestamp or int(time.time()))
    headers = {
        "HTTP_X_MLFLOW_DELIVERY_ID": delivery_id,
        "HTTP_X_MLFLOW_TIMESTAMP": timestamp,
        "HTTP_X_MLFLOW_SIGNATURE": sign(secret, delivery_id, timestamp, body),
        **hdr,
    }
    return client.post(URL, body, content_type="application/json", **headers)


def test_connecting_shows_the_secret_once_and_only_the_owner_may(team, api, hook):
    assert hook["webhook_url"].endswith(URL) and hook["secret"] and hook["default_author"] == "mllead"
    assert hook["events"] == ["model_version.created", "model_version_alias.created"]
    shown = api(team.officer).get(f"/api/v1/projects/{team.project.pk}/mlflow/").json()
    assert "secret" not in shown and shown["webhook_url"] == hook["webhook_url"]
    refused = api(team.ml_lead).post(
        f"/api/v1/projects/{team.project.pk}/mlflow/", {"default_author": "mllead"}, format="json"
    )
    assert refused.status_code == 403
    pipeline_author = api(team.owner).post(
        f"/api/v1/projects/{team.project.pk}/mlflow/", {"default_author": "pipeline-bot"}, format="json"
    )
    assert pipeline_author.status_code == 400 and "default_author" in pipeline_author.json()["errors"]
    assert api(team.outsider).get(f"/api/v1/projects/{team.project.pk}/mlflow/").status_code == 404


def test_a_new_version_is_registered_with_its_lineage_and_a_draft_review(team, api, hook):
    base = ModelVersionFactory(registered_model__project=team.project, registered_model__name="aurora-base")
    answer = deliver(
        api(None), hook["secret"], created(**{"greenlight.base_model": f"models:/aurora-base/{base.version}"})
    )
    assert answer.status_code == 201, answer.json()
    version = ModelVersion.objects.get(pk=answer.json()["version"])
    assert (version.version, version.parameters, version.precision) == ("1", 7_000_000_000, "bf16")
    assert version.base_version == base and version.adaptation == "full_fine_tune"
    assert version.source_uri == "models:/m-4b1e9c0d2f" and version.source_run_id.startswith("177d299f")
    review = ImpactReview.objects.get(pk=answer.json()["review"])
    assert review.model_version == version and review.state == "draft" and review.author == team.ml_lead
    assert "opened its draft review for mllead" in answer.json()["message"]


def test_the_author_tag_names_the_reviews_author(team, api, hook):
    answer = deliver(api(None), hook["secret"], created(**{"greenlight.author": "owner"}))
    assert ImpactReview.objects.get(pk=answer.json()["review"]).author == team.owner
    stranger = deliver(api(None), hook["secret"], created(version="2", **{"greenlight.author": "outsider"}))
    assert stranger.status_code == 400 and "outsider cannot author" in stranger.json()["message"]


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"HTTP_X_MLFLOW_SIGNATURE": ""}, 401, "No X-MLflow-Signature header"),
        ({"HTTP_X_MLFLOW_SIGNATURE": "v1,AAAA"}, 401, "signature does not match"),
        ({"secret": "another secret"}, 401, "signature does not match"),
        ({"timestamp": int(time.time()) - 3600}, 401, "more than 5 minutes"),
        ({"data": created(name="unknown-model")}, 404, "no model named 'unknown-model'"),
        ({"data": created(**{"greenlight.parameters": "many"})}, 400, "tags are incomplete"),
        ({"data": {**created(), "tags": {}}}, 400, "tags are incomplete"),
    ],
)
def test_a_bad_delivery_is_refused_audited_and_changes_nothing(team, api, hook, change, status, message):
    secret = change.pop("secret", hook["secret"])
    data = change.pop("data", created())
    answer = deliver(api(None), secret, data, **change)
    assert answer.status_code == status and message in answer.json()["message"]
    assert not ModelVersion.objects.filter(registered_model__project=team.project).exists()
    assert not ImpactReview.objects.exists() and not MlflowDelivery.objects.exists()
    refused = AuditEvent.objects.get(action="mlflow.refused")
    assert message in refused.payload["reason"] or status == 400


def test_a_replay_and_a_second_registration_are_conflicts_never_duplicates(team, api, hook):
    client, delivery_id = api(None), str(uuid.uuid4())
    assert deliver(client, hook["secret"], created(), delivery_id=delivery_id).status_code == 201
    replay = deliver(client, hook["secret"], created(), delivery_id=delivery_id)
    assert replay.status_code == 409 and "already received" in replay.json()["message"]
    again = deliver(client, hook["secret"], created())
    assert again.status_code == 409 and "already has a version '1'" in again.json()["message"]
    assert ModelVersion.objects.filter(registered_model__name="aurora-chat").count() == 1
    assert ImpactReview.objects.count() == 1
    assert AuditEvent.objects.filter(action="mlflow.refused").count() == 2


def test_a_project_without_a_connected_registry_is_not_found(team, api):
    answer = deliver(api(None), "whatever", created())
    assert answer.status_code == 404 and "no MLflow registry connected" in answer.json()["message"]


def test_a_production_alias_on_an_unreleased_version_notifies_the_officers(
    team, api, hook, django_capture_on_commit_callbacks
):
    team.officer.email = "officer@example.org"
    team.officer.save()
    version_id = deliver(api(None), hook["secret"], created()).json()["version"]
    with django_capture_on_commit_callbacks(execute=True):
        staging = deliver(
            api(None),
            hook["secret"],
            {"name": "aurora-chat", "alias": "staging", "version": "1"},
            entity="model_version_alias",
        )
    assert staging.status_code == 200 and not mail.outbox
    with django_capture_on_commit_callbacks(execute=True):
        answer = deliver(
            api(None),
            hook["secret"],
            {"name": "aurora-chat", "alias": "production", "version": "1"},
            entity="model_version_alias",
        )
    assert answer.status_code == 200 and "the officers are notified" in answer.json()["message"]
    assert answer.json()["version"] == version_id
    assert "alias 'production'" in mail.outbox[0].subject and "approved_review" not in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="version.alias_set").count() == 2


def test_the_metadata_of_an_mlflow_version_registers_by_the_same_rule(team, api, hook):
    rest_answer = {
        **created(version="5"),
        "tags": [{"key": "greenlight.parameters", "value": "1e9"}, {"key": "greenlight.precision", "value": "fp8"}],
    }
    answer = api(team.pipeline).post(
        f"/api/v1/projects/{team.project.pk}/mlflow/versions/", {"model_version": rest_answer}, format="json"
    )
    assert answer.status_code == 201, answer.json()
    version = ModelVersion.objects.get(pk=answer.json()["version"])
    assert (version.parameters, version.precision) == (1_000_000_000, "fp8")
    # The pipeline registers it; the review is the connected registry's default author's.
    assert ImpactReview.objects.get(pk=answer.json()["review"]).author == team.ml_lead
    assert (
        api(team.auditor)
        .post(
            f"/api/v1/projects/{team.project.pk}/mlflow/versions/",
            {"model_version": created(version="6")},
            format="json",
        )
        .status_code
        == 403
    )


def test_a_default_author_who_left_the_project_is_named_and_nothing_is_registered(team, api, hook):
    from governance.services import registry

    registry.set_membership(project=team.project, actor=team.owner, user=team.ml_lead, roles=[])
    answer = deliver(api(None), hook["secret"], created())
    assert answer.status_code == 400 and "mllead cannot author reviews in 'aurora'" in answer.json()["message"]
    assert not ModelVersion.objects.filter(registered_model__name="aurora-chat").exists()
