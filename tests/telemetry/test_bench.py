import os
import re
from io import StringIO
from urllib.parse import urlsplit, urlunsplit

from django.core.management import call_command
from django.db import connection

from telemetry.models import Agent, MetricsStore, Sample
from tests.prometheus import needs_prometheus


def test_bench_ingest_prints_both_rates_their_ratio_and_cleans_up(transactional_db, monkeypatch):
    # gunicorn runs in its own process: point it at the test database.
    url = urlsplit(os.environ["DATABASE_URL"])
    monkeypatch.setenv("DATABASE_URL", urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"])))
    out = StringIO()
    call_command("bench_ingest", batches=8, batch_size=16, rounds=2, remote_write=True, stdout=out)
    figures = dict(
        re.findall(
            r"^(HTTP ingest|raw idempotent COPY|ratio HTTP / COPY|Remote-Write ingest)\s+([\d,.]+)",
            out.getvalue(),
            re.M,
        )
    )
    assert float(figures["Remote-Write ingest"].replace(",", "")) > 0
    assert float(figures["HTTP ingest"].replace(",", "")) > 0
    assert float(figures["raw idempotent COPY"].replace(",", "")) > 0
    assert float(figures["ratio HTTP / COPY"]) > 0
    assert "batch latency p99" in out.getvalue()
    assert not Agent.objects.exists() and not Sample.objects.exists()


@needs_prometheus
def test_bench_pull_backfills_a_real_prometheus_and_gets_the_truth_back(db):
    out = StringIO()
    call_command("bench_pull", gpus=20, hours=1, scrape_s=60, repeat=2, stdout=out)
    text = out.getvalue()
    answer = re.search(r"answer\s+ok: ([\d,.]+) kWh, 20 GPUs \(truth ([\d,.]+) kWh; coverage 100%\)", text)
    assert answer and answer.group(1) == answer.group(2), text
    assert re.search(r"pull-mode answer p50\s+\d+ ms", text)
    assert not MetricsStore.objects.exists()
