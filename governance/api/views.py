"""Registry API: small views that validate, call one service and render."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from config.api import StrictSerializer
from governance.access import require_visible
from governance.api import serializers as s
from governance.api.permissions import HasTokenScope
from governance.models import Membership, ModelVersion, Project, RegisteredModel, TokenScope
from governance.services import registry


class RegistryView(generics.GenericAPIView):  # type: ignore[type-arg]
    permission_classes = [IsAuthenticated, HasTokenScope]
    scope_read = TokenScope.REGISTRY_READ
    scope_write = TokenScope.REGISTRY_WRITE

    def validated(self, serializer_class: type[StrictSerializer], *, partial: bool = False) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context(), partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class ProjectListView(RegistryView, generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = s.ProjectOutput
    filterset_fields = ["slug", "owner__username"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self) -> QuerySet[Project]:
        return Project.objects.visible_to(self.request.user).select_related("owner")

    @extend_schema(request=s.ProjectInput, responses={201: s.ProjectOutput})
    def post(self, request: Request) -> Response:
        project = registry.create_project(owner=request.user, **self.validated(s.ProjectInput))
        return Response(s.ProjectOutput(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailView(RegistryView, generics.RetrieveAPIView):  # type: ignore[type-arg]
    serializer_class = s.ProjectOutput

    def get_queryset(self) -> QuerySet[Project]:
        return Project.objects.visible_to(self.request.user).select_related("owner")

    @extend_schema(request=s.ProjectInput, responses={200: s.ProjectOutput})
    def patch(self, request: Request, pk: int) -> Response:
        changes = self.validated(s.ProjectInput, partial=True)
        project = registry.update_project(project=self.get_object(), actor=request.user, changes=changes)
        return Response(s.ProjectOutput(project).data)


class MembershipListView(RegistryView, generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = s.MembershipOutput
    pagination_class = None

    def project(self) -> Project:
        project = generics.get_object_or_404(Project.objects.all(), pk=self.kwargs["pk"])
        require_visible(self.request.user, project)
        return project

    def get_queryset(self) -> QuerySet[Membership]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no project
            return Membership.objects.none()
        return Membership.objects.filter(project=self.project()).select_related("user").prefetch_related("roles")

    @extend_schema(request=s.MembershipInput, responses={200: s.MembershipOutput, 204: None})
    def post(self, request: Request, pk: int) -> Response:
        """Sets a member's roles in the project (owner only); an empty list removes the member."""
        data = self.validated(s.MembershipInput)
        membership = registry.set_membership(
            project=self.project(), actor=request.user, user=data["username"], roles=data["roles"]
        )
        if membership is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(s.MembershipOutput(membership).data)


class RegisteredModelListView(RegistryView, generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = s.RegisteredModelOutput
    filterset_fields = ["project", "project__slug", "name"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self) -> QuerySet[RegisteredModel]:
        return RegisteredModel.objects.visible_to(self.request.user)

    @extend_schema(request=s.RegisteredModelInput, responses={201: s.RegisteredModelOutput})
    def post(self, request: Request) -> Response:
        model = registry.register_model(actor=request.user, **self.validated(s.RegisteredModelInput))
        return Response(s.RegisteredModelOutput(model).data, status=status.HTTP_201_CREATED)


class RegisteredModelDetailView(RegistryView, generics.RetrieveAPIView):  # type: ignore[type-arg]
    serializer_class = s.RegisteredModelOutput

    def get_queryset(self) -> QuerySet[RegisteredModel]:
        return RegisteredModel.objects.visible_to(self.request.user)

    @extend_schema(request=s.RegisteredModelUpdate, responses={200: s.RegisteredModelOutput})
    def patch(self, request: Request, pk: int) -> Response:
        changes = self.validated(s.RegisteredModelUpdate, partial=True)
        model = registry.update_model(model=self.get_object(), actor=request.user, changes=changes)
        return Response(s.RegisteredModelOutput(model).data)


class ModelVersionListView(RegistryView, generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = s.ModelVersionOutput
    filterset_fields = [
        "registered_model",
        "registered_model__project",
        "base_version",
        "adaptation",
        "precision",
        "modality",
        "status",
        "version",
    ]
    ordering_fields = ["created_at", "parameters", "version"]

    def get_queryset(self) -> QuerySet[ModelVersion]:
        return ModelVersion.objects.visible_to(self.request.user).select_related("registered_model")

    @extend_schema(request=s.ModelVersionInput, responses={201: s.ModelVersionOutput})
    def post(self, request: Request) -> Response:
        version = registry.register_version(actor=request.user, **self.validated(s.ModelVersionInput))
        return Response(s.ModelVersionOutput(version).data, status=status.HTTP_201_CREATED)


class ModelVersionDetailView(RegistryView, generics.RetrieveAPIView):  # type: ignore[type-arg]
    serializer_class = s.ModelVersionOutput

    def get_queryset(self) -> QuerySet[ModelVersion]:
        return ModelVersion.objects.visible_to(self.request.user).select_related("registered_model")

    @extend_schema(request=s.ModelVersionUpdate, responses={200: s.ModelVersionOutput})
    def patch(self, request: Request, pk: int) -> Response:
        changes = self.validated(s.ModelVersionUpdate, partial=True)
        version = registry.update_version(version=self.get_object(), actor=request.user, changes=changes)
        return Response(s.ModelVersionOutput(version).data)
