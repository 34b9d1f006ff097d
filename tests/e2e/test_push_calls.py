"""The vendor calls a push makes (issue 11): a new resident's requester is
looked up beside the geocode and created; a resident the worker has met is
not looked up again; the session keeps what it read across a push's legs."""

from __future__ import annotations

from tests.support import queue_crm_poll, run_jobs
from webapp.extensions import db
from webapp.models import SyncLink, SyncState

ADA = {"name": "Ada Lovelace", "email": "ada@example.org"}


def push_all(app) -> None:
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)


def requester_calls(sim, method: str) -> list[dict]:
    return [
        c for c in sim.calls("cg") if "cgRequestersClass" in c["path"] and c["method"] == method
    ]


def test_a_resident_met_before_costs_no_requester_lookup(app, sim):
    sim.create_issue(reporter=ADA, lat=41.30736, lng=-72.92486)
    push_all(app)
    assert len(requester_calls(sim, "GET")) == 1  # looked up (beside the geocode)...
    assert len(requester_calls(sim, "POST")) == 1  # ...not found, created
    assert len(sim.calls("arcgis")) == 1

    sim.cartegraph.clear_calls()
    sim.create_issue(reporter=ADA, lat=41.30632, lng=-72.92615)
    push_all(app)
    assert requester_calls(sim, "GET") == [] and requester_calls(sim, "POST") == []
    first, second = sim.cg_records()
    assert first["RequesterField"] == second["RequesterField"]  # the same requester
    assert len(sim.cg_records("cgRequestersClass")) == 1
    with app.app_context():
        states = db.session.execute(db.select(SyncLink.state)).scalars().all()
        assert states == [SyncState.ACKNOWLEDGED, SyncState.ACKNOWLEDGED]
        # The push job hands the session back as it found it.
        assert db.session().expire_on_commit is True
