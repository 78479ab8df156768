"""Energy and carbon budgets: usage over the period, thresholds, and a notification
(with an audit event) each time a budget crosses into a higher level."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db import transaction

from governance.access import require_budget_setter
from governance.models import Budget, Project, Run
from governance.services import audit
from governance.services.footprints import run_footprint
from governance.services.notifications import notify

LEVELS = ["ok", "warning", "exceeded"]


@dataclass(frozen=True)
class BudgetStatus:
    budget: Budget
    used_kwh: float
    used_kgco2e: float
    share: float  # the larger of the two shares of their limits
    level: str


def _runs(budget: Budget) -> list[Run]:
    start = datetime.combine(budget.period_start, time.min, UTC)
    end = datetime.combine(budget.period_end, time.min, UTC) + timedelta(days=1)
    runs = Run.objects.filter(
        model_version__registered_model__project=budget.project, started_at__gte=start, started_at__lt=end
    )
    if budget.model_version_id:
        runs = runs.filter(model_version_id=budget.model_version_id)
    return list(runs.select_related("facility__grid_region", "hardware"))


def budget_status(budget: Budget) -> BudgetStatus:
    kwh = kg = 0.0
    for run in _runs(budget):
        f = run_footprint(run).result.footprint
        kwh += f.facility_energy_kwh.central
        kg += f.location_based_kgco2e.central
    shares = [used / limit for used, limit in ((kwh, budget.limit_kwh), (kg, budget.limit_kgco2e)) if limit]
    share = max(shares, default=0.0)
    level = "exceeded" if share >= 1 else "warning" if share >= budget.warn_at else "ok"
    return BudgetStatus(budget, kwh, kg, share, level)


@transaction.atomic
def check_budgets(*, project: Project) -> list[BudgetStatus]:
    """Re-evaluates every budget of the project; notifies when one reaches a higher level."""
    statuses = []
    for budget in Budget.objects.select_for_update().filter(project=project):
        status = budget_status(budget)
        statuses.append(status)
        if status.level == budget.level:
            continue
        rising = LEVELS.index(status.level) > LEVELS.index(budget.level)
        budget.level = status.level
        budget.save(update_fields=["level"])
        payload = {
            "budget": budget.name,
            "level": status.level,
            "used_kwh": round(status.used_kwh, 3),
            "used_kgco2e": round(status.used_kgco2e, 3),
            "limit_kwh": budget.limit_kwh,
            "limit_kgco2e": budget.limit_kgco2e,
            "share": round(status.share, 4),
        }
        audit.record(
            actor="system", action=f"budget.{status.level}", obj=budget, project_id=project.pk, payload=payload
        )
        if rising:
            notify(
                project=project,
                event=f"budget.{status.level}",
                subject=f"Budget “{budget.name}” {status.level} ({status.share:.0%})",
                message=f"Budget “{budget.name}” of project {project.name} is at {status.share:.0%} of its limit.",
                payload=payload,
            )
    return statuses


@transaction.atomic
def create_budget(*, project: Project, actor: Any, **fields: Any) -> Budget:
    require_budget_setter(actor, project)
    budget = Budget.objects.create(project=project, **fields)
    audit.record(
        actor=actor,
        action="budget.created",
        obj=budget,
        project_id=project.pk,
        payload={k: str(v) for k, v in fields.items()},
    )
    return budget
