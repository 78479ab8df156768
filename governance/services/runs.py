"""Runs and deployments: opened and closed by pipelines, their usage reported."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from governance.access import require_registry_editor, require_role
from governance.errors import Conflict, GovernanceError
from governance.models import Deployment, ModelVersion, Role, Run, RunStatus, UsageReport
from governance.services import audit, ledger
from lca.inputs import InvalidRequest, request_from_data
from telemetry import services as telemetry


def _check_estimate(body: dict[str, Any] | None) -> None:
    if body is None:
        return
    try:
        request_from_data(body)
    except InvalidRequest as exc:
        raise GovernanceError(
            "The pre-run estimate is not a valid estimate request.",
            field_errors={"estimate": [f"{k}: {' '.join(v)}" for k, v in exc.errors.items()]},
        ) from exc


def _check_label(project: Any, label: str) -> None:
    """Labels live in their project's namespace ('slug/…'), so another project cannot claim
    them first, and agents enrolled for a project can write its labels and no others."""
    if not label.startswith(f"{project.slug}/") or label == f"{project.slug}/":
        raise GovernanceError(
            f"A label starts with the project's namespace: '{project.slug}/…'.",
            field_errors={"label": [f"Start it with '{project.slug}/'."]},
        )


@transaction.atomic
def open_run(*, version: ModelVersion, actor: User, **fields: Any) -> Run:
    require_registry_editor(actor, version.project)
    _check_label(version.project, fields["label"])
    if Run.objects.filter(label=fields["label"]).exists():
        raise Conflict(
            f"Label '{fields['label']}' is already used by another run.", field_errors={"label": ["Already used."]}
        )
    _check_estimate(fields.get("estimate"))
    fields.setdefault("started_at", timezone.now())
    run = Run.objects.create(model_version=version, opened_by=actor, **fields)
    audit.record(
        actor=actor,
        action="run.opened",
        obj=run,
        project_id=version.project.pk,
        payload={"version": version.pk, "label": run.label, "stage": run.stage},
    )
    ledger.refresh(run.pk)
    return run


@transaction.atomic
def close_run(*, run: Run, actor: User, status: str, ended_at: datetime | None = None) -> Run:
    """Closes a run as succeeded, failed or abandoned; checks the budgets it counts toward."""
    run = Run.objects.select_for_update().get(pk=run.pk)
    require_registry_editor(actor, run.model_version.project)
    if run.status != RunStatus.RUNNING:
        raise Conflict(f"Run {run.label} is already closed ({run.get_status_display()}).")
    if status == RunStatus.RUNNING:
        raise GovernanceError("Close a run as succeeded, failed or abandoned.", field_errors={"status": ["Invalid."]})
    run.status = status
    run.ended_at = ended_at or timezone.now()
    if run.ended_at < run.started_at:
        raise GovernanceError("A run cannot end before it started.", field_errors={"ended_at": ["Before start."]})
    run.save(update_fields=["status", "ended_at"])
    # Samples that arrive later cannot change a closed run's energy: they are quarantined.
    telemetry.seal_label(label=run.label, reason=f"run {run.label} closed {run.ended_at:%Y-%m-%d %H:%M} UTC")
    audit.record(
        actor=actor,
        action="run.closed",
        obj=run,
        project_id=run.model_version.project.pk,
        payload={"status": status, "ended_at": run.ended_at.isoformat()},
    )
    ledger.refresh(run.pk)  # the footprint and the budgets it counts toward, in this transaction
    return run


@transaction.atomic
def grant_coverage_exception(*, run: Run, actor: User, note: str) -> Run:
    """A sustainability officer accepts a run's low telemetry coverage, with a reason."""
    require_role(actor, run.model_version.project, Role.SUSTAINABILITY_OFFICER)
    if not note.strip():
        raise GovernanceError("Say why the low coverage is acceptable.", field_errors={"note": ["Required."]})
    run.coverage_exception, run.coverage_exception_by = note.strip(), actor
    run.save(update_fields=["coverage_exception", "coverage_exception_by"])
    audit.record(
        actor=actor,
        action="run.coverage_exception",
        obj=run,
        project_id=run.model_version.project.pk,
        payload={"note": note.strip()},
    )
    ledger.refresh(run.pk)
    return run


@transaction.atomic
def open_deployment(*, version: ModelVersion, actor: User, **fields: Any) -> Deployment:
    require_registry_editor(actor, version.project)
    _check_label(version.project, fields["label"])
    if Deployment.objects.filter(label=fields["label"]).exists():
        raise Conflict(f"Label '{fields['label']}' is already used.", field_errors={"label": ["Already used."]})
    fields.setdefault("started_at", timezone.now())
    deployment = Deployment.objects.create(model_version=version, **fields)
    audit.record(
        actor=actor,
        action="deployment.opened",
        obj=deployment,
        project_id=version.project.pk,
        payload={"label": deployment.label},
    )
    return deployment


@transaction.atomic
def record_usage(*, deployment: Deployment, actor: User, **fields: Any) -> UsageReport:
    require_registry_editor(actor, deployment.model_version.project)
    if fields["window_end"] <= fields["window_start"]:
        raise GovernanceError("The window must end after it starts.", field_errors={"window_end": ["Too early."]})
    report, created = UsageReport.objects.update_or_create(
        deployment=deployment, window_start=fields["window_start"], defaults=fields
    )
    audit.record(
        actor=actor,
        action="usage.reported" if created else "usage.corrected",
        obj=report,
        project_id=deployment.model_version.project.pk,
        payload={k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()},
    )
    return report


def record_measured_usage(
    *, label: str, start: datetime, end: datetime, input_tokens: int, output_tokens: int, requests: int
) -> UsageReport | None:
    """Usage counted by the deployment's own inference servers (vLLM's counters, through
    Remote-Write) for the deployment with this label, if there is one: the same record as
    reported usage, audited as measured."""
    deployment = Deployment.objects.select_related("model_version__registered_model").filter(label=label).first()
    if deployment is None:
        return None
    fields = {"window_end": end, "input_tokens": input_tokens, "output_tokens": output_tokens, "requests": requests}
    report, _ = UsageReport.objects.update_or_create(deployment=deployment, window_start=start, defaults=fields)
    audit.record(
        actor="system",
        action="usage.measured",
        obj=report,
        project_id=deployment.model_version.project.pk,
        payload={
            "source": "vLLM counters",
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "requests": requests,
        },
    )
    return report
