import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("greenlight")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="greenlight.ping")
def ping() -> str:
    """Answers 'pong': used by `manage.py check_worker` to prove a worker is consuming."""
    return "pong"
