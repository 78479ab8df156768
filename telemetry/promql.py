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
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from urllib.parse import urlencode

from django.utils import timezone

from config.metrics import PULL_QUERIES, PULL_QUERY_SECONDS
from telemetry.models import Attribution, MetricsStore, StoreReading
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


ACTIVE = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"  # per MIG instance


def queries(label: str, start: datetime, end: datetime) -> dict[str, str]:
    """Per GPU (UUID): the energy counter's increase over the window, its samples, and the
    label's share of the GPU. dcgm-exporter repeats a whole GPU's counter on each of its MIG
    instances (and on each pod time-slicing it), so the repeats of one GPU are collapsed
    with max, and the label gets the part its series' engine activity is of all of the
    GPU's series' (`active_share`), else the part its series are of them (`series_share`):
    the same apportioning as Remote-Write's, averaged over the window."""
    seconds = max(int((end - start).total_seconds()), 1)

    def mine(function: str, metric: str = ENERGY) -> str:
        return " or ".join(f"{function}({metric}{s}[{seconds}s])" for s in selectors(label))

    return {
        "energy_mj": f"max by (UUID) ({mine('increase')})",
        "samples": f"max by (UUID) ({mine('count_over_time')})",
        "active_share": f"sum by (UUID) ({mine('avg_over_time', ACTIVE)})"
        f" / on (UUID) sum by (UUID) (avg_over_time({ACTIVE}[{seconds}s]))",
        "series_share": f"count by (UUID) ({mine('last_over_time')})"
        f" / on (UUID) count by (UUID) (last_over_time({ENERGY}[{seconds}s]))",
    }


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
        with PULL_QUERY_SECONDS.time(), ThreadPoolExecutor(max_workers=len(asked)) as pool:
            # The four queries at once: the store answers them in parallel.
            energy_mj, samples, active, series = pool.map(lambda query: _ask(store, query, end), asked.values())
    except StoreUnavailable as exc:
        reading.status, reading.error = exc.status, str(exc)
    else:
        if not energy_mj:
            reading.status = StoreReading.Status.EMPTY
            reading.error = f"no {ENERGY} series for {' or '.join(selectors(label))} in the window"
        else:
            reading.status = StoreReading.Status.OK
            shares = {uuid: _share(active.get(uuid), series.get(uuid, 1.0)) for uuid in energy_mj}
            reading.per_gpu = {
                uuid: {
                    "energy_kwh": mj * shares[uuid][0] / 3.6e9,
                    "metered_kwh": mj / 3.6e9,
                    "share": shares[uuid][0],
                    "attribution": shares[uuid][1],
                    "samples": int(samples.get(uuid, 0)),
                }
                for uuid, mj in sorted(energy_mj.items())
            }
            reading.energy_kwh = sum(gpu["energy_kwh"] for gpu in reading.per_gpu.values())
            expected = max((end - start).total_seconds() / store.scrape_interval_s, 1.0) * len(energy_mj)
            reading.coverage = min(1.0, sum(samples.values()) / expected)
    reading.save()
    PULL_QUERIES.labels(reading.status).inc()
    return reading


def _share(active: float | None, series: float) -> tuple[float, str]:
    """The label's part of one GPU: by engine activity where the GPU's series report it
    and some is busy, else by its count of the GPU's series (1 for a GPU of its own)."""
    if active is not None and active == active and active > 0:  # NaN: all idle (0 / 0)
        return min(active, 1.0), Attribution.ENGINE_ACTIVE if active < 1 else "whole"
    return series, Attribution.EQUAL if series < 1 else "whole"
