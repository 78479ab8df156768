"""Server-rendered pages: each view loads what the user may see, calls one
service or query, and renders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from governance.access import is_owner, may_edit_registry, roles_in, webhooks_managed_by
from governance.downloads import report_file
from governance.errors import GovernanceError
from governance.forms import (
    ApiTokenForm,
    CommentForm,
    DecisionForm,
    MlflowConnectForm,
    ModelVersionForm,
    ProjectForm,
    RegisteredModelForm,
    ReviewForm,
    add_service_errors,
)
from governance.models import (
    REVIEW_SECTIONS,
    ApiToken,
    AuditEvent,
    AuditReport,
    Budget,
    ImpactReview,
    MlflowHook,
    ModelVersion,
    Project,
    RegisteredModel,
    Run,
)
from governance.queries import history_of, project_history, recent_gate_decisions, reviews_waiting_for
from governance.services import (
    attestations,
    audit,
    disclosure,
    footprints,
    ledger,
    mlflow_events,
    notifications,
    registry,
    release_gate,
    reports,
    reviews,
    tokens,
)
from governance.services.budgets import budget_status
from lca.charts import line_chart


class SignedIn(HttpRequest):
    """A request to a @login_required view."""

    user: User


@login_required
def registry_home(request: SignedIn) -> HttpResponse:
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = registry.create_project(owner=request.user, **form.cleaned_data)
        except GovernanceError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Project “{project.name}” created.")
            return redirect("project", slug=project.slug)
    projects = Project.objects.visible_to(request.user).select_related("owner").prefetch_related("models")
    return render(request, "governance/registry.html", {"projects": projects, "form": form})


def _visible_project(request: SignedIn, slug: str) -> Project:
    project = get_object_or_404(Project.objects.visible_to(request.user).select_related("owner"), slug=slug)
    return project


@login_required
def project_detail(request: SignedIn, slug: str) -> HttpResponse:
    project = _visible_project(request, slug)
    form = RegisteredModelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            model = registry.register_model(project=project, actor=request.user, **form.cleaned_data)
        except GovernanceError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Model “{model.name}” registered.")
            return redirect("registered-model", slug=project.slug, pk=model.pk)
    return render(request, "governance/project.html", _project_context(request, project, form))


def _project_context(request: SignedIn, project: Project, form: RegisteredModelForm, **extra: Any) -> dict[str, Any]:
    hook = MlflowHook.objects.filter(project=project).select_related("default_author").first()
    return {
        "project": project,
        "budgets": [budget_status(b) for b in project.budgets.select_related("model_version")],
        "history": project_history(project.pk),
        "webhooks": webhooks_managed_by(request.user).filter(project=project).prefetch_related("deliveries"),
        "models": project.models.prefetch_related("versions"),
        "memberships": project.memberships.select_related("user").prefetch_related("roles"),
        "my_roles": sorted(role.label for role in roles_in(request.user, project)),
        "may_edit": may_edit_registry(request.user, project),
        "form": form,
        "mlflow": hook,
        "mlflow_deliveries": hook.deliveries.select_related("version__registered_model")[:10] if hook else [],
        "mlflow_form": MlflowConnectForm(authors=mlflow_events.authors(project))
        if is_owner(request.user, project)
        else None,
        **extra,
    }


@login_required
@require_POST
def mlflow_connect(request: SignedIn, slug: str) -> HttpResponse:
    """Connects the project's MLflow registry and shows its secret, once."""
    project = _visible_project(request, slug)
    form = MlflowConnectForm(request.POST, authors=mlflow_events.authors(project))
    if form.is_valid():
        try:
            hook = mlflow_events.connect(project=project, actor=request.user, **form.cleaned_data)
        except GovernanceError as error:
            add_service_errors(form, error)
        else:
            context = _project_context(request, project, RegisteredModelForm(), mlflow_secret=hook.secret)
            return render(request, "governance/project.html", context)
    context = _project_context(request, project, RegisteredModelForm(), mlflow_form=form)
    return render(request, "governance/project.html", context, status=400)


@login_required
def model_detail(request: SignedIn, slug: str, pk: int) -> HttpResponse:
    project = _visible_project(request, slug)
    model = get_object_or_404(RegisteredModel, project=project, pk=pk)
    base_choices = ModelVersion.objects.filter(registered_model__project=project).select_related("registered_model")
    form = ModelVersionForm(request.POST or None, base_choices=base_choices)
    if request.method == "POST" and form.is_valid():
        try:
            version = registry.register_version(registered_model=model, actor=request.user, **form.cleaned_data)
        except GovernanceError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Version {version} registered.")
            return redirect("model-version", pk=version.pk)
    versions = model.versions.select_related("base_version__registered_model")
    context = {
        "project": project,
        "model": model,
        "versions": versions,
        "form": form,
        "may_edit": may_edit_registry(request.user, project),
    }
    return render(request, "governance/model.html", context)


