from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from lca.reference import load


class Command(BaseCommand):
    help = "Re-loads the shipped reference data (grids, suppliers, facilities, hardware); idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            counts = load(lambda name: apps.get_model("lca", name))
        for what, n in counts.items():
            self.stdout.write(f"{n:>5} {what}")
