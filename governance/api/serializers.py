"""Serializers translate between JSON and the arguments of services; nothing more."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from rest_framework import serializers

from config.api import StrictSerializer
from governance.models import (
    Adaptation,
    Membership,
    Modality,
    ModelVersion,
    Precision,
    Project,
    RegisteredModel,
    Role,
)


class VisibleRelatedField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """A primary key that resolves only to rows the requesting user can see, so an
    outsider gets 'does not exist' and learns nothing."""

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        return queryset.visible_to(self.context["request"].user)


# --- input ---


class ProjectInput(StrictSerializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=80)
    description = serializers.CharField(required=False, allow_blank=True, default="")


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


class ModelVersionUpdate(StrictSerializer):
    base_version = VisibleRelatedField(queryset=ModelVersion.objects.all(), required=False, allow_null=True)
    adaptation = serializers.ChoiceField(choices=Adaptation.choices, required=False)
    parameters = serializers.IntegerField(min_value=1, required=False)
    active_parameters = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    precision = serializers.ChoiceField(choices=Precision.choices, required=False)
    training_tokens = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    modality = serializers.ChoiceField(choices=Modality.choices, required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class MembershipInput(StrictSerializer):
    username = serializers.SlugRelatedField(slug_field="username", queryset=get_user_model().objects.all())
    roles = serializers.ListField(child=serializers.ChoiceField(choices=Role.choices), allow_empty=True)


# --- output ---


class ProjectOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    owner = serializers.CharField(source="owner.username")

    class Meta:
        model = Project
        fields = ["id", "name", "slug", "description", "owner", "created_at"]


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
        labels = {group.name for group in membership.roles.all()}
        return [role.value for role in Role if role.label in labels]
