"""close_remote_on_crm_close: staff close the CRM issue → the work request is
closed with a note, once; Crosswalk's own closes never trigger it."""

from __future__ import annotations

import pytest

from tests.conftest import BOUNDARIES, agency_yaml
from tests.support import event_kinds, link_of, queue_crm_poll, run_jobs
from webapp.agency_config import parse_agency_config
from webapp.models import SyncState
from webapp.sync import remote_poll
from webapp.sync.configure import apply_config

NOTE = "Closed in SeeClickFix by agency staff."


def switch_on(sim) -> None:
    text = agency_yaml(sim.sims).replace(
        "    import_comments: true\n",
        "    import_comments: true\n    close_remote_on_crm_close: true\n",
    )
    apply_config(parse_agency_config(text, base_dir=BOUNDARIES))


def acknowledged_issue(app, sim) -> tuple[int, dict]:
    issue_id = sim.create_issue()["id"]
    queue_crm_poll()
    run_jobs(app)
    [record] = sim.cg_records()
    assert sim.scf_issue(issue_id)["status"] == "Acknowledged"
    return issue_id, record


@pytest.mark.both_databases
def test_staff_close_in_the_crm_closes_the_work_request_with_a_note(app, sim):
    with app.app_context():
        switch_on(sim)
        issue_id, record = acknowledged_issue(app, sim)

        sim.staff_close(issue_id, "Duplicate of another report.")
        queue_crm_poll()
        run_jobs(app)

        [closed] = sim.cg_records()
        assert closed["Oid"] == record["Oid"] and closed["StatusField"] == "Closed"
        assert closed["CommentsField"].count(NOTE) == 1
        link = link_of(issue_id)
        assert link.state == SyncState.CLOSED
        assert link.remote_closed_at is not None and link.crm_closed_at is not None
        assert event_kinds(issue_id)[-1] == "remote_closed"

        # Nothing more happens: the next CRM poll and remote poll leave it alone.
        queue_crm_poll()
        run_jobs(app)
        assert remote_poll.poll_integration(link.integration_id).polled == 0
        assert sim.cg_records()[0]["CommentsField"].count(NOTE) == 1
        crm_comments = [c["comment"] for c in sim.scf_issue(issue_id)["comments"]]
        # No closing message: the CRM issue was closed by staff, not by the crew's work.
        assert not any("patched" in text or "completed" in text for text in crm_comments)


def test_crosswalks_own_close_never_closes_the_remote_again(app, sim):
    with app.app_context():
        switch_on(sim)
        issue_id, record = acknowledged_issue(app, sim)
        sim.cg_patch(record["Oid"], StatusField="Closed")  # the crew closes the work
        link = link_of(issue_id)
        assert remote_poll.poll_integration(link.integration_id).closed == 1

        queue_crm_poll()  # the CRM's copy now says Closed: Crosswalk's own close
        run_jobs(app)
        assert NOTE not in (sim.cg_records()[0].get("CommentsField") or "")
        assert "remote_closed" not in event_kinds(issue_id)


@pytest.mark.parametrize("switch", ["off", "unset"])
def test_without_the_switch_a_crm_close_stays_in_the_crm(app, sim, switch):
    with app.app_context():
        if switch == "off":
            text = agency_yaml(sim.sims).replace(
                "    import_comments: true\n",
                "    import_comments: true\n    close_remote_on_crm_close: false\n",
            )
            apply_config(parse_agency_config(text, base_dir=BOUNDARIES))
        issue_id, _ = acknowledged_issue(app, sim)
        sim.staff_close(issue_id, "Handled by phone.")
        queue_crm_poll()
        run_jobs(app)
        assert sim.cg_records()[0]["StatusField"] != "Closed"
        assert link_of(issue_id).state == SyncState.ACKNOWLEDGED
