"""Sends sealed batches: exponential backoff with full jitter on network errors
and 5xx, Retry-After on 429/503, and no retry on other 4xx (the batch is
quarantined locally with the reason). A batch the server keeps failing on with
5xx is quarantined after a bounded number of tries (see core.Agent), so one bad
batch cannot block the spool; network errors are retried for as long as it takes."""

from __future__ import annotations

import json
import logging
import random
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger("greenlight.agent")

Verdict = Literal["sent", "retry", "refused"]


@dataclass(frozen=True)
class Answer:
    verdict: Verdict
    detail: str
    retry_after_s: float | None = None
    server_error: bool = False  # the server answered 5xx (other than 503): it may be this batch


def post_json(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (http/https URL)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _retry_after(headers: dict[str, str]) -> float | None:
    value = {k.lower(): v for k, v in headers.items()}.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


class Sender:
    def __init__(self, server: str, key: str, *, timeout_s: float = 10.0) -> None:
        self.url = server.rstrip("/") + "/api/v1/telemetry/batches/"
        self.key = key
        self.timeout_s = timeout_s

    def send(self, body: bytes) -> Answer:
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Authorization": f"Agent {self.key}",
        }
        try:
            status, response_headers, text = post_json(self.url, body, headers, self.timeout_s)
        except (OSError, urllib.error.URLError) as exc:  # refused, reset, timed out, DNS
            return Answer("retry", f"network: {exc}")
        if 200 <= status < 300:
            return Answer("sent", text.decode(errors="replace"))
        if status in (429, 503):
            return Answer("retry", f"HTTP {status}", _retry_after(response_headers))
        if status >= 500:
            return Answer("retry", f"HTTP {status}: {text[:300].decode(errors='replace')}", server_error=True)
        return Answer("refused", f"HTTP {status}: {text[:500].decode(errors='replace')}")


def backoff_s(attempt: int, *, base_s: float = 0.5, cap_s: float = 60.0, rng: random.Random | None = None) -> float:
    """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): uniform in [0, min(cap, base·2^n)]."""
    return (rng or random).uniform(0, min(cap_s, base_s * 2**attempt))


def enrol(server: str, enrolment_token: str, hostname: str, timeout_s: float = 10.0) -> tuple[str, str]:
    """Exchanges an enrolment token for this agent's own id and key."""
    body = json.dumps({"enrolment_token": enrolment_token, "hostname": hostname}).encode()
    status, _, text = post_json(
        server.rstrip("/") + "/api/v1/telemetry/agents/", body, {"Content-Type": "application/json"}, timeout_s
    )
    if status != 201:
        raise RuntimeError(f"Enrolment refused (HTTP {status}): {text[:300].decode(errors='replace')}")
    answer = json.loads(text)
    return str(answer["agent_id"]), str(answer["key"])
