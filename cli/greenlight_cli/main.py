"""greenlight — Greenlight's release gate, runs, versions and reports from a pipeline.

Configured by GREENLIGHT_URL and GREENLIGHT_TOKEN (an API token), or --url/--token.

\b
Exit codes:
  0  allowed / done
  2  usage error (a missing or bad argument)
  3  blocked: the gate has failing findings (budgets, per-token regression, …)
  4  review pending: no approved impact review yet
  5  evidence missing: figures, telemetry coverage or the audit report are not there yet
  6  not found (the model, version, run or report)
  7  not permitted (the token's scopes or the project's roles)
  8  server unreachable, or it answered with an error (5xx)
  9  an attestation that does not verify (signature, key or artefact)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
import httpx

OK, BLOCKED, REVIEW_PENDING, EVIDENCE_MISSING, NOT_FOUND, NOT_PERMITTED, UNREACHABLE = 0, 3, 4, 5, 6, 7, 8
NOT_VERIFIED = 9
PAYLOAD_TYPE = "application/vnd.in-toto+json"
REVIEW_RULES = {"approved_review"}
EVIDENCE_RULES = {"audit_report", "telemetry_coverage", "figures_current"}
# --kind → (the API's name for the file, the file's suffix)
REPORT_KINDS = {"pdf": ("pdf", "pdf"), "json": ("export", "json"), "model-card": ("model-card", "yaml")}


class Client:
    def __init__(self, url: str, token: str, as_json: bool) -> None:
        self.http = httpx.Client(
            base_url=url.rstrip("/") + "/api/v1/", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        self.as_json = as_json

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            fail(UNREACHABLE, f"Greenlight at {self.http.base_url} is unreachable: {exc}", self.as_json)
        if response.status_code in (401, 403):
            fail(NOT_PERMITTED, _message(response), self.as_json)
        if response.status_code == 404:
            fail(NOT_FOUND, _message(response), self.as_json)
        if response.status_code >= 500:
            fail(UNREACHABLE, f"Greenlight answered {response.status_code}: {_message(response)}", self.as_json)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        if response.status_code >= 400 and response.status_code != 409:
            fail(2, _message(response), self.as_json)
        return response.json()

    def version_id(self, model: str | None, version: str | None, version_id: int | None) -> int:
        if version_id is not None:
            return version_id
        if not model or not version:
            fail(2, "Name the model and the version (MODEL VERSION), or give --version-id.", self.as_json)
        models = self.json("GET", "models/", params={"name": model})["results"]
        if not models:
            fail(NOT_FOUND, f"No model named {model!r} that this token can see.", self.as_json)
        found = self.json("GET", "model-versions/", params={"registered_model": models[0]["id"], "version": version})
        if not found["results"]:
            fail(NOT_FOUND, f"No version {version!r} of {model!r}.", self.as_json)
        return int(found["results"][0]["id"])


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("message") or body.get("detail") or body)
    return str(body)


def fail(code: int, message: str, as_json: bool) -> NoReturn:
    if as_json:
        click.echo(json.dumps({"exit_code": code, "message": message}))
    else:
        click.echo(f"greenlight: {message}", err=True)
    sys.exit(code)


def gate_exit_code(decision: dict[str, Any]) -> int:
    """The exit code for a gate answer: which kind of finding keeps the gate closed."""
    if decision.get("allowed"):
        return OK
    failing = {f["rule"] for f in decision.get("findings", []) if not f["passed"]}
    if failing - REVIEW_RULES - EVIDENCE_RULES:
        return BLOCKED
    if failing & (EVIDENCE_RULES - {"audit_report"}):
        return EVIDENCE_MISSING
    # Without an approved review there can be no report of it: the review is what is missing.
    return REVIEW_PENDING if failing & REVIEW_RULES else EVIDENCE_MISSING


def print_decision(decision: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({**decision, "exit_code": gate_exit_code(decision)}, indent=2))
        return
    click.echo(("ALLOWED" if decision["allowed"] else "BLOCKED") + f" (policy {decision['policy_version']})")
    for f in decision["findings"]:
        click.echo(f"  {'pass' if f['passed'] else 'FAIL'}  {f['rule']}: {f['message']}")


@click.group(help=__doc__, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", envvar="GREENLIGHT_URL", default="http://127.0.0.1:8000", show_default=True)
@click.option("--token", envvar="GREENLIGHT_TOKEN", required=True, help="An API token (glt_…).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def main(ctx: click.Context, url: str, token: str, as_json: bool) -> None:
    ctx.obj = Client(url, token, as_json)


def _version_args(f: Any) -> Any:
    """MODEL VERSION, or --version-id: the version a command acts on."""
    for option in (
        click.option("--version-id", type=int),
        click.argument("version", required=False),
        click.argument("model", required=False),
    ):
        f = option(f)
    return f


@main.group()
def gate() -> None:
    """The release gate."""


@gate.command("check")
@_version_args
@click.pass_obj
def gate_check(client: Client, model: str | None, version: str | None, version_id: int | None) -> None:
    """Prints the gate's decision and every finding; the exit code says why it is closed."""
    pk = client.version_id(model, version, version_id)
    decision = client.json("GET", f"model-versions/{pk}/release-gate/")
    print_decision(decision, client.as_json)
    sys.exit(gate_exit_code(decision))


