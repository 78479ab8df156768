"""MLflow model registry events. MLflow (3.x) posts a JSON envelope for each new model
version and each alias, signed with the webhook's secret: header X-MLflow-Signature
is "v1," and the base64 HMAC-SHA256 of "<delivery id>.<timestamp>.<body>". Greenlight
registers the version with its lineage and opens its draft impact review; an alias
such as "production" set on an unreleased version notifies the officers.

Tags name what MLflow does not know (all optional but parameters and precision,
which a base model can supply): greenlight.parameters, greenlight.active_parameters,
greenlight.precision, greenlight.training_tokens, greenlight.adaptation,
greenlight.modality, greenlight.artifact_sha256, greenlight.base_model
("<model>/<version>" or "models:/<model>/<version>") and greenlight.author."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from governance.access import require_owner
from governance.errors import Conflict, GovernanceError, NotFound, Unauthenticated
from governance.models import (
    Adaptation,
    Membership,
    MlflowDelivery,
    MlflowHook,
    ModelVersion,
    Project,
    RegisteredModel,
    Role,
    VersionStatus,
)
from governance.services import audit, notifications, registry, release_gate, reviews

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_HEADER = "X-MLflow-Delivery-Id"
TOLERANCE = timedelta(minutes=5)  # older or future-dated deliveries are refused, like replays
TAG_PREFIX = "greenlight."
NUMBER_TAGS = ("parameters", "active_parameters", "training_tokens")
TEXT_TAGS = ("precision", "adaptation", "modality", "artifact_sha256")
EVENTS = ("model_version.created", "model_version_alias.created")


@dataclass(frozen=True)
class Outcome:
    status: int
    message: str
    version: ModelVersion | None = None
    review_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message, "version": getattr(self.version, "pk", None), "review": self.review_id}


# --- connecting a registry ---


@transaction.atomic
def connect(
    *, project: Project, actor: User, default_author: User, production_aliases: list[str] | None = None
) -> MlflowHook:
    """Connects (or reconnects, with a new secret) the project's MLflow registry."""
    require_owner(actor, project, "connects its MLflow registry")
    _require_author(default_author, project)
    hook, _ = MlflowHook.objects.update_or_create(
        project=project,
        defaults={
            "secret": secrets.token_urlsafe(32),
            "default_author": default_author,
            **({"production_aliases": production_aliases} if production_aliases is not None else {}),
        },
    )
    audit.record(
        actor=actor,
        action="mlflow.connected",
        obj=hook,
        project_id=project.pk,
        payload={"default_author": default_author.username, "production_aliases": hook.production_aliases},
    )
    return hook


def authors(project: Project) -> QuerySet[User]:
    """Who may write the project's reviews: its owner and ML leads, never a service account."""
    members = Membership.objects.filter(project=project)
    leads = members.filter(roles__name=Role.ML_LEAD.value).values("user_id")
    pipelines = members.filter(roles__name=Role.PIPELINE.value).values("user_id")
    return User.objects.filter(Q(pk=project.owner_id) | Q(pk__in=leads)).exclude(pk__in=pipelines).order_by("username")


def _require_author(user: User, project: Project) -> None:
    if not authors(project).filter(pk=user.pk).exists():
        raise GovernanceError(
            f"{user.username} cannot author reviews in '{project.slug}': "
            "an author is a person who may edit its registry.",
            field_errors={"default_author": ["Needs the owner or the ML lead role, and not the Pipeline role."]},
        )


