from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from lca.models import HardwareModel


class Role(models.TextChoices):
    """Project roles. Each is also a Django group named by the role's value (created by
    data migrations) so that the admin can grant model permissions per role."""

    SUSTAINABILITY_OFFICER = "sustainability_officer", "Sustainability officer"
    ML_LEAD = "ml_lead", "ML lead"
    REVIEWER = "reviewer", "Reviewer"
    AUDITOR = "auditor", "Auditor"
    PIPELINE = "pipeline", "Pipeline (service account)"


# Roles allowed to register models and versions in a project (besides its owner).
REGISTRY_EDITOR_ROLES = frozenset({Role.ML_LEAD, Role.PIPELINE})


class ProjectQuerySet(models.QuerySet["Project"]):
    def visible_to(self, user: object) -> ProjectQuerySet:
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(Q(owner=user) | Q(memberships__user=user)).distinct()


def default_signoff_roles() -> list[str]:
    return [Role.SUSTAINABILITY_OFFICER.value, Role.ML_LEAD.value]


def default_production_aliases() -> list[str]:
    return ["production", "champion"]


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_projects")
    created_at = models.DateTimeField(auto_now_add=True)
    # Release policy: who must sign a review, and the gate's thresholds.
    signoff_roles = ArrayField(
        models.CharField(max_length=32, choices=Role.choices),
        default=default_signoff_roles,
        help_text="Each role must approve, each by a different person, none of them the author or submitter.",
    )
    min_telemetry_coverage = models.FloatField(default=0.8, help_text="Share of each run's time with samples.")
    max_regression = models.FloatField(default=0.10, help_text="Allowed increase of carbon per 1,000 tokens.")
    post_release_review_days = models.PositiveIntegerField(default=30)
    metrics_store = models.ForeignKey(
        "telemetry.MetricsStore",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The fleet's Prometheus-compatible store its runs' energy is read from (else its facilities').",
    )
    max_deviation = models.FloatField(default=0.25, help_text="Measured vs projected per-token footprint.")
    eu_checks_blocking = models.BooleanField(
        default=False,
        help_text="The EU model documentation's checks (compute cross-check, every run counted, energy reported) "
        "block a release, rather than only advise.",
    )

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    roles = models.ManyToManyField(Group, related_name="memberships", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user")]
        ordering = ["project", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.project}"

    def role_set(self) -> set[Role]:
        """The member's roles. Each role's group is named by the role's stable value, so
        renaming a role's label never drops a permission. Reads prefetched groups."""
        names = {group.name for group in self.roles.all()}
        return {role for role in Role if role.value in names}


class RegisteredModelQuerySet(models.QuerySet["RegisteredModel"]):
    def visible_to(self, user: object) -> RegisteredModelQuerySet:
        return self.filter(project__in=Project.objects.visible_to(user))


class RegisteredModel(models.Model):
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="models")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RegisteredModelQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="registered_model_unique_name")]
        ordering = ["project__name", "name"]

    def __str__(self) -> str:
        return self.name


class Adaptation(models.TextChoices):
    PRETRAINING = "pretraining", "Pre-training"
    FULL_FINE_TUNE = "full_fine_tune", "Full fine-tune"
    ADAPTER = "adapter", "LoRA / adapter"
    DISTILLATION = "distillation", "Distillation"
    QUANTISATION = "quantisation", "Quantisation"
    OTHER = "other", "Other"


class Precision(models.TextChoices):
    FP32 = "fp32", "FP32"
    TF32 = "tf32", "TF32"
    BF16 = "bf16", "BF16"
    FP16 = "fp16", "FP16"
    FP8 = "fp8", "FP8"
    INT8 = "int8", "INT8"
    INT4 = "int4", "INT4"
    MIXED = "mixed", "Mixed"


class Modality(models.TextChoices):
    TEXT = "text", "Text"
    CODE = "code", "Code"
    IMAGE = "image", "Image"
    AUDIO = "audio", "Audio"
    VIDEO = "video", "Video"
    MULTIMODAL = "multimodal", "Multimodal"


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    RELEASED = "released", "Released"


