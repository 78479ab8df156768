from django.db import migrations

# Role groups were named by their display labels: a renamed label would have dropped the
# permission. They are named by the roles' stable values now.
LABEL_TO_VALUE = {
    "Sustainability officer": "sustainability_officer",
    "ML lead": "ml_lead",
    "Reviewer": "reviewer",
    "Auditor": "auditor",
    "Pipeline (service account)": "pipeline",
}


def by_value(apps, schema_editor):  # type: ignore[no-untyped-def]
    Group = apps.get_model("auth", "Group")
    for label, value in LABEL_TO_VALUE.items():
        if not Group.objects.filter(name=value).exists():
            Group.objects.filter(name=label).update(name=value)


def by_label(apps, schema_editor):  # type: ignore[no-untyped-def]
    Group = apps.get_model("auth", "Group")
    for label, value in LABEL_TO_VALUE.items():
        Group.objects.filter(name=value).update(name=label)


class Migration(migrations.Migration):
    dependencies = [("governance", "0010_release_through_definer_function"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(by_value, by_label)]
