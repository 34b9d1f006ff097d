"""The sync link's state machine: legal moves and their events, refusals,
legs intended before and done after, and the queries over link state."""

from __future__ import annotations

from datetime import timedelta
from itertools import product

import pytest

from webapp.extensions import db
from webapp.models import Category, Comment, Event, Integration, Issue, SyncLink, SyncState, utcnow
from webapp.sync import lifecycle


def new_issue(issue_id: int = 1, status: str = "Open") -> Issue:
    issue = Issue(id=issue_id, status=status, summary="Pothole")
    db.session.add(issue)
    db.session.flush()
    return issue


def category(remote_id: str = "Pothole") -> Category:
    return db.session.execute(
        db.select(Category).where(Category.remote_id == remote_id)
    ).scalar_one()


def link_in(state: str, issue_id: int = 1, **fields) -> SyncLink:
    issue = new_issue(issue_id)
    link = lifecycle.open_link(issue, category(), detail="to public-works as Pothole")
    link.state = state  # arranging a state directly: this test is about the moves
    for name, value in fields.items():
        setattr(link, name, value)
    db.session.commit()
    return link


def events_of(issue_id: int) -> list[tuple[str, str]]:
    rows = db.session.execute(
        db.select(Event.kind, Event.detail).where(Event.issue_id == issue_id).order_by(Event.id)
    )
    return [tuple(row) for row in rows]


def test_a_new_link_is_pending_and_says_where_it_was_routed(app):
    issue = new_issue()
    link = lifecycle.open_link(issue, category(), detail="to public-works as Pothole")
    db.session.commit()
    assert link.state == SyncState.PENDING
    assert events_of(issue.id) == [("routed", "to public-works as Pothole")]


def test_a_new_link_is_recorded_as_routed_or_imported_only(app):
    with pytest.raises(lifecycle.IllegalTransition, match="routed or imported, not closed"):
        lifecycle.open_link(new_issue(), category(), event="closed", detail="x")


@pytest.mark.parametrize(("start", "to"), sorted(k for k in lifecycle.TRANSITIONS if k[0]))
def test_every_allowed_move_writes_its_event(app, start, to):
    link = link_in(start)
    event = lifecycle.TRANSITIONS[(start, to)][0]
    lifecycle.move(link, to, event, "why it moved")
    db.session.commit()
    assert link.state == to
    assert events_of(link.issue_id)[-1] == (event, "why it moved")


ILLEGAL = sorted(
    (a, b) for a, b in product(SyncState.ALL, SyncState.ALL) if (a, b) not in lifecycle.TRANSITIONS
)


@pytest.mark.parametrize(("start", "to"), ILLEGAL)
def test_every_other_move_is_refused_and_changes_nothing(app, start, to):
    link = link_in(start)
    before = events_of(link.issue_id)
    with pytest.raises(lifecycle.IllegalTransition, match=f"from {start} to {to}"):
        lifecycle.move(link, to, "closed", "no")
    assert link.state == start
    assert events_of(link.issue_id) == before


def test_a_move_with_the_wrong_event_is_refused(app):
    link = link_in(SyncState.ACKNOWLEDGED)
    with pytest.raises(lifecycle.IllegalTransition, match="closed or remote_closed, not archived"):
        lifecycle.move(link, SyncState.CLOSED, "archived", "no")
    assert link.state == SyncState.ACKNOWLEDGED


def test_the_state_machine_table_covers_every_state(app):
    reachable = {to for (_, to) in lifecycle.TRANSITIONS}
    assert reachable == set(SyncState.ALL)


# ------------------------------------------------------------------------- legs
def test_a_leg_is_committed_as_intended_before_it_is_sent(app):
    link = link_in(SyncState.PENDING)
    lifecycle.intend(link, lifecycle.ACKNOWLEDGE_CRM)
    db.session.rollback()  # whatever the vendor call does next, the intent is stored
    db.session.expire_all()
    assert link.crm_ack_intended_at is not None
    assert lifecycle.in_doubt(link, lifecycle.ACKNOWLEDGE_CRM)
    assert not lifecycle.is_done(link, lifecycle.ACKNOWLEDGE_CRM)


