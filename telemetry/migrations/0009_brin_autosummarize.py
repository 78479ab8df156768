# The BRIN index on sample time summarises each new block range as soon as it fills
# (autosummarize), instead of waiting for the next vacuum: recent samples stay indexed.
# A partitioned index takes no ALTER ... SET, so it is made again; partitions, existing
# and future, inherit the option.
from django.db import migrations

FORWARD = """
DROP INDEX IF EXISTS telemetry_sample_ts_brin;
CREATE INDEX telemetry_sample_ts_brin ON telemetry_sample USING brin (ts) WITH (autosummarize = on);
"""
BACKWARD = """
DROP INDEX IF EXISTS telemetry_sample_ts_brin;
CREATE INDEX telemetry_sample_ts_brin ON telemetry_sample USING brin (ts);
"""


class Migration(migrations.Migration):
    dependencies = [("telemetry", "0008_rollup_first_and_last_sample")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
