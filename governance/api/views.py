"""Registry API: small views that validate, call one service and render."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from config.api import StrictSerializer
from governance.access import require_visible, webhooks_managed_by
from governance.api import serializers as s
from governance.downloads import KINDS, report_file
from governance.models import (
    ApiToken,
    AuditEvent,
    AuditReport,
    Budget,
    Deployment,
    ImpactReview,
    Membership,
    MlflowHook,
    ModelVersion,
    Project,
    RegisteredModel,
    ReleaseAttestation,
    Run,
    TokenScope,
    Webhook,
    WebhookDelivery,
)
from governance.services import (
    audit,
    budgets,
    disclosure,
    footprints,
    ledger,
    mlflow_events,
    notifications,
    registry,
    release_gate,
    reports,
    reviews,
    runs,
    suppliers,
)
from lca.models import Supplier, SupplierDataRequest


class RegistryView(generics.GenericAPIView):  # type: ignore[type-arg]
    scope_read = TokenScope.REGISTRY_READ
    scope_write = TokenScope.REGISTRY_WRITE

    @property
    def person(self) -> User:
        """The signed-in user or token owner (TokenScopes lets nobody else through)."""
        user = self.request.user
        if not isinstance(user, User):
            raise exceptions.NotAuthenticated()
        return user

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
        project = registry.create_project(owner=self.person, **self.validated(s.ProjectInput))
        return Response(s.ProjectOutput(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailView(RegistryView, generics.RetrieveAPIView):  # type: ignore[type-arg]
    serializer_class = s.ProjectOutput

    def get_queryset(self) -> QuerySet[Project]:
        return Project.objects.visible_to(self.request.user).select_related("owner")

    @extend_schema(request=s.ProjectInput, responses={200: s.ProjectOutput})
    def patch(self, request: Request, pk: int) -> Response:
        changes = self.validated(s.ProjectInput, partial=True)
        project = registry.update_project(project=self.get_object(), actor=self.person, changes=changes)
        return Response(s.ProjectOutput(project).data)


class ProjectScopedView(RegistryView):
    def project(self) -> Project:
        project = generics.get_object_or_404(Project.objects.all(), pk=self.kwargs["pk"])
        require_visible(self.request.user, project)
        return project


class MembershipListView(ProjectScopedView, generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = s.MembershipOutput
    pagination_class = None

    def get_queryset(self) -> QuerySet[Membership]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no project
            return Membership.objects.none()
        return Membership.objects.filter(project=self.project()).select_related("user").prefetch_related("roles")

    @extend_schema(request=s.MembershipInput, responses={200: s.MembershipOutput, 204: None})
    def post(self, request: Request, pk: int) -> Response:
        """Sets a member's roles in the project (owner only); an empty list removes the member."""
        data = self.validated(s.MembershipInput)
        membership = registry.set_membership(
            project=self.project(), actor=self.person, user=data["username"], roles=data["roles"]
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
        model = registry.register_model(actor=self.person, **self.validated(s.RegisteredModelInput))
        return Response(s.RegisteredModelOutput(model).data, status=status.HTTP_201_CREATED)


class RegisteredModelDetailView(RegistryView, generics.RetrieveAPIView):  # type: ignore[type-arg]
    serializer_class = s.RegisteredModelOutput

    def get_queryset(self) -> QuerySet[RegisteredModel]:
        return RegisteredModel.objects.visible_to(self.request.user)

    @extend_schema(request=s.RegisteredModelUpdate, responses={200: s.RegisteredModelOutput})
    def patch(self, request: Request, pk: int) -> Response:
        changes = self.validated(s.RegisteredModelUpdate, partial=True)
        model = registry.update_model(model=self.get_object(), actor=self.person, changes=changes)
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
        return ModelVersion.objects.visible_to(self.request.user).select_related("registered_model__project")

    @extend_schema(request=s.ModelVersionInput, responses={201: s.ModelVersionOutput})
    def post(self, request: Request) -> Response:
        version = registry.register_version(actor=self.person, **self.validated(s.ModelVersionInput))
        return Response(s.ModelVersionOutput(version).data, status=status.HTTP_201_CREATED)


class ModelVersionBase(RegistryView):
    serializer_class = s.ModelVersionOutput

    def get_queryset(self) -> QuerySet[ModelVersion]:
        return ModelVersion.objects.visible_to(self.request.user).select_related("registered_model__project")


class ModelVersionDetailView(ModelVersionBase, generics.RetrieveAPIView):  # type: ignore[type-arg]
    @extend_schema(request=s.ModelVersionUpdate, responses={200: s.ModelVersionOutput})
    def patch(self, request: Request, pk: int) -> Response:
        changes = self.validated(s.ModelVersionUpdate, partial=True)
        version = registry.update_version(version=self.get_object(), actor=self.person, changes=changes)
        return Response(s.ModelVersionOutput(version).data)


# --- runs and deployments ---


class RunBase(RegistryView):
    serializer_class = s.RunOutput

    def get_queryset(self) -> QuerySet[Run]:
        return Run.objects.filter(model_version__in=ModelVersion.objects.visible_to(self.request.user)).select_related(
            "facility", "hardware"
        )


class RunListView(RunBase, generics.ListAPIView):  # type: ignore[type-arg]
    filterset_fields = ["model_version", "status", "stage", "label"]

    @extend_schema(request=s.RunInput, responses={201: s.RunOutput})
    def post(self, request: Request) -> Response:
        data = self.validated(s.RunInput)
        run = runs.open_run(version=data.pop("model_version"), actor=self.person, **data)
        return Response(s.RunOutput(run).data, status=status.HTTP_201_CREATED)


class RunDetailView(RunBase, generics.RetrieveAPIView):  # type: ignore[type-arg]
    @extend_schema(responses={200: dict})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        run = self.get_object()
        return Response(
            {**s.RunOutput(run).data, "footprint": footprints.run_footprint_data(footprints.run_footprint(run))}
        )


class RunCloseView(RunBase):
    @extend_schema(request=s.CloseRunInput, responses={200: s.RunOutput})
    def post(self, request: Request, pk: int) -> Response:
        run = runs.close_run(run=self.get_object(), actor=self.person, **self.validated(s.CloseRunInput))
        return Response(s.RunOutput(run).data)


class RunCoverageExceptionView(RunBase):
    @extend_schema(request=s.NoteInput, responses={200: s.RunOutput})
    def post(self, request: Request, pk: int) -> Response:
        run = runs.grant_coverage_exception(
            run=self.get_object(), actor=self.person, note=self.validated(s.NoteInput)["note"]
        )
        return Response(s.RunOutput(run).data)


class DeploymentBase(RegistryView):
    serializer_class = s.DeploymentOutput

    def get_queryset(self) -> QuerySet[Deployment]:
        return Deployment.objects.filter(model_version__in=ModelVersion.objects.visible_to(self.request.user))


class DeploymentListView(DeploymentBase, generics.ListAPIView):  # type: ignore[type-arg]
    filterset_fields = ["model_version", "label"]

    @extend_schema(request=s.DeploymentInput, responses={201: s.DeploymentOutput})
    def post(self, request: Request) -> Response:
        data = self.validated(s.DeploymentInput)
        deployment = runs.open_deployment(version=data.pop("model_version"), actor=self.person, **data)
        return Response(s.DeploymentOutput(deployment).data, status=status.HTTP_201_CREATED)


class UsageView(DeploymentBase):
    @extend_schema(request=s.UsageInput, responses={201: dict})
    def post(self, request: Request, pk: int) -> Response:
        report = runs.record_usage(deployment=self.get_object(), actor=self.person, **self.validated(s.UsageInput))
        return Response({"id": report.pk}, status=status.HTTP_201_CREATED)


# --- footprint, release gate, release ---


class VersionFootprintView(ModelVersionBase):
    @extend_schema(responses={200: dict})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(footprints.version_footprint_data(footprints.version_footprint(self.get_object())))


class DisclosuresView(ModelVersionBase):
    @extend_schema(responses={200: dict})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The EU model documentation's compute, time and energy rows with their checks (and
        the base models' rows), SCI for AI scores, and per-request energy by declared boundary."""
        version = self.get_object()
        return Response(disclosure.disclosures(version, ledger.version_snapshot(version)))


class ReleaseGateView(ModelVersionBase):
    @extend_schema(responses={200: dict})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Whether this version may be released now, one finding per rule."""
        decision = release_gate.evaluate_release_gate(version=self.get_object(), actor=self.person)
        return Response(decision.as_dict())


class ReleaseView(ModelVersionBase):
    scope_write = TokenScope.RELEASE

    @extend_schema(request=None, responses={200: dict, 409: dict})
    def post(self, request: Request, pk: int) -> Response:
        """Releases the version when the gate allows it; otherwise 409 with the findings."""
        try:
            version, decision = release_gate.release_version(version=self.get_object(), actor=self.person)
        except release_gate.GateClosed as closed:
            return Response(
                {"message": closed.message, "errors": {}, **closed.decision.as_dict()}, status=status.HTTP_409_CONFLICT
            )
        return Response({**s.ModelVersionOutput(version).data, "gate": decision.as_dict()})


class AttestationView(ModelVersionBase):
    @extend_schema(responses={200: dict, 404: dict})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The release's in-toto attestation: a DSSE envelope signed with the server's Ed25519
        key (its public key: /.well-known/greenlight/attestation-key.pem)."""
        version = self.get_object()
        record = ReleaseAttestation.objects.filter(version=version).first()
        if record is None:
            why = (
                "it is not released"
                if version.status != "released"
                else "it was released without an artifact_sha256"
                if not version.artifact_sha256
                else "it was released before a signing key was configured"
            )
            return Response({"message": f"{version} has no attestation: {why}.", "errors": {}}, status=404)
        return Response(record.envelope)


# --- budgets and webhooks ---


class BudgetListView(RegistryView, generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = s.BudgetOutput
    filterset_fields = ["project", "model_version", "level"]

    def get_queryset(self) -> QuerySet[Budget]:
        return Budget.objects.filter(project__in=Project.objects.visible_to(self.request.user))

    @extend_schema(request=s.BudgetInput, responses={201: s.BudgetOutput})
    def post(self, request: Request) -> Response:
        data = self.validated(s.BudgetInput)
        budget = budgets.create_budget(project=data.pop("project"), actor=self.person, **data)
        budget.refresh_from_db()
        return Response(s.BudgetOutput(budget).data, status=status.HTTP_201_CREATED)


class WebhookListView(RegistryView, generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = s.WebhookOutput

    def get_queryset(self) -> QuerySet[Webhook]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Webhook.objects.none()
        return webhooks_managed_by(self.request.user)

    @extend_schema(request=s.WebhookInput, responses={201: s.WebhookSecretOutput})
    def post(self, request: Request) -> Response:
        """Registers a receiver; the answer shows its signing secret, once."""
        data = self.validated(s.WebhookInput)
        hook = notifications.add_webhook(
            project=data["project"], actor=self.person, url=data["url"], secret=data.get("secret")
        )
        return Response(s.WebhookSecretOutput(hook).data, status=status.HTTP_201_CREATED)


class WebhookRotateSecretView(RegistryView):
    serializer_class = s.WebhookSecretOutput  # what OPTIONS describes

    @extend_schema(request=None, responses={200: s.WebhookSecretOutput})
    def post(self, request: Request, pk: int) -> Response:
        """A new signing secret, shown once; the old one keeps signing (a second signature) for 24 hours."""
        hook = generics.get_object_or_404(webhooks_managed_by(request.user), pk=pk)
        return Response(s.WebhookSecretOutput(notifications.rotate_secret(webhook=hook, actor=self.person)).data)


class WebhookDeliveriesView(RegistryView, generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = s.DeliveryOutput

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        return WebhookDelivery.objects.filter(
            webhook__in=webhooks_managed_by(self.request.user), webhook_id=self.kwargs["pk"]
        )

    @extend_schema(request=None, responses={201: s.DeliveryOutput})
    def post(self, request: Request, pk: int) -> Response:
        """Sends a test delivery now and shows how it went."""
        hook = generics.get_object_or_404(webhooks_managed_by(request.user), pk=pk)
        return Response(
            s.DeliveryOutput(notifications.test_delivery(webhook=hook)).data, status=status.HTTP_201_CREATED
        )


# --- impact reviews ---


class ReviewBase(RegistryView):
    serializer_class = s.ReviewOutput

    def get_queryset(self) -> QuerySet[ImpactReview]:
        return (
            ImpactReview.objects.filter(model_version__in=ModelVersion.objects.visible_to(self.request.user))
            .select_related("author", "submitted_by")
            .prefetch_related("decisions__reviewer")
        )


class ReviewListView(ReviewBase, generics.ListAPIView):  # type: ignore[type-arg]
    filterset_fields = ["model_version", "state", "kind"]

    @extend_schema(request=s.ReviewInput, responses={201: s.ReviewOutput})
    def post(self, request: Request) -> Response:
        data = self.validated(s.ReviewInput)
        review = reviews.create_review(version=data.pop("model_version"), author=self.person, **data)
        return Response(s.ReviewOutput(review).data, status=status.HTTP_201_CREATED)


class ReviewDetailView(ReviewBase, generics.RetrieveAPIView):  # type: ignore[type-arg]
    @extend_schema(request=s.ReviewUpdate, responses={200: s.ReviewOutput})
    def patch(self, request: Request, pk: int) -> Response:
        review = reviews.update_review(
            review=self.get_object(), actor=self.person, content=self.validated(s.ReviewUpdate, partial=True)
        )
        return Response(s.ReviewOutput(review).data)


class ReviewSubmitView(ReviewBase):
    @extend_schema(request=None, responses={200: s.ReviewOutput})
    def post(self, request: Request, pk: int) -> Response:
        return Response(s.ReviewOutput(reviews.submit_review(review=self.get_object(), actor=self.person)).data)


class ReviewWithdrawView(ReviewBase):
    @extend_schema(request=None, responses={200: s.ReviewOutput})
    def post(self, request: Request, pk: int) -> Response:
        return Response(s.ReviewOutput(reviews.withdraw_review(review=self.get_object(), actor=self.person)).data)


class ReviewDecisionView(ReviewBase):
    @extend_schema(request=s.DecisionInput, responses={200: s.ReviewOutput})
    def post(self, request: Request, pk: int) -> Response:
        data = self.validated(s.DecisionInput)
        by_token = isinstance(request.auth, ApiToken)
        review = reviews.decide(review=self.get_object(), reviewer=self.person, by_token=by_token, **data)
        return Response(s.ReviewOutput(review).data)


class ReviewCommentView(ReviewBase):
    @extend_schema(responses={200: s.CommentOutput(many=True)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(s.CommentOutput(self.get_object().comments.select_related("author"), many=True).data)

    @extend_schema(request=s.CommentInput, responses={201: s.CommentOutput})
    def post(self, request: Request, pk: int) -> Response:
        note = reviews.comment(
            review=self.get_object(), author=self.person, body=self.validated(s.CommentInput)["body"]
        )
        return Response(s.CommentOutput(note).data, status=status.HTTP_201_CREATED)


class AuditEventListView(RegistryView, generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = s.AuditEventOutput
    filterset_fields = ["object_type", "object_id", "action", "project_id"]

    def get_queryset(self) -> QuerySet[AuditEvent]:
        visible = Project.objects.visible_to(self.request.user).values("pk")
        return AuditEvent.objects.filter(project_id__in=visible)


class AuditChainHeadView(generics.GenericAPIView):  # type: ignore[type-arg]
    """The audit chain's current head, public like the statement page, so that an
    auditor can keep a copy and later check it with verify_audit_chain --expect."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: s.AuditChainHeadOutput})
    def get(self, request: Request) -> Response:
        return Response(s.AuditChainHeadOutput(audit.published_head()).data)


# --- audit reports ---


class ReportRequestView(ReviewBase):
    @extend_schema(request=None, responses={202: s.ReportOutput})
    def post(self, request: Request, pk: int) -> Response:
        """Queues a PDF audit report of the review's snapshot; poll the report for progress."""
        report = reports.request_report(review=self.get_object(), actor=self.person)
        report.refresh_from_db()  # rendered already when tasks run eagerly
        return Response(s.ReportOutput(report).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: s.ReportOutput(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(s.ReportOutput(self.get_object().reports.all(), many=True).data)


class ReportBase(RegistryView):
    serializer_class = s.ReportOutput

    def get_queryset(self) -> QuerySet[AuditReport]:
        return AuditReport.objects.filter(review__model_version__in=ModelVersion.objects.visible_to(self.request.user))


class ReportDetailView(ReportBase, generics.RetrieveAPIView):  # type: ignore[type-arg]
    pass


class ReportFileView(ReportBase):
    """The PDF, the model-card block or the JSON export of a finished report."""

    @extend_schema(responses={(200, "application/pdf"): bytes}, operation_id="reports_file")
    def get(self, request: Request, pk: int, kind: str) -> HttpResponse:
        if kind not in KINDS:
            raise Http404
        report = self.get_object()
        if report.state != AuditReport.State.DONE:
            return Response(
                {"message": f"The report is {report.state} ({report.progress}%).", "errors": {}},
                status=status.HTTP_409_CONFLICT,
            )
        return report_file(report, kind)


# --- MLflow model registry ---


class MlflowHookView(ProjectScopedView):
    """A project's connected MLflow registry: where MLflow posts and what it sent lately."""

    serializer_class = s.MlflowHookOutput

    def get(self, request: Request, pk: int) -> Response:
        hook = generics.get_object_or_404(
            MlflowHook.objects.select_related("project", "default_author"), project=self.project()
        )
        return Response(s.MlflowHookOutput(hook, context={"request": request}).data)

    @extend_schema(request=s.MlflowConnectInput, responses={201: s.MlflowHookSecretOutput})
    def post(self, request: Request, pk: int) -> Response:
        """Connects the registry (owner only); again, it replaces the secret. The secret is shown once."""
        hook = mlflow_events.connect(project=self.project(), actor=self.person, **self.validated(s.MlflowConnectInput))
        return Response(
            s.MlflowHookSecretOutput(hook, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class MlflowVersionView(ProjectScopedView):
    """Registers a version from MLflow's metadata, by the rule its webhook follows."""

    serializer_class = s.MlflowOutcomeOutput

    @extend_schema(request=s.MlflowVersionInput, responses={201: s.MlflowOutcomeOutput})
    def post(self, request: Request, pk: int) -> Response:
        data = self.validated(s.MlflowVersionInput)
        outcome = mlflow_events.register(
            project=self.project(), mlflow_version=data["model_version"], actor=self.person
        )
        return Response(outcome.as_dict(), status=outcome.status)


class MlflowWebhookView(generics.GenericAPIView):  # type: ignore[type-arg]
    """Where MLflow posts its registry events (model_version.created,
    model_version_alias.created). No token: the X-MLflow-Signature header, an HMAC
    with the project's secret, authenticates it; a replayed delivery id is refused (409)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    serializer_class = s.MlflowOutcomeOutput

    @extend_schema(
        request={"application/json": dict}, responses={200: s.MlflowOutcomeOutput, 201: s.MlflowOutcomeOutput}
    )
    def post(self, request: Request, slug: str) -> Response:
        outcome = mlflow_events.receive(project_slug=slug, headers=request.headers, body=request.body)
        return Response(outcome.as_dict(), status=outcome.status)


class SupplierDataRequestView(RegistryView, generics.ListAPIView):  # type: ignore[type-arg]
    """A supplier's data requests, oldest first: what was asked and what came of it."""

    serializer_class = s.SupplierDataRequestOutput
    pagination_class = None

    def supplier(self) -> Supplier:
        return generics.get_object_or_404(Supplier.objects.all(), slug=self.kwargs["slug"])

    def get_queryset(self) -> QuerySet[SupplierDataRequest]:
        if getattr(self, "swagger_fake_view", False):
            return SupplierDataRequest.objects.none()
        return SupplierDataRequest.objects.filter(supplier=self.supplier()).select_related("supplier")

    @extend_schema(request=s.SupplierDataRequestInput, responses={201: s.SupplierDataRequestOutput})
    def post(self, request: Request, slug: str) -> Response:
        """Records a step: asked, received or refused (sustainability officers and staff)."""
        step = suppliers.record_data_request(
            supplier=self.supplier(), actor=self.person, **self.validated(s.SupplierDataRequestInput)
        )
        return Response(s.SupplierDataRequestOutput(step).data, status=status.HTTP_201_CREATED)
