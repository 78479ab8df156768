"""Pull mode: energy for a label and window asked of the fleet's own Prometheus-compatible
store with PromQL, so that its raw series never leave it. The store computes
`increase()` over the window (counter resets are its business); Greenlight records the
answer — query, store URL, time of asking, coverage — as a StoreReading, and says why
when there is none: a store that is down, one that does not answer in time, or a label
with no series is a reading with that status, never a silent zero."""

from __future__ import annotations

import base64
import json
import os
import socket
import urllib.error
import urllib.request
from datetime import datetime
from urllib.parse import urlencode

from django.utils import timezone

from config.metrics import PULL_QUERIES, PULL_QUERY_SECONDS
from telemetry.models import MetricsStore, StoreReading
from telemetry.remote_write import RUN_LABEL

ENERGY = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"  # mJ since the driver loaded, a counter


class StoreUnavailable(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


def selectors(label: str) -> list[str]:
    """The series of a run: its pods' `greenlight_run` label (a job of many pods), or
    dcgm-exporter's pod mapping for a `namespace/pod` label (see remote_write.run_label)."""
    namespace, _, pod = label.partition("/")
    return [
        f"{{{RUN_LABEL}={json.dumps(label)}}}",
        f"{{namespace={json.dumps(namespace)}, pod={json.dumps(pod or namespace)}}}",
    ]


def queries(label: str, start: datetime, end: datetime) -> dict[str, str]:
    """Per GPU (UUID): the energy counter's increase over the window, and its samples.
    dcgm-exporter repeats a whole GPU's counter on each of its MIG instances, so the
    instances of one GPU are collapsed with max, not summed."""
    seconds = max(int((end - start).total_seconds()), 1)

    def per_gpu(function: str) -> str:
        either = " or ".join(f"{function}({ENERGY}{s}[{seconds}s])" for s in selectors(label))
        return f"max by (UUID) ({either})"

    return {"energy_mj": per_gpu("increase"), "samples": per_gpu("count_over_time")}


def _ask(store: MetricsStore, query: str, at: datetime) -> dict[str, float]:
    """An instant query at `at`: {UUID: value}."""
    url = f"{store.url.rstrip('/')}/api/v1/query?{urlencode({'query': query, 'time': f'{at.timestamp():.3f}'})}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 (staff-configured URL)
    secret = os.environ.get(store.secret_env, "") if store.secret_env else ""
    if store.auth == MetricsStore.Auth.BEARER:
        request.add_header("Authorization", f"Bearer {secret}")
    elif store.auth == MetricsStore.Auth.BASIC:
        token = base64.b64encode(f"{store.username}:{secret}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=store.timeout_s) as response:  # noqa: S310
            answer = json.load(response)
    except TimeoutError as exc:
        raise StoreUnavailable(StoreReading.Status.TIMEOUT, f"no answer within {store.timeout_s} s") from exc
    except urllib.error.HTTPError as exc:
        raise StoreUnavailable(StoreReading.Status.DOWN, f"HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise StoreUnavailable(StoreReading.Status.TIMEOUT, f"no answer within {store.timeout_s} s") from exc
        raise StoreUnavailable(StoreReading.Status.DOWN, f"unreachable: {reason}") from exc
    if answer.get("status") != "success":
        raise StoreUnavailable(StoreReading.Status.DOWN, f"query refused: {answer.get('error', answer)}")
    return {r["metric"].get("UUID", "?"): float(r["value"][1]) for r in answer["data"]["result"]}


def read_energy(store: MetricsStore, label: str, start: datetime, end: datetime) -> StoreReading:
    """Asks the store for the label's energy over [start, end) and records the answer."""
    asked = queries(label, start, end)
    reading = StoreReading(
        store=store,
        label=label,
        start=start,
        end=end,
        url=store.url,
        query="\n".join(asked.values()),
        asked_at=timezone.now(),
    )
    try:
        with PULL_QUERY_SECONDS.time():
            energy_mj, samples = _ask(store, asked["energy_mj"], end), _ask(store, asked["samples"], end)
    except StoreUnavailable as exc:
        reading.status, reading.error = exc.status, str(exc)
    else:
        if not energy_mj:
            reading.status = StoreReading.Status.EMPTY
            reading.error = f"no {ENERGY} series for {' or '.join(selectors(label))} in the window"
        else:
            reading.status = StoreReading.Status.OK
            reading.per_gpu = {
                uuid: {"energy_kwh": mj / 3.6e9, "samples": int(samples.get(uuid, 0))}
                for uuid, mj in sorted(energy_mj.items())
            }
            reading.energy_kwh = sum(mj for mj in energy_mj.values()) / 3.6e9
            expected = max((end - start).total_seconds() / store.scrape_interval_s, 1.0) * len(energy_mj)
            reading.coverage = min(1.0, sum(samples.values()) / expected)
    reading.save()
    PULL_QUERIES.labels(reading.status).inc()
    return reading