# --- receiving deliveries ---


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """MLflow's v1 signature, as its webhook delivery computes it."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


def receive(*, project_slug: str, headers: Mapping[str, str], body: bytes) -> Outcome:
    """Verifies one delivery and acts on it (`headers` looked up case-insensitively, as
    Django's request.headers are). A refused delivery is audited and changes nothing."""
    hook = MlflowHook.objects.select_related("project", "default_author").filter(project__slug=project_slug).first()
    if hook is None:
        raise NotFound(f"Project '{project_slug}' has no MLflow registry connected.")
    delivery_id = headers.get(DELIVERY_HEADER, "")
    try:
        _verify(hook, delivery_id, headers.get(TIMESTAMP_HEADER, ""), headers.get(SIGNATURE_HEADER, ""), body)
        event = _parse(body)
        with transaction.atomic():
            outcome = _act(hook, event)
            MlflowDelivery.objects.create(
                hook=hook,
                delivery_id=delivery_id,
                event=f"{event['entity']}.{event['action']}",
                outcome=outcome.message,
                version=outcome.version,
            )
        return outcome
    except IntegrityError as exc:  # the same delivery id, received concurrently
        _refused(hook, delivery_id, "replayed")
        raise Conflict(f"Delivery {delivery_id} was already received.") from exc
    except GovernanceError as exc:
        _refused(hook, delivery_id, exc.message)
        raise


def _refused(hook: MlflowHook, delivery_id: str, reason: str) -> None:
    with transaction.atomic():
        audit.record(
            actor="mlflow",
            action="mlflow.refused",
            obj=hook,
            project_id=hook.project_id,
            payload={"delivery": delivery_id[:100], "reason": reason},
        )


def _verify(hook: MlflowHook, delivery_id: str, timestamp: str, signature: str, body: bytes) -> None:
    if not signature:
        raise Unauthenticated(f"No {SIGNATURE_HEADER} header: set the webhook's secret in MLflow.")
    if not delivery_id or not timestamp.isdigit():
        raise Unauthenticated(f"{DELIVERY_HEADER} and {TIMESTAMP_HEADER} are required.")
    if not hmac.compare_digest(sign(hook.secret, delivery_id, timestamp, body), signature):
        raise Unauthenticated("The signature does not match: check the webhook's secret in MLflow.")
    sent = datetime.fromtimestamp(int(timestamp), tz=UTC)
    if abs(timezone.now() - sent) > TOLERANCE:
        raise Unauthenticated(f"The delivery is dated {sent.isoformat()}, more than 5 minutes from now.")
    if MlflowDelivery.objects.filter(hook=hook, delivery_id=delivery_id).exists():
        raise Conflict(f"Delivery {delivery_id} was already received.")


def _parse(body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except ValueError as exc:
        raise GovernanceError(f"The body is not JSON: {exc}.") from exc
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise GovernanceError("Expected MLflow's envelope: entity, action, timestamp and data.")
    return event


def _act(hook: MlflowHook, event: dict[str, Any]) -> Outcome:
    kind = f"{event.get('entity')}.{event.get('action')}"
    if kind == "model_version.created":
        return register(project=hook.project, mlflow_version=event["data"], actor=None, hook=hook)
    if kind == "model_version_alias.created":
        return _alias_set(hook, event["data"])
    return Outcome(200, f"Ignored {kind}: Greenlight acts on {' and '.join(EVENTS)}.")


# --- the events ---


@transaction.atomic  # the version and its review, or neither
def register(
    *, project: Project, mlflow_version: dict[str, Any], actor: User | None, hook: MlflowHook | None = None
) -> Outcome:
    """Registers an MLflow model version (its webhook payload, or the `model_version`
    object of MLflow's REST API) and opens its draft review. `actor` is who asked (None
    for a webhook: then the review's author registers it)."""
    hook = hook or MlflowHook.objects.filter(project=project).select_related("default_author").first()
    model = _model(project, str(mlflow_version.get("name", "")))
    tags = _tags(mlflow_version.get("tags"))
    author = _author(project, tags.get("author"), hook, actor)
    fields = _version_fields(model, tags)
    fields.update(
        version=str(mlflow_version.get("version", "")),
        description=str(mlflow_version.get("description") or ""),
        source_uri=str(mlflow_version.get("source") or "")[:500],
        source_run_id=str(mlflow_version.get("run_id") or "")[:64],
    )
    registrant = actor or author
    if registrant is None:
        raise GovernanceError("Nobody to register the version as: connect the project's MLflow registry first.")
    version = registry.register_version(registered_model=model, actor=registrant, **fields)
    audit.record(
        actor=registrant,
        action="version.registered_from_mlflow",
        obj=version,
        project_id=project.pk,
        payload={"source": version.source_uri, "run_id": version.source_run_id, "tags": tags},
    )
    if author is None:
        return Outcome(
            201, f"Registered {version}; no review opened: tag greenlight.author or connect the registry.", version
        )
    review = reviews.create_review(version=version, author=author)
    return Outcome(201, f"Registered {version} and opened its draft review for {author.username}.", version, review.pk)


def _model(project: Project, name: str) -> RegisteredModel:
    model = RegisteredModel.objects.filter(project=project, name=name).first()
    if model is None:
        raise NotFound(f"Project '{project.slug}' has no model named '{name}': register it in Greenlight first.")
    return model


def _tags(raw: Any) -> dict[str, str]:
    """Greenlight's tags, prefix removed; MLflow's REST API lists tags as key/value pairs."""
    if isinstance(raw, list):
        raw = {t.get("key"): t.get("value") for t in raw if isinstance(t, dict)}
    if not isinstance(raw, dict):
        return {}
    return {k[len(TAG_PREFIX) :]: str(v) for k, v in raw.items() if isinstance(k, str) and k.startswith(TAG_PREFIX)}


def _version_fields(model: RegisteredModel, tags: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name in NUMBER_TAGS:
        if name in tags:
            try:
                fields[name] = int(float(tags[name]))
            except ValueError:
                errors[TAG_PREFIX + name] = [f"Not a number: {tags[name]!r}."]
    fields.update({name: tags[name] for name in TEXT_TAGS if name in tags})
    if "base_model" in tags:
        base = _base(model.project, tags["base_model"])
        fields["base_version"] = base
        fields.setdefault("adaptation", Adaptation.FULL_FINE_TUNE)
        fields.setdefault("parameters", base.parameters)
        fields.setdefault("precision", base.precision)
    fields.setdefault("adaptation", Adaptation.PRETRAINING)
    for required in ("parameters", "precision"):
        if required not in fields:
            errors.setdefault(TAG_PREFIX + required, ["Required (or a greenlight.base_model to take it from)."])
    if errors:
        raise GovernanceError("The model version's tags are incomplete.", field_errors=errors)
    return fields


def _base(project: Project, ref: str) -> ModelVersion:
    name, _, version = ref.removeprefix("models:/").rpartition("/")
    base = ModelVersion.objects.filter(registered_model__project=project, registered_model__name=name, version=version)
    found = base.first()
    if found is None:
        raise NotFound(f"The base model '{ref}' is not registered in project '{project.slug}'.")
    return found


def _author(project: Project, username: str | None, hook: MlflowHook | None, actor: User | None) -> User | None:
    if username:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise NotFound(f"The author '{username}' (tag greenlight.author) has no Greenlight account.")
        _require_author(user, project)
        return user
    if hook is not None:
        _require_author(hook.default_author, project)  # roles change after the registry was connected
        return hook.default_author
    if actor is not None and authors(project).filter(pk=actor.pk).exists():
        return actor
    return None


def _alias_set(hook: MlflowHook, data: dict[str, Any]) -> Outcome:
    model = _model(hook.project, str(data.get("name", "")))
    version = ModelVersion.objects.filter(registered_model=model, version=str(data.get("version", ""))).first()
    if version is None:
        raise NotFound(f"Model '{model.name}' has no version '{data.get('version')}' in Greenlight.")
    alias = str(data.get("alias", ""))
    decision = release_gate.evaluate_release_gate(version=version, actor=hook.default_author)
    payload = {"alias": alias, "version": version.pk, "gate_allowed": decision.allowed}
    audit.record(actor="mlflow", action="version.alias_set", obj=version, project_id=hook.project_id, payload=payload)
    if alias not in hook.production_aliases or decision.allowed or version.status == VersionStatus.RELEASED:
        return Outcome(200, f"Alias '{alias}' recorded on {version}.", version)
    notifications.notify(
        project=hook.project,
        event="mlflow.alias_on_unreleased",
        subject=f"MLflow alias '{alias}' set on {version}, which Greenlight has not released",
        message=f"The release gate does not allow {version}: "
        + "; ".join(f.message for f in decision.findings if not f.passed)
        + f". Someone set the '{alias}' alias in MLflow without a release through Greenlight.",
        payload=payload,
    )
    return Outcome(200, f"Alias '{alias}' on unreleased {version}: the officers are notified.", version)
