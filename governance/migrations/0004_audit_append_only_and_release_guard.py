from django.db import migrations

# The audit trail is append-only: PostgreSQL itself refuses to change or remove a row.
# A version becomes `released` only inside the release service, which sets
# greenlight.release_gate for its transaction; any other path (admin, shell, SQL) fails.
SQL = """
CREATE FUNCTION governance_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'governance_auditevent is append-only: % refused', TG_OP;
END $$;
CREATE TRIGGER governance_auditevent_append_only BEFORE UPDATE OR DELETE ON governance_auditevent
    FOR EACH ROW EXECUTE FUNCTION governance_audit_append_only();

CREATE FUNCTION governance_release_only_through_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'released' AND OLD.status IS DISTINCT FROM 'released'
       AND coalesce(current_setting('greenlight.release_gate', true), '') <> 'open' THEN
        RAISE EXCEPTION 'model version % can only be released through the release gate', NEW.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER governance_modelversion_release_guard BEFORE UPDATE ON governance_modelversion
    FOR EACH ROW EXECUTE FUNCTION governance_release_only_through_gate();

CREATE FUNCTION governance_no_released_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'released' THEN
        RAISE EXCEPTION 'a model version cannot be created as released';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER governance_modelversion_no_released_insert BEFORE INSERT ON governance_modelversion
    FOR EACH ROW EXECUTE FUNCTION governance_no_released_insert();
"""

REVERSE = """
DROP TRIGGER governance_auditevent_append_only ON governance_auditevent;
DROP FUNCTION governance_audit_append_only();
DROP TRIGGER governance_modelversion_release_guard ON governance_modelversion;
DROP FUNCTION governance_release_only_through_gate();
DROP TRIGGER governance_modelversion_no_released_insert ON governance_modelversion;
DROP FUNCTION governance_no_released_insert();
"""


class Migration(migrations.Migration):
    dependencies = [("governance", "0003_runs_budgets_reviews_audit")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
