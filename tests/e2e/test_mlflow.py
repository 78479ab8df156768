"""A real MLflow tracking server (from PyPI, in .venv/mlflow: `make test` installs it)
delivers its registry webhooks to a live Greenlight: a model version registered through
MLflow's own client becomes a Greenlight version with its lineage and a draft review."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from governance.models import AuditEvent, ImpactReview, MlflowDelivery, ModelVersion
from tests.prometheus import free_port

MLFLOW = Path(settings.BASE_DIR) / ".venv" / "mlflow" / "bin"
needs_mlflow = pytest.mark.skipif(not (MLFLOW / "mlflow").exists(), reason="needs .venv/mlflow (make test installs it)")

# Runs in MLflow's venv: what a training pipeline does with MLflow's client.
PIPELINE = """
import json, sys
import mlflow
from mlflow import MlflowClient

tracking, hook_url, secret = sys.argv[1:4]
mlflow.set_tracking_uri(tracking)
client = MlflowClient()
client.create_webhook(
    name="greenlight", url=hook_url, secret=secret,
    events=["model_version.created", "model_version_alias.created"],
)
client.create_registered_model("aurora")
with mlflow.start_run() as run:
    mlflow.log_param("learning_rate", 2e-5)
version = client.create_model_version(
    "aurora", source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id,
    tags={"greenlight.base_model": "aurora/2.0", "greenlight.training_tokens": "2.1e9"},
    description="instruction tuning",
)
client.set_registered_model_alias("aurora", "production", version.version)
wrong = client.create_webhook(name="wrong", url=hook_url, secret="not the secret", events=["model_version.created"])
probe = client.test_webhook(wrong.webhook_id)
client.delete_webhook(wrong.webhook_id)
print(json.dumps({"run_id": run.info.run_id, "version": version.version,
                  "probe": [probe.response_status, probe.response_body]}))
"""


def until(ready, timeout_s, why=lambda: ""):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            if ready():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"not ready after {timeout_s} s. {why()}")


@pytest.fixture
def mlflow_server(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        # Greenlight listens on loopback over http here; MLflow allows only public https by default.
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
    }
    server = subprocess.Popen(
        [
            str(MLFLOW / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            # Webhooks need MLflow's SQL store; SQLite in a temporary folder is its own business.
            "--backend-store-uri", f"sqlite:///{tmp_path}/mlflow.db", "--default-artifact-root", str(tmp_path / "art"),
        ],
        env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "mlflow.log").open("w"),
        start_new_session=True,  # its uvicorn and job runners are children: stopped with it below
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        until(lambda: httpx.get(f"{url}/health").status_code == 200, 90)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@needs_mlflow
def test_mlflow_delivers_a_new_version_and_its_alias(live_server, world, reference_data, api, mlflow_server, tmp_path):
    team, _, base, _ = world
    connected = api(team.owner).post(
        f"/api/v1/projects/{team.project.pk}/mlflow/", {"default_author": "mllead"}, format="json"
    )
    hook = connected.json()
    hook_url = live_server.url + hook["webhook_url"][hook["webhook_url"].index("/api/") :]
    team.officer.email = "officer@example.org"
    team.officer.save()

    done = subprocess.run(
        [str(MLFLOW / "python"), "-c", PIPELINE, mlflow_server, hook_url, hook["secret"]],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    mlflow = json.loads(done.stdout.strip().splitlines()[-1])

    # MLflow delivers from a thread pool after it answers its client: wait for both events.
    until(
        lambda: MlflowDelivery.objects.filter(hook__project=team.project).count() == 2,
        120,
        lambda: f"Refused: {list(AuditEvent.objects.filter(action='mlflow.refused').values_list('payload', flat=True))}"
        f"; MLflow's log: {(tmp_path / 'mlflow.log').read_text()[-3000:]}",
    )
    version = ModelVersion.objects.get(registered_model=base.registered_model, version=mlflow["version"])
    assert version.base_version == base and version.adaptation == "full_fine_tune"
    assert (version.parameters, version.precision) == (base.parameters, base.precision)  # from the base
    assert version.training_tokens == 2_100_000_000 and version.description == "instruction tuning"
    assert version.source_run_id == mlflow["run_id"] and version.source_uri == f"runs:/{mlflow['run_id']}/model"
    review = ImpactReview.objects.get(model_version=version)
    assert review.state == "draft" and review.author == team.ml_lead

    alias = AuditEvent.objects.get(action="version.alias_set")
    assert alias.payload["alias"] == "production" and alias.payload["gate_allowed"] is False

    # A webhook with another secret: MLflow's own test delivery is refused, and audited.
    status, body = mlflow["probe"]
    assert status == 401 and "signature does not match" in body
    assert AuditEvent.objects.filter(action="mlflow.refused").count() == 1
    time.sleep(0.5)
    assert ModelVersion.objects.filter(registered_model=base.registered_model).count() == 2
