"""The fleet in the admin: agents and enrolment tokens (with revoke actions, which the
audit trail records through the admin's log), devices, seals and the quarantine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from telemetry.models import Agent, Device, EnrolmentToken, MetricsStore, QuarantinedSample, SealedLabel, StoreReading
from telemetry.services import revoke_agent, revoke_enrolment_token


def _revoke(
    modeladmin: admin.ModelAdmin,  # type: ignore[type-arg]
    request: HttpRequest,
    queryset: QuerySet,  # type: ignore[type-arg]
    revoke: Callable[[Any], None],
    what: str,
) -> None:
    """Revokes the live rows and logs each in the admin's log, which the audit trail records."""
    for row in queryset.filter(revoked_at__isnull=True):
        revoke(row)
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
        _revoke(self, request, queryset, lambda token: revoke_enrolment_token(token=token), "enrolment token")


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
        _revoke(self, request, queryset, lambda agent: revoke_agent(agent=agent), "agent key")


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


@admin.register(MetricsStore)
class MetricsStoreAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A fleet's Prometheus-compatible store. The credential stays in the environment:
    only the variable's name is kept here."""

    list_display = ["name", "url", "auth", "secret_env", "facility", "scrape_interval_s", "timeout_s"]


@admin.register(StoreReading)
class StoreReadingAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Every answer a metrics store gave (or did not): the evidence behind pull-mode energy."""

    list_display = ["asked_at", "store", "label", "status", "energy_kwh", "coverage"]
    list_filter = ["status", "store"]
    search_fields = ["label"]
    readonly_fields = [f.name for f in StoreReading._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
