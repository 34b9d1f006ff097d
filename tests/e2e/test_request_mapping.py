"""What a new Cartegraph request carries: requester, custom fields, addresses."""

from __future__ import annotations

import pytest
import requests

from tests.support import queue_crm_poll, run_jobs
from webapp.extensions import db
from webapp.models import Event, GeocodeCache, SyncLink, SyncState


def push_all(app) -> None:
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)


def test_private_question_fills_requester_and_public_one_is_refused(app, sim):
    # 143 "Your first name" is private (FirstNameField); 142 is public but the
    # test configuration names it LastNameField: it must not be sent.
    issue_id = sim.create_issue(answers={"142": "DEEP", "143": "Grace"})["id"]
    push_all(app)
    [requester] = sim.cg_records("cgRequestersClass")
    assert requester["FirstNameField"] == "Grace"
    assert requester["LastNameField"] == "User"  # the default, not the public answer
    [record] = sim.cg_records()
    assert record["RequesterField"] == "Grace User"
    with app.app_context():
        [warning] = (
            db.session.execute(
                db.select(Event).where(Event.kind == "config_warning", Event.issue_id == issue_id)
            )
            .scalars()
            .all()
        )
        assert "question 142" in warning.detail and "LastNameField" in warning.detail
        assert "public" in warning.detail


def test_existing_requester_is_matched_by_email(app, sim):
    sim.cg_staff_create(
        "cgRequestersClass",
        EmailField="ada@example.com",
        FirstNameField="Ada",
        LastNameField="Lovelace",
    )
    sim.create_issue()
    push_all(app)
    assert len(sim.cg_records("cgRequestersClass")) == 1
    assert sim.cg_records()[0]["RequesterField"] == "Ada Lovelace"


def test_custom_fields_static_dynamic_and_address(app, sim):
    sim.create_issue(answers={"142": "SHALLOW"}, address="near 165 Church")
    push_all(app)
    [record] = sim.cg_records()
    assert record["PriorityField"] == "Normal"
    assert record["DepthField"] == "SHALLOW"
    assert record["ReportedOnField"] == "near 165 Church"
    assert record["LocationDescriptionField"] != "near 165 Church"  # the verified one


def test_missing_required_answer_is_a_recorded_error(app, sim):
    with app.app_context():
        from webapp.models import Category

        pothole = db.session.execute(
            db.select(Category).where(Category.remote_id == "Pothole")
        ).scalar_one()
        pothole.custom_fields = {"DepthField": {"answer_of": "142", "required": True}}
        db.session.commit()
    sim.create_issue()  # no answer to 142
    push_all(app)
    with app.app_context():
        link = db.session.execute(db.select(SyncLink)).scalar_one()
        assert link.state == SyncState.FAILED and link.attempts == 1  # not retried
        assert "DepthField" in link.last_error and "question 142" in link.last_error
        assert "required" in link.last_error
    assert sim.cg_records() == []


@pytest.mark.both_databases
def test_reverse_geocoding_is_cached_by_rounded_coordinates(app, sim):
    sim.create_issue(lat=41.308301, lng=-72.927901)
    sim.create_issue(lat=41.308302, lng=-72.927902)  # the same spot, 0.2 m away
    requests.delete(f"{sim.arcgis}/_sim/requests", timeout=5)
    push_all(app)
    assert len(sim.calls("arcgis")) == 1
    with app.app_context():
        assert (
            db.session.execute(db.select(db.func.count()).select_from(GeocodeCache)).scalar_one()
            == 1
        )
        addresses = set(db.session.execute(db.select(SyncLink.verified_address)).scalars())
        assert len(addresses) == 1 and None not in addresses
