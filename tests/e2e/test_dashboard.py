"""The staff dashboard renders real sync state, and its retry button works."""

from __future__ import annotations

import re

import pytest

from tests.support import queue_crm_poll, run_jobs
from webapp.extensions import db
from webapp.models import SyncLink, SyncState


def count_of(html: str, state: str) -> int:
    return int(re.search(rf'data-state="{state}">(\d+)<', html).group(1))


@pytest.mark.both_databases
def test_overview_list_and_timeline(app, client, sim):
    issue_id = sim.create_issue()["id"]
    sim.create_issue(request_type_id=125, summary="Loud music")
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)

    html = client.get("/").get_data(as_text=True)
    assert "public-works" in html
    assert count_of(html, "acknowledged") == 1
    assert count_of(html, "failed") == 0
    assert "in-process queue" not in html  # real Redis here: no banner

    listing = client.get("/issues?state=acknowledged&integration=public-works")
    assert listing.status_code == 200
    text = listing.get_data(as_text=True)
    assert f">{issue_id}</a>" in text and "REQ-" in text

    skipped = client.get("/issues?state=skipped").get_data(as_text=True)
    assert "not mapped to any integration" in skipped

    detail = client.get(f"/issues/{issue_id}").get_data(as_text=True)
    for step in ("received", "routed", "geocoded", "remote created", "acknowledged"):
        assert step in detail
    assert "A crew will inspect this pothole." in detail


def test_bad_filters_and_unknown_issue(client):
    assert client.get("/issues?state=bogus").status_code == 400
    assert client.get("/issues/424242").status_code == 404


@pytest.mark.both_databases
def test_failed_issue_shows_reason_and_retry_requeues(app, client, sim):
    issue_id = sim.create_issue()["id"]
    sim.fault(
        "cg",
        status=503,
        count=3,
        method="POST",
        path_contains="cgRequestsClass",
        body={"Message": "Service is down for maintenance"},
    )
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)
        link = db.session.execute(db.select(SyncLink)).scalar_one()
        assert link.state == SyncState.FAILED
        link_id = link.id

    overview = client.get("/").get_data(as_text=True)
    assert count_of(overview, "failed") == 1
    detail = client.get(f"/issues/{issue_id}").get_data(as_text=True)
    assert "Service is down for maintenance" in detail
    assert "Retry now" in detail

    response = client.post(f"/links/{link_id}/retry")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(SyncLink, link_id).state == SyncState.PENDING
        run_jobs(app)  # the vendor is back
        db.session.expire_all()
        assert db.session.get(SyncLink, link_id).state == SyncState.ACKNOWLEDGED


def test_unmigrated_database_gets_a_page_saying_what_to_do(tmp_path):
    from webapp import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}",
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
        }
    )
    client = app.test_client()
    assert client.get("/").status_code == 302  # to the sign-in page, which needs no table
    assert client.get("/login").status_code == 200
    response = client.post("/login", data={"email": "a@b.example", "password": "x" * 12})
    assert response.status_code == 503
    assert "crosswalk db upgrade" in response.get_data(as_text=True)


def test_configuration_warnings_and_unmapped_categories_on_the_overview(app, client, sim):
    from webapp.sync import category_sync, request_types

    sim.create_issue(answers={"142": "DEEP"})  # 142 is public but configured LastNameField
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)
        integration_id = db.session.execute(db.select(SyncLink.integration_id)).scalar_one()
        category_sync.sync_categories(integration_id)
        request_types.refresh_request_types(integration_id)
    html = client.get("/").get_data(as_text=True)
    assert "Configuration warnings" in html
    assert "question 142" in html and "LastNameField" in html
    assert "Unmapped categories" in html and "Sidewalk Damage" in html
