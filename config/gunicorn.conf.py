"""gunicorn settings Greenlight needs: `gunicorn -c config/gunicorn.conf.py config.wsgi`.
With PROMETHEUS_MULTIPROC_DIR set (an empty directory, emptied before each start),
/metrics sums every worker's counters; a worker that exits leaves its files, which
this hook marks dead so that its gauges stop counting."""

import os


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