@main.command()
@_version_args
@click.pass_obj
def release(client: Client, model: str | None, version: str | None, version_id: int | None) -> None:
    """Releases the version through the gate (the token needs the `release` scope)."""
    pk = client.version_id(model, version, version_id)
    answer = client.json("POST", f"model-versions/{pk}/release/")
    decision = answer.get("gate", answer)
    print_decision(decision, client.as_json)
    sys.exit(gate_exit_code(decision))


@main.group()
def versions() -> None:
    """The model registry."""


@versions.command("register")
@click.option("--model-id", type=int, help="The registered model's id.")
@click.option("--version", "version")
@click.option("--adaptation", default="pretraining", show_default=True)
@click.option("--parameters", type=float, help="Parameter count.")
@click.option("--precision")
@click.option("--base-version-id", type=int)
@click.option("--from-file", type=click.Path(exists=True, path_type=Path), help="A JSON file of further fields.")
@click.option(
    "--from-mlflow",
    type=click.Path(exists=True, path_type=Path),
    help="MLflow's model version as JSON (its REST API's get answer); needs --project. "
    "Registered by the rule MLflow's webhooks follow, with its draft review.",
)
@click.option("--project", "project_id", type=int, help="The project's id (with --from-mlflow).")
@click.pass_obj
def versions_register(
    client: Client,
    /,
    model_id: int | None,
    version: str | None,
    from_file: Path | None,
    from_mlflow: Path | None,
    project_id: int | None,
    **fields: Any,
) -> None:
    """Registers a version of a model: from flags (--model-id, --version, …) or from
    MLflow's metadata (--from-mlflow FILE --project ID)."""
    if from_mlflow:
        if project_id is None:
            fail(2, "--from-mlflow needs --project.", client.as_json)
        metadata = json.loads(from_mlflow.read_text())
        body = {"model_version": metadata.get("model_version", metadata)}
        response = client.call("POST", f"projects/{project_id}/mlflow/versions/", json=body)
        answer = response.json()
        if response.status_code >= 400:
            fail(2, _message(response), client.as_json)
        click.echo(json.dumps(answer) if client.as_json else answer["message"])
        return
    if model_id is None or version is None:
        fail(2, "Give --model-id and --version, or --from-mlflow FILE --project ID.", client.as_json)
    body = {
        **(json.loads(from_file.read_text()) if from_file else {}),
        "registered_model": model_id,
        "version": version,
    }
    body.update({k: v for k, v in fields.items() if v is not None})
    if "base_version_id" in body:
        body["base_version"] = body.pop("base_version_id")
    created = client.json("POST", "model-versions/", json=body)
    click.echo(json.dumps(created) if client.as_json else f"registered {created.get('id')}: version {version}")


@main.group()
def runs() -> None:
    """Training and evaluation runs."""


def _run_options(f: Any) -> Any:
    for option in reversed(
        [
            click.option("--version-id", type=int, required=True),
            click.option("--stage", default="fine_tuning", show_default=True),
            click.option("--facility", required=True, help="A facility's slug."),
            click.option("--hardware", required=True, help="A hardware model's slug."),
            click.option("--accelerators", type=int, required=True),
            click.option("--label", required=True, help="The telemetry label of the run's GPUs (project/job)."),
        ]
    ):
        f = option(f)
    return f


def _start(client: Client, options: dict[str, Any]) -> int:
    """Opens a run from the _run_options; its id."""
    body = {
        "model_version": options["version_id"],
        "stage": options["stage"],
        "facility": options["facility"],
        "hardware": options["hardware"],
        "accelerator_count": options["accelerators"],
        "label": options["label"],
    }
    return int(client.json("POST", "runs/", json=body)["id"])


def _close(client: Client, run_id: int, status: str) -> dict[str, Any]:
    body = {"status": status, "ended_at": datetime.now(UTC).isoformat()}
    answer: dict[str, Any] = client.json("POST", f"runs/{run_id}/close/", json=body)
    return answer


@runs.command("start")
@_run_options
@click.pass_obj
def runs_start(client: Client, /, **options: Any) -> None:
    """Opens a run; prints its id."""
    run_id = _start(client, options)
    click.echo(json.dumps({"id": run_id}) if client.as_json else str(run_id))


@runs.command("close")
@click.argument("run_id", type=int)
@click.option("--status", type=click.Choice(["succeeded", "failed", "abandoned"]), default="succeeded")
@click.pass_obj
def runs_close(client: Client, run_id: int, status: str) -> None:
    """Closes a run as succeeded, failed or abandoned."""
    answer = _close(client, run_id, status)
    click.echo(json.dumps(answer) if client.as_json else f"run {run_id} closed: {status}")