def test_a_done_leg_is_no_longer_in_doubt(app):
    link = link_in(SyncState.PENDING)
    lifecycle.intend(link, lifecycle.CREATE_REMOTE)
    lifecycle.mark_done(link, lifecycle.CREATE_REMOTE)
    assert lifecycle.is_done(link, lifecycle.CREATE_REMOTE)
    assert not lifecycle.in_doubt(link, lifecycle.CREATE_REMOTE)
    assert link.remote_created_at >= link.remote_create_intended_at


def test_a_leg_done_without_an_intent_counts_as_intended(app):
    link = link_in(SyncState.PENDING)
    lifecycle.mark_done(link, lifecycle.CLOSE_CRM)
    assert link.crm_close_intended_at == link.crm_closed_at


def test_intending_a_done_leg_again_keeps_its_times(app):
    link = link_in(SyncState.PENDING)
    lifecycle.mark_done(link, lifecycle.ACKNOWLEDGE_CRM)
    before = link.crm_ack_intended_at
    lifecycle.intend(link, lifecycle.ACKNOWLEDGE_CRM)
    assert link.crm_ack_intended_at == before


def test_every_leg_names_two_columns_of_the_link(app):
    columns = set(SyncLink.__table__.columns.keys())
    for leg in lifecycle.LEGS:
        assert {leg.intended, leg.done} <= columns


# ------------------------------------------------------------------ reopen, retry
def test_reopen_syncs_again_and_leaves_the_crew_a_note(app):
    now = utcnow()
    link = link_in(SyncState.CLOSED, crm_closed_at=now, crm_close_intended_at=now)
    lifecycle.reopen(link, link.issue)
    db.session.commit()
    assert link.state == SyncState.ACKNOWLEDGED
    assert link.reopened_at is not None
    assert (link.crm_closed_at, link.crm_close_intended_at) == (None, None)
    note = db.session.execute(db.select(Comment)).scalar_one()
    assert (note.origin, note.pushed_at) == ("note", None)
    assert events_of(link.issue_id)[-1][0] == "reopened"


def test_only_a_failed_link_is_reset_for_a_retry(app):
    failed = link_in(SyncState.FAILED, issue_id=1)
    pending = link_in(SyncState.PENDING, issue_id=2)
    assert lifecycle.request_retry(failed) is True
    assert failed.state == SyncState.PENDING
    assert lifecycle.request_retry(pending) is False
    assert events_of(2)[-1][0] == "routed"


# ---------------------------------------------------------------------- queries
def test_links_to_poll_are_acknowledged_ones_with_a_remote_request(app):
    polled = link_in(SyncState.ACKNOWLEDGED, issue_id=1, remote_id="1001")
    link_in(SyncState.ACKNOWLEDGED, issue_id=2)  # no remote id yet
    link_in(SyncState.PENDING, issue_id=3, remote_id="1003")
    link_in(SyncState.CLOSED, issue_id=4, remote_id="1004")
    assert lifecycle.links_to_poll(polled.integration_id) == [polled.id]
    assert lifecycle.links_to_poll(polled.integration_id, issue_id=2) == []


def test_closed_before_finds_links_due_for_archiving(app):
    old = link_in(SyncState.CLOSED, issue_id=1, crm_closed_at=utcnow() - timedelta(days=20))
    link_in(SyncState.CLOSED, issue_id=2, crm_closed_at=utcnow())
    due = lifecycle.closed_before(old.integration_id, utcnow() - timedelta(days=14))
    assert [link.id for link in due] == [old.id]


