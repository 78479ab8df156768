from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from telemetry.services import create_enrolment_token


class Command(BaseCommand):
    help = "Creates a token with which GPU hosts enrol their telemetry agents; prints it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="What it is for, e.g. 'cluster-a'.")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        _, raw = create_enrolment_token(name=name)
        self.stdout.write(raw)
