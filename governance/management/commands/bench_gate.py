"""How the release gate, budgets and pages scale with an organisation's history. For each
size it builds a throwaway project with that many runs (bulk: copies of one computed run,
spread over versions of 100 runs, with a project budget whose ledger holds them all),
measures, and deletes it. Figures that are compared are taken in the same run."""

from __future__ import annotations

import http.client
import secrets
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, reset_queries, transaction
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext

from config.bench import free_port, gunicorn
from governance.models import Budget, ModelVersion, Project, RegisteredModel, Run, RunStatus, StoredFootprint
from governance.services import budgets, ledger, tokens
from lca.models import Facility, GridRegion, HardwareModel

RUNS_PER_VERSION = 100


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in seconds)
    return statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]


class Command(BaseCommand):
    help = "Gate, budget and page times at 1k, 10k and 100k runs; prints a table."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sizes", default="1000,10000,100000", help="Numbers of runs, comma-separated.")
        parser.add_argument("--requests", type=int, default=200, help="Gate requests per measurement.")
        parser.add_argument("--concurrency", type=int, default=50, help="Concurrent callers through gunicorn.")
        parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes.")
        parser.add_argument(
            "--recompute", type=int, default=2000, help="Footprints recomputed after a factor change (0: all)."
        )

    def handle(self, *args: Any, sizes: str, requests: int, concurrency: int, workers: int, recompute: int, **o: Any):  # type: ignore[no-untyped-def]
        rows = []
        for size in (int(s) for s in sizes.split(",")):
            started = time.monotonic()
            world = self._build(size)
            built_s = time.monotonic() - started
            self.stdout.write(f"{size:,} runs built in {built_s:.1f} s")
            try:
                rows.append({"runs": size, "built_s": built_s, **self._measure(world, requests, concurrency, workers)})
                rows[-1].update(self._recompute(world, recompute))
            finally:
                self._drop(world)
        self._table(rows)

    # --- data ---

    def _build(self, size: int) -> dict[str, Any]:
        tag = secrets.token_hex(3)
        with transaction.atomic():
            owner = User.objects.create_user(f"bench-{tag}", password=secrets.token_urlsafe(16))
            project = Project.objects.create(owner=owner, name=f"Bench {tag}", slug=f"bench-{tag}")
            model = RegisteredModel.objects.create(project=project, name="bench")
            versions = ModelVersion.objects.bulk_create(
                ModelVersion(registered_model=model, version=f"1.{n}", adaptation="pretraining", parameters=7e9)
                for n in range(-(-size // RUNS_PER_VERSION))
            )
            # Its own grid region and facility (copies of a demo one), whose factor it changes.
            facility = Facility.objects.select_related("grid_region").get(slug="gcp-europe-west1")
            region = facility.grid_region
            region.pk, region.code = None, f"bench-{tag}"
            region.save()
            facility.pk, facility.slug, facility.grid_region = None, f"bench-{tag}", region
            facility.save()
            hardware = HardwareModel.objects.get(slug="h100-sxm")
            start = datetime.now(UTC) - timedelta(days=20)
            runs = Run.objects.bulk_create(
                Run(
                    model_version=versions[n // RUNS_PER_VERSION],
                    stage="fine_tuning",
                    facility=facility,
                    hardware=hardware,
                    accelerator_count=8,
                    label=f"bench-{tag}/run-{n}",
                    status=RunStatus.SUCCEEDED,
                    started_at=start + timedelta(seconds=n),
                    ended_at=start + timedelta(seconds=n, hours=2),
                    opened_by=owner,
                )
                for n in range(size)
            )
        template = ledger.refresh(runs[0].pk)  # one real computation, copied to the others
        fields = {f.attname: getattr(template, f.attname) for f in StoredFootprint._meta.concrete_fields}
        for chunk in range(1, size, 5000):
            StoredFootprint.objects.bulk_create(
                StoredFootprint(
                    **{
                        **fields,
                        "run_id": run.pk,
                        "model_version_id": run.model_version_id,
                        "started_at": run.started_at,
                        "ended_at": run.ended_at,
                    }
                )
                for run in runs[chunk : chunk + 5000]
            )
        budget = Budget.objects.create(
            project=project, name="Year", period_start=date(2000, 1, 1), period_end=date(2100, 1, 1), limit_kwh=1e12
        )
        with transaction.atomic():
            budgets.rebuild(budget)
        with connection.cursor() as cursor:  # as autovacuum would after such a load
            cursor.execute("ANALYZE governance_run, governance_storedfootprint, governance_budgetentry")
        _, secret = tokens.issue_token(user=owner, name="bench", scopes=["registry:read"])
        return {
            "owner": owner,
            "project": project,
            "version": versions[0],
            "budget": budget,
            "secret": secret,
            "facility": facility,
        }

    def _drop(self, world: dict[str, Any]) -> None:
        project = world["project"]
        with connection.cursor() as cursor:
            for sql in (
                "DELETE FROM governance_budgetentry WHERE budget_id IN"
                " (SELECT id FROM governance_budget WHERE project_id = %s)",
                "DELETE FROM governance_budget WHERE project_id = %s",
                "DELETE FROM governance_storedfootprint WHERE project_id = %s",
                "DELETE FROM governance_versionfigures WHERE version_id IN (SELECT v.id FROM governance_modelversion v"
                " JOIN governance_registeredmodel m ON m.id = v.registered_model_id WHERE m.project_id = %s)",
                "DELETE FROM governance_gaterecord WHERE version_id IN (SELECT v.id FROM governance_modelversion v"
                " JOIN governance_registeredmodel m ON m.id = v.registered_model_id WHERE m.project_id = %s)",
                "DELETE FROM governance_run WHERE model_version_id IN (SELECT v.id FROM governance_modelversion v"
                " JOIN governance_registeredmodel m ON m.id = v.registered_model_id WHERE m.project_id = %s)",
                "DELETE FROM governance_modelversion WHERE registered_model_id IN"
                " (SELECT id FROM governance_registeredmodel WHERE project_id = %s)",
                "DELETE FROM governance_registeredmodel WHERE project_id = %s",
                "DELETE FROM governance_apitoken WHERE user_id ="
                " (SELECT owner_id FROM governance_project WHERE id = %s)",
                "DELETE FROM governance_project WHERE id = %s",
            ):
                cursor.execute(sql, [project.pk])
        world["facility"].delete()
        world["facility"].grid_region.delete()
        world["owner"].delete()

    # --- measurements ---

    def _timed(self, call: Callable[[], Any], n: int) -> tuple[list[float], int]:
        answer = call()  # warm
        if getattr(answer, "status_code", 200) != 200:
            raise RuntimeError(f"answered {answer.status_code}")
        reset_queries()  # with DEBUG on the log is full after the build, and a full log counts nothing
        with CaptureQueriesContext(connection) as queries:
            call()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            call()
            times.append(time.perf_counter() - t)
        return times, len(queries.captured_queries)

    def _measure(self, world: dict[str, Any], requests: int, concurrency: int, workers: int) -> dict[str, Any]:
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(world["owner"])
        version, project = world["version"], world["project"]
        gate_url = f"/api/v1/model-versions/{version.pk}/release-gate/"
        trivial_url = f"/api/v1/projects/{project.pk}/"
        gate, gate_q = self._timed(lambda: client.get(gate_url), requests)
        trivial, _ = self._timed(lambda: client.get(trivial_url), requests)
        budget, _ = self._timed(lambda: budgets.budget_status(Budget.objects.get(pk=world["budget"].pk)), requests)
        dashboard, dash_q = self._timed(lambda: client.get("/dashboard/"), 20)
        page, page_q = self._timed(lambda: client.get(f"/projects/{project.slug}/"), 20)
        served = self._served(gate_url, trivial_url, world["secret"], requests, concurrency, workers)
        return {
            "gate_ms": _percentiles(gate),
            "gate_queries": gate_q,
            "trivial_ms": _percentiles(trivial),
            "budget_ms": _percentiles(budget),
            "dashboard_ms": _percentiles(dashboard),
            "dashboard_queries": dash_q,
            "project_ms": _percentiles(page),
            "project_queries": page_q,
            **served,
        }

    def _served(
        self, gate_url: str, trivial_url: str, secret: str, requests: int, concurrency: int, workers: int
    ) -> dict[str, Any]:
        """Through gunicorn: the gate at 1 and `concurrency` callers, and its throughput as a
        share of the trivial endpoint's, measured alternately in the same run."""
        port = free_port()
        server = gunicorn(port, workers)
        try:
            headers = {"Authorization": f"Bearer {secret}"}
            self._load(port, trivial_url, headers, workers * 4, workers)  # every worker connected
            one, _ = self._load(port, gate_url, headers, requests // 4, 1)
            many, gate_s = self._load(port, gate_url, headers, requests, concurrency)
            _, trivial_s = self._load(port, trivial_url, headers, requests, concurrency)
        finally:
            server.terminate()
            server.wait(timeout=30)
        return {
            "served_1_ms": _percentiles(one),
            "served_many_ms": _percentiles(many),
            "throughput_ratio": trivial_s / gate_s,
            "gate_per_s": requests / gate_s,
        }

    def _load(self, port: int, url: str, headers: dict[str, str], n: int, callers: int) -> tuple[list[float], float]:
        latencies: list[float] = []
        lock, left = threading.Lock(), [n]

        def caller() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            while True:
                with lock:
                    if left[0] == 0:
                        return
                    left[0] -= 1
                t = time.perf_counter()
                conn.request("GET", url, headers=headers)
                answer = conn.getresponse()
                answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"{url} answered {answer.status}")
                with lock:
                    latencies.append(time.perf_counter() - t)

        started = time.perf_counter()
        threads = [threading.Thread(target=caller) for _ in range(callers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return latencies, time.perf_counter() - started

    def _recompute(self, world: dict[str, Any], limit: int) -> dict[str, Any]:
        """The grid factor of the runs' region changes: every footprint of the project is stale
        and stored anew (a new digest, new figures, new ledger entries); time the recompute."""
        region = world["facility"].grid_region
        GridRegion.objects.filter(pk=region.pk).update(intensity_g_per_kwh=F("intensity_g_per_kwh") * 1.1)
        records = StoredFootprint.objects.filter(project=world["project"])
        total = records.count()
        sample = records.order_by("run_id").values("run_id")[: limit or total]
        # As the factor's signal would, without queueing the task: a sample when limited, its
        # rate gives the whole.
        records.filter(run_id__in=sample).update(stale=True)
        done, started = 0, time.monotonic()
        while batch := ledger.recompute_stale(500):
            done += batch
        elapsed = time.monotonic() - started
        return {"recomputed": done, "recompute_s": elapsed, "recompute_all_s": elapsed / max(done, 1) * total}

    def _table(self, rows: list[dict[str, Any]]) -> None:
        self.stdout.write(
            "\n| runs | build s | gate p50/p99 ms (in process) | gate SQL | gate p50/p99 ms at 1 / at N callers "
            "(gunicorn) | gate throughput ÷ trivial | budget status p50 ms | dashboard p50 ms (SQL) | "
            "project page p50 ms (SQL) | recompute all after a factor change |"
        )
        self.stdout.write("|---:|---:|---|---:|---|---:|---:|---|---|---|")
        for r in rows:
            self.stdout.write(
                f"| {r['runs']:,} | {r['built_s']:.0f} | {r['gate_ms'][0]:.1f} / {r['gate_ms'][1]:.1f} "
                f"| {r['gate_queries']} | {r['served_1_ms'][0]:.0f} / {r['served_1_ms'][1]:.0f} at 1; "
                f"{r['served_many_ms'][0]:.0f} / {r['served_many_ms'][1]:.0f} at N "
                f"| {r['throughput_ratio']:.2f} ({r['gate_per_s']:.0f}/s) | {r['budget_ms'][0]:.2f} "
                f"| {r['dashboard_ms'][0]:.0f} ({r['dashboard_queries']}) | {r['project_ms'][0]:.0f} "
                f"({r['project_queries']}) | {r['recompute_all_s']:.0f} s ({r['recomputed']:,} timed, "
                f"{r['recomputed'] / max(r['recompute_s'], 1e-9):.0f}/s) |"
            )
