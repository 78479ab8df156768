"""Failed logins are throttled per user and per address, and lockouts are audited."""

import pytest
from django.test import Client

from governance.models import AuditEvent
from tests.factories import UserFactory

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def lockout(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5


def attempt(client: Client, username: str, password: str, ip: str = "198.51.100.7"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_five_wrong_passwords_lock_the_account_even_with_the_right_one(db, lockout):
    user = UserFactory(username="victim")
    user.set_password(PASSWORD)
    user.save()
    client = Client()
    for _ in range(4):
        assert attempt(client, "victim", "wrong").status_code == 200  # asked again
    assert attempt(client, "victim", "wrong").status_code == 429  # the fifth failure locks
    locked = attempt(client, "victim", PASSWORD)
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    # from another address too: the lockout is per user name as well
    assert attempt(Client(), "victim", PASSWORD, ip="203.0.113.9").status_code == 429
    event = AuditEvent.objects.filter(action="login.locked_out").first()  # one per refused attempt
    assert event is not None and event.payload["username"] == "victim"


def test_one_address_guessing_many_users_is_locked_out(db, lockout):
    client = Client()
    for n in range(5):
        attempt(client, f"user{n}", "wrong", ip="192.0.2.50")
    UserFactory(username="someone").set_password(PASSWORD)
    assert attempt(client, "someone", PASSWORD, ip="192.0.2.50").status_code == 429


def test_the_admin_login_is_throttled_too(db, lockout):
    client = Client()
    for _ in range(5):
        client.post("/admin/login/", {"username": "admin", "password": "x"}, REMOTE_ADDR="192.0.2.77")
    assert (
        client.post("/admin/login/", {"username": "admin", "password": "x"}, REMOTE_ADDR="192.0.2.77").status_code
        == 429
    )
