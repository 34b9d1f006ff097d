"""The importer: requests staff entered in the remote system, inside the
agency boundary and of a mapped category, become CRM issues once, linked both
ways and acknowledged; the rest are skipped with their reason."""

from __future__ import annotations

from datetime import timedelta

import pytest

from integrations.errors import PermanentError, TransientError
from tests.engine.conftest import load_agency
from tests.support import events_of_kind
from webapp.extensions import db
from webapp.models import (
    Event,
    ImportedRequest,
    Integration,
    Issue,
    SyncCursor,
    SyncLink,
    SyncState,
)
from webapp.sync import crm_poll, importer, push

INSIDE = {"lat": 41.3083, "lng": -72.9279}  # downtown New Haven
OUTSIDE = {"lat": 40.7128, "lng": -74.0060}  # Manhattan
BOUNDARY = {
    "  name: City of New Haven\n": (
        "  name: City of New Haven\n  boundary: ../boundaries/new_haven.geojson\n"
    )
}


def importing(switch: str = "true", boundary: bool = True) -> None:
    load_agency(
        **{"    kind: fake\n": f"    kind: fake\n    import_requests: {switch}\n"},
        **(BOUNDARY if boundary else {}),
    )


@pytest.fixture
def agency(app):
    importing()


def run() -> importer.ImportReport:
    integration = db.session.execute(db.select(Integration)).scalar_one()
    return importer.import_requests(integration.id)


def staff_entered(remote, category: str = "Pothole", where=INSIDE, **fields) -> str:
    return remote.add_record(
        Staff=True, Category=category, Description="Sinkhole by the curb", **where, **fields
    )


def outcomes() -> dict[str, tuple[str, str | None]]:
    rows = db.session.execute(db.select(ImportedRequest)).scalars()
    return {row.remote_id: (row.outcome, row.reason) for row in rows}


def test_a_request_inside_the_boundary_becomes_an_acknowledged_crm_issue(agency, crm, remote):
    remote_id = staff_entered(remote)

    report = run()

    assert (report.seen, report.imported) == (1, 1)
    [(_, (fields,))] = [c for c in crm.calls if c[0] == "create_issue"]
    assert (fields["request_type_id"], fields["lat"], fields["lng"]) == (122, 41.3083, -72.9279)
    # The resident-facing text, then the marker that links a moderated create later.
    assert (
        fields["answers"]["description"]
        == f"Sinkhole by the curb\n\n[public-works request {remote_id}]"
    )
    issue_id = next(iter(crm.issues))
    # Linked both ways: the remote request carries the CRM id, the link the remote id.
    assert ("set_external_id", (remote_id, issue_id)) in remote.calls
    assert remote.records[remote_id]["ExternalId"] == str(issue_id)
    link = db.session.execute(db.select(SyncLink)).scalar_one()
    assert (link.issue_id, link.remote_id, link.origin) == (issue_id, remote_id, "remote")
    assert link.state == SyncState.ACKNOWLEDGED
    assert link.remote_created_at is not None  # the create leg is done: it exists remotely
    assert ("acknowledge", (issue_id, "A crew will inspect this pothole.")) in crm.calls
    assert crm.issues[issue_id]["status"] == "Acknowledged"
    assert outcomes() == {remote_id: ("imported", None)}
    kinds = db.session.execute(db.select(Event.kind).where(Event.issue_id == issue_id)).scalars()
    assert "imported" in list(kinds)


def test_a_request_is_imported_once_even_when_the_remote_lists_it_again(agency, crm, remote):
    remote_id = staff_entered(remote)
    run()
    remote.set(remote_id, ExternalId=None)  # the remote lists it as new again

    report = run()

    assert report.imported == 0
    assert crm.count("create_issue") == 1
    assert len(db.session.execute(db.select(SyncLink)).scalars().all()) == 1


@pytest.mark.parametrize(
    ("category", "where", "reason"),
    [
        ("Pothole", OUTSIDE, "outside the agency boundary"),
        ("Pothole", {"lat": None, "lng": None}, "no coordinates"),
        ("Graffiti", INSIDE, "category 'Graffiti' is not mapped"),
    ],
    ids=["outside", "no-coordinates", "unmapped"],
)
def test_a_request_that_cannot_be_imported_is_skipped_with_its_reason(
    agency, crm, remote, category, where, reason
):
    remote_id = staff_entered(remote, category=category, where=where)

    report = run()
    run()  # looked at once: not counted again

    assert report.imported == 0
    assert dict(report.skipped) == {reason: 1}
    assert outcomes() == {remote_id: ("skipped", reason)}
    assert crm.count("create_issue") == 0
    assert db.session.execute(db.select(SyncLink)).first() is None


def test_only_staff_entered_requests_are_candidates(agency, crm, remote):
    remote.add_record(Category="Pothole", Description="from Crosswalk", ExternalId="77", **INSIDE)
    assert run().seen == 0
    assert crm.count("create_issue") == 0