@login_required
def version_detail(request: SignedIn, pk: int) -> HttpResponse:
    version = get_object_or_404(
        ModelVersion.objects.visible_to(request.user).select_related("registered_model__project"), pk=pk
    )
    footprint = footprints.version_footprint(version)
    context = {
        "version": version,
        "project": version.project,
        "lineage": version.lineage(),
        "derived": version.derived_versions.select_related("registered_model"),
        "footprint": footprints.version_footprint_data(footprint),
        "gate": release_gate.evaluate_release_gate(version=version, actor=request.user).as_dict(),
        "reviews": version.reviews.select_related("author"),
        "may_edit": may_edit_registry(request.user, version.project),
        "history": history_of(version),
    }
    return render(request, "governance/version.html", context)


@login_required
def version_disclosures(request: SignedIn, pk: int) -> HttpResponse:
    """The EU model documentation's rows laid out like the form, SCI for AI, and each
    per-unit figure on its declared boundary, from the version's stored figures."""
    version = get_object_or_404(
        ModelVersion.objects.visible_to(request.user).select_related("registered_model__project"), pk=pk
    )
    context = {
        "version": version,
        "project": version.project,
        "d": disclosure.disclosures(version, ledger.version_snapshot(version)),
    }
    return render(request, "governance/disclosures.html", context)


@login_required
def token_list(request: SignedIn) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        try:
            token, secret = tokens.issue_token(user=request.user, **form.cleaned_data)
        except GovernanceError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Token “{token.name}” issued. Copy it now: it will not be shown again.")
            form = ApiTokenForm()
    context = {"tokens": ApiToken.objects.filter(user=request.user), "form": form, "secret": secret}
    return render(request, "governance/tokens.html", context)


@login_required
@require_POST
def token_revoke(request: SignedIn, pk: int) -> HttpResponse:
    token = ApiToken.objects.filter(user=request.user, pk=pk).first()
    if token is None:
        raise Http404
    tokens.revoke_token(token=token, actor=request.user)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("tokens")


@login_required
@require_POST
def webhook_test(request: SignedIn, pk: int) -> HttpResponse:
    """The test-delivery button: sends a ping now and shows the outcome."""
    hook = get_object_or_404(webhooks_managed_by(request.user), pk=pk)
    delivery = notifications.test_delivery(webhook=hook)
    level = messages.SUCCESS if delivery.state == "delivered" else messages.ERROR
    messages.add_message(
        request,
        level,
        f"Test delivery to {hook.url}: {delivery.state} ({delivery.response_status or delivery.last_error}).",
    )
    return redirect("project", slug=hook.project.slug)


# --- impact reviews ---


@login_required
def review_list(request: SignedIn) -> HttpResponse:
    visible = ImpactReview.objects.filter(
        model_version__in=ModelVersion.objects.visible_to(request.user)
    ).select_related("model_version__registered_model__project", "author")
    return render(
        request, "governance/reviews.html", {"waiting": reviews_waiting_for(request.user), "reviews": visible[:100]}
    )


@login_required
@require_POST
def review_create(request: SignedIn, pk: int) -> HttpResponse:
    version = get_object_or_404(ModelVersion.objects.visible_to(request.user), pk=pk)
    try:
        review = reviews.create_review(version=version, author=request.user)
    except GovernanceError as error:
        messages.error(request, error.message)
        return redirect("model-version", pk=version.pk)
    return redirect("review", pk=review.pk)


def _visible_review(request: SignedIn, pk: int) -> ImpactReview:
    return get_object_or_404(
        ImpactReview.objects.filter(model_version__in=ModelVersion.objects.visible_to(request.user)).select_related(
            "model_version__registered_model__project", "author", "submitted_by"
        ),
        pk=pk,
    )


def _review_page(request: SignedIn, review: ImpactReview, **forms: Any) -> HttpResponse:
    """The review page; the action views render it again with a form that did not validate."""
    review.refresh_from_db()
    allowed = reviews.allowed_actions(review, request.user)
    context = {
        "review": review,
        "version": review.model_version,
        "form": forms.get("form") or ReviewForm(initial={name: getattr(review, name) for name in REVIEW_SECTIONS}),
        "decision_form": forms.get("decision_form") or DecisionForm(),
        "comment_form": forms.get("comment_form") or CommentForm(),
        "allowed": allowed,
        "missing": [r.label for r in reviews.missing_signoffs(review)] if review.snapshot_digest else [],
        "current": reviews.is_current(review) if review.snapshot_digest else None,
        "decisions": review.decisions.select_related("reviewer"),
        "comments": review.comments.select_related("author"),
        "reports": review.reports.defer("pdf"),
        # While a report renders the page refreshes itself, so its progress bar moves.
        "rendering": review.reports.filter(state__in=[AuditReport.State.QUEUED, AuditReport.State.RENDERING]).exists(),
        "history": AuditEvent.objects.filter(object_type="ImpactReview", object_id=str(review.pk)).order_by("id"),
        "disclosures": disclosure.of_review(review),
    }
    return render(request, "governance/review.html", context, status=400 if forms else 200)


@login_required
def review_detail(request: SignedIn, pk: int) -> HttpResponse:
    """The author edits and submits; reviewers decide; everyone in the project comments.
    Each of those is a POST to its own view below."""
    return _review_page(request, _visible_review(request, pk))


