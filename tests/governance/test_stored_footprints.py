"""Footprints are stored when their inputs change and read everywhere else; budgets keep
a ledger of them. Nothing is lost or counted twice on the way."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import ProtectedError, Sum

from governance.models import AuditEvent, Budget, BudgetEntry, Run, StoredFootprint
from governance.services import budgets, ledger
from governance.services.footprints import compute_run_footprint
from lca.models import Facility, GridRegion
from lca.present import estimate_data
from tests.workflow import findings, gate, measured_run


def _budget(team, **fields):
    today = datetime.now(UTC).date()
    defaults = {"name": "Q", "period_start": today - timedelta(days=30), "period_end": today + timedelta(days=30)}
    return budgets.create_budget(project=team.project, actor=team.officer, **{**defaults, **fields})


def _ledger_agrees(budget):
    budget.refresh_from_db()
    entries = BudgetEntry.objects.filter(budget=budget).aggregate(kwh=Sum("energy_kwh"), kg=Sum("kgco2e"))
    assert budget.used_kwh == pytest.approx(entries["kwh"] or 0.0, rel=1e-12)
    assert budget.used_kgco2e == pytest.approx(entries["kg"] or 0.0, rel=1e-12)
    return budget


def test_stored_figures_equal_a_fresh_computation_to_the_digit(world):
    _, _, version, pipeline = world
    for label in ("ft-a", "ft-b"):
        measured_run(pipeline, version, label)
    measured_run(pipeline, version, "ft-dark", telemetry=False)
    stored = StoredFootprint.objects.filter(model_version=version)
    assert stored.count() == 3
    for record in stored:
        fresh = compute_run_footprint(Run.objects.get(pk=record.run_id))
        assert record.result == estimate_data(fresh.result)  # every figure, range and factor
        assert (record.coverage, record.method, record.note) == (fresh.coverage, fresh.method, fresh.note)


def test_a_budget_reads_its_ledger_and_a_closed_run_counts_once(world):
    team, _, version, pipeline = world
    run_id = measured_run(pipeline, version, "ft-once")
    budget = _ledger_agrees(_budget(team, limit_kwh=1000))
    record = StoredFootprint.objects.get(run_id=run_id)
    assert budget.used_kwh == record.facility_energy_kwh > 0
    again = pipeline.post(f"/api/v1/runs/{run_id}/close/", {"status": "succeeded"}, format="json")
    assert again.status_code == 409
    assert _ledger_agrees(budget).used_kwh == record.facility_energy_kwh
    ledger.refresh(run_id)  # nothing changed: the same figure, not a second entry
    assert BudgetEntry.objects.filter(budget=budget).count() == 1
    assert _ledger_agrees(budget).used_kwh == record.facility_energy_kwh


def test_a_level_change_notifies_exactly_once_in_the_ledgers_transaction(world):
    team, _, version, pipeline = world
    budget = _budget(team, limit_kwh=1e-9)
    measured_run(pipeline, version, "ft-big")
    measured_run(pipeline, version, "ft-bigger")
    budget.refresh_from_db()
    assert budget.level == "exceeded"
    events = AuditEvent.objects.filter(object_type="Budget", object_id=str(budget.pk), action="budget.exceeded")
    assert events.count() == 1


def test_the_period_boundary_is_the_start_day_in_utc(world):
    team, _, version, pipeline = world
    day = datetime.now(UTC).date() - timedelta(days=1)
    budget = _budget(team, period_start=day - timedelta(days=5), period_end=day, limit_kwh=1e6)
    last_second = datetime.combine(day, datetime.max.time(), UTC).replace(microsecond=0)
    inside = measured_run(pipeline, version, "ft-edge-in", telemetry=False, started_at=last_second.isoformat())
    outside = measured_run(
        pipeline, version, "ft-edge-out", telemetry=False, started_at=(last_second + timedelta(seconds=1)).isoformat()
    )
    counted = set(BudgetEntry.objects.filter(budget=budget).values_list("run_id", flat=True))
    assert counted == {inside}
    assert outside not in counted
    assert _ledger_agrees(budget).used_kwh == StoredFootprint.objects.get(run_id=inside).facility_energy_kwh


def test_a_late_batch_after_close_changes_nothing(world):
    from telemetry.rollups import roll_up_pending

    team, _, version, pipeline = world
    run_id = measured_run(pipeline, version, "ft-late")
    budget = _budget(team, limit_kwh=1000)
    before = StoredFootprint.objects.get(run_id=run_id).result
    measured_run_late_samples(version, "ft-late")
    roll_up_pending()
    ledger.recompute_stale()
    assert StoredFootprint.objects.get(run_id=run_id).result == before
    assert _ledger_agrees(budget).used_kwh == StoredFootprint.objects.get(run_id=run_id).facility_energy_kwh


def measured_run_late_samples(version, label):
    """More samples under a closed run's label: the sealed label quarantines them."""
    import time

    from telemetry.agent.backends import ManualClock, SimulatedBackend
    from tests.telemetry.helpers import enrolled_client, envelope, post, simulated_samples

    full = f"{version.registered_model.project.slug}/{label}"
    clock = ManualClock(time.time() - 200)
    backend = SimulatedBackend(2, seed=7, clock=clock)
    agent, _ = enrolled_client(f"late-{label}")
    answer = post(agent, envelope(backend, 1, simulated_samples(backend, clock, 60, step=5, label=full))).json()
    assert answer["accepted"] == 0 and answer["quarantined"] > 0


