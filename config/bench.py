"""What the benchmarks share: a gunicorn serving this project with production settings
on a free local port, so that figures include the real request path."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time

from django.conf import settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gunicorn(port: int, workers: int, **env: str) -> subprocess.Popen[bytes]:
    """Starts gunicorn (DEBUG off) and waits until it accepts connections."""
    environment = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "AUDIT_CHAIN_KEY": os.environ.get("AUDIT_CHAIN_KEY") or secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{port}"]
    server = subprocess.Popen([*command, "--log-level", "warning"], cwd=settings.BASE_DIR, env=environment)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("gunicorn did not start")
