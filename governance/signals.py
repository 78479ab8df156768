"""What governance hears from libraries and the apps below it: security events go to the
audit trail (Greenlight's own state changes are audited by their services, not by
signals); new telemetry and edited reference data mark stored footprints stale."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from axes.signals import user_locked_out
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from governance.models import (
    AuditReport,
    Budget,
    Deployment,
    ImpactReview,
    ModelVersion,
    Project,
    ReviewDecision,
    Run,
    UsageReport,
)
from governance.services import audit, gate_records, ledger, runs
from lca.signals import reference_changed
from telemetry.models import MetricsStore
from telemetry.signals import energy_rolled_up, tokens_counted


@dataclass(frozen=True)
class Login:
    pk: str  # the user name tried


@receiver(user_locked_out)
def record_lockout(sender: Any, request: Any, username: str | None, ip_address: str | None, **kwargs: Any) -> None:
    audit.record(
        actor="system",
        action="login.locked_out",
        obj=Login(str(username or "")[:64]),
        payload={"username": username, "ip_address": ip_address},
    )


@dataclass(frozen=True)
class AdminObject:
    pk: str  # "app.model:id"


ADMIN_ACTIONS = {ADDITION: "admin.added", CHANGE: "admin.changed", DELETION: "admin.deleted"}


@receiver(post_save, sender=LogEntry)
def record_admin_edit(sender: Any, instance: LogEntry, created: bool, **kwargs: Any) -> None:
    """Every change made in the Django admin (release policy, memberships, budgets,
    webhooks, reference data, …) joins the audit trail, in the admin's own transaction."""
    if not created:
        return
    model = ContentType.objects.get_for_id(instance.content_type_id).model_class() if instance.content_type_id else None
    label = f"{model._meta.label_lower}:{instance.object_id}" if model else str(instance.object_id)
    audit.record(
        actor=instance.user,
        action=ADMIN_ACTIONS.get(instance.action_flag, "admin.changed"),
        obj=AdminObject(label[:64]),
        payload={"object": instance.object_repr, "change": instance.get_change_message()},
    )


@receiver(energy_rolled_up)
def telemetry_arrived(sender: Any, labels: set[str], start: Any, end: Any, **kwargs: Any) -> None:
    ledger.mark_stale_for_labels(labels, start, end)


@receiver(tokens_counted)
def tokens_measured(sender: Any, **usage: Any) -> None:
    usage.pop("signal", None)
    runs.record_measured_usage(**usage)


@receiver(reference_changed)
def reference_edited(sender: Any, **changed: Any) -> None:
    changed.pop("signal", None)
    ledger.mark_stale_for_reference(**changed)


@receiver(post_save, sender=MetricsStore)
def metrics_store_edited(sender: Any, instance: MetricsStore, **kwargs: Any) -> None:
    """Runs measured from this store are asked again (its URL, credential or scope changed)."""
    uses = Q(model_version__registered_model__project__metrics_store=instance)
    if instance.facility_id:
        uses |= Q(facility_id=instance.facility_id, model_version__registered_model__project__metrics_store=None)
    ledger.mark_stale(Run.objects.filter(uses))


@receiver(post_save, sender=ModelVersion)
@receiver(post_save, sender=Deployment)
@receiver(post_save, sender=UsageReport)
def version_inputs_saved(sender: Any, instance: ModelVersion | Deployment | UsageReport, **kwargs: Any) -> None:
    """A version's own fields, deployments or usage changed (by a service or in the admin)."""
    if isinstance(instance, ModelVersion):
        version_id = instance.pk
    elif isinstance(instance, Deployment):
        version_id = instance.model_version_id
    else:
        version_id = instance.deployment.model_version_id
    ledger.mark_versions_stale([version_id])


@receiver(post_save, sender=Run)
@receiver(post_save, sender=ImpactReview)
@receiver(post_save, sender=ReviewDecision)
@receiver(post_save, sender=AuditReport)
def gate_input_saved(sender: Any, instance: Run | ImpactReview | ReviewDecision | AuditReport, **kwargs: Any) -> None:
    """A run (its coverage exception), a review, a decision or a report changed: the
    version's stored gate answer no longer stands."""
    if isinstance(instance, Run | ImpactReview):
        version_id = instance.model_version_id
    elif isinstance(instance, ReviewDecision):
        version_id = instance.review.model_version_id
    else:
        version_id = instance.review.model_version_id
    gate_records.mark_stale([version_id])


@receiver(pre_save, sender=Project)
def project_store_changing(sender: Any, instance: Project, **kwargs: Any) -> None:
    """A project that names another metrics store: its runs are measured from the new one."""
    if instance.pk is None:
        return
    before = Project.objects.filter(pk=instance.pk).values_list("metrics_store_id", flat=True).first()
    if before != instance.metrics_store_id:
        ledger.mark_stale(Run.objects.filter(model_version__registered_model__project_id=instance.pk))


@receiver(post_save, sender=Project)
@receiver(post_save, sender=Budget)
@receiver(post_delete, sender=Budget)
def project_gate_input_saved(sender: Any, instance: Project | Budget, **kwargs: Any) -> None:
    """The project's policy or a budget changed: every gate of the project."""
    gate_records.mark_project_stale(instance.pk if isinstance(instance, Project) else instance.project_id)
