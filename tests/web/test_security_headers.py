"""Headers and session rules every page gets."""

import time

from django.test import Client

from config.security import StaffSessionTimeout
from tests.factories import PASSWORD, UserFactory


def test_pages_get_a_strict_content_security_policy(db, client):
    policy = client.get("/login/").headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    docs = client.get("/api/v1/docs/").headers["Content-Security-Policy"]
    assert "unsafe-inline" in docs  # only the third-party API docs, which show the public schema


def test_a_staff_session_ends_after_idling(db, settings):
    settings.STAFF_SESSION_IDLE_S = 60
    staff = UserFactory(username="ops", is_staff=True)
    client = Client()
    client.login(username="ops", password=PASSWORD)
    assert client.get("/dashboard/").status_code == 200
    session = client.session
    session[StaffSessionTimeout.KEY] = time.time() - 120
    session.save()
    assert client.get("/dashboard/").status_code == 302  # back to the login page
    assert staff.pk  # the account itself is untouched


def test_api_use_is_rate_limited_per_user(team, settings):
    from rest_framework.throttling import UserRateThrottle

    from tests.conftest import token_client

    UserRateThrottle.THROTTLE_RATES = {"user": "3/min"}
    try:
        client, _ = token_client(team.pipeline)
        answers = [client.get("/api/v1/projects/").status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
    finally:
        UserRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]


def test_a_nul_in_any_query_parameter_is_a_400(db, admin_client):
    assert admin_client.get("/reference/grid-regions/?q=FR%00A").status_code == 400
    assert admin_client.get("/telemetry/chart/?label=a%00b").status_code == 400
    answer = admin_client.get("/api/v1/grid-regions/?code=F%00RA")
    assert answer.status_code == 400 and "Null characters" in answer.json()["message"]
