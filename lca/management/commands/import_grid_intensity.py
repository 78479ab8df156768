from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lca.importers import import_grid_file
from lca.models import Basis


class Command(BaseCommand):
    help = "Imports an annual or hourly grid-intensity CSV (Ember, Our World in Data, Electricity Maps)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--basis",
            choices=Basis.values,
            default=Basis.LIFECYCLE,
            help="Which Electricity Maps column to read, and the basis recorded (default lifecycle).",
        )
        parser.add_argument("--source", help="Source text recorded with each figure (default: the format and file).")

    def handle(self, *args: Any, file: Path, basis: str, source: str | None, **options: Any) -> None:
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        try:
            report = import_grid_file(file, basis=basis, source=source)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Format: {report.format}")
        self.stdout.write(
            f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
            f"rejected {len(report.rejected)}"
        )
        for line, reason in report.rejected:
            self.stdout.write(f"  line {line}: rejected — {reason}")