@main.command(context_settings={"ignore_unknown_options": True})
@_run_options
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_obj
def run(client: Client, /, command: tuple[str, ...], **options: Any) -> None:
    """Opens a run, runs COMMAND with GREENLIGHT_RUN_LABEL set to its label (for the agent
    or DCGM labels), and closes the run with the command's outcome; exits as COMMAND did."""
    run_id = _start(client, options)
    env = {**os.environ, "GREENLIGHT_RUN_LABEL": options["label"], "GREENLIGHT_RUN_ID": str(run_id)}
    try:
        code = subprocess.call(list(command), env=env)
    except OSError as exc:
        _close(client, run_id, "failed")
        fail(2, f"cannot run {command[0]!r}: {exc}", client.as_json)
    _close(client, run_id, "succeeded" if code == 0 else "failed")
    if client.as_json:
        click.echo(json.dumps({"run": run_id, "exit_code": code}))
    sys.exit(code)


@main.group()
def reports() -> None:
    """Audit reports."""


@reports.command("fetch")
@click.argument("report_id", type=int)
@click.option("--kind", type=click.Choice(sorted(REPORT_KINDS)), default="pdf", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Where to write it.")
@click.pass_obj
def reports_fetch(client: Client, report_id: int, kind: str, output: Path | None) -> None:
    """Downloads a finished audit report: its PDF, JSON export or model-card block."""
    name, suffix = REPORT_KINDS[kind]
    response = client.call("GET", f"reports/{report_id}/{name}/")
    if response.status_code == 409:  # still rendering, or failed
        fail(EVIDENCE_MISSING, _message(response), client.as_json)
    target = output or Path(f"greenlight-report-{report_id}.{suffix}")
    target.write_bytes(response.content)
    click.echo(json.dumps({"file": str(target), "bytes": len(response.content)}) if client.as_json else str(target))


@main.group()
def attest() -> None:
    """Release attestations."""


@attest.command("fetch")
@_version_args
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_obj
def attest_fetch(client: Client, model: str | None, version: str | None, version_id: int | None, output: Path) -> None:
    """Downloads a released version's attestation (a DSSE envelope)."""
    pk = client.version_id(model, version, version_id)
    output.write_text(json.dumps(client.json("GET", f"model-versions/{pk}/attestation/"), indent=2))
    click.echo(json.dumps({"file": str(output)}) if client.as_json else str(output))


@attest.command("verify")
@click.argument("envelope_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--artifact", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The server's public key (PEM), from /.well-known/greenlight/attestation-key.pem.",
)
@click.pass_obj
def attest_verify(client: Client, envelope_file: Path, artifact: Path, key_file: Path) -> None:
    """Verifies an attestation offline: the signature with the key, and the artefact's SHA-256 against its subject."""
    statement = verify(json.loads(envelope_file.read_text()), key_file.read_bytes(), artifact.read_bytes())
    if isinstance(statement, str):
        fail(NOT_VERIFIED, statement, client.as_json)
    predicate = statement["predicate"]
    summary = {
        "verified": True,
        "subject": statement["subject"][0]["name"],
        "review": predicate.get("review"),
        "approvers": predicate.get("approvers"),
        "policy_version": predicate.get("policy_version"),
    }
    if client.as_json:
        click.echo(json.dumps(summary))
    else:
        approvers = ", ".join(f"{a['username']} ({a['role']})" for a in predicate.get("approvers", []))
        click.echo(
            f"VERIFIED {summary['subject']}: approved by {approvers or 'nobody'}; policy {summary['policy_version']}"
        )


def verify(envelope: dict[str, Any], public_pem: bytes, artifact: bytes) -> dict[str, Any] | str:
    """The in-toto Statement if the DSSE envelope is signed by this Ed25519 key and its
    subject is this artefact; else why not."""
    import base64
    import hashlib

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key = load_pem_public_key(public_pem)
    if not isinstance(key, Ed25519PublicKey):
        return "the key is not an Ed25519 public key"
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        return f"the envelope's payload type is not {PAYLOAD_TYPE}"
    payload = base64.b64decode(envelope.get("payload", ""))
    pae = b"DSSEv1 %d %b %d %b" % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(payload), payload)
    for signature in envelope.get("signatures", []):
        try:
            key.verify(base64.b64decode(signature.get("sig", "")), pae)
            break
        except (InvalidSignature, ValueError):
            continue
    else:
        return "no signature of the envelope verifies with this key"
    statement: dict[str, Any] = json.loads(payload)
    digest = hashlib.sha256(artifact).hexdigest()
    if not any(s.get("digest", {}).get("sha256") == digest for s in statement.get("subject", [])):
        return f"the artefact (sha256 {digest[:12]}…) is not the attestation's subject"
    return statement
