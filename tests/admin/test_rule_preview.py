""" "Test this rule": the live record's values, whether the rule matches and
would fire (once per becoming true, as the poll judges it), the exact
comment; and nothing written anywhere."""

from __future__ import annotations

import re

from tests.admin.conftest import acknowledged_issue, crm_comments, poll, writes
from tests.admin.test_rules import rule_form, rules
from webapp.extensions import db

FETCH = {"X-Requested-With": "fetch"}


def row_counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            table.name: db.session.execute(db.select(db.func.count()).select_from(table)).scalar()
            for table in db.metadata.sorted_tables
        }


def text_of(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</', html, re.S)
    assert match, f"{testid} not in the preview"
    return match.group(1).strip()


def test_an_unsaved_rule_is_judged_against_the_live_record(app, sim, admin_client):
    issue_id, record = acknowledged_issue(app, sim)
    sim.cg_patch(record["Oid"], TasksField=2)  # changed remotely since the last poll
    before = row_counts(app)
    cg_writes, scf_writes = len(writes(sim, "cg")), len(writes(sim, "scf"))

    response = admin_client.post(
        "/admin/rules/preview",
        data=rule_form(message="Two work tasks are planned.", issue_id=str(issue_id)),
        headers=FETCH,
    )
    assert response.status_code == 200
    html = response.text
    assert "<html" not in html  # a fragment, for the live refresh
    assert text_of(html, "preview-rule-text") == "TasksField &gt;= 2"
    assert "<td>TasksField now</td>" in html and "<code>2</code>" in html
    assert text_of(html, "preview-matches") == "yes"
    assert text_of(html, "preview-was-true") == "never judged"
    assert text_of(html, "preview-fires") == "yes"
    assert "the next poll would post the comment (first time)" in html
    assert text_of(html, "preview-comment") == "Two work tasks are planned."
    assert "as City of New Haven" in html

    # Nothing written: not to Crosswalk's tables, not to either vendor.
    assert row_counts(app) == before
    assert len(writes(sim, "cg")) == cg_writes and len(writes(sim, "scf")) == scf_writes
    assert "Two work tasks are planned." not in crm_comments(sim, issue_id)


def test_a_saved_rule_that_already_fired_would_not_fire_again(app, sim, admin_client):
    issue_id, record = acknowledged_issue(app, sim)
    sim.cg_patch(record["Oid"], TasksField=1)
    poll(app)  # the file's rule #1 fires now
    assert crm_comments(sim, issue_id).count("A work task has been created.") == 1
    [first, _] = rules(app)
    form = rule_form(value="1", message="A work task has been created.", categories=["Pothole"])
    html = admin_client.post(
        "/admin/rules/preview",
        data={**form, "rule_id": str(first.id), "issue_id": str(issue_id)},
        headers=FETCH,
    ).text
    assert text_of(html, "preview-matches") == "yes"
    assert text_of(html, "preview-was-true") == "matched"
    assert text_of(html, "preview-fires") == "no"
    assert "fires once per becoming" in html
    # ...and the poll agrees.
    poll(app)
    assert crm_comments(sim, issue_id).count("A work task has been created.") == 1


def test_a_changes_from_rule_shows_the_last_poll_and_now(app, sim, admin_client):
    issue_id, record = acknowledged_issue(app, sim)
    sim.cg_patch(record["Oid"], StatusField="In Progress")
    [_, second] = rules(app)
    form = rule_form(
        field="StatusField",
        op="changes from",
        from_value="Open",
        value="In Progress",
        message="A crew is on the way.",
    )
    html = admin_client.post(
        "/admin/rules/preview",
        data={**form, "rule_id": str(second.id), "issue_id": str(issue_id)},
        headers=FETCH,
    ).text
    assert "StatusField at the last poll" in html and '<code>"Open"</code>' in html
    assert "StatusField now" in html and '<code>"In Progress"</code>' in html
    assert text_of(html, "preview-fires") == "yes"
    assert "The change is new since the last poll" in html


def test_a_rule_for_other_categories_would_not_fire(app, sim, admin_client):
    issue_id, record = acknowledged_issue(app, sim)  # a Pothole
    sim.cg_patch(record["Oid"], TasksField=5)
    with app.app_context():
        from webapp.models import Category

        db.session.add(Category(integration_id=1, remote_id="Graffiti", configured=True))
        db.session.commit()
    html = admin_client.post(
        "/admin/rules/preview",
        data=rule_form(categories=["Graffiti"], issue_id=str(issue_id)),
        headers=FETCH,
    ).text
    assert text_of(html, "preview-matches") == "yes"
    assert text_of(html, "preview-fires") == "no"
    assert "only for categories Graffiti; this issue is Pothole" in html


def test_a_field_the_live_record_lacks_is_shown_with_its_close_names(app, sim, admin_client):
    issue_id, _ = acknowledged_issue(app, sim)
    html = admin_client.post(
        "/admin/rules/preview",
        data=rule_form(field="TaskField", issue_id=str(issue_id)),
        headers=FETCH,
    ).text
    assert 'data-testid="preview-problems"' in html
    assert "no field &#34;TaskField&#34;" in html
    assert 'data-use-field="TasksField"' in html


def test_problems_of_the_rule_itself_are_listed_before_any_read(app, sim, admin_client):
    issue_id, _ = acknowledged_issue(app, sim)
    calls = len(sim.calls("cg"))
    html = admin_client.post(
        "/admin/rules/preview",
        data=rule_form(op=">=", value="", issue_id=str(issue_id)),
        headers=FETCH,
    ).text
    assert "needs a value to compare TasksField with" in html
    assert len(sim.calls("cg")) == calls  # the record is not read for a broken rule


def test_an_issue_without_a_link_is_said_so(app, admin_client):
    html = admin_client.post(
        "/admin/rules/preview", data=rule_form(issue_id="999999"), headers=FETCH
    ).text
    assert "issue 999999 has no link to public-works" in html


def test_without_javascript_the_preview_button_returns_the_whole_page(app, sim, admin_client):
    issue_id, record = acknowledged_issue(app, sim)
    sim.cg_patch(record["Oid"], TasksField=2)
    [first, _] = rules(app)
    response = admin_client.post(
        "/admin/rules/preview",
        data={
            **rule_form(message="Edited, not saved."),
            "rule_id": str(first.id),
            "issue_id": str(issue_id),
            "preview": "1",
        },
    )
    assert response.status_code == 200
    html = response.text
    assert "<html" in html and 'id="rule-form"' in html
    assert "Edited, not saved." in html  # the form as sent
    assert text_of(html, "preview-fires") == "yes"
    assert rules(app)[0].message == "A work task has been created."  # not saved


def test_the_vendor_failing_is_shown_not_raised(app, sim, admin_client):
    issue_id, _ = acknowledged_issue(app, sim)
    sim.fault("cg", status=503, count=None, method="GET")
    html = admin_client.post(
        "/admin/rules/preview", data=rule_form(issue_id=str(issue_id)), headers=FETCH
    ).text
    assert "public-works could not be read" in html
