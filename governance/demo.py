"""Demo data: people with each role, projects, and a model family with lineage.

Each capability adds itself here so that `make run` shows everything Greenlight does.
Idempotent: running it again changes nothing but the demo pipeline token."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from governance.models import ApiToken, ModelVersion, Project, RegisteredModel, Role, TokenScope
from governance.services import registry, tokens
from telemetry.demo import seed_telemetry

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


def _person(username: str, full_name: str, staff: bool) -> AbstractBaseUser:
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
    return DemoResult(logins=logins, token=secret, enrolment_token=seed_telemetry())
