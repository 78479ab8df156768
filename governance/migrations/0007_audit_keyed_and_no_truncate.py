from django.db import migrations, models

# Row triggers do not fire on TRUNCATE: a statement trigger refuses it, except in the
# throwaway databases Django's test runner creates (test_<name>) once the test suite has
# set greenlight.allow_truncate for them, since the runner empties tables between tests. Events written before the chain was keyed keep their plain SHA-256
# hashes (keyed = false).
SQL = """
CREATE FUNCTION governance_audit_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_database() LIKE 'test\\_%'
       AND coalesce(current_setting('greenlight.allow_truncate', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'governance_auditevent is append-only: TRUNCATE refused';
END $$;
CREATE TRIGGER governance_auditevent_no_truncate BEFORE TRUNCATE ON governance_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION governance_audit_no_truncate();
"""
REVERSE = """
DROP TRIGGER governance_auditevent_no_truncate ON governance_auditevent;
DROP FUNCTION governance_audit_no_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [("governance", "0006_deployment_host_run_host")]
    operations = [
        migrations.RunSQL(SQL, REVERSE),
        # The append-only trigger refuses UPDATE, so the new column arrives false for existing rows
        # through its default, and the model's default marks every new event as keyed.
        migrations.AddField(
            model_name="auditevent",
            name="keyed",
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="keyed",
            field=models.BooleanField(
                default=True, help_text="HMAC-SHA256 with the chain key (False: plain SHA-256)."
            ),
        ),
    ]
