from governance.models import Webhook
from tests.factories import PASSWORD
from tests.workflow import approved_review, measured_run, post_budget


def test_version_page_shows_gate_footprint_reviews_and_history(client, world):
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-page")
    approved_review(team, second_lead, version)
    client.login(username=team.auditor.username, password=PASSWORD)
    html = client.get(f"/versions/{version.pk}/").content.decode()
    assert "Release gate" in html and "allowed" in html
    assert "ft-page" in html and "telemetry" in html
    assert "accelerators: measured · host: estimated" in html  # what each part covers and how it is known
    assert "review.approve" in html and "run.opened" in html  # history from the audit trail
    assert "Pre-release by mllead" in html


def test_project_page_budgets_and_webhook_test_button(client, world):
    team, *_ = world
    post_budget(team, "FY27", days_before=1, limit_kgco2e=500)
    hook = Webhook.objects.create(project=team.project, url="http://127.0.0.1:9/none", secret="s" * 20)
    client.login(username=team.owner.username, password=PASSWORD)
    html = client.get("/projects/aurora/").content.decode()
    assert "FY27" in html and "<meter" in html and "Send a test delivery" in html
    response = client.post(f"/webhooks/{hook.pk}/test/", follow=True)
    assert "Test delivery to http://127.0.0.1:9/none: pending" in response.content.decode()
    client.login(username=team.officer.username, password=PASSWORD)
    assert "Send a test delivery" not in client.get("/projects/aurora/").content.decode()
    assert client.post(f"/webhooks/{hook.pk}/test/").status_code == 404