def test_a_mixed_run_imports_the_good_ones_and_summarises_the_rest(agency, crm, remote):
    staff_entered(remote)
    staff_entered(remote, where=OUTSIDE)
    staff_entered(remote, where=OUTSIDE)
    report = run()
    assert report.summary() == (
        "3 new remote request(s); 1 imported; 2 skipped: outside the agency boundary"
    )
    [event] = db.session.execute(db.select(Event).where(Event.kind == "import_run")).scalars()
    assert (event.detail, event.level) == (report.summary(), "info")


def test_a_crm_refusal_is_recorded_as_failed_and_creates_no_link(agency, crm, remote):
    remote_id = staff_entered(remote)
    crm.fail("create_issue", PermanentError("request_type is invalid", status=422))

    report = run()

    assert report.imported == 0 and len(report.failed) == 1
    outcome, reason = outcomes()[remote_id]
    assert outcome == "failed" and "request_type is invalid" in reason
    assert db.session.execute(db.select(SyncLink)).first() is None


def test_a_failed_link_back_leaves_the_issue_linked_for_the_push_to_finish(agency, crm, remote):
    staff_entered(remote)
    remote.fail("set_external_id", TransientError("EAM timed out"))

    report = run()

    assert report.imported == 1
    link = db.session.execute(db.select(SyncLink)).scalar_one()
    assert link.state == SyncState.PENDING
    assert "EAM timed out" in link.last_error
    kinds = db.session.execute(db.select(Event.kind).where(Event.kind == "import_incomplete"))
    assert len(kinds.all()) == 1


def test_a_failed_link_back_is_completed_by_the_push(agency, crm, remote):
    remote_id = staff_entered(remote)
    remote.fail("set_external_id", TransientError("EAM timed out"))
    run()
    link = db.session.execute(db.select(SyncLink)).scalar_one()

    push.push_link(link.id)

    assert link.state == SyncState.ACKNOWLEDGED
    assert remote.records[remote_id]["ExternalId"] == str(link.issue_id)


def test_the_first_run_looks_back_one_day_then_from_the_last_start(agency, crm, remote):
    run()
    run()
    first, second = [args[0] for name, args in remote.calls if name == "fetch_new_requests"]
    cursor = db.session.get(SyncCursor, "import:public-works")
    started = cursor.last_started_at
    assert second > first + timedelta(hours=23)
    assert second <= started
    assert cursor.cursor == started.isoformat()


def test_the_importer_switched_off_refuses_to_run(app, crm, remote):
    importing(switch="false")
    with pytest.raises(importer.ImporterDisabledError, match="import_requests is off"):
        run()
    assert remote.count("fetch_new_requests") == 0


def test_the_importer_without_a_boundary_refuses_to_run(app, crm, remote):
    importing(boundary=False)
    with pytest.raises(importer.ImporterDisabledError, match="no agency boundary"):
        run()
    assert remote.count("fetch_new_requests") == 0


# -- held for moderation: a documented outcome, linked when the issue appears ---------
def test_a_create_held_for_moderation_is_its_own_outcome_not_a_failure(agency, crm, remote):
    remote_id = staff_entered(remote)
    crm.moderate_next = 1

    report = run()

    assert (report.imported, report.moderated, report.failed) == (0, 1, [])
    assert "1 held for moderation by the CRM" in report.summary()
    outcome, reason = outcomes()[remote_id]
    assert outcome == "moderated"
    assert f"[public-works request {remote_id}]" in reason
    [event] = events_of_kind("import_moderated")
    assert event.level == "info" and f"request R-{remote_id}" in event.detail
    assert db.session.execute(db.select(SyncLink)).first() is None
    assert remote.records[remote_id]["ExternalId"] is None  # nothing to link yet


def test_the_held_issue_is_linked_both_ways_exactly_once_when_it_appears(agency, crm, remote, app):
    remote_id = staff_entered(remote)
    crm.moderate_next = 1
    run()
    crm_poll.poll_crm()  # still held: nothing to see
    assert db.session.execute(db.select(SyncLink)).first() is None
    [issue_id] = crm.approve_held()

    crm_poll.poll_crm()
    app.task_queue.drain()  # the push: link back, acknowledge
    crm_poll.poll_crm()  # read again, and again by the importer: nothing more
    run()

    link = db.session.execute(db.select(SyncLink)).scalar_one()
    assert (link.issue_id, link.remote_id, link.origin) == (issue_id, remote_id, "remote")
    assert link.state == SyncState.ACKNOWLEDGED
    assert remote.records[remote_id]["ExternalId"] == str(issue_id)
    assert remote.count("create_request") == 0  # the remote request existed: never created
    assert crm.count("acknowledge") == 1 and crm.count("create_issue") == 1
    assert outcomes()[remote_id] == ("imported", None)
    assert db.session.get(ImportedRequest, 1).issue_id == issue_id
    [imported] = events_of_kind("imported", issue_id)
    assert "the CRM held it for moderation" in imported.detail


