"""The fleet in the admin: agents and enrolment tokens (with revoke actions, which the
audit trail records through the admin's log), devices, seals and the quarantine."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from telemetry.models import Agent, Device, EnrolmentToken, QuarantinedSample, SealedLabel
from telemetry.services import revoke_agent, revoke_enrolment_token


def _log_revocations(modeladmin: admin.ModelAdmin, request: HttpRequest, rows: QuerySet, what: str) -> None:  # type: ignore[type-arg]
    for row in rows:
        modeladmin.log_change(request, row, f"Revoked the {what}.")


@admin.register(EnrolmentToken)
class EnrolmentTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "prefix", "kind", "label_namespaces", "uses", "max_uses", "created_at", "revoked_at"]
    list_filter = ["kind", "revoked_at"]
    readonly_fields = ["prefix", "uses", "created_at", "revoked_at"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # The secret must be shown once: create tokens with manage.py create_enrolment_token.
        return False

    @admin.action(description="Revoke the selected enrolment tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[EnrolmentToken]) -> None:
        live = list(queryset.filter(revoked_at__isnull=True))
        for token in live:
            revoke_enrolment_token(token=token)
        _log_revocations(self, request, live, "enrolment token")


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["hostname", "prefix", "kind", "label_namespaces", "last_seen_at", "revoked_at"]
    list_filter = ["kind", "revoked_at"]
    readonly_fields = ["prefix", "enrolment_token", "agent_version", "created_at", "last_seen_at", "revoked_at"]
    exclude = ["key_hash"]
    search_fields = ["hostname"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # agents enrol themselves with an enrolment token

    @admin.action(description="Revoke the selected agents' keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        live = list(queryset.filter(revoked_at__isnull=True))
        for agent in live:
            revoke_agent(agent=agent)
        _log_revocations(self, request, live, "agent key")


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "uuid", "kind", "agent", "index", "last_seen_at", "last_power_w", "last_label"]
    list_filter = ["kind"]
    search_fields = ["uuid", "name"]
    readonly_fields = ["uuid", "first_seen_at", "last_seen_at", "last_power_w", "last_label"]


@admin.register(SealedLabel)
class SealedLabelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["label", "reason", "sealed_at"]
    search_fields = ["label"]


@admin.register(QuarantinedSample)
class QuarantinedSampleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["agent", "batch_seq", "device_uuid", "reason", "received_at"]
    list_filter = ["reason"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # kept as received
