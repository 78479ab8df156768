from typing import Any

from django.core.management.base import BaseCommand, CommandError

from governance.services.audit import verify_chain


class Command(BaseCommand):
    help = "Verifies the hash chain of the audit trail and names the first broken link."

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain()
        if report.broken_at is not None:
            raise CommandError(
                f"Audit chain broken at event #{report.broken_at}: {report.reason} "
                f"({report.events - 1} events before it verified)."
            )
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {report.events} events, head {report.head}."))
