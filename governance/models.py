from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    """Project roles. Each is also a Django group of the same name (created by a
    data migration) so that the admin can grant model permissions per role."""

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


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_projects")
    created_at = models.DateTimeField(auto_now_add=True)

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

    def role_names(self) -> list[str]:
        return sorted(group.name for group in self.roles.all())


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
    CANDIDATE = "candidate", "Release candidate"
    RELEASED = "released", "Released"
    RETIRED = "retired", "Retired"


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
    # Changed only by services (the release gate decides `released`), never by forms or the API.
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)

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
    REGISTRY_READ = "registry:read", "Read projects, models and versions"
    REGISTRY_WRITE = "registry:write", "Register models and versions"


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
