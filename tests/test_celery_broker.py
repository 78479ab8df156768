"""Tasks through the real broker and a real worker (CI sets CELERY_BROKER_URL)."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app, ping
from telemetry.agent.backends import ManualClock, SimulatedBackend
from telemetry.models import IngestBatch, MinuteRollup
from telemetry.tasks import roll_up
from tests.telemetry.helpers import enrolled_client, envelope, post, simulated_samples

pytestmark = pytest.mark.skipif(not settings.CELERY_BROKER_URL, reason="CELERY_BROKER_URL is unset")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def worker_queue() -> Iterator[str]:
    """A real worker consuming a queue of its own, so stray workers cannot answer for it.
    It uses the test database, so tasks that touch rows see the test's committed data."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    db = connection.settings_dict
    host = db["HOST"] or db["OPTIONS"].get("host", "")
    url = f"postgres://{db['USER']}@/{db['NAME']}?host={quote(host)}&port={db['PORT'] or 5432}"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue, "--loglevel=WARNING"],
        cwd=ROOT,
        # The webhook test's receiver listens on loopback, which outbound requests may reach only when allowed.
        env={**os.environ, "DATABASE_URL": url, "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8"},
    )
    try:
        yield queue
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_reliability_defaults():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_always_eager is False


def test_a_task_runs_on_a_real_worker(worker_queue):
    result = ping.apply_async(queue=worker_queue)
    assert result.get(timeout=60) == "pong"


def test_telemetry_rollup_runs_on_a_real_worker(worker_queue, transactional_db, settings):
    settings.TELEMETRY_ROLLUP_INLINE = False
    clock = ManualClock(time.time() - 600)
    backend = SimulatedBackend(1, seed=31, clock=clock)
    client, _ = enrolled_client()
    post(client, envelope(backend, 1, simulated_samples(backend, clock, 120)))
    assert MinuteRollup.objects.count() == 0
    assert roll_up.apply_async(queue=worker_queue).get(timeout=60) == 1
    assert MinuteRollup.objects.filter(method="counter").exists()
    assert IngestBatch.objects.get().rolled_up
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE telemetry_sample")


def test_webhook_delivery_runs_on_a_real_worker(worker_queue, transactional_db):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from governance.models import Webhook, WebhookDelivery
    from governance.services.notifications import new_secret
    from governance.tasks import deliver_webhook
    from tests.factories import ProjectFactory

    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(self.headers["webhook-signature"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = Webhook.objects.create(
        project=ProjectFactory(), url=f"http://127.0.0.1:{server.server_port}/", secret=new_secret()
    )
    delivery = WebhookDelivery.objects.create(webhook=hook, event="ping", payload={"event": "ping"})
    assert deliver_webhook.apply_async(args=[str(delivery.pk)], queue=worker_queue).get(timeout=60) == "delivered"
    assert received and received[0].startswith("v1,")
    server.shutdown()