def test_push_again_covers_one_issue_or_every_pending_and_failed_link(app):
    pending = link_in(SyncState.PENDING, issue_id=1)
    failed = link_in(SyncState.FAILED, issue_id=2)
    done = link_in(SyncState.ACKNOWLEDGED, issue_id=3)
    ids = [pending.integration_id]
    assert lifecycle.links_to_push_again(ids) == [pending.id, failed.id]
    assert lifecycle.links_to_push_again(ids, issue_id=3) == [done.id]


def test_unsent_notes_are_residents_and_hub_notes_oldest_first(app):
    link = link_in(SyncState.ACKNOWLEDGED)
    t = utcnow()
    db.session.add_all(
        [
            Comment(issue_id=1, origin="crm", body="second", created_at=t),
            Comment(issue_id=1, origin="note", body="first", created_at=t - timedelta(hours=1)),
            Comment(issue_id=1, origin="crosswalk", body="ours: never sent", created_at=t),
            Comment(issue_id=1, origin="crm", body="sent", created_at=t, pushed_at=t),
        ]
    )
    db.session.commit()
    notes = db.session.execute(lifecycle.unsent_notes_query(1)).scalars().all()
    assert [n.body for n in notes] == ["first", "second"]
    assert lifecycle.has_unsent_notes(link)


@pytest.mark.parametrize(
    ("change", "owed"),
    [
        ({}, True),
        ({"feature": False}, False),
        ({"status": "Acknowledged"}, False),
        ({"crm_close_intended_at": "now"}, False),  # our own close, in flight
        ({"remote_closed_at": "now"}, False),  # the remote request is closed already
        ({"remote_id": None}, False),
        ({"state": SyncState.CLOSED}, False),
    ],
)
def test_a_crm_close_by_staff_is_owed_to_the_remote_request(app, change, owed):
    link = link_in(
        change.get("state", SyncState.ACKNOWLEDGED),
        remote_id=change.get("remote_id", "1001"),
    )
    link.issue.status = change.get("status", "Closed")
    for column in ("crm_close_intended_at", "remote_closed_at"):
        if column in change:
            setattr(link, column, utcnow())
    feature = change.get("feature", True)
    assert lifecycle.owes_remote_close(link, link.issue, feature) is owed


def test_work_owed_but_not_recorded_as_due_is_found_for_the_sweeper(app):
    past = utcnow() - timedelta(minutes=10)
    pending = link_in(SyncState.PENDING, issue_id=1)
    notes = link_in(SyncState.ACKNOWLEDGED, issue_id=2, remote_id="1002")
    closing = link_in(SyncState.ACKNOWLEDGED, issue_id=3, remote_id="1003")
    link_in(SyncState.ACKNOWLEDGED, issue_id=4, remote_id="1004")  # nothing owed
    closing.issue.status = "Closed"
    db.session.add(Comment(issue_id=2, origin="crm", body="hi", seen_at=past))
    db.session.execute(db.update(SyncLink).values(updated_at=past, due_at=None))
    db.session.commit()
    integration = db.session.execute(db.select(Integration)).scalar_one()

    owed = lifecycle.work_left_since(utcnow() - timedelta(minutes=1), [integration.id])
    assert {(w.link_id, w.why) for w in owed} == {
        (pending.id, "pending push"),
        (notes.id, "unsent comments"),
        (closing.id, "CRM close"),
    }
    # Without close_remote_on_crm_close the CRM close is nobody's work.
    owed = lifecycle.work_left_since(utcnow() - timedelta(minutes=1), [])
    assert closing.id not in {w.link_id for w in owed}
    # Work younger than the cutoff has a job on its way: not swept yet.
    assert lifecycle.work_left_since(past - timedelta(minutes=1), [integration.id]) == []


def test_work_recorded_as_due_is_not_the_sweepers(app):
    link_in(SyncState.PENDING, issue_id=1)  # opened due now
    db.session.execute(db.update(SyncLink).values(updated_at=utcnow() - timedelta(minutes=10)))
    db.session.commit()
    assert lifecycle.work_left_since(utcnow(), []) == []
