from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.demo import seed_registry


class Command(BaseCommand):
    help = "Loads the demo data (idempotent) and prints the demo logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Seed even with DEBUG off.")

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        if not settings.DEBUG and not force:
            raise CommandError("The demo has known passwords: it seeds only with DEBUG on (or --force).")
        result = seed_registry()
        self.stdout.write(self.style.SUCCESS("Demo data ready. Log in at http://127.0.0.1:8000/ as:"))
        for username, password, role in result.logins:
            self.stdout.write(f"  {username:<10} {password:<16} {role}")
        self.stdout.write(f"Demo pipeline API token (all scopes): {result.token}")
        self.stdout.write("  e.g. curl -H 'Authorization: Bearer <token>' http://127.0.0.1:8000/api/v1/model-versions/")
        self.stdout.write(f"Agent enrolment token: {result.enrolment_token}")
        self.stdout.write("  a simulated GPU host streams to the GPUs page; start more with")
        self.stdout.write(
            "  python -m telemetry.agent --simulate 2 --enrolment-token <token> --label aurora/my-job "
            "--spool /tmp/agent.spool   (its agents write labels of the 'aurora' project only)"
        )