class ModelVersionQuerySet(models.QuerySet["ModelVersion"]):
    def visible_to(self, user: object) -> ModelVersionQuerySet:
        return self.filter(registered_model__project__in=Project.objects.visible_to(user))


class ModelVersion(models.Model):
    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=64)
    base_version = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="derived_versions"
    )
    adaptation = models.CharField(max_length=20, choices=Adaptation.choices)
    parameters = models.BigIntegerField(help_text="Total parameter count.")
    active_parameters = models.BigIntegerField(
        null=True, blank=True, help_text="Parameters active per token (mixture-of-experts); empty when dense."
    )
    precision = models.CharField(max_length=8, choices=Precision.choices)
    training_tokens = models.BigIntegerField(null=True, blank=True, help_text="Tokens seen by this version's training.")
    modality = models.CharField(max_length=16, choices=Modality.choices, default=Modality.TEXT)
    description = models.TextField(blank=True)
    artifact_sha256 = models.CharField(
        max_length=64,
        blank=True,
        validators=[RegexValidator(r"^[0-9a-f]{64}$", "The SHA-256 of the model artefact, 64 lowercase hex digits.")],
        help_text="The released artefact's digest: the subject of the release attestation.",
    )
    # Where a model registry knows this version from (MLflow: models:/… or runs:/…, and its run).
    source_uri = models.CharField(max_length=500, blank=True)
    source_run_id = models.CharField(max_length=64, blank=True)
    # Changed only by services (the release gate decides `released`), never by forms or the API.
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    share_of_base = models.FloatField(
        default=0.0, help_text="Share of the base version's footprint counted in this version's (0 to 1)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)
    post_release_checked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["registered_model__name", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["registered_model", "version"], name="model_version_unique_version"),
            models.CheckConstraint(condition=Q(parameters__gt=0), name="model_version_parameters_positive"),
            models.CheckConstraint(
                condition=Q(active_parameters__isnull=True)
                | (Q(active_parameters__gt=0) & Q(active_parameters__lte=models.F("parameters"))),
                name="model_version_active_parameters_within_total",
            ),
            models.CheckConstraint(
                condition=Q(training_tokens__isnull=True) | Q(training_tokens__gte=0),
                name="model_version_training_tokens_non_negative",
            ),
            models.CheckConstraint(
                condition=~Q(adaptation=Adaptation.PRETRAINING) | Q(base_version__isnull=True),
                name="model_version_pretraining_has_no_base",
            ),
            models.CheckConstraint(condition=~Q(base_version=models.F("id")), name="model_version_not_its_own_base"),
        ]

    def __str__(self) -> str:
        return f"{self.registered_model.name} {self.version}"

    @property
    def project(self) -> Project:
        return self.registered_model.project

    @property
    def effective_active_parameters(self) -> int:
        """Parameters that do work per token: the active ones for mixture-of-experts."""
        return self.active_parameters or self.parameters

    def lineage(self) -> list[ModelVersion]:
        """Ancestors from the direct base to the root (cycles are impossible: a base
        must exist before the version that names it)."""
        chain = []
        node = self.base_version
        while node is not None:
            chain.append(node)
            node = node.base_version
        return chain


class TokenScope(models.TextChoices):
    REGISTRY_READ = "registry:read", "Read projects, models, versions, runs, reviews and the release gate"
    REGISTRY_WRITE = "registry:write", "Register models and versions; open and close runs; report usage"
    RELEASE = "release", "Release a version through the release gate"


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A named, scoped, revocable credential for pipelines. Only a SHA-256 of the
    secret is stored: the secret is shown once, when the token is issued."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = ArrayField(models.CharField(max_length=40, choices=TokenScope.choices))
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# ---------------------------------------------------------------- runs and deployments


class Stage(models.TextChoices):
    DATA_PREPARATION = "data_preparation", "Data preparation"
    PRETRAINING = "pretraining", "Pre-training"
    FINE_TUNING = "fine_tuning", "Fine-tuning"
    EVALUATION = "evaluation", "Evaluation"
    OTHER = "other", "Other"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    ABANDONED = "abandoned", "Abandoned"


