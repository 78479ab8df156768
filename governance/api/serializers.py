"""Serializers translate between JSON and the arguments of services; nothing more."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api import StrictSerializer
from governance.models import (
    REVIEW_SECTIONS,
    Adaptation,
    AuditEvent,
    AuditReport,
    Budget,
    Deployment,
    FunctionalUnit,
    ImpactReview,
    Membership,
    MlflowDelivery,
    MlflowHook,
    Modality,
    ModelVersion,
    Precision,
    Project,
    RegisteredModel,
    ReviewComment,
    ReviewDecision,
    Role,
    Run,
    RunStatus,
    Stage,
    Webhook,
    WebhookDelivery,
)
from governance.services import mlflow_events
from lca.models import DataRequestState, Facility, HardwareModel, SupplierDataRequest


class VisibleRelatedField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """A primary key that resolves only to rows the requesting user can see, so an
    outsider gets 'does not exist' and learns nothing."""

    def get_queryset(self) -> QuerySet[Any]:
        queryset: Any = super().get_queryset()  # a manager with visible_to(), given in the field's queryset
        return queryset.visible_to(self.context["request"].user)  # type: ignore[no-any-return]


# --- input ---


class ProjectInput(StrictSerializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=80)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    eu_checks_blocking = serializers.BooleanField(
        required=False,
        help_text="The EU model documentation's checks block a release (else they only advise).",
    )


class RegisteredModelInput(StrictSerializer):
    project = VisibleRelatedField(queryset=Project.objects.all())
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class RegisteredModelUpdate(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class ModelVersionInput(StrictSerializer):
    registered_model = VisibleRelatedField(queryset=RegisteredModel.objects.all())
    version = serializers.CharField(max_length=64)
    base_version = VisibleRelatedField(queryset=ModelVersion.objects.all(), required=False, allow_null=True)
    adaptation = serializers.ChoiceField(choices=Adaptation.choices)
    parameters = serializers.IntegerField(min_value=1)
    active_parameters = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    precision = serializers.ChoiceField(choices=Precision.choices)
    training_tokens = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    modality = serializers.ChoiceField(choices=Modality.choices, default=Modality.TEXT)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    artifact_sha256 = serializers.RegexField(
        r"^[0-9a-f]{64}$",
        required=False,
        allow_blank=True,
        help_text="The artefact's SHA-256 (64 lowercase hex digits).",
    )


class ModelVersionUpdate(StrictSerializer):
    base_version = VisibleRelatedField(queryset=ModelVersion.objects.all(), required=False, allow_null=True)
    adaptation = serializers.ChoiceField(choices=Adaptation.choices, required=False)
    parameters = serializers.IntegerField(min_value=1, required=False)
    active_parameters = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    precision = serializers.ChoiceField(choices=Precision.choices, required=False)
    training_tokens = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    modality = serializers.ChoiceField(choices=Modality.choices, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    artifact_sha256 = serializers.RegexField(
        r"^[0-9a-f]{64}$",
        required=False,
        allow_blank=True,
        help_text="The artefact's SHA-256 (64 lowercase hex digits).",
    )


class MembershipInput(StrictSerializer):
    username = serializers.SlugRelatedField(slug_field="username", queryset=get_user_model().objects.all())
    roles = serializers.ListField(child=serializers.ChoiceField(choices=Role.choices), allow_empty=True)


class SupplierDataRequestInput(StrictSerializer):
    what = serializers.CharField(max_length=200, help_text="What was asked, e.g. 'metered energy of our jobs, 2026'.")
    state = serializers.ChoiceField(choices=DataRequestState.choices)
    note = serializers.CharField(required=False, allow_blank=True, help_text="The supplier's answer or reason.")


class MlflowConnectInput(StrictSerializer):
    default_author = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.all(),
        help_text="Author of the draft reviews of versions without a greenlight.author tag.",
    )
    production_aliases = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        help_text="Aliases that mean serving (default production, champion).",
    )


class MlflowVersionInput(StrictSerializer):
    model_version = serializers.DictField(
        help_text="MLflow's model version: its REST API's `model_version` object or its webhook's `data`."
    )


# --- output ---


class ProjectOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    owner = serializers.CharField(source="owner.username")

    class Meta:
        model = Project
        fields = ["id", "name", "slug", "description", "owner", "eu_checks_blocking", "created_at"]


class RegisteredModelOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = RegisteredModel
        fields = ["id", "project", "name", "description", "created_at"]


class ModelVersionOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    model_name = serializers.CharField(source="registered_model.name")
    project = serializers.IntegerField(source="registered_model.project_id")

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "project",
            "registered_model",
            "model_name",
            "version",
            "base_version",
            "adaptation",
            "parameters",
            "active_parameters",
            "precision",
            "training_tokens",
            "modality",
            "description",
            "artifact_sha256",
            "source_uri",
            "source_run_id",
            "status",
            "created_at",
        ]


class MembershipOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    username = serializers.CharField(source="user.username")
    roles = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["username", "roles"]

    def get_roles(self, membership: Membership) -> list[str]:
        # roles are prefetched by the view; this reads the cache, it runs no query.
        return sorted(role.value for role in membership.role_set())


# --- runs, deployments, budgets, webhooks, reviews (input) ---


def host_input() -> serializers.SlugRelatedField:  # type: ignore[type-arg]
    return serializers.SlugRelatedField(
        slug_field="slug",
        queryset=HardwareModel.objects.filter(kind="host"),
        required=False,
        allow_null=True,
        help_text="Host server model (its embodied carbon); default: the facility's, else the generic 8-GPU host.",
    )


class RunInput(StrictSerializer):
    model_version = VisibleRelatedField(queryset=ModelVersion.objects.all())
    stage = serializers.ChoiceField(choices=Stage.choices)
    facility: serializers.SlugRelatedField[Facility] = serializers.SlugRelatedField(
        slug_field="slug", queryset=Facility.objects.all()
    )
    hardware: serializers.SlugRelatedField[HardwareModel] = serializers.SlugRelatedField(
        slug_field="slug", queryset=HardwareModel.objects.all()
    )
    host = host_input()
    accelerator_count = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    label = serializers.CharField(max_length=200)  # type: ignore[assignment]  # named like a Field attribute
    estimate = serializers.DictField(required=False, allow_null=True, help_text="A POST /estimates/ body.")
    started_at = serializers.DateTimeField(required=False)


class CloseRunInput(StrictSerializer):
    status = serializers.ChoiceField(choices=[RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.ABANDONED])
    ended_at = serializers.DateTimeField(required=False)


class NoteInput(StrictSerializer):
    note = serializers.CharField(allow_blank=True)


class DeploymentInput(StrictSerializer):
    model_version = VisibleRelatedField(queryset=ModelVersion.objects.all())
    name = serializers.CharField(max_length=200)
    facility: serializers.SlugRelatedField[Facility] = serializers.SlugRelatedField(
        slug_field="slug", queryset=Facility.objects.all()
    )
    hardware: serializers.SlugRelatedField[HardwareModel] = serializers.SlugRelatedField(
        slug_field="slug", queryset=HardwareModel.objects.all()
    )
    host = host_input()
    accelerator_count = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    label = serializers.CharField(max_length=200)  # type: ignore[assignment]  # named like a Field attribute
    started_at = serializers.DateTimeField(required=False)
    expected_tokens_per_month = serializers.FloatField(min_value=0, required=False, allow_null=True)
    functional_unit = serializers.ChoiceField(
        choices=FunctionalUnit.choices, required=False, help_text="How the service is used (default: tokens)."
    )


class UsageInput(StrictSerializer):
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    requests = serializers.IntegerField(min_value=0, help_text="Model calls, an agent's included.")
    input_tokens = serializers.IntegerField(min_value=0)
    output_tokens = serializers.IntegerField(min_value=0)
    workflow_executions = serializers.IntegerField(
        min_value=0, required=False, help_text="Agentic workflows completed in the window."
    )


class BudgetInput(StrictSerializer):
    project = VisibleRelatedField(queryset=Project.objects.all())
    model_version = VisibleRelatedField(queryset=ModelVersion.objects.all(), required=False, allow_null=True)
    name = serializers.CharField(max_length=200)
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    limit_kwh = serializers.FloatField(min_value=0, required=False, allow_null=True)
    limit_kgco2e = serializers.FloatField(min_value=0, required=False, allow_null=True)
    warn_at = serializers.FloatField(min_value=0.01, max_value=0.99, default=0.8)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("limit_kwh") is None and attrs.get("limit_kgco2e") is None:
            raise serializers.ValidationError({"limit_kwh": ["Give a limit in kWh, kgCO2e or both."]})
        if attrs["period_end"] < attrs["period_start"]:
            raise serializers.ValidationError({"period_end": ["Ends before it starts."]})
        return attrs


class WebhookInput(StrictSerializer):
    project = VisibleRelatedField(queryset=Project.objects.all())
    url = serializers.URLField(help_text="http(s) at a public address (private ones only if allow-listed).")
    secret = serializers.CharField(
        max_length=100,
        required=False,
        help_text="A Standard Webhooks secret (whsec_ and 24 to 64 bytes in base64); generated when left out.",
    )


class ReviewInput(StrictSerializer):
    model_version = VisibleRelatedField(queryset=ModelVersion.objects.all())
    goal_and_scope = serializers.CharField(required=False, allow_blank=True)
    training_inventory = serializers.CharField(required=False, allow_blank=True)
    inference_projection = serializers.CharField(required=False, allow_blank=True)
    comparison = serializers.CharField(required=False, allow_blank=True)
    mitigations = serializers.CharField(required=False, allow_blank=True)
    hardware_and_suppliers = serializers.CharField(required=False, allow_blank=True)
    justification = serializers.CharField(required=False, allow_blank=True)


class ReviewUpdate(ReviewInput):
    model_version = None  # type: ignore[assignment]


class DecisionInput(StrictSerializer):
    verdict = serializers.ChoiceField(choices=ReviewDecision.Verdict.choices)
    note = serializers.CharField(allow_blank=True)
    role = serializers.ChoiceField(choices=Role.choices, required=False)


class CommentInput(StrictSerializer):
    body = serializers.CharField(allow_blank=True)


# --- output ---


class RunOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    facility: serializers.SlugRelatedField[Facility] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    hardware: serializers.SlugRelatedField[HardwareModel] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    host: serializers.SlugRelatedField[HardwareModel] = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Run
        fields = [
            "id",
            "model_version",
            "stage",
            "status",
            "facility",
            "hardware",
            "host",
            "accelerator_count",
            "label",
            "estimate",
            "started_at",
            "ended_at",
            "coverage_exception",
        ]


class DeploymentOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    facility: serializers.SlugRelatedField[Facility] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    hardware: serializers.SlugRelatedField[HardwareModel] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    host: serializers.SlugRelatedField[HardwareModel] = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Deployment
        fields = [
            "id",
            "model_version",
            "name",
            "facility",
            "hardware",
            "host",
            "accelerator_count",
            "label",
            "started_at",
            "ended_at",
            "expected_tokens_per_month",
            "functional_unit",
        ]


class BudgetOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Budget
        fields = [
            "id",
            "project",
            "model_version",
            "name",
            "period_start",
            "period_end",
            "limit_kwh",
            "limit_kgco2e",
            "warn_at",
            "level",
        ]


class WebhookOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Webhook
        fields = ["id", "project", "url", "active", "created_at", "previous_secret_until"]


class WebhookSecretOutput(WebhookOutput):
    """Shown once, when a secret is set: keep it, it is not shown again."""

    secret = serializers.CharField()

    class Meta(WebhookOutput.Meta):
        fields = [*WebhookOutput.Meta.fields, "secret"]


class DeliveryOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "state", "attempts", "response_status", "last_error", "created_at", "delivered_at"]


class DecisionOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    reviewer = serializers.CharField(source="reviewer.username")

    class Meta:
        model = ReviewDecision
        fields = ["reviewer", "role", "verdict", "note", "snapshot_digest", "created_at"]


class CommentOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    author = serializers.CharField(source="author.username")

    class Meta:
        model = ReviewComment
        fields = ["id", "author", "body", "created_at"]


class ReviewOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    author = serializers.CharField(source="author.username")
    submitted_by = serializers.CharField(source="submitted_by.username", allow_null=True, default=None)
    decisions = DecisionOutput(many=True, read_only=True)

    class Meta:
        model = ImpactReview
        fields = [
            "id",
            "model_version",
            "kind",
            "state",
            "author",
            "submitted_by",
            "submitted_at",
            *REVIEW_SECTIONS,
            "snapshot",
            "snapshot_digest",
            "decisions",
            "created_at",
            "decided_at",
        ]


class AuditEventOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = AuditEvent
        fields = ["id", "actor", "action", "object_type", "object_id", "payload", "created_at", "prev_hash", "hash"]


class AuditChainHeadOutput(serializers.Serializer):  # type: ignore[type-arg]
    event_id = serializers.IntegerField(allow_null=True, help_text="The head's sequence number (event id).")
    hash = serializers.CharField(help_text="HMAC-SHA256 of the head event, chained to every event before it.")
    events = serializers.IntegerField(help_text="Events in the chain.")
    at = serializers.DateTimeField(allow_null=True, help_text="When the head event was written.")


class ReportOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = AuditReport
        fields = [
            "id",
            "review",
            "snapshot_digest",
            "state",
            "progress",
            "step",
            "sha256",
            "chain_head",
            "error",
            "created_at",
            "finished_at",
        ]


class MlflowDeliveryOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = MlflowDelivery
        fields = ["delivery_id", "event", "outcome", "version", "received_at"]


class MlflowHookOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    default_author = serializers.CharField(source="default_author.username")
    webhook_url = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField()
    deliveries = serializers.SerializerMethodField()

    class Meta:
        model = MlflowHook
        fields = ["webhook_url", "events", "default_author", "production_aliases", "created_at", "deliveries"]

    def get_webhook_url(self, hook: MlflowHook) -> str:
        path = reverse("api-mlflow-webhook", args=[hook.project.slug])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_events(self, hook: MlflowHook) -> list[str]:
        return list(mlflow_events.EVENTS)

    @extend_schema_field(MlflowDeliveryOutput(many=True))
    def get_deliveries(self, hook: MlflowHook) -> Any:
        return MlflowDeliveryOutput(hook.deliveries.all()[:20], many=True).data


class MlflowHookSecretOutput(MlflowHookOutput):
    """Shown once, when the registry is connected: give it to MLflow's create_webhook."""

    secret = serializers.CharField()

    class Meta(MlflowHookOutput.Meta):
        fields = [*MlflowHookOutput.Meta.fields, "secret"]


class MlflowOutcomeOutput(serializers.Serializer):  # type: ignore[type-arg]
    message = serializers.CharField()
    version = serializers.IntegerField(allow_null=True)
    review = serializers.IntegerField(allow_null=True)


class SupplierDataRequestOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    supplier = serializers.CharField(source="supplier.slug")

    class Meta:
        model = SupplierDataRequest
        fields = ["id", "supplier", "what", "state", "note", "recorded_by", "recorded_at"]
