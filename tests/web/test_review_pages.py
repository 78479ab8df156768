from governance.models import AuditReport, ImpactReview
from tests.factories import PASSWORD
from tests.workflow import measured_run

SECTIONS = {
    "goal_and_scope": "Per 1,000 tokens.",
    "training_inventory": "One run.",
    "inference_projection": "",
    "comparison": "",
    "mitigations": "Adapters.",
    "hardware_and_suppliers": "",
    "justification": "",
}


def as_user(client, user):
    client.logout()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_author_drafts_submits_reviewers_decide_and_the_report_downloads(
    client, world, eager_tasks, django_capture_on_commit_callbacks
):
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-web")
    as_user(client, team.ml_lead)
    response = client.post(f"/versions/{version.pk}/reviews/new/", follow=True)
    review = ImpactReview.objects.get(model_version=version)
    assert response.request["PATH_INFO"] == f"/reviews/{review.pk}/"

    response = client.post(f"/reviews/{review.pk}/save/", SECTIONS, follow=True)
    assert "Draft saved." in response.content.decode()
    response = client.post(f"/reviews/{review.pk}/submit/", SECTIONS, follow=True)
    assert "Submitted for sign-off." in response.content.decode()

    as_user(client, team.officer)
    assert str(version) in client.get("/reviews/").content.decode()  # waiting for the officer
    client.post(f"/reviews/{review.pk}/decide/", {"verdict": "approve", "note": "Checked."})
    as_user(client, second_lead)
    html = client.post(
        f"/reviews/{review.pk}/decide/", {"verdict": "approve", "note": "Fine."}, follow=True
    ).content.decode()
    assert 'id="review-state">Approved' in html

    as_user(client, team.ml_lead)
    html = client.post(
        f"/reviews/{review.pk}/decide/", {"verdict": "approve", "note": "me"}, follow=True
    ).content.decode()
    assert "nothing to decide" in html
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/reviews/{review.pk}/report/")
    report = AuditReport.objects.get(review=review)
    assert report.state == "done"
    download = client.get(f"/reports/{report.pk}/download/")
    assert download["Content-Type"] == "application/pdf" and download.content.startswith(b"%PDF")


def test_separation_of_duties_is_explained_on_the_page(client, world):
    team, _, version, pipeline = world
    measured_run(pipeline, version, "ft-web2")
    as_user(client, team.ml_lead)
    client.post(f"/versions/{version.pk}/reviews/new/")
    review = ImpactReview.objects.get(model_version=version)
    client.post(f"/reviews/{review.pk}/submit/", SECTIONS)
    as_user(client, team.reviewer)
    html = client.post(
        f"/reviews/{review.pk}/decide/", {"verdict": "approve", "note": "ok"}, follow=True
    ).content.decode()
    assert "needs one of the sign-off roles" in html
    as_user(client, team.outsider)
    assert client.get(f"/reviews/{review.pk}/").status_code == 404


def _buttons(html):
    return {
        name
        for name, text in (
            ("edit", "Save draft"),
            ("submit", "Submit for sign-off"),
            ("decide", "Record decision"),
            ("withdraw", "Withdraw this review"),
            ("report", "Generate a report"),
            ("comment", ">Comment</button>"),
        )
        if text in html
    }


def test_each_person_sees_the_buttons_of_the_actions_the_review_allows_them(client, world):
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-buttons")
    as_user(client, team.ml_lead)
    client.post(f"/versions/{version.pk}/reviews/new/")
    review = ImpactReview.objects.get(model_version=version)
    page = f"/reviews/{review.pk}/"
    assert _buttons(client.get(page).content.decode()) == {"edit", "submit", "withdraw", "comment"}
    as_user(client, team.officer)
    assert _buttons(client.get(page).content.decode()) == {"comment"}  # a draft is not for deciding

    as_user(client, team.ml_lead)
    client.post(f"{page}submit/", SECTIONS)
    assert _buttons(client.get(page).content.decode()) == {"withdraw", "report", "comment"}  # the author never signs
    as_user(client, team.officer)
    assert _buttons(client.get(page).content.decode()) == {"decide", "report", "comment"}
    as_user(client, team.reviewer)  # holds no sign-off role
    assert _buttons(client.get(page).content.decode()) == {"report", "comment"}
    html = client.post(f"{page}decide/", {"verdict": "approve", "note": "ok"}, follow=True).content.decode()
    assert "needs one of the sign-off roles" in html  # the view refuses what the page does not offer

    as_user(client, team.officer)
    client.post(f"{page}decide/", {"verdict": "approve", "note": "Checked."})
    assert _buttons(client.get(page).content.decode()) == {"report", "comment"}  # decided once
    as_user(client, second_lead)
    html = client.post(f"{page}decide/", {"verdict": "approve", "note": ""}, follow=True)
    assert html.status_code == 400 and "This field is required" in html.content.decode()  # the form, shown again

    as_user(client, team.ml_lead)
    assert "Withdrawn." in client.post(f"{page}withdraw/", follow=True).content.decode()
    assert _buttons(client.get(page).content.decode()) == {"comment"}
    assert client.get(f"{page}withdraw/").status_code == 405