def host_model_field() -> models.ForeignKey[HardwareModel | None, HardwareModel | None]:
    return models.ForeignKey(
        "lca.HardwareModel",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        limit_choices_to={"kind": "host"},
        help_text="The host server model; empty: the facility's, else the documented default.",
    )


class Run(models.Model):
    """A training, fine-tuning or evaluation job of a version. Failed and abandoned
    runs count toward the version's footprint like successful ones."""

    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="runs")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.RUNNING)
    facility = models.ForeignKey("lca.Facility", on_delete=models.PROTECT, related_name="+")
    hardware = models.ForeignKey("lca.HardwareModel", on_delete=models.PROTECT, related_name="+")
    host = host_model_field()
    accelerator_count = models.PositiveIntegerField()
    label = models.CharField(max_length=200, unique=True, help_text="The telemetry label the GPU agents use.")
    estimate = models.JSONField(null=True, blank=True, help_text="Pre-run estimate request (POST /estimates/ body).")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    coverage_exception = models.TextField(blank=True, help_text="Why low telemetry coverage is acceptable.")
    coverage_exception_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["started_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="run_ends_after_it_starts",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_stage_display()} run {self.label}"


class StoredFootprint(models.Model):
    """A run's footprint as last computed, with the digest of every input it used: what
    pages, budgets and the release gate read. It is recomputed when an input changes
    (the run closes, telemetry arrives, a factor is edited) — never on a read."""

    # PROTECT: a run with figures is part of the record and is never deleted (close it as abandoned).
    run = models.OneToOneField(Run, on_delete=models.PROTECT, primary_key=True, related_name="stored_footprint")
    # Copies of the run's fields the aggregates filter on, so that they read one table.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="stored_footprints")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True)
    source = models.CharField(max_length=10)  # telemetry or estimate
    method = models.CharField(max_length=10)
    coverage = models.FloatField()
    accelerator_hours = models.FloatField()
    note = models.TextField()
    problem = models.TextField(blank=True, help_text="Why a measurement that was asked for is missing.")
    result = models.JSONField(help_text="The estimate as the API shows it (lca.present.estimate_data).")
    facility_energy_kwh = models.FloatField(help_text="Central value, for the ledgers and charts.")
    location_based_kgco2e = models.FloatField(help_text="Central value, for the ledgers and charts.")
    inputs_digest = models.CharField(max_length=64)
    stale = models.BooleanField(default=False)
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["project", "started_at"]),
            models.Index(fields=["model_version", "started_at"]),
            models.Index(fields=["stale"], condition=Q(stale=True), name="storedfootprint_stale"),
        ]

    def __str__(self) -> str:
        return f"footprint of run {self.run_id}"


class VersionFigures(models.Model):
    """A version's figures — the snapshot a review freezes — as last computed, for the
    release gate and the review pages to compare. Marked stale when one of its runs'
    footprints, its usage, its deployments' telemetry or a factor changes, and computed
    again by the next read that needs it."""

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, primary_key=True, related_name="figures")
    snapshot = models.JSONField()
    stale = models.BooleanField(default=False)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"figures of version {self.version_id}"


class GateRecord(models.Model):
    """The release gate's last answer for a version, for pipelines that ask often. Marked
    stale by anything a rule reads; a release always evaluates afresh."""

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, primary_key=True, related_name="gate")
    decision = models.JSONField(help_text="allowed, policy_version, evidence_digest and findings.")
    stale = models.BooleanField(default=False)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"gate of version {self.version_id}"


class BudgetEntry(models.Model):
    """One run's contribution to one budget: corrected in place when the run's footprint
    changes, with the budget's totals, in the same transaction."""

    budget = models.ForeignKey("Budget", on_delete=models.CASCADE, related_name="entries")
    run = models.ForeignKey(Run, on_delete=models.PROTECT, related_name="+")
    energy_kwh = models.FloatField()
    kgco2e = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["budget", "run"], name="budget_entry_once_per_run")]

    def __str__(self) -> str:
        return f"run {self.run_id} in budget {self.budget_id}"


