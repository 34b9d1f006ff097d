"""The importer: requests staff entered in the remote system, inside the
agency boundary and of a mapped category, become CRM issues once, linked both
ways and acknowledged; the rest are skipped with their reason."""

from __future__ import annotations

from datetime import timedelta

import pytest

from integrations.errors import PermanentError, TransientError
from tests.engine.conftest import load_agency
from webapp.extensions import db
from webapp.models import Event, ImportedRequest, Integration, SyncCursor, SyncLink, SyncState
from webapp.sync import importer, push

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
    assert fields["answers"]["description"] == "Sinkhole by the curb"
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
