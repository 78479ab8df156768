"""End to end in a real headless Chromium (Debian's) against a live server: an author
submits a review, two reviewers approve, the gate allows the release, the report
downloads."""

import json
import shutil
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import Page, sync_playwright

from governance.models import ImpactReview
from tests.factories import PASSWORD
from tests.workflow import measured_run

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTEFACTS = Path(__file__).resolve().parents[2] / "artifacts"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page(monkeypatch):
    # Playwright's sync API keeps an event loop on this thread; the test's own ORM calls
    # are synchronous and safe, which Django cannot tell.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        page.csp_violations = []  # type: ignore[attr-defined]
        page.on(
            "console",
            lambda m: "Content Security Policy" in m.text and page.csp_violations.append(m.text),  # type: ignore[attr-defined]
        )
        yield page
        browser.close()
        # While the loop runs, Django keeps this test's queries on a connection of their
        # own, which pytest-django does not know about: close it, or it outlives the test.
        connections.close_all()


def log_in(page: Page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Dashboard')")


def test_author_submits_two_reviewers_approve_gate_allows_report_downloads(
    live_server, world, reference_data, eager_tasks, browser_page
):
    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-e2e")
    page, base = browser_page, live_server.url

    log_in(page, base, team.ml_lead.username)
    page.goto(f"{base}/versions/{version.pk}/")
    page.click("text=Start an impact review")
    page.fill("#id_goal_and_scope", "Functional unit: 1,000 tokens. All runs, embodied share, water.")
    page.fill("#id_training_inventory", "One fine-tuning run, measured by telemetry.")
    page.click("button:has-text('Submit for sign-off')")
    page.wait_for_selector("text=Submitted for sign-off.")
    review = ImpactReview.objects.get(model_version=version)

    for reviewer, state in ((team.officer, "In review"), (second_lead, "Approved")):
        log_in(page, base, reviewer.username)
        page.goto(f"{base}/reviews/")
        page.click(f"a[href='/reviews/{review.pk}/'] >> nth=0")
        page.check("input[name=verdict][value=approve]")
        page.fill("#id_note", f"Checked by {reviewer.username}.")
        page.click("button:has-text('Record decision')")
        page.wait_for_selector(f"#review-state:has-text('{state}')")

    page.click("button:has-text('Generate a report')")
    page.wait_for_selector("text=download PDF")
    with page.expect_download() as download:
        page.click("text=download PDF")
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")

    page.goto(f"{base}/api/v1/model-versions/{version.pk}/release-gate/?format=json")
    gate = json.loads(page.inner_text("body"))
    assert gate["allowed"] is True, gate["findings"]

    page.goto(f"{base}/reviews/{review.pk}/")
    ARTEFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / "review-page.png"), full_page=True)
    for path in (
        "/",
        f"/versions/{version.pk}/",
        "/estimate/?activity=energy_kwh&energy_kwh=10&grid_region=FRA",
        "/reference/hardware/",
        "/statement/",
        "/admin/",
    ):
        page.goto(base + path)
    assert page.csp_violations == []  # every page works under the strict Content-Security-Policy
