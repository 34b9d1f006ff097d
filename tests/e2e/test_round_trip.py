"""One SeeClickFix issue round-trips through Cartegraph: ingest, push, poll,
close — over real HTTP to the simulators, real Redis, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.support import event_kinds, link_of, queue_crm_poll, run_jobs
from webapp.extensions import db
from webapp.models import Comment, Event, Issue, SyncLink, SyncState
from webapp.sync import crm_poll, remote_poll, schedule


@pytest.mark.both_databases
def test_issue_round_trips_open_acknowledged_closed(app, sim):
    created = sim.create_issue(
        answers={"142": "DEEP"},
        image_url="https://seeclickfix.example/files/issue_images/1.jpg",
    )
    issue_id = created["id"]
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)  # the CRM poll, then the push it enqueued

        link = link_of(issue_id)
        assert link.state == SyncState.ACKNOWLEDGED
        assert link.address_source == "arcgis"
        assert link.remote_id and link.remote_display_id

        [record] = sim.cg_records()
        assert str(record["Oid"]) == link.remote_id
        assert record["IDField"] == link.remote_display_id
        assert record["IssueField"] == "Pothole"
        assert record["SeeClickFixIDField"] == str(issue_id)
        # A requester was found by email, else created; its reference is on the request.
        [requester] = sim.cg_records("cgRequestersClass")
        assert requester["EmailField"] == "ada@example.com"
        assert (requester["FirstNameField"], requester["LastNameField"]) == ("SeeClickFix", "User")
        assert record["RequesterField"] == "SeeClickFix User"
        assert record["lat"] == created["lat"] and record["long"] == created["lng"]
        assert record["DescriptionField"].startswith("Deep pothole in the right lane\n")
        assert ": DEEP" in record["DescriptionField"].splitlines()[1]
        assert record["LocationDescriptionField"] == link.verified_address
        assert record["LocationDescriptionField"] != created["address"]
        assert record["AttachmentField"].endswith("/1.jpg")
        assert record["LinkedField"] is True

        crm = sim.scf_issue(issue_id)
        assert crm["status"] == "Acknowledged"
        assert crm["comments"][-1]["comment"] == "A crew will inspect this pothole."

        # The crew closes the work in Cartegraph; the next poll closes the CRM issue.
        sim.cg_patch(record["Oid"], StatusField="Closed")
        schedule.run_task_now("remote-poll-public-works")
        run_jobs(app)
        db.session.expire_all()
        link = link_of(issue_id)
        assert link.state == SyncState.CLOSED
        crm = sim.scf_issue(issue_id)
        assert crm["status"] == "Closed"
        assert crm["comments"][-1]["comment"] == "The pothole has been patched."
        assert db.session.get(Issue, issue_id).status == "Closed"

        # Closed means closed: later remote changes are never written to the CRM.
        sim.cg_patch(record["Oid"], StatusField="Open")
        report = remote_poll.poll_integration(link.integration_id)
        assert report.polled == 0
        assert sim.scf_issue(issue_id)["status"] == "Closed"

        # Our own acknowledgment and closing comments come back on the next CRM
        # poll: stored as ours, not reported as news, never to be mirrored.
        crm_poll.poll_crm()
        origins = db.session.execute(
            db.select(Comment.origin, Comment.body).where(Comment.issue_id == issue_id)
        ).all()
        assert sorted(tuple(o) for o in origins) == [
            ("crosswalk", "A crew will inspect this pothole."),
            ("crosswalk", "The pothole has been patched."),
        ]

        assert event_kinds(issue_id) == [
            "received",
            "routed",
            "geocoded",
            "config_warning",  # question 142 is public but configured as LastNameField
            "remote_created",
            "acknowledged",
            "remote_status",
            "closed",
        ]


def test_issue_of_an_unmapped_type_is_skipped_not_pushed(app, sim):
    issue_id = sim.create_issue(request_type_id=125, summary="Loud music")["id"]
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)
        issue = db.session.get(Issue, issue_id)
        assert "not mapped to any integration" in issue.skip_reason
        assert issue.links == []
        assert event_kinds(issue_id) == ["received", "skipped"]
    assert sim.cg_records() == []
    assert sim.scf_issue(issue_id)["status"] == "Open"


def test_geocoder_failure_falls_back_to_the_reported_address(app, sim):
    sim.fault("arcgis", status=500, count=5)
    issue_id = sim.create_issue()["id"]
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)
        link = link_of(issue_id)
        assert link.state == SyncState.ACKNOWLEDGED
        assert link.address_source == "reported"
        [record] = sim.cg_records()
        assert record["LocationDescriptionField"] == "165 Church St, New Haven"
        failed = db.session.execute(
            db.select(Event).where(Event.issue_id == issue_id, Event.kind == "geocode_failed")
        ).scalar_one()
        assert failed.level == "warning" and "reported address" in failed.detail


def test_production_endpoint_is_never_called_in_test(app, sim):
    sim.create_issue()
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)
        assert db.session.execute(db.select(SyncLink.state)).scalar_one() == "acknowledged"
    # The production URL in the fixture is a closed port: any call would have failed.
    assert any("/classes/cgRequestsClass" in c["path"] for c in sim.calls("cg"))
