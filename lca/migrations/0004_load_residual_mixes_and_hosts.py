from django.db import migrations

from lca.reference import load


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    load(lambda name: apps.get_model("lca", name))


class Migration(migrations.Migration):
    dependencies = [("lca", "0003_residual_mix_and_facility_host")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
