"""Energy and carbon budgets: a ledger of the runs that started in the period (one entry
per run, corrected when its footprint changes), thresholds, and a notification (with
an audit event) each time a budget crosses into a higher level."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import transaction
from django.db.models import Sum

from governance.access import require_budget_setter
from governance.models import Budget, BudgetEntry, Project, StoredFootprint
from governance.services import audit, gate_records
from governance.services.notifications import notify

LEVELS = ["ok", "warning", "exceeded"]


@dataclass(frozen=True)
class BudgetStatus:
    budget: Budget
    used_kwh: float
    used_kgco2e: float
    share: float  # the larger of the two shares of their limits
    level: str


def budget_status(budget: Budget) -> BudgetStatus:
    """The budget's ledger totals against its limits: no query beyond the budget's row."""
    kwh, kg = budget.used_kwh, budget.used_kgco2e
    shares = [used / limit for used, limit in ((kwh, budget.limit_kwh), (kg, budget.limit_kgco2e)) if limit]
    share = max(shares, default=0.0)
    level = "exceeded" if share >= 1 else "warning" if share >= budget.warn_at else "ok"
    return BudgetStatus(budget, kwh, kg, share, level)


def _settle(budget: Budget) -> None:
    """Records a change of level once, in the ledger's transaction; notifies when it rises."""
    status = budget_status(budget)
    if status.level == budget.level:
        return
    rising = LEVELS.index(status.level) > LEVELS.index(budget.level)
    Budget.objects.filter(pk=budget.pk).update(level=status.level)
    budget.level = status.level
    gate_records.mark_project_stale(budget.project_id)
    payload = {
        "budget": budget.name,
        "level": status.level,
        "used_kwh": round(status.used_kwh, 3),
        "used_kgco2e": round(status.used_kgco2e, 3),
        "limit_kwh": budget.limit_kwh,
        "limit_kgco2e": budget.limit_kgco2e,
        "share": round(status.share, 4),
    }
    project = budget.project
    audit.record(actor="system", action=f"budget.{status.level}", obj=budget, project_id=project.pk, payload=payload)
    if rising:
        notify(
            project=project,
            event=f"budget.{status.level}",
            subject=f"Budget “{budget.name}” {status.level} ({status.share:.0%})",
            message=f"Budget “{budget.name}” of project {project.name} is at {status.share:.0%} of its limit.",
            payload=payload,
        )


def post_runs(records: list[StoredFootprint]) -> None:
    """Adds or corrects these runs' entries in every budget they count toward (a run counts
    when it started on a day of the budget's period, in UTC), with the totals. Called inside
    the transaction that stored the footprints."""
    days = [r.started_at.astimezone(UTC).date() for r in records]
    matching = (
        Budget.objects.select_for_update()
        .select_related("project")
        .filter(project_id__in={r.project_id for r in records}, period_start__lte=max(days), period_end__gte=min(days))
        .order_by("pk")  # one order of locks for every writer
    )
    for budget in matching:
        counted = [
            r
            for r, day in zip(records, days, strict=True)
            if r.project_id == budget.project_id
            and budget.period_start <= day <= budget.period_end
            and budget.model_version_id in (None, r.model_version_id)
        ]
        if not counted:
            continue
        entries = {
            e.run_id: e for e in BudgetEntry.objects.filter(budget=budget, run_id__in=[r.run_id for r in counted])
        }
        for r in counted:
            entry = entries.get(r.run_id)
            before = (entry.energy_kwh, entry.kgco2e) if entry else (0.0, 0.0)
            # The budget's row is locked (select_for_update): its totals can be written as computed.
            budget.used_kwh += r.facility_energy_kwh - before[0]
            budget.used_kgco2e += r.location_based_kgco2e - before[1]
        BudgetEntry.objects.bulk_create(
            [
                BudgetEntry(
                    budget=budget, run_id=r.run_id, energy_kwh=r.facility_energy_kwh, kgco2e=r.location_based_kgco2e
                )
                for r in counted
            ],
            update_conflicts=True,
            unique_fields=["budget", "run"],
            update_fields=["energy_kwh", "kgco2e"],
        )
        Budget.objects.filter(pk=budget.pk).update(used_kwh=budget.used_kwh, used_kgco2e=budget.used_kgco2e)
        _settle(budget)


def rebuild(budget: Budget) -> None:
    """The budget's ledger from the stored footprints: when it is created or its period,
    scope or limits are edited."""
    budget = Budget.objects.select_for_update().select_related("project").get(pk=budget.pk)
    # The same rule as post_runs: the run's start day (UTC, the time zone) within the period.
    records = StoredFootprint.objects.filter(
        project_id=budget.project_id, started_at__date__range=(budget.period_start, budget.period_end)
    )
    if budget.model_version_id:
        records = records.filter(model_version_id=budget.model_version_id)
    BudgetEntry.objects.filter(budget=budget).delete()
    BudgetEntry.objects.bulk_create(
        BudgetEntry(budget=budget, run_id=r.run_id, energy_kwh=r.facility_energy_kwh, kgco2e=r.location_based_kgco2e)
        for r in records.only("run_id", "facility_energy_kwh", "location_based_kgco2e")
    )
    totals = BudgetEntry.objects.filter(budget=budget).aggregate(kwh=Sum("energy_kwh"), kg=Sum("kgco2e"))
    budget.used_kwh, budget.used_kgco2e = totals["kwh"] or 0.0, totals["kg"] or 0.0
    Budget.objects.filter(pk=budget.pk).update(used_kwh=budget.used_kwh, used_kgco2e=budget.used_kgco2e)
    _settle(budget)


@transaction.atomic
def create_budget(*, project: Project, actor: Any, **fields: Any) -> Budget:
    require_budget_setter(actor, project)
    budget = Budget.objects.create(project=project, **fields)
    rebuild(budget)
    audit.record(
        actor=actor,
        action="budget.created",
        obj=budget,
        project_id=project.pk,
        payload={k: str(v) for k, v in fields.items()},
    )
    return budget
