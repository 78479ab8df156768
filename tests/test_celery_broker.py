"""Tasks through the real broker and a real worker (CI sets CELERY_BROKER_URL)."""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from config.celery import app, ping

pytestmark = pytest.mark.skipif(not settings.CELERY_BROKER_URL, reason="CELERY_BROKER_URL is unset")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def worker_queue() -> Iterator[str]:
    """A real worker consuming a queue of its own, so stray workers cannot answer for it."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue, "--loglevel=WARNING"],
        cwd=ROOT,
        env=os.environ.copy(),
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
