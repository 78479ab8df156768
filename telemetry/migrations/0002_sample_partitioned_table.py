from django.db import migrations

# Raw samples: range-partitioned by day (partitions are created ahead by a periodic
# task and on demand by ingest); the primary key makes a replayed sample a no-op;
# BRIN on time keeps the index tiny for an append-mostly table.
CREATE = """
CREATE TABLE telemetry_sample (
    device_id bigint NOT NULL,
    ts timestamptz NOT NULL,
    label varchar(200) NOT NULL DEFAULT '',
    energy_mj bigint,
    power_w double precision,
    power_limit_w double precision,
    gpu_util smallint,
    mem_util smallint,
    mem_used_mb integer,
    temp_c smallint,
    sm_clock_mhz integer,
    counter_reset boolean NOT NULL DEFAULT false,
    batch_id bigint NOT NULL,
    PRIMARY KEY (device_id, ts),
    CHECK (power_w IS NULL OR power_w >= 0),
    CHECK (energy_mj IS NULL OR energy_mj >= 0)
) PARTITION BY RANGE (ts);
CREATE INDEX telemetry_sample_ts_brin ON telemetry_sample USING brin (ts);
"""


class Migration(migrations.Migration):
    dependencies = [("telemetry", "0001_initial")]
    operations = [migrations.RunSQL(CREATE, "DROP TABLE telemetry_sample;")]
