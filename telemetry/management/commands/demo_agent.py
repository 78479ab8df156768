import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from telemetry.agent.__main__ import main as agent_main
from telemetry.services import create_enrolment_token


class Command(BaseCommand):
    help = "Runs the telemetry agent with simulated GPUs against the local server (for the demo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--server", default="http://127.0.0.1:8000")
        parser.add_argument("--gpus", type=int, default=4)
        parser.add_argument("--label", default="aurora/mini-1.0-eval")
        parser.add_argument("--delay", type=float, default=0.0, help="Wait this long first (the server starting).")

    def handle(self, *args: Any, server: str, gpus: int, label: str, delay: float, **options: Any) -> None:
        time.sleep(delay)
        _, token = create_enrolment_token(name="demo agent", label_namespaces=[label.split("/")[0]])
        spool = Path(settings.BASE_DIR) / ".pgdata" / "demo-agent.spool"
        spool.parent.mkdir(exist_ok=True)  # .pgdata/ is git-ignored; it exists only with the embedded server
        agent_main(
            [
                "--server",
                server,
                "--simulate",
                str(gpus),
                "--label",
                label,
                "--spool",
                str(spool),
                "--enrolment-token",
                token,
                "--batch-every",
                "5",
                "--status-every",
                "60",
            ]
        )
