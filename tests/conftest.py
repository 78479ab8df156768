"""Personas for every access rule: the project's owner, members with each role,
an outsider, and a pipeline token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from governance.models import Project, Role, TokenScope
from governance.services import registry, tokens
from tests.factories import ProjectFactory, UserFactory


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """The test database may be emptied between tests (TRUNCATE), which the audit table
    refuses everywhere else: see governance migration 0007."""
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        name = connection.settings_dict["NAME"]
        cursor.execute(f"ALTER DATABASE \"{name}\" SET greenlight.allow_truncate = 'on'")
        cursor.execute("SET greenlight.allow_truncate = 'on'")


@dataclass
class Team:
    project: Project
    owner: Any
    ml_lead: Any
    officer: Any
    reviewer: Any
    auditor: Any
    pipeline: Any
    outsider: Any


@pytest.fixture
def team(db: None) -> Team:
    owner = UserFactory(username="owner")
    project = ProjectFactory(owner=owner, slug="aurora", name="Aurora")
    people = {
        "ml_lead": (UserFactory(username="mllead"), Role.ML_LEAD),
        "officer": (UserFactory(username="officer"), Role.SUSTAINABILITY_OFFICER),
        "reviewer": (UserFactory(username="reviewer"), Role.REVIEWER),
        "auditor": (UserFactory(username="auditor"), Role.AUDITOR),
        "pipeline": (UserFactory(username="pipeline-bot"), Role.PIPELINE),
    }
    for user, role in people.values():
        registry.set_membership(project=project, actor=owner, user=user, roles=[role])
    return Team(
        project=project,
        owner=owner,
        outsider=UserFactory(username="outsider"),
        **{key: user for key, (user, _) in people.items()},
    )


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def token_client(user: Any, scopes: list[str] | None = None) -> tuple[APIClient, str]:
    _, secret = tokens.issue_token(user=user, name="ci", scopes=scopes or list(TokenScope.values))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client, secret


@pytest.fixture
def api() -> Any:
    return client_for


@pytest.fixture(autouse=True)
def no_login_lockout(settings: Any) -> None:
    """The test client's login() gives django-axes no request; tests of the lockout itself
    turn it back on (tests/web/test_login_throttling.py)."""
    settings.AXES_ENABLED = False


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    # The production hasher is slow on purpose; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def reference_data(transactional_db: None) -> None:
    """Transactional tests flush every table afterwards, the migrated reference data
    included; tests that need it after such a test load it again."""
    from django.core.management import call_command

    from lca.models import GridRegion

    if not GridRegion.objects.exists():
        call_command("load_reference_data", verbosity=0)


@pytest.fixture(autouse=True)
def forget_partitions() -> None:
    # Tests roll their transactions back, partitions included; a test that runs
    # on-commit callbacks would otherwise leave the in-process cache believing in them.
    from telemetry import partitions

    partitions._known.clear()


@pytest.fixture
def eager_tasks() -> Any:
    """Runs Celery tasks in-process for this test even when a broker is configured
    (CI), for tests about what a task does rather than about the broker."""
    from config.celery import app

    # Settings come from Django with the CELERY_ namespace, so the key carries it too.
    before = app.conf.CELERY_TASK_ALWAYS_EAGER
    app.conf.CELERY_TASK_ALWAYS_EAGER = True
    yield
    app.conf.CELERY_TASK_ALWAYS_EAGER = before
