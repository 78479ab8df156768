"""The `greenlight` command against a live server: each outcome has its exit code."""

import hashlib
import json
import sys

from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from greenlight_cli.main import main

from governance.models import AuditReport, Run
from tests.conftest import token_client
from tests.prometheus import free_port
from tests.workflow import approved_review, measured_run


def greenlight(url, token, *args):
    result = CliRunner().invoke(main, ["--url", url, "--token", token, *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_the_gate_says_why_it_is_closed_by_its_exit_code(
    live_server, world, reference_data, eager_tasks, tmp_path, settings
):
    team, second_lead, version, pipeline = world
    key = Ed25519PrivateKey.generate()
    settings.ATTESTATION_SIGNING_KEY = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    artefact = tmp_path / "model.safetensors"
    artefact.write_bytes(b"released weights")
    version.artifact_sha256 = hashlib.sha256(artefact.read_bytes()).hexdigest()
    version.save()
    _, token = token_client(team.pipeline)
    url, name = live_server.url, version.registered_model.name

    code, out = greenlight(url, token, "gate", "check", name, "2.0")
    assert code == 5 and "FAIL  telemetry_coverage" in out  # no run measured yet: evidence missing
    code, out = greenlight(url, token, "gate", "check", name, "9.9")
    assert code == 6 and "No version '9.9'" in out
    code, out = greenlight(url, "glt_nobody_nothing", "gate", "check", "--version-id", str(version.pk))
    assert code == 7

    measured_run(pipeline, version, "ft-cli")
    code, out = greenlight(url, token, "--json", "gate", "check", "--version-id", str(version.pk))
    answer = json.loads(out)
    assert code == 4 and answer["exit_code"] == 4 and not answer["allowed"]  # a review is all that is missing

    review_id = approved_review(team, second_lead, version)
    code, out = greenlight(url, token, "gate", "check", name, "2.0")
    assert code == 0 and out.startswith("ALLOWED")

    _, reader = token_client(team.pipeline, scopes=["registry:read"])
    code, out = greenlight(url, reader, "release", name, "2.0")
    assert code == 7  # the release scope is needed
    code, out = greenlight(url, token, "release", name, "2.0")
    assert code == 0
    version.refresh_from_db()
    assert version.status == "released"

    attestation, public = tmp_path / "attestation.json", tmp_path / "key.pem"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    code, out = greenlight(url, token, "attest", "fetch", name, "2.0", "-o", str(attestation))
    assert code == 0
    code, out = greenlight(
        url, token, "attest", "verify", str(attestation), "--artifact", str(artefact), "--key", str(public)
    )
    assert code == 0 and out.startswith(f"VERIFIED {name}:2.0")

    report = AuditReport.objects.get(review_id=review_id)
    pdf, card = tmp_path / "report.pdf", tmp_path / "card.yaml"
    code, out = greenlight(url, token, "reports", "fetch", str(report.pk), "--kind", "pdf", "-o", str(pdf))
    assert code == 0 and pdf.read_bytes()[:5] == b"%PDF-"
    code, out = greenlight(url, token, "reports", "fetch", str(report.pk), "--kind", "model-card", "-o", str(card))
    assert code == 0 and "co2_eq_emissions" in card.read_text()


def test_run_wraps_a_command_and_closes_the_run_with_its_outcome(live_server, world, reference_data, eager_tasks):
    team, _, version, _ = world
    _, token = token_client(team.pipeline)
    options = ["--version-id", str(version.pk), "--facility", "gcp-europe-west1", "--hardware", "h100-sxm"]
    options += ["--accelerators", "2", "--label", "aurora/cli-job"]
    check = "import os, sys; sys.exit(3 if os.environ['GREENLIGHT_RUN_LABEL'] == 'aurora/cli-job' else 0)"
    code, _ = greenlight(live_server.url, token, "run", *options, "--", sys.executable, "-c", check)
    assert code == 3  # the command's own exit code, after it saw the run's label
    run = Run.objects.get(label="aurora/cli-job")
    assert run.status == "failed" and run.ended_at is not None

    code, out = greenlight(live_server.url, token, "runs", "start", *[o.replace("cli-job", "cli-2") for o in options])
    assert code == 0
    code, out = greenlight(live_server.url, token, "runs", "close", out.strip(), "--status", "abandoned")
    assert code == 0 and Run.objects.get(label="aurora/cli-2").status == "abandoned"


def test_a_server_that_is_down_is_exit_code_8():
    code, out = greenlight(f"http://127.0.0.1:{free_port()}", "glt_x_y", "gate", "check", "--version-id", "1")
    assert code == 8 and "unreachable" in out


def test_versions_register_from_mlflow_metadata(live_server, world, reference_data, api, tmp_path):
    team, *_ = world
    api(team.owner).post(f"/api/v1/projects/{team.project.pk}/mlflow/", {"default_author": "mllead"}, format="json")
    _, token = token_client(team.pipeline)
    metadata = tmp_path / "model_version.json"  # what MLflow's REST API answers for a model version
    metadata.write_text(
        json.dumps(
            {
                "model_version": {
                    "name": "aurora",
                    "version": "7",
                    "source": "models:/m-5c2d",
                    "run_id": "9f2b",
                    "tags": [{"key": "greenlight.base_model", "value": "aurora/2.0"}],
                }
            }
        )
    )
    args = ["versions", "register", "--from-mlflow", str(metadata), "--project", str(team.project.pk)]
    code, out = greenlight(live_server.url, token, *args)
    assert code == 0 and "Registered aurora 7 and opened its draft review for mllead" in out
    code, out = greenlight(live_server.url, token, *args)
    assert code == 2 and "already has a version '7'" in out
    assert token not in out