class FunctionalUnit(models.TextChoices):
    """How a deployment is used: the unit its SCI for AI Consumer score is given per."""

    TOKENS = "tokens", "1,000 tokens (text generation)"
    REQUESTS = "requests", "Request"
    WORKFLOWS = "workflows", "Workflow execution (agentic: every model call it made)"


class Deployment(models.Model):
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="deployments")
    name = models.CharField(max_length=200)
    facility = models.ForeignKey("lca.Facility", on_delete=models.PROTECT, related_name="+")
    hardware = models.ForeignKey("lca.HardwareModel", on_delete=models.PROTECT, related_name="+")
    host = host_model_field()
    accelerator_count = models.PositiveIntegerField()
    label = models.CharField(max_length=200, unique=True, help_text="The telemetry label of its GPUs.")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    expected_tokens_per_month = models.FloatField(null=True, blank=True, help_text="Projected volume.")
    functional_unit = models.CharField(max_length=10, choices=FunctionalUnit.choices, default=FunctionalUnit.TOKENS)

    class Meta:
        ordering = ["started_at", "pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.model_version})"


class UsageReport(models.Model):
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="usage")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    requests = models.PositiveBigIntegerField()
    input_tokens = models.PositiveBigIntegerField()
    output_tokens = models.PositiveBigIntegerField()
    workflow_executions = models.PositiveBigIntegerField(
        default=0, help_text="Agentic workflows completed in the window (their model calls are in `requests`)."
    )

    class Meta:
        ordering = ["window_start"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "window_start"], name="usage_one_report_per_window"),
            models.CheckConstraint(condition=Q(window_end__gt=models.F("window_start")), name="usage_window_order"),
        ]

    def __str__(self) -> str:
        return f"{self.deployment} {self.window_start:%Y-%m-%d %H:%M}: {self.requests} requests"


# ---------------------------------------------------------------- budgets and notifications


class Budget(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="budgets")
    model_version = models.ForeignKey(
        ModelVersion,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="budgets",
        help_text="Empty: the whole project.",
    )
    name = models.CharField(max_length=200)
    period_start = models.DateField()
    period_end = models.DateField()
    limit_kwh = models.FloatField(null=True, blank=True)
    limit_kgco2e = models.FloatField(null=True, blank=True, help_text="Location-based carbon, central value.")
    warn_at = models.FloatField(default=0.8)
    level = models.CharField(max_length=10, default="ok", editable=False, help_text="Last level reached.")
    # The ledger's totals (BudgetEntry): a budget's status is this row.
    used_kwh = models.FloatField(default=0.0, editable=False)
    used_kgco2e = models.FloatField(default=0.0, editable=False)

    class Meta:
        ordering = ["project", "period_start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(limit_kwh__isnull=False) | Q(limit_kgco2e__isnull=False), name="budget_has_a_limit"
            ),
            models.CheckConstraint(condition=Q(period_end__gte=models.F("period_start")), name="budget_period"),
            models.CheckConstraint(condition=Q(warn_at__gt=0, warn_at__lt=1), name="budget_warn_below_limit"),
        ]

    def __str__(self) -> str:
        return self.name


class Webhook(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField()
    secret = models.CharField(max_length=100, help_text="Standard Webhooks secret (whsec_…) that signs each delivery.")
    previous_secret = models.CharField(max_length=100, blank=True, help_text="Still signs until the time below.")
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=60)
    payload = models.JSONField()
    state = models.CharField(max_length=10, default="pending")  # pending, delivered, failed
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook.url} ({self.state})"


# ---------------------------------------------------------------- impact reviews


class ReviewState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


class ReviewKind(models.TextChoices):
    PRE_RELEASE = "pre_release", "Pre-release"
    POST_DEPLOYMENT = "post_deployment", "Post-deployment follow-up"


REVIEW_SECTIONS = (
    "goal_and_scope",
    "training_inventory",
    "inference_projection",
    "comparison",
    "mitigations",
    "hardware_and_suppliers",
    "justification",
)


