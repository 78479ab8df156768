"""Schema-driven fuzzing: schemathesis generates requests for every operation of the
live OpenAPI schema (the app itself, in-process) with a full-scope API token, an agent
key and a CodeCarbon key, and fails on any 5xx, any status the schema does not
document, or any answer that does not match the schema. Bounded to fit CI: FUZZ_EXAMPLES cases per operation (at least 1,000 in all)."""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.conftest import token_client
from tests.factories import ModelVersionFactory, RegisteredModelFactory

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
CALLS: list[str] = []

schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def api_schema(db):
    from config.wsgi import application

    # As Django's test client does: requests served in-process must not close the
    # connection that holds the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def credentials(team, reference_data):
    """Something to find for every kind of object, and a key for every kind of caller."""
    version = ModelVersionFactory(registered_model=RegisteredModelFactory(project=team.project))
    _, token = token_client(team.owner)
    from telemetry.services import create_enrolment_token, enrol_agent

    _, enrolment = create_enrolment_token(name="fuzz", label_namespaces=["*"])
    _, agent_key = enrol_agent(enrolment_token=enrolment, hostname="fuzz-agent")
    _, enrolment = create_enrolment_token(name="fuzz-cc", label_namespaces=["*"], kind="codecarbon")
    _, codecarbon_key = enrol_agent(enrolment_token=enrolment, hostname="fuzz-codecarbon")
    return {"token": token, "agent_key": agent_key, "codecarbon_key": codecarbon_key, "version": version}


def headers_for(path: str, keys: dict) -> dict[str, str]:
    if path.startswith("/api/v1/telemetry/batches"):
        return {"Authorization": f"Agent {keys['agent_key']}"}
    if path.startswith("/api/v1/codecarbon"):
        return {"x-api-token": keys["codecarbon_key"]}
    return {"Authorization": f"Bearer {keys['token']}"}


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_operation_answers_5xx_or_off_schema(case, credentials):
    CALLS.append(f"{case.method} {case.path}")
    case.call_and_validate(
        headers=headers_for(case.path, credentials),
        checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
    )


def test_the_fuzzing_ran_at_least_a_thousand_cases_across_every_operation():
    if not CALLS:
        pytest.skip("the fuzzing test did not run in this session")
    assert len(CALLS) >= 1000, len(CALLS)
    assert len(set(CALLS)) >= 50  # operations reached
