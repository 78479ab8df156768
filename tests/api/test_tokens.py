from rest_framework.test import APIClient

from governance.models import ApiToken, AuditEvent, TokenScope
from governance.services import tokens
from tests.conftest import token_client


def test_token_is_stored_only_as_a_hash(team):
    token, secret = tokens.issue_token(user=team.pipeline, name="ci", scopes=[TokenScope.REGISTRY_READ])
    stored = ApiToken.objects.get(pk=token.pk)
    assert secret not in (stored.key_hash, stored.prefix)
    assert secret.split("_", 2)[2] not in stored.key_hash


def test_token_reads_the_projects_of_its_user(team):
    client, _ = token_client(team.pipeline, [TokenScope.REGISTRY_READ])
    response = client.get("/api/v1/projects/")
    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert ApiToken.objects.get(user=team.pipeline).last_used_at is not None


def test_read_scope_cannot_write(team):
    client, _ = token_client(team.pipeline, [TokenScope.REGISTRY_READ])
    response = client.post("/api/v1/models/", {"project": team.project.pk, "name": "x"}, format="json")
    assert response.status_code == 403
    assert "registry:write" in response.json()["message"]


def test_revoked_token_is_refused(team):
    client, _ = token_client(team.pipeline)
    token = ApiToken.objects.get(user=team.pipeline)
    tokens.revoke_token(token=token, actor=team.pipeline)
    response = client.get("/api/v1/projects/")
    assert response.status_code == 401
    assert response.json()["message"] == "Unknown or revoked API token."
    trail = AuditEvent.objects.filter(object_type="ApiToken", object_id=str(token.pk))
    assert list(trail.values_list("action", flat=True)) == ["token.issued", "token.revoked"]


def test_forged_token_is_refused(team):
    _, secret = token_client(team.pipeline)
    forged = secret[:-4] + "AAAA"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert client.get("/api/v1/projects/").status_code == 401


def test_outsider_token_sees_nothing(team):
    client, _ = token_client(team.outsider)
    assert client.get("/api/v1/projects/").json()["count"] == 0
    assert client.get(f"/api/v1/projects/{team.project.pk}/").status_code == 404


def test_session_user_needs_csrf_for_writes(team):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username="owner", password="correct-horse-battery")
    response = client.post("/api/v1/models/", {"project": team.project.pk, "name": "x"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]
    assert client.get("/api/v1/projects/").status_code == 200


def test_every_token_endpoint_checks_its_scope_in_one_place(team):
    from config.api import READ_SCOPE

    assert READ_SCOPE == TokenScope.REGISTRY_READ  # config may not import governance: keep them equal
    release_only, _ = token_client(team.pipeline, scopes=[TokenScope.RELEASE])
    estimate = release_only.post("/api/v1/estimates/", {"energy_kwh": 1, "grid_region": "FRA"}, format="json")
    assert estimate.status_code == 403 and "lacks the scope 'registry:read'" in estimate.json()["message"]
    for path in ("/api/v1/telemetry/devices/", "/api/v1/telemetry/quarantine/", "/api/v1/hardware/"):
        assert release_only.get(path).status_code == 403, path
    reader, _ = token_client(team.pipeline, scopes=[TokenScope.REGISTRY_READ])
    assert reader.post("/api/v1/estimates/", {"energy_kwh": 1, "grid_region": "FRA"}, format="json").status_code == 200


def test_reads_with_a_token_record_its_last_use_at_most_once_a_minute(team):
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client, _ = token_client(team.pipeline, [TokenScope.REGISTRY_READ])
    client.get("/api/v1/projects/")
    first = ApiToken.objects.get(user=team.pipeline).last_used_at
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/projects/").status_code == 200
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]  # a read does not write
    assert ApiToken.objects.get(user=team.pipeline).last_used_at == first
    ApiToken.objects.filter(user=team.pipeline).update(last_used_at=first - timedelta(minutes=2))
    client.get("/api/v1/projects/")
    assert ApiToken.objects.get(user=team.pipeline).last_used_at > first
