from io import StringIO

from django.core.management import call_command

from governance.models import ApiToken, AuditReport, ImpactReview, ModelVersion, Project
from governance.services import disclosure, ledger


def test_seed_demo_is_idempotent_and_prints_logins(db, settings):
    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=out)
    assert "alice" in out.getvalue() and "glt_" in out.getvalue()
    assert Project.objects.count() == 2
    assert ModelVersion.objects.filter(registered_model__project__slug="aurora").count() == 7
    from_mlflow = ModelVersion.objects.get(registered_model__name="aurora-chat", version="1.2")  # its webhook
    assert from_mlflow.source_run_id and from_mlflow.base_version.version == "1.1"
    assert from_mlflow.reviews.get().state == "draft"
    mini = ModelVersion.objects.get(registered_model__name="aurora-mini")
    energy = disclosure.disclosures(mini, ledger.version_snapshot(mini))["eu_documentation"]["training_energy"]
    assert energy["ai_office"] == "N/A" and "refused" in energy["reason"]  # Jean Zay's answer, cited
    released = AuditReport.objects.get(
        review__model_version__registered_model__name="aurora-chat", review__state="approved"
    )
    assert set(released.export["exports"]) == {"cyclonedx", "spdx", "impact-manifest", "model-card"}
    lora = ModelVersion.objects.get(registered_model__name="aurora-chat", version="1.1")
    assert [str(v) for v in lora.lineage()] == ["aurora-chat 1.0", "aurora 1.0"]
    assert ApiToken.objects.active().filter(name="demo pipeline").count() == 1
    chat = ModelVersion.objects.get(registered_model__name="aurora-chat", version="1.1")
    assert chat.status == "released"  # through the gate: approved review, measured run, budgets within limits
    assert ImpactReview.objects.filter(state="submitted").count() == 1
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)
    assert "Audit chain intact" in out.getvalue()


def test_seed_demo_refuses_without_debug(db, settings):
    import pytest
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")


def _start(**env):
    """Starts Django in a fresh interpreter, as `manage.py` would, with these settings."""
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_startup_stops_without_a_secret_key_in_production():
    started = _start(DEBUG="0", AUDIT_CHAIN_KEY="k" * 50, ALLOWED_HOSTS="greenlight.example")
    assert started.returncode != 0 and "SECRET_KEY must be set when DEBUG is off." in started.stderr
    assert "started" in _start(DEBUG="1").stdout


def test_startup_stops_on_a_database_other_than_postgresql():
    started = _start(DEBUG="1", DATABASE_URL="sqlite:///greenlight.db")
    assert started.returncode != 0 and "DATABASE_URL must point at PostgreSQL" in started.stderr
