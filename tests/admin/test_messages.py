"""Messages in the console: per integration, per category, per Lucity status
code; validated like the file; the preview names the level that wins; an
edit is what the next resident reads."""

from __future__ import annotations

import re

import pytest

from tests.admin.conftest import ADMIN_EMAIL, crm_comments, make_user, sign_in
from tests.conftest import BOUNDARIES, agency_yaml
from tests.support import link_of, queue_crm_poll, run_jobs
from webapp.agency_config import parse_agency_config
from webapp.extensions import db
from webapp.models import AuditEntry, Category, ConsoleEdit, Integration, SyncState
from webapp.sync import messages
from webapp.sync.configure import apply_config


def integration(app, name: str = "public-works") -> Integration:
    with app.app_context():
        row = db.session.execute(
            db.select(Integration).where(Integration.name == name)
        ).scalar_one()
        db.session.expunge(row)
        return row


def category_id(app, remote_id: str) -> int:
    with app.app_context():
        return db.session.execute(
            db.select(Category.id).where(Category.remote_id == remote_id)
        ).scalar_one()


def level(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}-level">(.*?)<', html)
    assert match, testid
    return match.group(1)


def acknowledged(app, sim, **fields) -> int:
    issue_id = sim.create_issue(**fields)["id"]
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)
        assert link_of(issue_id).state == SyncState.ACKNOWLEDGED
    return issue_id


def test_the_page_shows_what_residents_read_and_which_level_wins(admin_client):
    html = admin_client.get("/admin/messages/", follow_redirects=True).text
    assert "category → integration → built-in default" in html
    assert level(html, "ack-Pothole") == "category Pothole"
    assert level(html, "ack-Streetlight Out") == "integration public-works"
    assert level(html, "close-Pothole") == "category Pothole"
    assert "A crew will inspect this pothole." in html
    assert "Your request has been received by Public Works." in html


def test_an_integration_message_edit_is_in_the_next_acknowledgment(app, sim, admin_client):
    pw = integration(app)
    response = admin_client.post(
        f"/admin/messages/{pw.id}/",
        data={
            "acknowledgment_message": "Public Works got your report; thank you!",
            "closing_message": "Public Works has completed this request.",
        },
    )
    assert response.status_code == 302
    issue_id = acknowledged(app, sim, request_type_id=123, summary="Streetlight out")
    assert "Public Works got your report; thank you!" in crm_comments(sim, issue_id)

    with app.app_context():
        [entry] = db.session.execute(db.select(AuditEntry)).scalars().all()
        assert (entry.actor, entry.action, entry.target) == (
            ADMIN_EMAIL,
            "messages.update",
            "integration public-works",
        )
        assert entry.before == {
            "acknowledgment_message": "Your request has been received by Public Works."
        }
        [mark] = db.session.execute(db.select(ConsoleEdit)).scalars().all()
        assert (mark.entity, mark.field) == ("integration", "acknowledgment_message")


def test_a_category_message_edit_wins_over_the_integration(app, sim, admin_client):
    pw, pothole = integration(app), category_id(app, "Pothole")
    response = admin_client.post(
        f"/admin/messages/{pw.id}/category/{pothole}",
        data={
            f"c{pothole}-acknowledgment_message": "A crew will look at this pothole this week.",
            f"c{pothole}-closing_message": "The pothole has been patched.",
        },
    )
    assert response.status_code == 302
    issue_id = acknowledged(app, sim)
    assert "A crew will look at this pothole this week." in crm_comments(sim, issue_id)
    with app.app_context():
        assert db.session.execute(db.select(AuditEntry.action)).scalars().all() == [
            "category.update"
        ]


def test_blank_means_not_set_and_the_next_level_applies(app, admin_client):
    pw, pothole = integration(app), category_id(app, "Pothole")
    admin_client.post(
        f"/admin/messages/{pw.id}/category/{pothole}",
        data={f"c{pothole}-acknowledgment_message": "", f"c{pothole}-closing_message": ""},
    )
    admin_client.post(
        f"/admin/messages/{pw.id}/", data={"acknowledgment_message": "", "closing_message": ""}
    )
    html = admin_client.get(f"/admin/messages/{pw.id}/").text
    assert level(html, "ack-Pothole") == "built-in default"
    assert messages.DEFAULT_ACKNOWLEDGMENT in html
    assert level(html, "close-Pothole") == "built-in default"


def test_a_message_is_validated_like_the_file(app, admin_client):
    pw = integration(app)
    response = admin_client.post(
        f"/admin/messages/{pw.id}/",
        data={"acknowledgment_message": "x" * 4001, "closing_message": "Done."},
    )
    assert response.status_code == 400
    assert "at most 4000 characters" in response.text
    assert (
        integration(app).settings["closing_message"] == "Public Works has completed this request."
    )
    with app.app_context():
        assert db.session.execute(db.select(db.func.count(AuditEntry.id))).scalar() == 0


@pytest.fixture
def lucity_app(app, sim):
    with app.app_context():
        apply_config(parse_agency_config(agency_yaml(sim.sims, "lucity.yaml"), base_dir=BOUNDARIES))
    return app


@pytest.fixture
def lucity_admin(lucity_app, csrf_off):
    with lucity_app.app_context():
        user_id = make_user(ADMIN_EMAIL, "admin").id
    return sign_in(lucity_app, lucity_app.test_client(), user_id)


def test_lucity_messages_by_status_code(lucity_app, lucity_admin):
    water = integration(lucity_app, "water")
    html = lucity_admin.get(f"/admin/messages/{water.id}/").text
    assert "status code (closing_messages) → category → integration → built-in default" in html
    assert level(html, "close-WB-999") == "status code 999"
    assert level(html, "close-WB") == "built-in default"
    assert "closes the request" in html

    response = lucity_admin.post(
        f"/admin/messages/{water.id}/",
        data={
            "acknowledgment_message": "",
            "closing_message": "Water has finished this request.",
            "status_code": ["999", "951", "500"],
            "status_message": ["The crew finished the work.", "", "Still open."],
        },
    )
    assert response.status_code == 302
    settings = integration(lucity_app, "water").settings
    assert settings["closing_messages"] == {
        "999": "The crew finished the work.",
        "500": "Still open.",
    }
    html = lucity_admin.get(f"/admin/messages/{water.id}/").text
    assert level(html, "close-WB") == "integration water"
    assert "The crew finished the work." in html
    assert "does not close requests, so the message is never used" in html  # code 500
    with lucity_app.app_context():
        keys = set(db.session.execute(db.select(ConsoleEdit.field)).scalars())
    assert keys == {
        "closing_message",
        "closing_messages.999",
        "closing_messages.951",
        "closing_messages.500",
    }


def test_a_bad_status_code_is_refused(lucity_app, lucity_admin):
    water = integration(lucity_app, "water")
    response = lucity_admin.post(
        f"/admin/messages/{water.id}/",
        data={"closing_message": "", "status_code": ["soon"], "status_message": ["Later."]},
    )
    assert response.status_code == 400
    assert integration(lucity_app, "water").settings["closing_messages"] == {
        "999": "The work is complete.",
        "951": "This request was canceled.",
    }


def test_work_order_status_messages(lucity_app, lucity_admin):
    facilities = integration(lucity_app, "facilities")
    html = lucity_admin.get(f"/admin/messages/{facilities.id}/").text
    assert "status code (status_messages)" in html
    assert "posted to the CRM issue when the request reaches this status" in html  # 200
    assert level(html, "close-FAC-999") == "status code 999"
