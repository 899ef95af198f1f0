"""The audit trail is append-only in the database itself: UPDATE and DELETE are refused.

(TRUNCATE is left alone: test runs empty tables between transactional tests with it, and only
the table owner may truncate. `verify_audit` proves the chain whatever happened to it.)
"""

from django.db import migrations

APPEND_ONLY = """
CREATE FUNCTION compliance_auditevent_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'compliance_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER compliance_auditevent_append_only
    BEFORE UPDATE OR DELETE ON compliance_auditevent
    FOR EACH ROW EXECUTE FUNCTION compliance_auditevent_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS compliance_auditevent_append_only ON compliance_auditevent;
DROP FUNCTION IF EXISTS compliance_auditevent_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_notes_and_audit")]

    operations = [migrations.RunSQL(APPEND_ONLY, reverse_sql=DROP)]
