"""OpenGov EAM (Cartegraph) as its public documentation shows it, end to end
against the simulator: comments read at the documented child path under the
documented child-class name, the two requester conventions of the two vendor
guides, and an importer that uses documented query features only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from integrations.cartegraph import CartegraphConnector, CartegraphSettings
from simulators.cartegraph_store import iso_utc
from tests.conftest import BOUNDARIES, agency_yaml
from tests.support import link_of, queue_crm_poll, run_jobs
from webapp.agency_config import parse_agency_config
from webapp.extensions import db
from webapp.models import SyncLink, SyncState
from webapp.sync import remote_poll
from webapp.sync.configure import apply_config

CHILD_PATH = "/classes/cgRequestsClass/{oid}/cgRequests_cgCommentsClass"


def load(sim, old: str, new: str) -> None:
    text = agency_yaml(sim.sims)
    assert old in text
    apply_config(parse_agency_config(text.replace(old, new), base_dir=BOUNDARIES))


def pushed(app, sim) -> tuple[int, dict]:
    issue_id = sim.create_issue()["id"]
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)
        assert link_of(issue_id).state == SyncState.ACKNOWLEDGED
    [record] = [r for r in sim.cg_records() if r["SeeClickFixIDField"] == str(issue_id)]
    return issue_id, record


def test_comments_are_read_at_the_documented_child_path_by_default(app, sim):
    with app.app_context():
        load(sim, "    comment_query: batch\n", "")  # the default: per_request
    issue_id, record = pushed(app, sim)
    sim.cg_comment(record["Oid"], "Crew scheduled for Tuesday.", public=True)
    sim.cg_comment(record["Oid"], "Internal: check the budget code.", public=False)
    sim.cartegraph.clear_calls()
    with app.app_context():
        integration_id = db.session.execute(db.select(SyncLink.integration_id)).scalar_one()
        remote_poll.poll_integration(integration_id)
    comments = [c["comment"] for c in sim.scf_issue(issue_id)["comments"]]
    assert "Crew scheduled for Tuesday." in comments
    assert "Internal: check the budget code." not in comments
    paths = [c["path"].split("/api/v1", 1)[1] for c in sim.calls("cg")]
    assert CHILD_PATH.format(oid=record["Oid"]) in paths
    assert "/classes/cgRequests_cgCommentsClass" not in paths  # no batch query on its own


def test_a_fixed_requester_is_sent_and_no_requester_is_written(app, sim):
    """Cartegraph's OMS guide: RequesterField is "specified once when the
    integration is defined and sent with every service request creation"."""
    with app.app_context():
        load(sim, "    timeout: 3\n", "    timeout: 3\n    requester: {mode: fixed}\n")
    _, record = pushed(app, sim)
    assert record["RequesterField"] == "SeeClickFix"
    assert not [c for c in sim.calls("cg") if "cgRequestersClass" in c["path"]]
    assert sim.cg_records("cgRequestersClass") == []
    with app.app_context():
        load(
            sim,
            "    timeout: 3\n",
            "    timeout: 3\n    requester: {mode: fixed, value: SCF 311}\n",
        )
    _, record = pushed(app, sim)
    assert record["RequesterField"] == "SCF 311"


def test_the_importer_reads_newest_first_with_the_documented_sort_only(sim):
    control = sim.cartegraph
    settings = CartegraphSettings.model_validate(control.connector_settings())
    connector = CartegraphConnector(settings, environ=control.environ())
    now = datetime.now(UTC)
    for minutes, extra in ((300, {}), (30, {}), (20, {"SeeClickFixIDField": "77"}), (10, {})):
        control.staff_create(
            IssueField="Pothole",
            EntryDateField=iso_utc(now - timedelta(minutes=minutes)),
            DescriptionField=f"entered {minutes} minutes ago",
            **extra,
        )
    for _ in range(150):  # older than the window: never read past the first page
        control.staff_create(IssueField="Pothole", EntryDateField=iso_utc(now - timedelta(days=3)))
    control.clear_calls()
    found = connector.fetch_new_requests(now - timedelta(hours=1))
    # Newer than the window, without our external id, oldest first.
    assert [r.description for r in found] == ["entered 30 minutes ago", "entered 10 minutes ago"]
    [call] = control.calls()
    query = parse_qs(call["query_string"])
    assert query["sort"] == ["EntryDateField:dsc"]
    assert "filter" not in query  # no `is greater than`, no `is null`
