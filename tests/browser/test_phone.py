"""The console on a phone (390 × 844): no page scrolls sideways, and a long
error with a URL wraps inside its card. Screenshots for review."""

from __future__ import annotations

import pytest

from tests.browser.conftest import browser_sign_in, screenshot
from tests.conftest import TEST_PASSWORD, add_user
from tests.support import link_of, queue_crm_poll, run_jobs
from webapp.extensions import db
from webapp.models import SyncLink

LONG_ERROR = (
    "Cartegraph: HTTP 400: POST https://cartegraph.example.gov/cartegraph/api/v1/classes/"
    "cgRequestsClass?includeFields=Oid,IDField,StatusField,SeeClickFixIDField,AttachmentField: "
    "Field SeeClickFixIDFeldWithAVeryLongNameThatDoesNotBreak does not exist on class cgRequests"
)


@pytest.fixture
def phone(chromium):
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    yield page
    context.close()


def scrolls_sideways(page) -> bool:
    width = page.evaluate("document.documentElement.scrollWidth")
    return width > 390 + 1


def test_overview_issues_and_an_issue_fit_a_phone(live, phone, sim):
    issue_id = sim.create_issue(request_type_id=122, summary="Pothole", description="Deep")["id"]
    with live.app.app_context():
        queue_crm_poll()
        run_jobs(live.app)
        link = db.session.get(SyncLink, link_of(issue_id).id)
        link.last_error = LONG_ERROR
        db.session.commit()
    add_user(live.app, "sam@city.invalid", "staff")
    browser_sign_in(phone, live, "sam@city.invalid", TEST_PASSWORD)

    for path, name in (
        ("/", "overview-phone"),
        ("/issues", "issues-phone"),
        (f"/issues/{issue_id}", "issue-phone"),
        ("/jobs", "jobs-phone"),
        ("/lag", "lag-phone"),
        ("/boundary", "boundary-phone"),
        ("/check", "check-phone"),
    ):
        phone.goto(live.at(path))
        screenshot(phone, name)
        assert not scrolls_sideways(phone), f"{path} scrolls sideways on a phone"
