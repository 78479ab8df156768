from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.celery import ping


class Command(BaseCommand):
    help = "Sends a ping task through CELERY_BROKER_URL and waits for a worker to answer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float, default=10.0)

    def handle(self, *args: Any, timeout: float, **options: Any) -> None:
        if not settings.CELERY_BROKER_URL:
            self.stdout.write("CELERY_BROKER_URL is unset: tasks run eagerly in this process.")
            return
        try:
            answer = ping.delay().get(timeout=timeout)
        except Exception as exc:
            raise CommandError(f"No worker answered within {timeout:.0f} s: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"Worker answered: {answer}"))
