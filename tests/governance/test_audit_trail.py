"""The audit trail resists being wiped, cut short or rewritten, and says so."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import InternalError, ProgrammingError

from governance.models import AuditEvent
from governance.services import audit
from tests.workflow import approved_review, measured_run


def verify(*expect: str) -> str:
    out = StringIO()
    call_command("verify_audit_chain", *[f"--expect={e}" for e in expect], stdout=out)
    return out.getvalue()


def without_trigger(sql: str, params: list | None = None) -> None:
    """What a table owner could do: disable the row trigger and write."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE governance_auditevent DISABLE TRIGGER governance_auditevent_append_only")
        cursor.execute(sql, params or [])
        cursor.execute("ALTER TABLE governance_auditevent ENABLE TRIGGER governance_auditevent_append_only")


def test_truncate_is_refused(world):
    _, _, version, pipeline = world
    measured_run(pipeline, version, "ft-truncate")
    refused = pytest.raises((InternalError, ProgrammingError), match="append-only")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL greenlight.allow_truncate = 'off'")  # as on any database but a test one
        cursor.execute("TRUNCATE governance_auditevent")
    assert AuditEvent.objects.exists()


def test_a_deleted_tail_is_named_against_a_head_kept_outside(world, client):
    _, _, version, pipeline = world
    measured_run(pipeline, version, "ft-tail")
    kept = client.get("/api/v1/audit-chain/").json()  # public, like the statement page
    assert kept["hash"] == audit.head() and kept["events"] == AuditEvent.objects.count()
    anchor = f"{kept['event_id']}:{kept['hash']}"
    assert "intact" in verify(anchor)
    without_trigger("DELETE FROM governance_auditevent WHERE id > %s", [kept["event_id"] - 3])
    assert "intact" in verify()  # the chain alone cannot tell that its tail is gone
    with pytest.raises(CommandError, match=rf"head #{kept['event_id']} .* is not in the chain"):
        verify(anchor)


def test_a_head_recorded_by_an_audit_report_is_an_anchor_too(world):
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-report-anchor")
    approved_review(team, second_lead, version)  # generates a report, which records the head
    last = AuditEvent.objects.order_by("-id").first()
    without_trigger("DELETE FROM governance_auditevent WHERE id >= %s", [last.pk - 1])
    with pytest.raises(CommandError, match=r"audit report .* recorded the head"):
        verify()


def test_a_rewritten_event_with_a_recomputed_plain_chain_is_named(world):
    _, _, version, pipeline = world
    measured_run(pipeline, version, "ft-rewrite")
    events = list(AuditEvent.objects.order_by("id"))
    victim = events[1]
    # Rewrite the event and recompute every hash after it with plain SHA-256, as anyone with
    # write access could: without the key the keyed hashes cannot be reproduced.
    victim.payload = {"label": "forged"}
    previous = events[0].hash
    for event in events[1:]:
        event.prev_hash = previous
        event.keyed = False  # all an attacker can do without the key
        event.hash = audit.event_hash(event)
        without_trigger(
            "UPDATE governance_auditevent SET payload = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [json.dumps(event.payload), event.prev_hash, event.hash, event.pk],
        )
        previous = event.hash
    with pytest.raises(CommandError, match=f"broken at event #{victim.pk}: its content does not match its hash"):
        verify()


def test_the_statement_page_publishes_the_head(world, client):
    _, _, version, pipeline = world
    measured_run(pipeline, version, "ft-statement")
    head = AuditEvent.objects.order_by("-id").first()
    html = client.get("/statement/").content.decode()
    assert head.hash in html and f"--expect {head.pk}:{head.hash}" in html


def test_new_events_are_keyed_and_an_old_key_still_verifies(world, settings):
    _, _, version, pipeline = world
    measured_run(pipeline, version, "ft-keys")
    assert AuditEvent.objects.filter(keyed=True).count() == AuditEvent.objects.count()
    settings.AUDIT_CHAIN_OLD_KEYS = [settings.AUDIT_CHAIN_KEY]
    settings.AUDIT_CHAIN_KEY = "a-rotated-key"
    assert "intact" in verify()
    settings.AUDIT_CHAIN_OLD_KEYS = []
    with pytest.raises(CommandError, match="does not match its hash"):
        verify()
