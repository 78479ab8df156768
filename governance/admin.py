from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from governance.models import (
    ApiToken,
    AuditEvent,
    Budget,
    Deployment,
    ImpactReview,
    Membership,
    ModelVersion,
    Project,
    RegisteredModel,
    Run,
    UsageReport,
    Webhook,
    WebhookDelivery,
)
from governance.services import budgets
from governance.services.tokens import revoke_token


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0
    filter_horizontal = ["roles"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "slug", "owner", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["project", "user"]
    list_filter = ["project", "roles"]
    filter_horizontal = ["roles"]


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "project", "created_at"]
    list_filter = ["project"]
    search_fields = ["name"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["__str__", "adaptation", "parameters", "precision", "status", "created_at"]
    list_filter = ["status", "adaptation", "precision", "registered_model__project"]
    search_fields = ["version", "registered_model__name"]
    raw_id_fields = ["base_version"]
    # Status changes only through services (the release gate), never by hand.
    readonly_fields = ["status", "created_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "user", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    readonly_fields = ["user", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # The secret must be shown to its owner once; issue tokens on the "API tokens" page.
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            revoke_token(token=token, actor=request.user)  # type: ignore[arg-type]


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Rows written only by services (state machines, the audit trail)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = ["label", "model_version", "stage", "status", "started_at", "ended_at"]
    list_filter = ["status", "stage"]
    search_fields = ["label"]


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ["name", "model_version", "label", "started_at"]


@admin.register(UsageReport)
class UsageReportAdmin(ReadOnlyAdmin):
    list_display = ["deployment", "window_start", "window_end", "requests", "input_tokens", "output_tokens"]


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "name",
        "project",
        "model_version",
        "period_start",
        "period_end",
        "limit_kwh",
        "limit_kgco2e",
        "level",
        "used_kwh",
        "used_kgco2e",
    ]
    readonly_fields = ["level", "used_kwh", "used_kgco2e"]

    def save_model(self, request: HttpRequest, obj: Budget, form: Any, change: bool) -> None:
        """A new period, scope or limit: the ledger is rebuilt from the stored footprints."""
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            budgets.rebuild(obj)


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["url", "project", "active", "created_at"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event", "webhook", "state", "attempts", "response_status", "created_at"]
    list_filter = ["state", "event"]


@admin.register(ImpactReview)
class ImpactReviewAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "kind", "state", "author", "submitted_at", "decided_at"]
    list_filter = ["state", "kind"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "actor", "action", "object_type", "object_id", "hash"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor", "object_id"]
