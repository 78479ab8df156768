"""The tamper-evident audit trail: every state change appends one event whose hash
covers its content and the previous event's hash (SHA-256 over canonical JSON)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from governance.models import AuditEvent

GENESIS = "0" * 64
CHAIN_LOCK = 7302  # advisory lock: appends are serialised, so the chain never forks


def canonical(data: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same content always gives the same bytes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def event_hash(event: AuditEvent) -> str:
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
    return hashlib.sha256(canonical(body)).hexdigest()


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
    broken_at: int | None
    reason: str


def verify_chain() -> ChainReport:
    """Re-computes every hash in order; names the first event that does not match."""
    previous = GENESIS
    count = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        count += 1
        if event.prev_hash != previous:
            return ChainReport(count, previous, event.pk, "its prev_hash is not the hash of the event before it")
        if event_hash(event) != event.hash:
            return ChainReport(count, previous, event.pk, "its content does not match its hash")
        previous = event.hash
    return ChainReport(count, previous, None, "intact")


def head() -> str:
    return AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS
