"""SeeClickFix as its documents describe it (vendor-apis.md §6), end to end over
real HTTP: id-less comments, a renamed integration user, answers without
their key, the "no photo" placeholder, the importer's 422 and 202 outcomes,
private issues, and images in comments."""

from __future__ import annotations

import pytest
import requests

from integrations.base import Photo
from tests.support import (
    event_kinds,
    events_of_kind,
    integration_id,
    link_of,
    queue_crm_poll,
    run_jobs,
)
from webapp.extensions import db
from webapp.models import Comment, ImportedRequest, Issue, SyncLink, SyncState
from webapp.sync import crm_identity, engine, importer, remote_poll, vendors

INSIDE = {"lat": 41.3083, "long": -72.9279}


def sync_crm(app) -> None:
    """A CRM poll and every push it queues."""
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)


def acknowledged_issue(app, sim, **fields) -> tuple[int, dict]:
    issue_id = sim.create_issue(**fields)["id"]
    sync_crm(app)
    with app.app_context():
        assert link_of(issue_id).state == SyncState.ACKNOWLEDGED
    [record] = [r for r in sim.cg_records() if r["SeeClickFixIDField"] == str(issue_id)]
    return issue_id, record


def comments_field(sim, oid) -> str:
    return next(r for r in sim.cg_records() if r["Oid"] == oid).get("CommentsField") or ""


# -- comments without an id ----------------------------------------------------------
@pytest.mark.both_databases
def test_id_less_comments_sync_and_each_reaches_the_remote_once(app, sim):
    issue_id, record = acknowledged_issue(app, sim)
    sim.resident_comment(issue_id, "It got bigger overnight.")
    sim.resident_comment(issue_id, "It got bigger overnight.", name="Bo Neighbour")
    assert all("id" not in c for c in sim.scf_issue(issue_id)["comments"])  # as documented

    sync_crm(app)
    sync_crm(app)  # read again: nothing new

    lines = comments_field(sim, record["Oid"]).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Ada Resident, ") and lines[1].startswith("Bo Neighbour, ")
    with app.app_context():
        stored = db.session.execute(
            db.select(Comment).where(Comment.issue_id == issue_id, Comment.origin == "crm")
        ).scalars()
        keys = [(c.crm_comment_id, c.crm_key) for c in stored]
        assert events_of_kind("ingest_failed") == []  # the second read stored nothing again
    assert len(keys) == 2 and all(cid is None and key.startswith("h") for cid, key in keys)


def test_comments_with_ids_from_a_server_that_sends_them_keep_their_ids(app, sim):
    sim.seeclickfix.serve_extra_fields("comment_ids")
    issue_id, record = acknowledged_issue(app, sim)
    sim.resident_comment(issue_id, "Once, please.")

    sync_crm(app)
    sync_crm(app)

    assert comments_field(sim, record["Oid"]).count("Once, please.") == 1
    with app.app_context():
        stored = db.session.execute(
            db.select(Comment).where(Comment.origin == "crm", Comment.issue_id == issue_id)
        ).scalar_one()
        assert stored.crm_key == str(stored.crm_comment_id)


# -- a renamed integration user -------------------------------------------------------
def test_a_renamed_integration_users_comments_are_not_echoed(app, sim):
    issue_id, record = acknowledged_issue(app, sim)
    with app.app_context():
        # What the push and remote poll do after each CRM write (wired by the lead):
        # the reply's commenter tells Crosswalk who it is in the CRM.
        reply = vendors.crm_client().add_comment(issue_id, "We are looking into it.")
        crm_identity.remember(reply)
        db.session.commit()
    sim.seeclickfix.rename_official("New Haven Public Works")
    sim.cg_comment(record["Oid"], "Crew scheduled for Tuesday.", public=True)
    with app.app_context():
        remote_poll.poll_integration(integration_id())  # posted to the CRM as the renamed user

    sync_crm(app)

    commenters = {c["commenter"]["name"] for c in sim.scf_issue(issue_id)["comments"]}
    assert commenters == {"New Haven Public Works"}  # every one of them is ours
    text = comments_field(sim, record["Oid"])
    assert "Crew scheduled" not in text and "looking into it" not in text
    assert "A crew will inspect" not in text
    with app.app_context():
        origins = set(
            db.session.execute(
                db.select(Comment.origin).where(Comment.issue_id == issue_id)
            ).scalars()
        )
        assert "crm" not in origins


# -- answers without their key ------------------------------------------------------------
def test_answers_without_keys_fill_requester_fields_and_custom_fields(app, sim):
    issue_id = sim.create_issue(answers={"142": "SHALLOW", "143": "Grace"})["id"]
    served = sim.scf_issue(issue_id)["questions"]
    assert all("primary_key" not in q for q in served)  # as documented

    sync_crm(app)

    [record] = sim.cg_records()
    assert record["DepthField"] == "SHALLOW"  # answer_of: "142"
    [requester] = sim.cg_records("cgRequestersClass")
    assert requester["FirstNameField"] == "Grace"  # 143: FirstNameField, private
    with app.app_context():
        warnings = [e.detail for e in events_of_kind("config_warning", issue_id)]
    assert not any("matches no question" in w for w in warnings)


def test_an_answer_whose_question_cannot_be_matched_is_a_warning(app, sim):
    issue_id = sim.create_issue(answers={"142": "DEEP"})["id"]
    # An admin renamed the question after the resident answered it.
    sim.seeclickfix.change_question(122, "142", "Depth of the pothole")

    sync_crm(app)

    [record] = sim.cg_records()
    assert record.get("DepthField") in (None, "")  # not guessed
    assert "How deep is the pothole?: DEEP" in record["DescriptionField"]  # still told
    with app.app_context():
        [warning] = [
            e
            for e in events_of_kind("config_warning", issue_id)
            if "matches no question" in e.detail
        ]
        assert warning.level == "warning"
        assert "'How deep is the pothole?'" in warning.detail
        assert "request type Pothole (122)" in warning.detail


def test_keys_sent_by_a_server_that_includes_them_keep_working(app, sim):
    sim.seeclickfix.serve_extra_fields("question_keys")
    sim.create_issue(answers={"142": "DEEP"})
    sim.seeclickfix.change_question(122, "142", "Depth of the pothole")  # the key still holds

    sync_crm(app)

    assert sim.cg_records()[0]["DepthField"] == "DEEP"


# -- the "no photo" placeholder ---------------------------------------------------------------
def test_the_placeholder_is_never_sent_as_a_photo(app, sim):
    issue_id = sim.create_issue()["id"]  # no photo
    media = sim.scf_issue(issue_id)["media"]
    assert media["image_full"] is None and media["representative_image_url"].endswith(
        "/files/default_image.png"
    )

    sync_crm(app)

    [record] = sim.cg_records()
    assert record.get("AttachmentField") is None
    creates = [
        c
        for c in sim.calls("cg")
        if c["method"] == "POST" and c["path"].endswith("/classes/cgRequestsClass")
    ]
    [sent] = creates[0]["json"]["cgRequestsClass"]
    assert "AttachmentField" not in sent and "LinkedField" not in sent
    with app.app_context():
        assert db.session.get(Issue, issue_id).image_url is None


# -- the importer: 422 and 202 ---------------------------------------------------------------
def staff_request(sim, **fields) -> dict:
    base = {
        "IssueField": "Streetlight Out",
        "DescriptionField": "Light out on the corner",
        "LocationDescriptionField": "Church St & Elm St",
        "StatusField": "Open",
        **INSIDE,
        **fields,
    }
    return sim.cg_staff_create(
        "cgRequestsClass", **{k: v for k, v in base.items() if v is not None}
    )


def test_the_crms_422_for_a_missing_address_is_recorded_as_failed(app, sim):
    staff_request(sim, LocationDescriptionField=None)
    sim.fault("arcgis", status=500, count=None)  # and no address found at the point

    with app.app_context():
        report = importer.import_requests(integration_id())
        row = db.session.execute(db.select(ImportedRequest)).scalar_one()

    assert (report.imported, len(report.failed)) == (0, 1)
    assert row.outcome == "failed" and "Address can't be blank" in row.reason
    [create] = [c for c in sim.calls("scf") if c["method"] == "POST"]
    assert create["json"]["address"] == ""  # sent, and refused in the CRM's words


def test_a_missing_address_is_found_at_the_requests_coordinates(app, sim):
    staff_request(sim, LocationDescriptionField=None)

    with app.app_context():
        assert importer.import_requests(integration_id()).imported == 1
        link = db.session.execute(db.select(SyncLink)).scalar_one()
    assert sim.scf_issue(link.issue_id)["address"]  # what ArcGIS found there


@pytest.mark.both_databases
def test_a_create_held_for_moderation_is_linked_both_ways_once_it_appears(app, sim):
    request = staff_request(sim)
    sim.seeclickfix.moderate_next(1)

    with app.app_context():
        report = importer.import_requests(integration_id())
        row = db.session.execute(db.select(ImportedRequest)).scalar_one()
        assert (report.imported, report.moderated, report.failed) == (0, 1, [])
        assert row.outcome == "moderated" and row.issue_id is None
        assert len(events_of_kind("import_moderated")) == 1
    sync_crm(app)  # still held: nothing appears
    with app.app_context():
        assert db.session.execute(db.select(SyncLink)).first() is None

    [issue_id] = sim.seeclickfix.approve_held()
    sync_crm(app)
    sync_crm(app)
    with app.app_context():
        assert importer.import_requests(integration_id()).seen == 0
        link = db.session.execute(db.select(SyncLink)).scalar_one()
        assert (link.issue_id, link.remote_id, link.origin) == (
            issue_id,
            str(request["Oid"]),
            "remote",
        )
        assert link.state == SyncState.ACKNOWLEDGED
        row = db.session.execute(db.select(ImportedRequest)).scalar_one()
        assert (row.outcome, row.issue_id) == ("imported", issue_id)
        assert "imported" in event_kinds(issue_id)

    [record] = sim.cg_records()  # no second remote request
    assert record["SeeClickFixIDField"] == str(issue_id)  # linked both ways
    crm = sim.scf_issue(issue_id)
    assert crm["status"] == "Acknowledged"
    assert [c["comment"] for c in crm["comments"]] == [
        "Your request has been received by Public Works."
    ]


# -- private issues ----------------------------------------------------------------------------
def test_a_private_issue_is_fetched_through_the_organization_api(app, sim):
    issue_id = sim.create_issue(private_visibility=True)["id"]
    assert sim.seeclickfix.public_issue(issue_id).status_code == 404  # documented

    with app.app_context():
        fetched = vendors.crm_client().get_issue(issue_id)
        result = engine.fetch_issue(issue_id)
        run_jobs(app)
        assert fetched.id == issue_id and result.created
        assert link_of(issue_id).state == SyncState.ACKNOWLEDGED


# -- images in comments ----------------------------------------------------------------------------
def test_a_comment_with_an_image_is_posted_as_multipart_and_kept(app, sim):
    issue_id = sim.create_issue()["id"]
    photo = Photo(b"\x89PNG-bytes", "image/png", "crew.png")

    with app.app_context():
        reply = vendors.crm_client().add_comment(issue_id, "Patched today.", image=photo)

    url = reply["media"]["image_full"]
    assert requests.get(url, timeout=5).content == b"\x89PNG-bytes"
    [comment] = sim.scf_issue(issue_id)["comments"]
    assert (comment["comment"], comment["media"]["image_full"]) == ("Patched today.", url)
    [post] = [c for c in sim.calls("scf") if c["path"].endswith(f"/{issue_id}/comments")]
    assert post["content_type"].startswith("multipart/form-data")
    assert post["form"] == {"comment": ["Patched today."]}
