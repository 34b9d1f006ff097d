"""Importer: requests entered directly in Cartegraph become CRM issues, only
inside the agency boundary, each once, then are polled like any other."""

from __future__ import annotations

import pytest

from tests.conftest import BOUNDARIES
from tests.support import integration_id
from webapp.extensions import db
from webapp.models import Agency, Event, ImportedRequest, SyncLink, SyncState
from webapp.sync import importer, remote_poll

INSIDE = {"lat": 41.3083, "long": -72.9279}


def staff_request(sim, **fields) -> dict:
    base = {
        "IssueField": "Streetlight Out",
        "DescriptionField": "Light out on the corner",
        "LocationDescriptionField": "Church St & Elm St",
        "StatusField": "Open",
        **INSIDE,
    }
    base.update(fields)
    return sim.cg_staff_create(
        "cgRequestsClass", **{k: v for k, v in base.items() if v is not None}
    )


@pytest.mark.both_databases
def test_import_inside_the_boundary_skip_the_rest(app, sim):
    good = staff_request(sim)
    staff_request(sim, lat=None, long=None)
    staff_request(sim, lat=41.52, long=-72.70)  # Middletown: outside New Haven
    staff_request(sim, IssueField="Tree Down")  # not mapped to a CRM request type
    ours = staff_request(sim, SeeClickFixIDField="999")  # came from Crosswalk: not a candidate
    with app.app_context():
        report = importer.import_requests(integration_id())
        assert (report.seen, report.imported) == (4, 1)
        assert report.skipped == {
            "no coordinates": 1,
            "outside the agency boundary": 1,
            "category 'Tree Down' is not mapped": 1,
        }
        link = db.session.execute(
            db.select(SyncLink).where(SyncLink.origin == "remote")
        ).scalar_one()
        assert link.state == SyncState.ACKNOWLEDGED
        assert link.remote_id == str(good["Oid"])
        issue_id = link.issue_id
        [summary] = (
            db.session.execute(db.select(Event).where(Event.kind == "import_run")).scalars().all()
        )
        assert "1 imported" in summary.detail and "outside the agency boundary" in summary.detail

    crm = sim.scf_issue(issue_id)
    assert crm["request_type"]["id"] == 123 and crm["status"] == "Acknowledged"
    assert (crm["lat"], crm["lng"]) == (INSIDE["lat"], INSIDE["long"])
    # The staff's text, then the marker that would link it had the CRM held it.
    assert crm["description"] == f"Light out on the corner\n\n[public-works request {good['Oid']}]"
    records = {r["Oid"]: r for r in sim.cg_records()}
    assert records[good["Oid"]]["SeeClickFixIDField"] == str(issue_id)  # linked both ways
    assert records[ours["Oid"]]["SeeClickFixIDField"] == "999"

    with app.app_context():
        again = importer.import_requests(integration_id())
        assert (again.seen, again.imported) == (0, 0)  # never twice
        # Linked and polled like any other: the crew closes it, the CRM closes.
        sim.cg_patch(good["Oid"], StatusField="Closed")
        assert remote_poll.poll_integration(integration_id()).closed == 1
    assert sim.scf_issue(issue_id)["status"] == "Closed"


def test_a_crm_refusal_is_recorded_not_lost(app, sim):
    staff_request(sim, IssueField="Pothole")  # the CRM requires an answer to question 142
    with app.app_context():
        report = importer.import_requests(integration_id())
        assert report.imported == 0 and len(report.failed) == 1
        row = db.session.execute(db.select(ImportedRequest)).scalar_one()
        assert row.outcome == "failed" and "the CRM refused it" in row.reason


@pytest.mark.parametrize(
    "fixture, problem",
    [
        ("highway_cutout.geojson", "cutouts"),
        ("two_parts.geojson", "separate parts"),
        ("bowtie.geojson", "crosses itself"),
    ],
)
def test_invalid_boundary_keeps_the_importer_off(app, sim, fixture, problem):
    staff_request(sim)
    with app.app_context():
        db.session.execute(db.update(Agency).values(boundary_path=str(BOUNDARIES / fixture)))
        db.session.commit()
        with pytest.raises(importer.ImporterDisabledError, match=problem):
            importer.import_requests(integration_id())
    assert [i for i in sim.calls("scf") if i["method"] == "POST"] == []


def test_no_boundary_no_import(app, sim):
    with app.app_context():
        db.session.execute(db.update(Agency).values(boundary_path=None))
        db.session.commit()
        with pytest.raises(importer.ImporterDisabledError, match="no agency boundary"):
            importer.import_requests(integration_id())


def test_a_private_categorys_request_is_private_in_the_crm_and_the_console(app, client, sim):
    """Seed 003: a private category's requests "cannot be viewed by members of
    the public". SeeClickFix keeps privacy on the request category (its create
    takes no visibility): the admin marks request type 123 Private there, and
    the imported issue is private — read through the organization API, marked
    in the console, and the Open311 service says its reports are private."""
    from webapp.models import Category, Issue

    sim.seeclickfix.mark_request_type_private(123)
    with app.app_context():
        category = db.session.execute(
            db.select(Category).where(Category.crm_request_type_id == 123)
        ).scalar_one()
        category.private = True
        db.session.commit()
        service_code = category.remote_id
    staff_request(sim)
    with app.app_context():
        assert importer.import_requests(integration_id()).imported == 1
        issue = db.session.execute(db.select(Issue)).scalar_one()
        assert issue.private is True
        [event] = db.session.execute(
            db.select(Event).where(Event.kind == "import_visibility")
        ).scalars()
        assert event.level == "info" and "created private" in event.detail
        issue_id = issue.id
    assert sim.scf_issue(issue_id)["private_visibility"] is True
    assert sim.seeclickfix.public_issue(issue_id).status_code == 404  # the public can't see it

    page = client.get(f"/issues/{issue_id}").get_data(as_text=True)
    assert 'class="pill pill-private"' in page
    listing = client.get("/issues").get_data(as_text=True)
    assert 'class="pill pill-private"' in listing
    services = {s["service_code"]: s for s in client.get("/open311/v2/services.json").get_json()}
    assert "only agency staff can see them" in services[service_code]["description"]