class ImpactReview(models.Model):
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="reviews")
    kind = models.CharField(max_length=16, choices=ReviewKind.choices, default=ReviewKind.PRE_RELEASE)
    state = models.CharField(max_length=20, choices=ReviewState.choices, default=ReviewState.DRAFT)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    goal_and_scope = models.TextField(blank=True)
    training_inventory = models.TextField(blank=True)
    inference_projection = models.TextField(blank=True)
    comparison = models.TextField(blank=True)
    mitigations = models.TextField(blank=True)
    hardware_and_suppliers = models.TextField(blank=True)
    justification = models.TextField(blank=True, help_text="Why a regression or low coverage is acceptable.")
    snapshot = models.JSONField(null=True, blank=True, help_text="The version's figures, frozen on submission.")
    snapshot_digest = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} review of {self.model_version} ({self.get_state_display()})"


class ReviewDecision(models.Model):
    class Verdict(models.TextChoices):
        APPROVE = "approve", "Approve"
        REQUEST_CHANGES = "request_changes", "Request changes"
        REJECT = "reject", "Reject"

    review = models.ForeignKey(ImpactReview, on_delete=models.CASCADE, related_name="decisions")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=32, choices=Role.choices)
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    note = models.TextField()
    snapshot_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.reviewer} ({self.role}): {self.verdict}"


class ReviewComment(models.Model):
    review = models.ForeignKey(ImpactReview, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.author}: {self.body[:40]}"


class AuditReport(models.Model):
    """A printable report of a review's snapshot, rendered by a Celery task; every
    generation is kept, with the SHA-256 of its PDF."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RENDERING = "rendering", "Rendering"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    review = models.ForeignKey(ImpactReview, on_delete=models.PROTECT, related_name="reports")
    snapshot_digest = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    step = models.CharField(max_length=100, blank=True)
    pdf = models.BinaryField(null=True, editable=False)
    sha256 = models.CharField(max_length=64, blank=True)
    chain_head = models.CharField(max_length=64, blank=True, help_text="Audit-chain head when generated.")
    export = models.JSONField(null=True, blank=True, help_text="The figures of the report, as JSON.")
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"report {self.pk} of review {self.review_id} ({self.state})"


# ---------------------------------------------------------------- audit trail


class AuditEvent(models.Model):
    """Append-only and hash-chained: each row's hash covers its content and the previous
    row's hash, keyed with AUDIT_CHAIN_KEY (HMAC-SHA256) so that someone with write access
    to the database alone cannot recompute it. PostgreSQL refuses UPDATE, DELETE and
    TRUNCATE on this table (migrations 0004 and 0007)."""

    actor = models.CharField(max_length=150, help_text="Username, or 'system'.")
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64)
    project_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    keyed = models.BooleanField(default=True, help_text="HMAC-SHA256 with the chain key (False: plain SHA-256).")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.actor} {self.action} {self.object_type}:{self.object_id}"


class ReleaseAttestation(models.Model):
    """The signed statement a release leaves: an in-toto Statement about the version's
    artefact, in a DSSE envelope signed with the server's Ed25519 key."""

    version = models.OneToOneField(ModelVersion, on_delete=models.PROTECT, related_name="attestation")
    envelope = models.JSONField()
    key_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"attestation of {self.version}"


class MlflowHook(models.Model):
    """A project's MLflow model registry: its webhooks are verified with `secret`
    (HMAC-SHA256, MLflow's v1 scheme) and its new versions get a draft review by
    the author its `greenlight.author` tag names, else `default_author`."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="mlflow_hook")
    secret = models.CharField(max_length=100)
    default_author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    production_aliases = ArrayField(
        models.CharField(max_length=100),
        default=default_production_aliases,
        help_text="Aliases that mean 'serving': set on an unreleased version, they notify the officers.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"MLflow registry of {self.project}"


class MlflowDelivery(models.Model):
    """A signed delivery received, kept so that a replay is recognised."""

    hook = models.ForeignKey(MlflowHook, on_delete=models.CASCADE, related_name="deliveries")
    delivery_id = models.CharField(max_length=100)
    event = models.CharField(max_length=60)
    outcome = models.TextField()
    version = models.ForeignKey(ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["hook", "delivery_id"], name="mlflow_delivery_once")]

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id}"