def test_an_issue_whose_create_reply_was_lost_is_linked_when_it_appears(agency, crm, remote, app):
    remote_id = staff_entered(remote)
    crm.lose_reply("create_issue", TransientError("CRM timed out"))

    assert run().failed  # recorded as failed: the CRM applied it all the same
    crm_poll.poll_crm()
    app.task_queue.drain()

    link = db.session.execute(db.select(SyncLink)).scalar_one()
    assert (link.remote_id, link.state) == (remote_id, SyncState.ACKNOWLEDGED)
    assert outcomes()[remote_id] == ("imported", None)
    assert remote.count("create_request") == 0


def test_a_second_issue_carrying_a_linked_marker_is_never_sent_as_new(agency, crm, remote, app):
    remote_id = staff_entered(remote)
    run()
    first = next(iter(crm.issues))
    copy = crm.add_issue(description=crm.issues[first]["description"])

    crm_poll.poll_crm()
    app.task_queue.drain()

    assert db.session.execute(db.select(SyncLink.issue_id)).scalars().all() == [first]
    assert remote.count("create_request") == 0
    skipped = db.session.get(Issue, copy).skip_reason
    assert skipped == (
        f"carries the import marker of public-works request R-{remote_id} "
        f"(CRM issue {first}): not sent again"
    )


def test_an_issue_appearing_while_its_import_runs_is_left_to_the_importer(agency, crm, remote):
    remote_id = staff_entered(remote)
    original = crm.create_issue

    def create_then_poll(fields):
        created = original(fields)
        crm_poll.poll_crm()  # another worker's CRM poll reads the new issue meanwhile
        return created

    crm.create_issue = create_then_poll
    run()

    link = db.session.execute(db.select(SyncLink)).scalar_one()
    assert (link.remote_id, link.state) == (remote_id, SyncState.ACKNOWLEDGED)
    assert db.session.get(Issue, link.issue_id).skip_reason is None
    assert remote.count("create_request") == 0
    [waited] = events_of_kind("skipped", link.issue_id)  # the poll left it to the importer
    assert (waited.level, waited.detail) == (
        "info",
        f"being imported from public-works request R-{remote_id}: the importer links it",
    )


# -- what the CRM requires, and what it documents no way to send -----------------------
def test_a_request_without_an_address_gets_the_one_at_its_coordinates(
    agency, crm, geocoder, remote
):
    staff_entered(remote, Address=None)

    run()

    [(_, (fields,))] = [c for c in crm.calls if c[0] == "create_issue"]
    assert fields["address"] == geocoder.label
    assert geocoder.count("reverse") == 1


def test_without_any_address_the_crms_refusal_is_recorded(agency, crm, geocoder, remote):
    remote_id = staff_entered(remote, Address=None)
    geocoder.label = ""  # nothing found at the point
    crm.fail("create_issue", PermanentError("address: Address can't be blank", status=422))

    report = run()

    [(_, (fields,))] = [c for c in crm.calls if c[0] == "create_issue"]
    assert fields["address"] == ""
    assert len(report.failed) == 1
    outcome, reason = outcomes()[remote_id]
    assert outcome == "failed" and reason.endswith("address: Address can't be blank")


IMPORTING = "    kind: fake\n    import_requests: true\n"
POTHOLES = "        crm_request_type_id: 122\n"
PRIVATE_POTHOLES = {POTHOLES: POTHOLES + "        private: true\n"}


def test_a_private_categorys_request_is_created_in_its_request_type(app, crm, remote):
    """SeeClickFix keeps privacy on the request category: the issue is private
    when the admin marked request type 122 Private there, and the timeline says so."""
    load_agency(**{"    kind: fake\n": IMPORTING}, **BOUNDARY, **PRIVATE_POTHOLES)
    crm.private_request_types.add(122)
    staff_entered(remote)

    run()

    [(_, (fields,))] = [c for c in crm.calls if c[0] == "create_issue"]
    # SeeClickFix documents no field that makes a new issue private: none is invented.
    assert set(fields) == {"lat", "lng", "address", "request_type_id", "answers"}
    [event] = events_of_kind("import_visibility")
    assert (event.level, event.detail) == (
        "info",
        "created private, as request type 122 is private in the CRM",
    )
    assert db.session.get(Issue, event.issue_id).private is True


def test_a_private_categorys_request_made_public_is_a_warning(app, crm, remote):
    load_agency(**{"    kind: fake\n": IMPORTING}, **BOUNDARY, **PRIVATE_POTHOLES)
    staff_entered(remote)

    run()

    [event] = events_of_kind("import_visibility")
    assert event.level == "warning"
    assert "made the issue public: mark request type 122 Private in SeeClickFix" in event.detail
    assert db.session.get(Issue, event.issue_id).private is False


def test_a_public_categorys_request_says_nothing_of_visibility(app, crm, remote):
    load_agency(**{"    kind: fake\n": IMPORTING}, **BOUNDARY)
    staff_entered(remote)

    run()

    assert events_of_kind("import_visibility") == []
