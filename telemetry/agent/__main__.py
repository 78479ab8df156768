"""python -m telemetry.agent — stream GPU power and energy to Greenlight."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from telemetry.agent.backends import Backend, NvmlBackend, SimulatedBackend, WithHost, host_energy
from telemetry.agent.core import Agent, LabelSource, default_spool_path
from telemetry.agent.dcgm_exporter import Exporter, Layout, serve
from telemetry.agent.sender import Sender, enrol
from telemetry.agent.spool import Spool


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m telemetry.agent", description=__doc__)
    p.add_argument("--server", default=os.environ.get("GREENLIGHT_URL", "http://127.0.0.1:8000"))
    p.add_argument(
        "--enrolment-token",
        default=os.environ.get("GREENLIGHT_ENROLMENT_TOKEN"),
        help="Used once, to obtain this agent's own key (kept in the spool).",
    )
    p.add_argument("--label", default=os.environ.get("GREENLIGHT_LABEL", ""), help="Job label for the samples.")
    p.add_argument(
        "--label-file",
        type=Path,
        default=os.environ.get("GREENLIGHT_LABEL_FILE"),
        help="A file holding the current job label; re-read whenever it changes.",
    )
    p.add_argument("--spool", type=Path, default=default_spool_path(), help="The durable local queue (SQLite).")
    p.add_argument("--spool-max-samples", type=int, default=5_000_000)
    p.add_argument("--interval", type=float, default=1.0, help="Seconds between readings.")
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--batch-every", type=float, default=10.0, help="Seal a batch at least this often (s).")
    p.add_argument("--simulate", type=int, metavar="N", help="N simulated GPUs instead of NVML.")
    p.add_argument("--seed", type=int, default=1, help="Seed of the simulated traces.")
    p.add_argument(
        "--no-host-energy",
        action="store_true",
        help="Do not read the host's CPU and memory energy (RAPL); the server then estimates the host's share.",
    )
    p.add_argument(
        "--serve-metrics",
        type=int,
        metavar="PORT",
        help="With --simulate: serve the GPUs as dcgm-exporter would, on this port, for Prometheus to scrape.",
    )
    p.add_argument(
        "--mig", type=int, default=0, metavar="N", help="With --serve-metrics: split GPU 0 into N MIG instances."
    )
    p.add_argument(
        "--mig-jobs", default="", help="Comma-separated labels (namespace/pod) of the jobs on GPU 0's MIG instances."
    )
    p.add_argument("--once", action="store_true", help="Print one reading of every GPU and exit.")
    p.add_argument("--status-every", type=float, default=10.0)
    p.add_argument("--drain-timeout", type=float, default=10.0, help="On stop, keep sending this long (s).")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    backend: Backend
    if args.simulate:
        backend = SimulatedBackend(args.simulate, seed=args.seed, host=not args.no_host_energy)
    else:
        backend = NvmlBackend()
        host = None if args.no_host_energy else host_energy()
        if host is not None:
            backend = WithHost(backend, host)
    if args.serve_metrics:
        if not isinstance(backend, SimulatedBackend):
            print(
                "--serve-metrics serves simulated GPUs (--simulate N); on a real host run dcgm-exporter.",
                file=sys.stderr,
            )
            return 2
        layout = Layout(label=args.label, mig=args.mig, mig_jobs=[j for j in args.mig_jobs.split(",") if j])
        server = serve(Exporter(backend, layout).scrape, args.serve_metrics, host="0.0.0.0")  # noqa: S104 (for Prometheus)
        print(f"serving dcgm-exporter metrics on :{args.serve_metrics}/metrics", flush=True)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        server.shutdown()
        return 0
    if args.once:
        readings, errors = backend.read()
        print(
            json.dumps(
                {
                    "devices": [d.__dict__ for d in backend.devices()],
                    "readings": [r.as_dict() for r in readings],
                    "errors": errors,
                },
                indent=2,
            )
        )
        return 0

    spool = Spool(args.spool, max_samples=args.spool_max_samples)
    key = spool.get("agent_key")
    if key is None:
        if not args.enrolment_token:
            print(
                "This agent is not enrolled: give --enrolment-token (or GREENLIGHT_ENROLMENT_TOKEN).", file=sys.stderr
            )
            return 2
        agent_id, key = enrol(args.server, args.enrolment_token, socket.gethostname())
        spool.set("agent_id", agent_id)
        spool.set("agent_key", key)
        logging.info("enrolled as agent %s", agent_id)

    agent = Agent(
        backend=backend,
        spool=spool,
        sender=Sender(args.server, key),
        label=LabelSource(args.label, args.label_file),
        interval_s=args.interval,
        batch_size=args.batch_size,
        batch_every_s=args.batch_every,
    )
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: agent.stop.set())
    agent.run(status_every_s=args.status_every, drain_timeout_s=args.drain_timeout)
    print(agent.status_line(), flush=True)
    spool.close()
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
