"""The application's database role cannot wipe or rewrite the audit trail, nor open the
release guard's trigger: what the owner can do, it cannot."""

from io import StringIO

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

ROLE = "greenlight_test_app"


@pytest.fixture
def app_connection(transactional_db):
    with connection.cursor() as cursor:
        cursor.execute(f"DROP ROLE IF EXISTS {ROLE}")  # a run that died before its cleanup
        cursor.execute(f"CREATE ROLE {ROLE} LOGIN")
    call_command("grant_app_role", ROLE, "--apply", stdout=StringIO())
    settings = connection.settings_dict
    conn = psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        dbname=settings["NAME"],
        user=ROLE,
        autocommit=True,
    )
    yield conn
    conn.close()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP OWNED BY {ROLE}")
        cursor.execute(f"DROP ROLE {ROLE}")


@pytest.mark.parametrize(
    "sql",
    [
        "TRUNCATE governance_auditevent",
        "DELETE FROM governance_auditevent",
        "UPDATE governance_auditevent SET actor = 'mallory'",
        "ALTER TABLE governance_auditevent DISABLE TRIGGER governance_auditevent_append_only",
        "ALTER TABLE governance_modelversion DISABLE TRIGGER governance_modelversion_release_guard",
        "ALTER SEQUENCE governance_auditevent_id_seq RESTART",
    ],
)
def test_the_app_role_cannot_wipe_or_rewrite_the_audit_trail(app_connection, sql):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_connection.execute(sql)


def test_the_app_role_can_do_its_work(app_connection):
    assert app_connection.execute("SELECT count(*) FROM governance_auditevent").fetchone()[0] >= 0
    app_connection.execute("SELECT count(*) FROM governance_modelversion")
    app_connection.execute("CREATE TEMP TABLE t (x int)")  # telemetry ingest stages in a temporary table


def test_the_app_role_cannot_open_the_release_guard_nor_unrelease(app_connection, world):
    _, _, version, _ = world
    refused = pytest.raises(psycopg.errors.RaiseException, match="only be released through the release gate")
    with refused, app_connection.transaction():
        app_connection.execute("SET LOCAL greenlight.release_gate = 'open'")
        app_connection.execute("UPDATE governance_modelversion SET status = 'released' WHERE id = %s", [version.pk])
    with pytest.raises(psycopg.errors.RaiseException, match="only right after its release is audited"):
        app_connection.execute("SELECT governance_release_version(%s, now())", [version.pk])
