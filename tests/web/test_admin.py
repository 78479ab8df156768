import pytest
from django.urls import reverse

from tests.factories import ModelVersionFactory


@pytest.mark.parametrize("model", ["project", "membership", "registeredmodel", "modelversion", "apitoken"])
def test_admin_lists_every_model(admin_client, team, model):
    assert admin_client.get(reverse(f"admin:governance_{model}_changelist")).status_code == 200


def test_admin_cannot_change_a_version_status(admin_client, team):
    version = ModelVersionFactory()
    html = admin_client.get(reverse("admin:governance_modelversion_change", args=[version.pk])).content.decode()
    assert 'name="status"' not in html
