"""Greenlight's own metrics, in Prometheus' text format at /metrics (prometheus_client).

Counters are incremented where things happen; gauges that describe the state of the
database or the broker are read when Prometheus scrapes. Under gunicorn, set
PROMETHEUS_MULTIPROC_DIR (an empty directory) so that every worker's counters are
summed; config/gunicorn.conf.py removes a dead worker's files.

Access: a scrape must come from METRICS_ALLOWED_NETWORKS (loopback by default) or carry
`Authorization: Bearer <METRICS_TOKEN>`; anything else is a 403."""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

INGEST_SAMPLES = Counter(
    "greenlight_ingest_samples",
    "Telemetry samples received, by source (agent, remote_write) and outcome (accepted, duplicated, quarantined).",
    ["source", "outcome"],
)
INGEST_BATCHES = Counter("greenlight_ingest_batches", "Telemetry batches received, by source.", ["source"])
QUARANTINED = Counter("greenlight_quarantined_samples", "Samples quarantined, by reason.", ["reason"])
REMOTE_WRITE_SERIES = Counter(
    "greenlight_remote_write_series",
    "Remote-Write series received, by outcome (accepted: a metric Greenlight reads; refused: quarantined; ignored).",
    ["outcome"],
)
GATE_ANSWERS = Counter(
    "greenlight_release_gate_answers",
    "Release-gate answers, by decision and whether the stored answer served it.",
    ["decision", "source"],
)
PULL_QUERIES = Counter(
    "greenlight_pull_queries",
    "Energy asked of a metrics store (pull mode), by outcome (ok, empty, down, timeout).",
    ["status"],
)
PULL_QUERY_SECONDS = Histogram(
    "greenlight_pull_query_seconds",
    "Time a metrics store took to answer (both queries).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REPORT_RENDERS = Counter("greenlight_report_renders", "Audit-report renders, by outcome (done, failed).", ["outcome"])
REPORT_RENDER_SECONDS = Histogram(
    "greenlight_report_render_seconds", "Time to render an audit report's PDF.", buckets=(0.5, 1, 2, 5, 10, 30, 60)
)


def reason_class(reason: str) -> str:
    """A quarantine reason without the particulars (a label's seal note, an agent's
    namespaces), so that the metric's label values stay few."""
    return reason.split(":", 1)[0].split(" (", 1)[0]


class StateCollector(Collector):
    """Gauges read from the database and the broker at each scrape."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from governance.models import StoredFootprint  # apps are loaded by the time anyone scrapes
        from telemetry.models import IngestBatch

        yield GaugeMetricFamily(
            "greenlight_footprints_stale",
            "Run footprints waiting to be recomputed after an input changed.",
            value=StoredFootprint.objects.filter(stale=True).count(),
        )
        yield GaugeMetricFamily(
            "greenlight_rollup_batches_pending",
            "Telemetry batches stored but not yet rolled up into minutes.",
            value=IngestBatch.objects.filter(rolled_up=False).count(),
        )
        depth = celery_queue_depth()
        if depth is not None:
            yield GaugeMetricFamily(
                "greenlight_celery_queue_depth", "Tasks waiting in Greenlight's Celery queue.", value=depth
            )


def celery_queue_depth() -> int | None:
    """Messages waiting in the task queue (Redis or RabbitMQ), or None without a broker."""
    if not settings.CELERY_BROKER_URL:
        return None
    from config.celery import app

    try:
        with app.connection_for_read() as conn:
            channel: Any = conn.default_channel  # kombu's channels declare queues; its stubs do not say so
            declared = channel.queue_declare(queue=settings.CELERY_TASK_DEFAULT_QUEUE, passive=True)
            return int(declared.message_count)
    except Exception as exc:
        if getattr(exc, "code", None) == 404:  # RabbitMQ: no queue yet, so no task waits
            return 0
        return None  # a broker that is down is its own alert; the scrape goes on


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    registry.register(StateCollector())
    return registry


_SCRAPED: CollectorRegistry | None = None


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(header.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net) for net in settings.METRICS_ALLOWED_NETWORKS)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    global _SCRAPED
    if not _allowed(request):
        return HttpResponse(
            "Metrics are served to METRICS_ALLOWED_NETWORKS or with Authorization: Bearer <METRICS_TOKEN>.\n",
            status=403,
            content_type="text/plain",
        )
    if _SCRAPED is None:
        _SCRAPED = _registry()
    return HttpResponse(generate_latest(_SCRAPED), content_type=CONTENT_TYPE_LATEST)


def count_ingest(source: str, result: Any) -> None:
    """Counts one stored batch (an ingest.IngestResult)."""
    INGEST_BATCHES.labels(source).inc()
    INGEST_SAMPLES.labels(source, "accepted").inc(result.accepted)
    INGEST_SAMPLES.labels(source, "duplicated").inc(result.duplicated)
    INGEST_SAMPLES.labels(source, "quarantined").inc(result.quarantined)
    for reason, n in result.reasons.items():
        QUARANTINED.labels(reason_class(reason)).inc(n)
