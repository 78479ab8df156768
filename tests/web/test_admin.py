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


def test_admin_edits_join_the_audit_trail(admin_client, team):
    from governance.models import AuditEvent
    from lca.models import Facility

    facility = Facility.objects.get(slug="jean-zay")
    url = reverse("admin:lca_facility_change", args=[facility.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(pue=1.3, supplier=facility.supplier_id, grid_region=facility.grid_region_id)
    answer = admin_client.post(url, data)
    assert answer.status_code == 302, answer.content[:500]
    event = AuditEvent.objects.get(action="admin.changed")
    assert event.object_id == f"lca.facility:{facility.pk}" and "pue" in event.payload["change"].lower()


def test_agents_and_enrolment_tokens_are_revoked_in_the_admin_and_audited(admin_client, db):
    from governance.models import AuditEvent
    from telemetry.models import Agent
    from telemetry.services import create_enrolment_token, enrol_agent

    _, token = create_enrolment_token(name="rack", label_namespaces=["*"])
    agent, _ = enrol_agent(enrolment_token=token, hostname="gpu-7")
    answer = admin_client.post(
        reverse("admin:telemetry_agent_changelist"), {"action": "revoke", "_selected_action": [agent.pk]}
    )
    assert answer.status_code == 302
    assert Agent.objects.get(pk=agent.pk).revoked_at is not None
    event = AuditEvent.objects.get(action="admin.changed", object_id=f"telemetry.agent:{agent.pk}")
    assert "Revoked" in event.payload["change"]
    assert admin_client.get(reverse("admin:telemetry_enrolmenttoken_changelist")).status_code == 200
