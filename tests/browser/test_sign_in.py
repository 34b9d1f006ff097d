"""Signing in and out in Chromium, roles, and a cross-origin form refused."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser.conftest import browser_sign_in, screenshot
from tests.conftest import TEST_PASSWORD, add_user
from tests.support import link_of, queue_crm_poll, run_jobs
from webapp.extensions import db
from webapp.models import AuditEntry, SyncLink


@pytest.fixture
def admin(live) -> str:
    add_user(live.app, "ada@city.invalid", "admin")
    return "ada@city.invalid"


@pytest.fixture
def staff(live) -> str:
    add_user(live.app, "sam@city.invalid", "staff")
    return "sam@city.invalid"


def test_pages_need_a_sign_in_and_sign_out_ends_it(live, page, admin):
    page.goto(live.at("/issues"))
    assert page.url.startswith(live.at("/login"))  # sent to sign in first

    browser_sign_in(page, live, admin, TEST_PASSWORD, goto=False)

    assert page.url == live.at("/issues")  # then back where they were going
    account = page.locator("[data-testid=account]")
    assert admin in account.inner_text()
    assert page.locator("[data-testid=admin-link]").is_visible()
    screenshot(page, "issues-signed-in")

    page.get_by_role("button", name="Sign out").click()
    assert page.url.startswith(live.at("/login"))
    assert "You are signed out." in page.content()
    page.goto(live.at("/"))
    assert page.url.startswith(live.at("/login"))


def test_a_wrong_password_is_refused_without_saying_which_part(live, page, admin):
    browser_sign_in(page, live, admin, "not the password at all")
    error = page.locator("[data-testid=sign-in-error]")
    assert error.inner_text() == "Wrong email or password."

    browser_sign_in(page, live, "nobody@city.invalid", TEST_PASSWORD)
    assert page.locator("[data-testid=sign-in-error]").inner_text() == "Wrong email or password."
    assert page.url.startswith(live.at("/login"))


def test_staff_cannot_open_the_admin(live, page, staff):
    browser_sign_in(page, live, staff, TEST_PASSWORD)
    assert page.locator("[data-testid=admin-link]").count() == 0

    response = page.goto(live.at("/admin/"))

    assert response.status == 403
    assert "This page is for admins" in page.content()


class _AttackerPage(BaseHTTPRequestHandler):
    """Another origin's page: a form that posts to Crosswalk's retry URL."""

    target = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = (
            f'<html><body><form method="post" action="{self.target}">'
            '<button type="submit">Win a prize</button></form></body></html>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_a_cross_origin_post_is_refused(live, page, staff, sim):
    issue_id = sim.create_issue(request_type_id=122, summary="Pothole", description="Deep")["id"]
    with live.app.app_context():
        queue_crm_poll()
        run_jobs(live.app)
        link_id = link_of(issue_id).id
        before = db.session.get(SyncLink, link_id).updated_at
    browser_sign_in(page, live, staff, TEST_PASSWORD)

    _AttackerPage.target = live.at(f"/links/{link_id}/retry")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AttackerPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://localhost:{server.server_port}/")
        page.get_by_role("button", name="Win a prize").click()
        page.wait_for_load_state()
        content = page.content()
    finally:
        server.shutdown()
        server.server_close()

    assert "Request refused" in content
    with live.app.app_context():
        assert db.session.get(SyncLink, link_id).updated_at == before
        actions = db.session.execute(db.select(AuditEntry.action)).scalars().all()
        assert "link.retry" not in actions


def test_staff_retry_from_the_issue_page_is_audited(live, page, staff, sim):
    sim.fault("cg", status=500, count=10)  # every create attempt fails
    issue_id = sim.create_issue(request_type_id=122, summary="Pothole", description="Deep")["id"]
    with live.app.app_context():
        queue_crm_poll()
        run_jobs(live.app)
    sim.reset()
    browser_sign_in(page, live, staff, TEST_PASSWORD)

    page.goto(live.at(f"/issues/{issue_id}"))
    page.get_by_role("button", name="Retry").first.click()
    page.wait_for_load_state()

    assert "queued again" in page.content()
    with live.app.app_context():
        [entry] = db.session.execute(
            db.select(AuditEntry).where(AuditEntry.action == "link.retry")
        ).scalars()
        assert (entry.actor, entry.action) == (staff, "link.retry")
