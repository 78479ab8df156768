"""Pages and lists read stored figures: their SQL query count does not grow with the
number of runs or versions."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import client_for
from tests.factories import ModelVersionFactory
from tests.workflow import REVIEW_TEXT, measured_run


def _queries(client, url):
    client.get(url)  # the first read after a change stores the version's figures again
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured.captured_queries)


def _grow(world, n):
    _, _, version, pipeline = world
    for i in range(n):
        measured_run(pipeline, version, f"sweep-{n}-{i}", telemetry=False)
        ModelVersionFactory(registered_model=version.registered_model, version=f"2.{n}.{i}")


@pytest.mark.parametrize(
    "page",
    [
        "/dashboard/",
        "/projects/{project}/",
        "/projects/{project}/models/{model}/",
        "/versions/{version}/",
        "/reviews/{review}/",
        "/reviews/",
        "/telemetry/",
        "/api/v1/projects/",
        "/api/v1/model-versions/",
        "/api/v1/runs/",
        "/api/v1/budgets/",
        "/api/v1/reviews/",
        "/api/v1/model-versions/{version}/release-gate/",
        "/api/v1/model-versions/{version}/footprint/",
        "/versions/{version}/disclosures/",
        "/api/v1/model-versions/{version}/disclosures/",
    ],
)
def test_a_page_costs_the_same_queries_with_five_times_the_runs_and_versions(world, page, client):
    team, _, version, _ = world
    from governance.services import budgets, reviews

    budgets.create_budget(
        project=team.project,
        actor=team.officer,
        name="Year",
        period_start="2000-01-01",
        period_end="2100-12-31",
        limit_kwh=1e9,
    )
    review = reviews.create_review(version=version, author=team.ml_lead, **REVIEW_TEXT)
    url = page.format(
        project=team.project.slug, model=version.registered_model.pk, version=version.pk, review=review.pk
    )
    client.force_login(team.ml_lead)
    reader = client if not url.startswith("/api/") else client_for(team.ml_lead)
    _grow(world, 1)
    few = _queries(reader, url)
    _grow(world, 5)
    many = _queries(reader, url)
    assert many == few, f"{url}: {few} queries with 1 run, {many} with 6"
