"""The audit log: every console edit, newest first, read-only."""

from __future__ import annotations

import re

from tests.admin.conftest import ADMIN_EMAIL
from tests.admin.test_rules import rule_form, rules
from webapp.extensions import db
from webapp.models import AuditEntry


def test_each_edit_is_listed_newest_first(app, admin_client):
    [first, second] = rules(app)
    admin_client.post(f"/admin/rules/{first.id}/", data=rule_form(value="1", message="Edited."))
    admin_client.post(f"/admin/rules/{second.id}/enabled", data={"enabled": "0"})
    admin_client.post(
        "/admin/messages/1/",
        data={"acknowledgment_message": "Hello.", "closing_message": "Bye."},
    )
    html = admin_client.get("/admin/audit/").text
    actions = re.findall(r'<td class="col-action">\s*(.*?)\s*</td>', html)
    assert actions == ["messages.update", "rule.disable", "rule.update"]
    assert html.count(ADMIN_EMAIL) >= 3
    assert "&#34;message&#34;: &#34;Edited.&#34;" in html  # before and after, as JSON
    assert f"rule {first.id} (public-works#1)" in html


def test_search_finds_by_action(app, admin_client):
    [first, second] = rules(app)
    admin_client.post(f"/admin/rules/{second.id}/enabled", data={"enabled": "0"})
    admin_client.post(
        "/admin/messages/1/", data={"acknowledgment_message": "Hi.", "closing_message": ""}
    )
    html = admin_client.get("/admin/audit/?search=rule.disable").text
    assert re.findall(r'<td class="col-action">\s*(.*?)\s*</td>', html) == ["rule.disable"]


def test_the_log_cannot_be_edited(app, admin_client):
    [first, _] = rules(app)
    admin_client.post(f"/admin/rules/{first.id}/enabled", data={"enabled": "0"})
    with app.app_context():
        entry_id = db.session.execute(db.select(AuditEntry.id)).scalar_one()
    admin_client.post("/admin/audit/new/", data={"actor": "x", "action": "y", "target": "z"})
    admin_client.post("/admin/audit/delete/", data={"id": str(entry_id)})
    admin_client.post(f"/admin/audit/edit/?id={entry_id}", data={"actor": "mallory"})
    with app.app_context():
        rows = db.session.execute(db.select(AuditEntry)).scalars().all()
        assert [(e.id, e.actor) for e in rows] == [(entry_id, ADMIN_EMAIL)]
