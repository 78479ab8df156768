from tests.factories import PASSWORD
from tests.workflow import approved_review, measured_run


def test_dashboard_shows_trend_budgets_waiting_reviews_and_gate_decisions(client, world):
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-dash")
    approved_review(team, second_lead, version)
    pipeline.post(f"/api/v1/model-versions/{version.pk}/release/")
    client.login(username=team.officer.username, password=PASSWORD)
    html = client.get("/dashboard/").content.decode()
    assert html.count("<svg") == 2 and "Reviews waiting for me" in html
    assert "released version #" in html


def test_login_lands_on_the_dashboard(client, team):
    response = client.post("/login/", {"username": "officer", "password": PASSWORD})
    assert response["Location"] == "/dashboard/"


def test_public_statement_needs_no_login_and_names_no_project(client, world):
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-public")
    approved_review(team, second_lead, version)
    pipeline.post(f"/api/v1/model-versions/{version.pk}/release/")
    html = client.get("/statement/").content.decode()
    assert "1 model version released" in html and "Location-based carbon" in html
    assert "Aurora" not in html and "ft-public" not in html
