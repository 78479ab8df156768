from typing import Any

from django.core.management.base import BaseCommand, CommandError

from lca.validation import run


class Command(BaseCommand):
    help = "Reproduces published footprint cases through the estimate service; fails if any is out of tolerance."

    def handle(self, *args: Any, **options: Any) -> None:
        outcomes = run()
        self.stdout.write(
            f"{'case':<16} {'scope':<12} {'figure':<20} {'published':>12} {'computed':>14} {'unit':<7} {'error':>8}"
        )
        for o in outcomes:
            mark = "ok" if o.passed else f"FAIL (tolerance {o.tolerance:.0%})"
            self.stdout.write(
                f"{o.case:<16} {o.scope:<12} {o.label:<20} {o.published:>12,.2f} {o.computed:>14,.2f} {o.unit:<7} "
                f"{o.relative_error:>7.2%}  {mark}"
            )
        failed = [o for o in outcomes if not o.passed]
        if failed:
            raise CommandError(f"{len(failed)} of {len(outcomes)} published figures are outside their tolerance.")
        self.stdout.write(self.style.SUCCESS(f"All {len(outcomes)} published figures reproduced."))