def _act(request: SignedIn, review: ImpactReview, act: Callable[[], Any], done: str = "") -> HttpResponse:
    """Calls one service; a refusal becomes a message on the review page."""
    try:
        act()
    except GovernanceError as error:
        messages.error(request, error.message)
    else:
        if done:
            messages.success(request, done)
    return redirect("review", pk=review.pk)


@login_required
@require_POST
def review_save(request: SignedIn, pk: int) -> HttpResponse:
    review, form = _visible_review(request, pk), ReviewForm(request.POST)
    if not form.is_valid():
        return _review_page(request, review, form=form)
    return _act(
        request,
        review,
        lambda: reviews.update_review(review=review, actor=request.user, content=form.cleaned_data),
        "Draft saved.",
    )


@login_required
@require_POST
def review_submit(request: SignedIn, pk: int) -> HttpResponse:
    """Saves the assessment as posted, then submits it (the form's second button)."""
    review, form = _visible_review(request, pk), ReviewForm(request.POST)
    if not form.is_valid():
        return _review_page(request, review, form=form)

    def save_and_submit() -> None:
        with transaction.atomic():
            reviews.update_review(review=review, actor=request.user, content=form.cleaned_data)
            reviews.submit_review(review=review, actor=request.user)

    return _act(request, review, save_and_submit, "Submitted for sign-off.")


@login_required
@require_POST
def review_decide(request: SignedIn, pk: int) -> HttpResponse:
    review, form = _visible_review(request, pk), DecisionForm(request.POST)
    if not form.is_valid():
        return _review_page(request, review, decision_form=form)
    return _act(
        request,
        review,
        lambda: reviews.decide(review=review, reviewer=request.user, **form.cleaned_data),
        "Decision recorded.",
    )


@login_required
@require_POST
def review_comment(request: SignedIn, pk: int) -> HttpResponse:
    review, form = _visible_review(request, pk), CommentForm(request.POST)
    if not form.is_valid():
        return _review_page(request, review, comment_form=form)
    return _act(request, review, lambda: reviews.comment(review=review, author=request.user, **form.cleaned_data))


@login_required
@require_POST
def review_withdraw(request: SignedIn, pk: int) -> HttpResponse:
    review = _visible_review(request, pk)
    return _act(request, review, lambda: reviews.withdraw_review(review=review, actor=request.user), "Withdrawn.")


@login_required
@require_POST
def review_report(request: SignedIn, pk: int) -> HttpResponse:
    review = _visible_review(request, pk)
    return _act(request, review, lambda: reports.request_report(review=review, actor=request.user), "Report requested.")


@login_required
def report_download(request: SignedIn, pk: int) -> HttpResponse:
    report = get_object_or_404(
        AuditReport.objects.filter(
            review__model_version__in=ModelVersion.objects.visible_to(request.user), state=AuditReport.State.DONE
        ),
        pk=pk,
    )
    return report_file(report, "pdf")


@login_required
def dashboard(request: SignedIn) -> HttpResponse:
    months = footprints.carbon_by_month(ModelVersion.objects.visible_to(request.user))
    points_kwh = [(float(i), kwh) for i, (_, kwh, _) in enumerate(months)]
    points_kg = [(float(i), kg) for i, (_, _, kg) in enumerate(months)]
    span = (months[0][0], months[-1][0]) if months else ("", "")
    context = {
        "energy_chart": line_chart(
            [("facility energy", points_kwh)],
            title="Energy by month",
            y_unit="kWh",
            x_labels=span,
        ),
        "carbon_chart": line_chart(
            [("location-based carbon", points_kg)],
            title="Carbon by month",
            y_unit="kgCO2e",
            x_labels=span,
        ),
        "months": months,
        "budgets": [
            budget_status(b)
            for b in Budget.objects.filter(project__in=Project.objects.visible_to(request.user)).select_related(
                "project", "model_version"
            )
        ],
        "waiting": reviews_waiting_for(request.user),
        "gate_events": recent_gate_decisions(request.user),
        # Progress of a recomputation after a factor changed (as the gate's figures_current rule).
        "recomputing": ledger.stale_count(),
    }
    return render(request, "governance/dashboard.html", context)


def statement(request: HttpRequest) -> HttpResponse:
    """The public sustainability statement: aggregate figures of released versions and the
    method, no project or model names. Needs no login."""
    released = list(ModelVersion.objects.filter(status="released"))
    context = {
        "totals": {k: v.as_dict() for k, v in footprints.statement_totals(released).items()},
        "released": len(released),
        "runs": Run.objects.filter(model_version__in=released).count(),
        "generated_at": timezone.now(),
        "chain": audit.published_head(),
    }
    return render(request, "governance/statement.html", context)


@require_GET
def attestation_key(request: HttpRequest) -> HttpResponse:
    """The public key release attestations are signed with (PEM), for verifiers and admission policies."""
    pem = attestations.public_key_pem()
    if pem is None:
        return HttpResponse("No attestation signing key is configured.\n", status=404, content_type="text/plain")
    return HttpResponse(pem, content_type="application/x-pem-file")
