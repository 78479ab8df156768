"""The tamper-evident audit trail: every state change appends one event whose hash
covers its content and the previous event's hash: HMAC-SHA256 over canonical JSON,
keyed with a secret kept outside the database, so that whoever can write the table
cannot recompute the chain. Verification also checks the chain against anchors kept
outside the table: the heads that audit reports recorded, heads an auditor copied
from the statement page or the API. (The id sequence cannot serve: a rolled-back
transaction leaves a gap at the tail too.)"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from governance.models import AuditEvent, AuditReport

GENESIS = "0" * 64
CHAIN_LOCK = 7302  # advisory lock: appends are serialised, so the chain never forks


def canonical(data: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same content always gives the same bytes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def event_hash(event: AuditEvent, key: str | None = None) -> str:
    """The event's hash: keyed (HMAC-SHA256) for every event written since keys were
    introduced, plain SHA-256 for the ones before (`keyed` False)."""
    body = {
        "prev_hash": event.prev_hash,
        "actor": event.actor,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "project_id": event.project_id,
        "payload": event.payload,
        "created_at": event.created_at.isoformat(),
    }
    if not event.keyed:
        return hashlib.sha256(canonical(body)).hexdigest()
    secret = (key or settings.AUDIT_CHAIN_KEY).encode()
    return hmac.new(secret, canonical(body), hashlib.sha256).hexdigest()


def _matches(event: AuditEvent) -> bool:
    keys = [settings.AUDIT_CHAIN_KEY, *settings.AUDIT_CHAIN_OLD_KEYS] if event.keyed else [None]
    return any(hmac.compare_digest(event_hash(event, key), event.hash) for key in keys)


def record(
    *, actor: Any, action: str, obj: Any, payload: dict[str, Any] | None = None, project_id: int | None = None
) -> AuditEvent:
    """Appends an event. Call inside the transaction of the change it records."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK])
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    event = AuditEvent(
        actor=getattr(actor, "username", None) or str(actor or "system"),
        action=action,
        object_type=type(obj).__name__,
        object_id=str(obj.pk),
        project_id=project_id,
        # Round-trip through JSON so the stored payload hashes exactly as it will be read back.
        payload=json.loads(canonical(payload or {})),
        created_at=timezone.now(),
        prev_hash=last or GENESIS,
    )
    event.hash = event_hash(event)
    event.save()
    return event


@dataclass(frozen=True)
class ChainReport:
    events: int
    head: str
    head_id: int | None
    broken_at: int | None
    reason: str


def verify_chain(*, anchors: list[tuple[int, str]] = ()) -> ChainReport:  # type: ignore[assignment]
    """Re-computes every hash in order and names the first event that does not match;
    then checks the chain against what lies outside the table: `anchors` (event id and
    hash an auditor kept) and every head an audit report recorded."""
    previous, previous_id = GENESIS, None
    count = 0
    seen: dict[str, int] = {}
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        count += 1
        if event.prev_hash != previous:
            return ChainReport(
                count, previous, previous_id, event.pk, "its prev_hash is not the hash of the event before it"
            )
        if not _matches(event):
            return ChainReport(count, previous, previous_id, event.pk, "its content does not match its hash")
        previous, previous_id = event.hash, event.pk
        seen[event.hash] = event.pk
    for anchor_id, anchor_hash in anchors:
        if seen.get(anchor_hash) != anchor_id:
            return ChainReport(
                count,
                previous,
                previous_id,
                anchor_id,
                f"the head #{anchor_id} {anchor_hash[:16]}… kept outside "
                "the database is not in the chain: events were removed or rewritten",
            )
    for report in AuditReport.objects.exclude(chain_head="").order_by("pk").only("pk", "chain_head"):
        if report.chain_head not in seen and report.chain_head != GENESIS:
            return ChainReport(
                count,
                previous,
                previous_id,
                None,
                f"audit report {report.pk} recorded the head "
                f"{report.chain_head[:16]}…, which is no longer in the chain: events were removed or rewritten",
            )
    return ChainReport(count, previous, previous_id, None, "intact")


def head() -> str:
    return AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS


@dataclass(frozen=True)
class Head:
    event_id: int | None
    hash: str
    events: int
    at: Any


def published_head() -> Head:
    """The chain's head as auditors copy it: its sequence number, hash and the count."""
    last = AuditEvent.objects.order_by("-id").values("id", "hash", "created_at").first()
    if last is None:
        return Head(None, GENESIS, 0, None)
    return Head(last["id"], last["hash"], AuditEvent.objects.count(), last["created_at"])