def test_an_edited_factor_marks_footprints_stale_and_the_gate_waits_for_the_recompute(world):
    team, _, version, pipeline = world
    run_id = measured_run(pipeline, version, "ft-factor")
    budget = _budget(team, limit_kgco2e=1e6)
    before = StoredFootprint.objects.get(run_id=run_id)
    facility = Facility.objects.get(slug="gcp-europe-west1")
    region = GridRegion.objects.get(pk=facility.grid_region_id)
    region.intensity_g_per_kwh *= 2
    region.save()
    assert StoredFootprint.objects.get(run_id=run_id).stale is True
    answer = gate(pipeline, version)
    assert findings(answer)["figures_current"] is False and "ft-factor" in str(answer["findings"])

    assert ledger.recompute_stale() == 1
    after = StoredFootprint.objects.get(run_id=run_id)
    assert after.stale is False and after.inputs_digest != before.inputs_digest
    assert after.location_based_kgco2e == pytest.approx(2 * before.location_based_kgco2e, rel=1e-9)
    assert _ledger_agrees(budget).used_kgco2e == after.location_based_kgco2e  # corrected, not added
    assert findings(gate(pipeline, version))["figures_current"] is True


def test_a_failed_recompute_leaves_the_footprint_stale_for_the_retry(world, monkeypatch):
    from governance.services import footprints

    _, _, version, pipeline = world
    run_id = measured_run(pipeline, version, "ft-retry")
    ledger.mark_stale(Run.objects.filter(pk=run_id))

    def database_gone(runs):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(ledger, "compute_run_footprints", database_gone)
    with pytest.raises(ConnectionError):
        ledger.recompute_stale()
    assert StoredFootprint.objects.get(run_id=run_id).stale is True
    monkeypatch.setattr(ledger, "compute_run_footprints", footprints.compute_run_footprints)
    assert ledger.recompute_stale() == 1 and StoredFootprint.objects.get(run_id=run_id).stale is False


def test_a_run_with_figures_cannot_be_deleted(world):
    team, _, version, pipeline = world
    run_id = measured_run(pipeline, version, "ft-keep")
    _budget(team, limit_kwh=1000)
    with pytest.raises(ProtectedError):
        Run.objects.get(pk=run_id).delete()
    assert StoredFootprint.objects.filter(run_id=run_id).exists()


