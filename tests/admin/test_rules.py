"""Rules in the console: validated by the file's validator, a field the
remote records lack refused with suggestions, saved with its console mark
and audit entry in one commit, and the saved rule fired by the next poll."""

from __future__ import annotations

from tests.admin.conftest import acknowledged_issue, crm_comments, poll
from webapp.extensions import db
from webapp.models import AuditEntry, ConsoleEdit, Integration, Rule


def rule_form(**fields) -> dict:
    form = {
        "integration_id": "1",
        "field": "TasksField",
        "op": ">=",
        "value": "2",
        "from_value": "",
        "message": "Two work tasks are planned.",
    }
    form.update(fields)
    return form


def rules(app) -> list[Rule]:
    with app.app_context():
        rows = db.session.execute(db.select(Rule).order_by(Rule.position)).scalars().all()
        db.session.expunge_all()
        return rows


def audit(app) -> list[tuple[str, str, str]]:
    with app.app_context():
        rows = db.session.execute(db.select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [(e.actor, e.action, e.target) for e in rows]


def marks(app) -> set[tuple[str, int, str]]:
    with app.app_context():
        rows = db.session.execute(db.select(ConsoleEdit)).scalars()
        return {(e.entity, e.row_id, e.field) for e in rows}


def test_the_list_shows_the_file_rules(admin_client):
    page = admin_client.get("/admin/rules/").text
    assert "public-works#1" in page and "TasksField &gt;= 1" in page
    assert "StatusField changes from Open to In Progress" in page
    assert "A crew is on the way." in page


def test_a_field_the_records_lack_is_refused_with_suggestions(app, sim, admin_client):
    acknowledged_issue(app, sim)  # a polled record: Crosswalk has seen its fields
    [first, _] = rules(app)
    response = admin_client.post(
        f"/admin/rules/{first.id}/", data=rule_form(field="TaskField", value="1")
    )
    assert response.status_code == 400
    assert "public-works&#39;s records have no field &#34;TaskField&#34;" in response.text
    assert "did you mean &#34;TasksField&#34;" in response.text
    assert 'data-use-field="TasksField"' in response.text  # the suggestion, as a button
    assert [r.field for r in rules(app)] == ["TasksField", "StatusField"]  # nothing saved
    assert audit(app) == [] and marks(app) == set()


def test_case_slips_are_suggested_too(app, sim, admin_client):
    acknowledged_issue(app, sim)
    [first, _] = rules(app)
    response = admin_client.post(f"/admin/rules/{first.id}/", data=rule_form(field="tasksfield"))
    assert response.status_code == 400
    assert "did you mean &#34;TasksField&#34;" in response.text


def test_values_are_typed_and_checked_like_the_yaml(app, admin_client):
    [first, second] = rules(app)
    cases = [
        (rule_form(op="=>"), "unknown op &#39;=&gt;&#39;"),
        (rule_form(value="true"), "orders numbers, dates or text, not true/false"),
        (rule_form(op="is empty", value="1"), "op &#34;is empty&#34; takes no value"),
        (rule_form(op=">=", value=""), "needs a value to compare TasksField with"),
        (rule_form(value="[1, 2]"), "one value, not a list"),
        (rule_form(message="x" * 4001), "at most 4000 characters"),
        (rule_form(field="Tasks Field"), "is not a remote field name"),
        (
            rule_form(field="StatusField", op="changes from", from_value="Open", value="open"),
            "from and value are the same",
        ),
        (rule_form(categories=["Sidewalk"]), "public-works has no category &#39;Sidewalk&#39;"),
    ]
    for form, message in cases:
        response = admin_client.post(f"/admin/rules/{second.id}/", data=form)
        assert response.status_code == 400, form
        assert message in response.text, (form, message)
    assert [(r.field, r.op) for r in rules(app)] == [
        ("TasksField", ">="),
        ("StatusField", "changes from"),
    ]
    assert audit(app) == []


def test_an_edit_is_saved_marked_and_audited_in_one_go(app, admin_client, admin_id):
    [first, _] = rules(app)
    response = admin_client.post(
        f"/admin/rules/{first.id}/",
        data=rule_form(value="1", message="A crew has been assigned.", categories=["Pothole"]),
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/admin/rules/{first.id}/")
    [saved, _] = rules(app)
    assert (saved.value, saved.message) == (1, "A crew has been assigned.")
    assert marks(app) == {("rule", first.id, "message")}  # only what changed
    with app.app_context():
        [entry] = db.session.execute(db.select(AuditEntry)).scalars().all()
        assert (entry.user_id, entry.action) == (admin_id, "rule.update")
        assert entry.target == f"rule {first.id} (public-works#1)"
        assert entry.before == {"message": "A work task has been created."}
        assert entry.after == {"message": "A crew has been assigned."}


def test_typed_values_round_trip_through_the_form(app, admin_client):
    [first, _] = rules(app)
    admin_client.post(f"/admin/rules/{first.id}/", data=rule_form(op="=", value='"2"'))
    assert rules(app)[0].value == "2"  # quoted: text, as in YAML
    page = admin_client.get(f"/admin/rules/{first.id}/").text
    assert 'value="&#34;2&#34;"' in page
    admin_client.post(f"/admin/rules/{first.id}/", data=rule_form(op="=", value="2026-11-23"))
    assert rules(app)[0].value == "2026-11-23"  # a date, stored as ISO text like the loader


def test_a_new_rule_fires_once_on_the_next_poll(app, sim, admin_client):
    issue_id, record = acknowledged_issue(app, sim)
    response = admin_client.post("/admin/rules/new?integration=1", data=rule_form())
    assert response.status_code == 302
    new = rules(app)[-1]
    assert (new.position, new.configured, new.enabled) == (2, True, True)
    assert ("rule", new.id, "field") in marks(app)
    assert audit(app)[-1][1:] == ("rule.create", f"rule {new.id} (public-works#3)")

    sim.cg_patch(record["Oid"], TasksField=2)
    poll(app)
    poll(app)
    comments = crm_comments(sim, issue_id)
    assert comments.count("Two work tasks are planned.") == 1
    assert comments.count("A work task has been created.") == 1  # the file's rule, too


def test_a_new_rule_is_judged_on_the_next_poll_even_if_the_record_did_not_change(
    app, sim, admin_client
):
    issue_id, record = acknowledged_issue(app, sim)
    sim.cg_patch(record["Oid"], TasksField=3)
    poll(app)  # the record as it will stay
    admin_client.post("/admin/rules/new?integration=1", data=rule_form(message="Three tasks."))
    poll(app)  # nothing changed remotely: the new rule is judged all the same
    poll(app)
    assert crm_comments(sim, issue_id).count("Three tasks.") == 1


def test_a_disabled_rule_stays_quiet_and_can_come_back(app, sim, admin_client):
    issue_id, record = acknowledged_issue(app, sim)
    [first, _] = rules(app)
    response = admin_client.post(f"/admin/rules/{first.id}/enabled", data={"enabled": "0"})
    assert response.status_code == 302
    assert rules(app)[0].enabled is False
    assert ("rule", first.id, "enabled") in marks(app)
    assert audit(app)[-1][1] == "rule.disable"
    sim.cg_patch(record["Oid"], TasksField=1)
    poll(app)
    assert "A work task has been created." not in crm_comments(sim, issue_id)
    admin_client.post(f"/admin/rules/{first.id}/enabled", data={"enabled": "1"})
    assert rules(app)[0].enabled is True and audit(app)[-1][1] == "rule.enable"
    poll(app)
    assert crm_comments(sim, issue_id).count("A work task has been created.") == 1


def test_without_polled_records_the_field_is_not_checked_but_said_so(app, admin_client):
    response = admin_client.post(
        "/admin/rules/new?integration=1", data=rule_form(field="AnyField"), follow_redirects=True
    )
    assert response.status_code == 200
    assert "has no polled records yet" in response.text
    assert rules(app)[-1].field == "AnyField"


def test_the_edit_page_offers_fields_and_issues_to_test_with(app, sim, admin_client):
    issue_id, _ = acknowledged_issue(app, sim)
    [first, _] = rules(app)
    page = admin_client.get(f"/admin/rules/{first.id}/").text
    assert '<option value="TasksField">' in page  # the seen fields
    assert f'data-use-issue="{issue_id}"' in page
    assert 'data-rule-preview="/admin/rules/preview"' in page
    with app.app_context():
        assert db.session.get(Integration, 1).name == "public-works"
