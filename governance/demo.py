"""Demo data: people with each role, projects, and a model family with lineage.

Each capability adds itself here so that `make run` shows everything Greenlight does.
Idempotent: running it again changes nothing but the demo pipeline token."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from governance.models import (
    ApiToken,
    MlflowHook,
    ModelVersion,
    Project,
    RegisteredModel,
    Role,
    Run,
    RunStatus,
    Stage,
    TokenScope,
)
from governance.services import (
    budgets,
    mlflow_events,
    registry,
    release_gate,
    reports,
    reviews,
    runs,
    suppliers,
    tokens,
)
from lca.models import DataRequestState, Facility, HardwareModel
from telemetry.demo import DEMO_LABEL, DEMO_SERVING_LABEL, seed_prometheus, seed_telemetry
from telemetry.models import MinuteRollup

DEMO_PASSWORD = "greenlight-demo"

PEOPLE = [
    # username, full name, project roles in the demo project, staff
    ("admin", "Ada Admin", [], True),
    ("alice", "Alice Author", [Role.ML_LEAD], False),
    ("sam", "Sam Sustainability", [Role.SUSTAINABILITY_OFFICER], False),
    ("mei", "Mei ML-lead", [Role.ML_LEAD], False),
    ("rita", "Rita Reviewer", [Role.REVIEWER], False),
    ("omar", "Omar Auditor", [Role.AUDITOR], False),
    ("pipeline", "Training pipeline", [Role.PIPELINE], False),
    ("olivia", "Olivia Outsider", [], False),
]

B = 1_000_000_000
T = 1_000_000_000_000
# model name, version, base (model, version) or None, adaptation, params, active, precision, tokens, description
VERSIONS = [
    ("aurora", "1.0", None, "pretraining", 7 * B, None, "bf16", 2 * T, "Dense 7B foundation model."),
    ("aurora-chat", "1.0", ("aurora", "1.0"), "full_fine_tune", 7 * B, None, "bf16", 20 * B, "Instruction-tuned."),
    ("aurora-chat", "1.1", ("aurora-chat", "1.0"), "adapter", 7 * B, None, "bf16", 2 * B, "LoRA on support data."),
    ("aurora-chat", "1.1-int4", ("aurora-chat", "1.1"), "quantisation", 7 * B, None, "int4", 0, "4-bit for edge."),
    ("aurora-mini", "1.0", ("aurora-chat", "1.1"), "distillation", 1 * B, None, "bf16", 100 * B, "Distilled 1B."),
    ("aurora-moe", "0.9", None, "pretraining", 47 * B, 13 * B, "bf16", 3 * T, "Mixture-of-experts, 8x7B."),
]


@dataclass
class DemoResult:
    logins: list[tuple[str, str, str]]
    token: str
    enrolment_token: str


def _person(username: str, full_name: str, staff: bool) -> User:
    User = get_user_model()
    first, _, last = full_name.partition(" ")
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org", "is_staff": staff},
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.is_superuser = staff
        user.save()
    return user


@transaction.atomic
def seed_registry() -> DemoResult:
    people = {username: _person(username, name, staff) for username, name, _, staff in PEOPLE}
    owner = people["alice"]
    project = Project.objects.filter(slug="aurora").first() or registry.create_project(
        owner=owner,
        name="Aurora assistant",
        slug="aurora",
        description="A family of assistant models: pre-training, fine-tunes, adapters, distillation, quantisation.",
    )
    for username, _, roles, _ in PEOPLE:
        if roles:
            registry.set_membership(project=project, actor=owner, user=people[username], roles=roles)

    other = Project.objects.filter(slug="vision-lab").first() or registry.create_project(
        owner=people["olivia"], name="Vision lab", slug="vision-lab", description="Another team's project."
    )
    if not other.models.exists():
        registry.register_model(project=other, actor=people["olivia"], name="iris", description="Image model.")

    for model_name, version, base, adaptation, params, active, precision, tokens_, description in VERSIONS:
        model = RegisteredModel.objects.filter(project=project, name=model_name).first() or registry.register_model(
            project=project, actor=owner, name=model_name
        )
        if model.versions.filter(version=version).exists():
            continue
        base_version = (
            ModelVersion.objects.get(registered_model__project=project, registered_model__name=base[0], version=base[1])
            if base
            else None
        )
        registry.register_version(
            registered_model=model,
            actor=people["pipeline"],
            version=version,
            base_version=base_version,
            adaptation=adaptation,
            parameters=params,
            active_parameters=active,
            precision=precision,
            training_tokens=tokens_,
            description=description,
        )

    # A fresh pipeline token on every seed: the secret of an old one cannot be shown again.
    for old in ApiToken.objects.active().filter(user=people["pipeline"], name="demo pipeline"):
        tokens.revoke_token(token=old, actor=people["pipeline"])
    _, secret = tokens.issue_token(user=people["pipeline"], name="demo pipeline", scopes=list(TokenScope.values))

    logins = [
        (username, DEMO_PASSWORD, ", ".join(r.label for r in roles) or ("superuser" if staff else "no role"))
        for username, _, roles, staff in PEOPLE
    ]
    enrolment_token = seed_telemetry()
    seed_governance(project, people)
    seed_mlflow(project, people)
    seed_prometheus()  # after the serving deployment it reports usage for
    return DemoResult(logins=logins, token=secret, enrolment_token=enrolment_token)


def seed_governance(project: Project, people: dict[str, User]) -> None:
    """Runs (one measured by the demo GPUs, one estimated), budgets, a released version
    with its approved review, and a review waiting for sign-off."""
    if Run.objects.filter(label=DEMO_LABEL).exists():
        return
    alice, pipeline = people["alice"], people["pipeline"]
    chat = ModelVersion.objects.get(
        registered_model__project=project, registered_model__name="aurora-chat", version="1.1"
    )
    mini = ModelVersion.objects.get(registered_model__project=project, registered_model__name="aurora-mini")
    span = MinuteRollup.objects.filter(label=DEMO_LABEL).aggregate(start=Min("minute"), end=Max("minute"))
    facility, h100 = Facility.objects.get(slug="gcp-europe-west1"), HardwareModel.objects.get(slug="h100-sxm")
    run = runs.open_run(
        version=chat,
        actor=pipeline,
        stage=Stage.FINE_TUNING,
        facility=facility,
        hardware=h100,
        host=HardwareModel.objects.get(slug="host-8gpu"),
        accelerator_count=4,
        label=DEMO_LABEL,
        started_at=span["start"],
    )
    runs.close_run(run=run, actor=pipeline, status=RunStatus.SUCCEEDED, ended_at=span["end"] + timedelta(minutes=1))
    estimate = {"active_parameters": 1e9, "tokens": 1e11, "hardware": "a100-sxm-80gb", "facility": "jean-zay"}
    distil = runs.open_run(
        version=mini,
        actor=pipeline,
        stage=Stage.PRETRAINING,
        facility=Facility.objects.get(slug="jean-zay"),
        hardware=HardwareModel.objects.get(slug="a100-sxm-80gb"),
        accelerator_count=64,
        label="aurora/mini-1.0-distil",
        estimate=estimate,
        started_at=span["start"] - timedelta(days=3),
    )
    runs.close_run(
        run=distil, actor=pipeline, status=RunStatus.FAILED, ended_at=span["start"] - timedelta(days=2, hours=12)
    )
    runs.grant_coverage_exception(
        run=distil, actor=people["sam"], note="Jean Zay jobs ran before the agent was deployed; the estimate stands."
    )
    year = timezone.now().year
    budgets.create_budget(
        project=project,
        actor=people["sam"],
        name=f"Aurora {year}",
        period_start=date(year, 1, 1),
        period_end=date(year, 12, 31),
        limit_kwh=20_000,
        limit_kgco2e=5_000,
    )
    budgets.create_budget(
        project=project,
        actor=people["sam"],
        name="aurora-chat 1.1 fine-tune",
        model_version=chat,
        period_start=date(year, 1, 1),
        period_end=date(year, 12, 31),
        limit_kwh=8,
    )

    review = reviews.create_review(
        version=chat,
        author=alice,
        goal_and_scope="Functional unit: 1,000 generated tokens. Boundary: the LoRA fine-tune (all runs), "
        "embodied hardware share, on-site water; inference at projected volume.",
        training_inventory="One fine-tuning run on 4 × H100 in europe-west1, measured by the GPU agent.",
        inference_projection="About 2 billion tokens a month on one H100.",
        comparison="A LoRA adapter: a small fraction of the base model's pre-training energy.",
        mitigations="Adapter instead of full fine-tune; BF16; a low-carbon region.",
        hardware_and_suppliers="NVIDIA H100 SXM (PCF 164 kgCO2e); Google Cloud europe-west1.",
    )
    reviews.submit_review(review=review, actor=alice)
    reviews.decide(review=review, reviewer=people["sam"], verdict="approve", note="Energy and factors checked.")
    reviews.decide(review=review, reviewer=people["mei"], verdict="approve", note="Mitigations are adequate.")
    report = reports.request_report(review=review, actor=alice)
    reports.render_report(report.pk)
    chat.artifact_sha256 = hashlib.sha256(b"aurora-chat 1.1 demo weights").hexdigest()  # the attestation's subject
    chat.save(update_fields=["artifact_sha256"])
    release_gate.release_version(version=chat, actor=pipeline)
    runs.open_deployment(  # served from a fleet whose Prometheus reports its GPU and vLLM counters
        version=chat,
        actor=pipeline,
        name="chat serving (vLLM)",
        label=DEMO_SERVING_LABEL,
        facility=facility,
        hardware=h100,
        accelerator_count=1,
        started_at=timezone.now() - timedelta(hours=2),
    )

    # What the EU model documentation's energy row cites for the estimated Jean Zay run:
    # the centre was asked for its metered energy and refused, so the row says N/A and why.
    jean_zay = Facility.objects.get(slug="jean-zay").supplier
    asked = "metered energy of the aurora-mini distillation job (GPU and node counters)"
    suppliers.record_data_request(supplier=jean_zay, actor=people["sam"], what=asked, state=DataRequestState.REQUESTED)
    suppliers.record_data_request(
        supplier=jean_zay,
        actor=people["sam"],
        what=asked,
        state=DataRequestState.REFUSED,
        note="Per-job energy accounting is not available to external projects.",
    )
    waiting = reviews.create_review(
        version=mini,
        author=alice,
        goal_and_scope="Functional unit: 1,000 tokens; distillation runs.",
        training_inventory="One failed distillation run on Jean Zay (estimated; no telemetry).",
    )
    reviews.submit_review(review=waiting, actor=alice)


def seed_mlflow(project: Project, people: dict[str, User]) -> None:
    """The project's MLflow registry, connected, and one delivery as MLflow sends it: a new
    version of aurora-chat, registered with its lineage and a draft review for alice."""
    if MlflowHook.objects.filter(project=project).exists():
        return
    hook = mlflow_events.connect(project=project, actor=people["alice"], default_author=people["alice"])
    run_id = "5d1c0e7a9b3f4e2a8c6d0b1a2f3e4d5c"
    body = json.dumps(
        {
            "entity": "model_version",
            "action": "created",
            "timestamp": timezone.now().isoformat(),
            "data": {
                "name": "aurora-chat",
                "version": "1.2",
                "source": f"runs:/{run_id}/model",
                "run_id": run_id,
                "tags": {"greenlight.base_model": "aurora-chat/1.1", "greenlight.adaptation": "adapter"},
                "description": "Nightly LoRA refresh, registered in MLflow.",
            },
        }
    ).encode()
    delivery, sent = str(uuid.uuid4()), str(int(timezone.now().timestamp()))
    headers = {
        mlflow_events.DELIVERY_HEADER: delivery,
        mlflow_events.TIMESTAMP_HEADER: sent,
        mlflow_events.SIGNATURE_HEADER: mlflow_events.sign(hook.secret, delivery, sent, body),
    }
    mlflow_events.receive(project_slug=project.slug, headers=headers, body=body)
