"""The admin console in Chromium: a rule edited with a typo, the suggestion
taken, previewed against a simulated record, saved, and fired once by the
next poll; a message edit seen in the next acknowledgment; both in the audit
log. CSRF is on, and the console runs under the strict CSP."""

from __future__ import annotations

import pytest

from tests.browser.conftest import browser_sign_in, screenshot
from tests.conftest import TEST_PASSWORD, add_user
from tests.support import integration_id, link_of, queue_crm_poll, run_jobs
from webapp.sync import remote_poll

MESSAGE = "A crew has been assigned to your report."


@pytest.fixture
def admin_page(live, page):
    add_user(live.app, "ada@city.invalid", "admin")
    browser_sign_in(page, live, "ada@city.invalid", TEST_PASSWORD)
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.csp_violations = violations
    return page


def pushed_issue(live, sim, request_type_id: int = 122) -> tuple[int, str]:
    issue_id = sim.create_issue(
        request_type_id=request_type_id, summary="Pothole", description="Deep"
    )["id"]
    with live.app.app_context():
        queue_crm_poll()
        run_jobs(live.app)
        return issue_id, link_of(issue_id).remote_id


def crm_comments(sim, issue_id: int) -> list[str]:
    return [c["comment"] for c in sim.scf_issue(issue_id)["comments"]]


def test_a_rule_from_typo_to_preview_to_one_comment(live, admin_page, sim):
    page = admin_page
    issue_id, remote_id = pushed_issue(live, sim)

    page.goto(live.at("/admin/rules/"))
    page.locator("[data-testid=new-rule-public-works]").click()
    page.fill("#field", "TaskField")  # a typo
    page.select_option("#op", ">=")
    page.fill("#value", "1")
    page.fill("#message", MESSAGE)
    page.fill("#issue_id", str(issue_id))
    page.locator("[data-testid=preview-rule]").click()

    # The record has no such field: refused, with the field it has.
    problems = page.locator("[data-testid=preview-problems]")
    problems.wait_for()
    assert "TaskField" in problems.inner_text()
    page.locator("[data-use-field=TasksField]").first.click()
    assert page.input_value("#field") == "TasksField"

    # The crew adds a task; the preview reads the record live.
    sim.cg_patch(int(remote_id), TasksField=1)
    page.locator("[data-testid=preview-rule]").click()
    page.locator("[data-testid=preview-fires]", has_text="yes").wait_for()
    assert page.locator("[data-testid=preview-matches]").inner_text() == "yes"
    assert page.locator("[data-testid=preview-comment]").inner_text().strip() == MESSAGE
    screenshot(page, "admin-rule-preview")
    assert MESSAGE not in crm_comments(sim, issue_id)  # the preview wrote nothing

    page.locator("[data-testid=save-rule]").click()
    assert "saved; the next poll applies it" in page.locator(".alert-success").inner_text()

    with live.app.app_context():
        remote_poll.poll_integration(integration_id())
        remote_poll.poll_integration(integration_id())
    assert crm_comments(sim, issue_id).count(MESSAGE) == 1

    page.goto(live.at("/admin/audit/"))
    actions = page.locator("[data-testid=audit-row] td.col-action").all_inner_texts()
    assert "rule.create" in [a.strip() for a in actions]
    assert page.csp_violations == []


def test_a_message_edit_reaches_the_next_acknowledgment(live, admin_page, sim):
    page = admin_page
    page.goto(live.at("/admin/messages/"))
    form = page.locator("form", has=page.locator("[data-testid=save-category-messages-Pothole]"))
    textarea = form.locator("textarea[id$=-acknowledgment_message]")
    textarea.fill("Thanks! Public Works will look at this pothole within 2 days.")
    form.locator("[data-testid=save-category-messages-Pothole]").click()
    page.wait_for_load_state()
    assert "within 2 days" in page.locator("[data-testid=ack-Pothole]").inner_text()
    level = page.locator("[data-testid=ack-Pothole-level]").inner_text()
    assert "category" in level.lower()

    issue_id, _ = pushed_issue(live, sim)

    acknowledgment = sim.scf_issue(issue_id)["comments"][0]["comment"]
    assert acknowledgment == "Thanks! Public Works will look at this pothole within 2 days."
    page.goto(live.at("/admin/audit/"))
    # A category's message is part of the category: audited as its update,
    # with the message before and after.
    row = page.locator("[data-testid=audit-row]", has_text="within 2 days").first
    assert row.locator("td.col-action").inner_text().strip() in (
        "category.update",
        "messages.update",
    )
    assert "Pothole" in row.locator("td.col-target").inner_text()
    screenshot(page, "admin-audit")
    assert page.csp_violations == []