@pytest.mark.django_db(transaction=True)
def test_two_workers_recomputing_one_footprint_count_it_once(reference_data, world):
    team, _, version, pipeline = world
    run_id = measured_run(pipeline, version, "ft-race", telemetry=False)
    budget = _budget(team, limit_kwh=1e6)
    expected = StoredFootprint.objects.get(run_id=run_id).facility_energy_kwh
    facility = Facility.objects.get(slug="gcp-europe-west1")
    facility.pue = (facility.pue or 1.1) + 0.2
    facility.save()
    barrier, errors = threading.Barrier(2), []

    def worker():
        try:
            barrier.wait()
            ledger.recompute_stale()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    record = StoredFootprint.objects.get(run_id=run_id)
    assert record.facility_energy_kwh > expected
    assert BudgetEntry.objects.filter(budget=budget).count() == 1
    assert _ledger_agrees(budget).used_kwh == pytest.approx(record.facility_energy_kwh, rel=1e-12)


def test_a_budget_edited_in_the_admin_rebuilds_its_ledger(world, client):
    team, _, version, pipeline = world
    run_id = measured_run(pipeline, version, "ft-admin")
    budget = _budget(team, period_start=date(2000, 1, 1), period_end=date(2000, 12, 31), limit_kwh=1)
    assert budget.used_kwh == 0
    admin = client
    admin.force_login(team.owner.__class__.objects.create_superuser("root", "root@example.org", "x"))
    change = f"/admin/governance/budget/{budget.pk}/change/"
    form = {
        "project": team.project.pk,
        "name": "Q",
        "period_start": "2000-01-01",
        "period_end": "2100-01-01",
        "limit_kwh": "1",
        "warn_at": "0.8",
    }
    assert admin.post(change, form).status_code == 302
    assert _ledger_agrees(Budget.objects.get(pk=budget.pk)).used_kwh == (
        StoredFootprint.objects.get(run_id=run_id).facility_energy_kwh
    )


def test_a_versions_figures_are_stored_and_follow_its_runs_and_fields(world):
    from governance.models import VersionFigures

    _, _, version, pipeline = world
    measured_run(pipeline, version, "ft-v1")
    first = ledger.version_snapshot(version)
    assert VersionFigures.objects.get(version=version).stale is False
    assert ledger.version_snapshot(version) == first  # read, not recomputed

    measured_run(pipeline, version, "ft-v2")  # a run stored: the version's figures are stale
    assert VersionFigures.objects.get(version=version).stale is True
    second = ledger.version_snapshot(version)
    assert [r["label"] for r in second["runs"]] == ["aurora/ft-v1", "aurora/ft-v2"]

    version.training_tokens = 2 * 10**12  # a field edited (by a service or in the admin)
    version.save()
    assert ledger.version_snapshot(version)["training_flops"] > 0


def test_a_recompute_batch_costs_the_same_statements_for_3_runs_as_for_12(world):
    """After a factor change each batch stores every figure and budget entry it changed in a
    fixed number of statements, and gives the figures a run-by-run refresh would."""
    from django.test.utils import CaptureQueriesContext

    team, _, version, pipeline = world
    _budget(team, limit_kwh=1e6)
    runs = [measured_run(pipeline, version, f"ft-batch-{n}", telemetry=n % 2 == 0) for n in range(12)]
    facility = Facility.objects.get(slug="gcp-europe-west1")
    counts = []
    for size in (3, 12):
        facility.pue = (facility.pue or 1.1) + 0.1
        facility.save()
        with CaptureQueriesContext(connection) as queries:
            assert ledger.recompute_stale(size) == size
        counts.append(len(queries.captured_queries))
        ledger.recompute_stale()  # the rest of the stale ones
    assert counts[0] == counts[1]
    for run_id in runs:
        record = StoredFootprint.objects.get(run_id=run_id)
        assert record.result == estimate_data(compute_run_footprint(Run.objects.get(pk=run_id)).result)
