"""Pull mode at fleet scale: a run on --gpus GPUs for --hours, its dcgm-exporter energy
counters backfilled into a real Prometheus with Prometheus' own tool (`promtool tsdb
create-blocks-from openmetrics`), then the run's energy asked the way Greenlight asks it
(telemetry.promql.read_energy: four instant queries over the window, at once). Prints how long the
data took to build and the answer's time, p50 and worst of --repeat asks."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.bench import free_port
from telemetry.models import MetricsStore
from telemetry.promql import ENERGY, read_energy

WATTS = 600.0  # each GPU's steady draw: the answer's truth is gpus × WATTS × window


class Command(BaseCommand):
    help = "Times pull-mode energy for a large run from a backfilled Prometheus; prints the figures."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--gpus", type=int, default=1000)
        parser.add_argument("--hours", type=float, default=24.0)
        parser.add_argument("--scrape-s", type=int, default=60, help="Seconds between the backfilled samples.")
        parser.add_argument("--repeat", type=int, default=10)

    def handle(self, *args: Any, gpus: int, hours: float, scrape_s: int, repeat: int, **options: Any) -> None:
        if not (shutil.which("promtool") and shutil.which("prometheus")):
            raise CommandError(
                "Needs Debian's prometheus package (promtool and prometheus): ./bin/system-packages prometheus"
            )
        with tempfile.TemporaryDirectory(prefix="greenlight-pull-") as tmp:
            root = Path(tmp)
            end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
            start = end - timedelta(hours=hours)
            started = time.monotonic()
            samples = self._openmetrics(root / "dcgm.om", gpus, start, end, scrape_s)
            subprocess.run(
                [
                    "promtool",
                    "tsdb",
                    "create-blocks-from",
                    "openmetrics",
                    "-q",
                    str(root / "dcgm.om"),
                    str(root / "data"),
                ],
                check=True,
            )
            built_s = time.monotonic() - started
            self.stdout.write(
                f"{samples:,} samples ({gpus:,} GPUs × {hours:g} h every {scrape_s} s) built in {built_s:.0f} s"
            )
            port = free_port()
            server = subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={self._config(root)}",
                    f"--storage.tsdb.path={root / 'data'}",
                    "--storage.tsdb.retention.time=30d",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            store = MetricsStore.objects.create(
                name="bench Prometheus", url=f"http://127.0.0.1:{port}", timeout_s=60, scrape_interval_s=scrape_s
            )
            try:
                self._wait(port)
                times, reading = [], None
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    reading = read_energy(store, "bench/big-run", start, end)
                    times.append(time.perf_counter() - t0)
            finally:
                server.terminate()
                server.wait(timeout=60)
                store.readings.all().delete()
                store.delete()
        assert reading is not None
        truth_kwh = gpus * WATTS * (end - start).total_seconds() / 3.6e6
        self.stdout.write(
            f"answer                  {reading.status}: {reading.energy_kwh or 0:,.1f} kWh, "
            f"{len(reading.per_gpu):,} GPUs "
            f"(truth {truth_kwh:,.1f} kWh; coverage {reading.coverage:.0%})"
        )
        self.stdout.write(
            f"pull-mode answer p50    {statistics.median(times) * 1000:>8.0f} ms "
            f"(four instant queries at once, {repeat} asks)"
        )
        self.stdout.write(f"pull-mode answer worst  {max(times) * 1000:>8.0f} ms")

    def _openmetrics(self, path: Path, gpus: int, start: datetime, end: datetime, scrape_s: int) -> int:
        """Every GPU's energy counter rising at WATTS, time-major as promtool reads it."""
        count = 0
        first = int(start.timestamp())
        labels = [f'{{UUID="GPU-bench-{g:06d}",gpu="{g % 8}",namespace="bench",pod="big-run"}}' for g in range(gpus)]
        with path.open("w") as out:
            out.write(f"# TYPE {ENERGY} gauge\n")
            for t in range(first, int(end.timestamp()) + 1, scrape_s):
                mj = int((t - first) * WATTS * 1000)
                out.writelines(f"{ENERGY}{label} {mj + 10**9} {t}\n" for label in labels)
                count += gpus
            out.write("# EOF\n")
        return count

    def _config(self, root: Path) -> Path:
        path = root / "prometheus.yml"
        path.write_text("global: {scrape_interval: 1m}\nscrape_configs: []\n")
        return path

    def _wait(self, port: int) -> None:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise CommandError("Prometheus did not become ready")
