from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from telemetry.models import ANY_LABEL, KeyKind
from telemetry.services import create_enrolment_token


class Command(BaseCommand):
    help = (
        "Creates a token with which GPU hosts enrol their telemetry agents; prints it once. Its agents may "
        "write only labels of the given namespaces (a project's slug: labels 'slug/…')."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="What it is for, e.g. 'cluster-a'.")
        parser.add_argument(
            "--namespace", action="append", default=[], help="A project slug whose labels its agents write (repeat)."
        )
        parser.add_argument(
            "--any-label", action="store_true", help="Let its agents write any project's labels (a shared fleet)."
        )
        parser.add_argument("--uses", type=int, default=1, help="How many hosts it may enrol (default 1).")
        parser.add_argument(
            "--codecarbon", action="store_true", help="A key for CodeCarbon clients (CodeCarbon runs only)."
        )

    def handle(
        self, *args: Any, name: str, namespace: list[str], any_label: bool, codecarbon: bool, uses: int, **options: Any
    ) -> None:
        if not namespace and not any_label:
            raise CommandError("Say which labels its agents may write: --namespace PROJECT_SLUG, or --any-label.")
        try:
            _, raw = create_enrolment_token(
                name=name,
                label_namespaces=[ANY_LABEL] if any_label else namespace,
                kind=KeyKind.CODECARBON if codecarbon else KeyKind.AGENT,
                max_uses=uses,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(raw)
        self.stderr.write(f"It enrols {uses} agent{'s' if uses != 1 else ''}, then no more.")
