from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.services.audit import verify_chain


def anchor(text: str) -> tuple[int, str]:
    event_id, _, digest = text.partition(":")
    if not event_id.isdigit() or len(digest) != 64:
        raise ValueError(text)
    return int(event_id), digest


class Command(BaseCommand):
    help = (
        "Verifies the keyed hash chain of the audit trail against the heads recorded by audit reports and any "
        "heads an auditor kept (--expect ID:HASH); names the first broken link."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--expect",
            type=anchor,
            action="append",
            default=[],
            metavar="ID:HASH",
            help="A head copied earlier from the statement page or GET /api/v1/audit-chain/ (repeatable).",
        )

    def handle(self, *args: Any, expect: list[tuple[int, str]], **options: Any) -> None:
        report = verify_chain(anchors=expect)
        if report.broken_at is not None or report.reason != "intact":
            where = f" at event #{report.broken_at}" if report.broken_at is not None else ""
            raise CommandError(f"Audit chain broken{where}: {report.reason} ({report.events} events read).")
        self.stdout.write(
            self.style.SUCCESS(f"Audit chain intact: {report.events} events, head #{report.head_id} {report.head}.")
        )
