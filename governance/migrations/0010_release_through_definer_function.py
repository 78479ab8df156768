from django.db import migrations

# The release guard, made unfakeable by the application's own database role: `released`
# changes (either way) only inside governance_release_version(), a SECURITY DEFINER
# function owned by the schema owner, which sets the guard flag as that owner. A
# session of the application role cannot open the guard itself (the trigger checks the
# current user is the table's owner), cannot un-release, and calls the function only
# right after appending the release's audit event (keyed: a forged one breaks the chain).
SQL = """
CREATE OR REPLACE FUNCTION governance_release_only_through_gate() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    owner name := (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID);
BEGIN
    IF (NEW.status = 'released') IS DISTINCT FROM (OLD.status = 'released')
       AND (coalesce(current_setting('greenlight.release_gate', true), '') <> 'open' OR current_user <> owner) THEN
        RAISE EXCEPTION 'model version % can only be released through the release gate, and never un-released',
            NEW.id;
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION governance_release_version(version_id bigint, released timestamptz) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    last governance_auditevent%ROWTYPE;
BEGIN
    SELECT * INTO last FROM governance_auditevent ORDER BY id DESC LIMIT 1;
    IF last.action IS DISTINCT FROM 'release.released' OR last.object_type <> 'ModelVersion'
       OR last.object_id <> version_id::text THEN
        RAISE EXCEPTION 'model version % is released only right after its release is audited', version_id;
    END IF;
    PERFORM set_config('greenlight.release_gate', 'open', true);
    UPDATE governance_modelversion SET status = 'released', released_at = released WHERE id = version_id;
    PERFORM set_config('greenlight.release_gate', '', true);
END $$;
REVOKE ALL ON FUNCTION governance_release_version(bigint, timestamptz) FROM PUBLIC;
"""

REVERSE = """
DROP FUNCTION governance_release_version(bigint, timestamptz);
"""


class Migration(migrations.Migration):
    dependencies = [("governance", "0009_list_ordering")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
