import pytest
from django.urls import reverse

from tests.factories import ModelVersionFactory


@pytest.mark.parametrize(
    "model",
    [
        "governance_project",
        "governance_membership",
        "governance_registeredmodel",
        "governance_modelversion",
        "governance_apitoken",
        "lca_gridregion",
        "lca_hourlyintensity",
        "lca_supplier",
        "lca_facility",
        "lca_hardwaremodel",
    ],
)
def test_admin_lists_every_model(admin_client, team, model):
    assert admin_client.get(reverse(f"admin:{model}_changelist")).status_code == 200


def test_admin_cannot_change_a_version_status(admin_client, team):
    version = ModelVersionFactory()
    html = admin_client.get(reverse("admin:governance_modelversion_change", args=[version.pk])).content.decode()
    assert 'name="status"' not in html
