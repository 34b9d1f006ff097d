"""The sweeper, the dispatcher's safety net: work owed but not recorded as due
(a race between a push finishing and a comment arriving, rows from before
owed work was recorded) is recorded and queued, once, with a ``requeued``
event; work recorded as due is left to the dispatcher."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.engine.conftest import load_agency
from webapp.extensions import db
from webapp.models import Comment, Event, SyncLink, SyncState, utcnow
from webapp.sync import ingest, push, sweep

CLOSING = {"    categories:": "    close_remote_on_crm_close: true\n    categories:"}
AFTER = timedelta(minutes=5)


@pytest.fixture
def queue_down(app, monkeypatch):
    """Redis is unreachable while ``down[0]`` is True."""
    down = [True]
    enqueue = app.task_queue.enqueue

    def flaky(*args, **kwargs):
        if down[0]:
            raise ConnectionError("redis is down")
        return enqueue(*args, **kwargs)

    monkeypatch.setattr(app.task_queue, "enqueue", flaky)
    return down


def receive(crm, issue_id: int) -> None:
    ingest.receive(crm.parsed(issue_id), source="poll")


def age_everything() -> None:
    """Everything owed has waited longer than the sweeper's cutoff, and the
    database lost track of it being due (what the sweeper is for)."""
    past = utcnow() - 2 * AFTER
    db.session.execute(db.update(SyncLink).values(updated_at=past, due_at=None))
    db.session.execute(db.update(Comment).values(seen_at=past))
    db.session.commit()


def requeued() -> list[tuple[int, str]]:
    query = db.select(Event.issue_id, Event.detail).where(Event.kind == "requeued")
    return [tuple(row) for row in db.session.execute(query.order_by(Event.id))]


def acknowledged(crm) -> int:
    """A routed issue whose push finished (the queue left empty)."""
    issue_id = crm.add_issue()
    (link_id,) = ingest.upsert_issue(crm.parsed(issue_id), source="poll").links_to_push
    assert push.push_link(link_id).state == SyncState.ACKNOWLEDGED
    return issue_id


def test_a_pending_link_left_without_a_job_is_queued_again_once(app, crm, queue_down):
    issue_id = crm.add_issue()
    receive(crm, issue_id)  # stored, but the push was never queued
    queue_down[0] = False
    age_everything()

    first = sweep.sweep_pending(AFTER)
    second = sweep.sweep_pending(AFTER)  # the job still waits: nothing more

    assert (first.requeued, second.requeued) == (1, 0)
    assert app.task_queue.depth() == 1
    assert requeued() == [(issue_id, "pending push was owed but not scheduled; queued now")]
    assert first.summary() == "requeued 1"


def test_work_younger_than_the_cutoff_is_left_to_its_job(app, crm, queue_down):
    receive(crm, crm.add_issue())
    queue_down[0] = False

    report = sweep.sweep_pending(AFTER)

    assert (report.requeued, app.task_queue.depth(), requeued()) == (0, 0, [])


def test_a_requeued_push_is_worked_by_the_queue(app, crm, queue_down):
    issue_id = crm.add_issue()
    receive(crm, issue_id)
    queue_down[0] = False
    age_everything()

    sweep.sweep_pending(AFTER)
    app.task_queue.drain()

    link = db.session.execute(db.select(SyncLink)).scalar_one()
    assert link.state == SyncState.ACKNOWLEDGED


def test_unsent_comments_on_an_acknowledged_link_are_queued_again(app, crm, remote, queue_down):
    issue_id = acknowledged(crm)
    crm.resident_comment(issue_id, "Still not fixed")
    receive(crm, issue_id)  # stored, but its push was never queued
    queue_down[0] = False
    age_everything()

    report = sweep.sweep_pending(AFTER)
    app.task_queue.drain()

    assert report.requeued == 1
    assert requeued() == [(issue_id, "unsent comments was owed but not scheduled; queued now")]
    (notes,) = remote.notes.values()
    assert [n.body for n in notes] == ["Still not fixed"]


def staff_closed_without_a_job(crm, queue_down) -> int:
    issue_id = acknowledged(crm)
    crm.staff_close(issue_id)
    receive(crm, issue_id)
    queue_down[0] = False
    age_everything()
    return issue_id


def test_a_crm_close_is_queued_again_when_the_integration_closes_remote(
    app, crm, remote, queue_down
):
    load_agency(**CLOSING)
    issue_id = staff_closed_without_a_job(crm, queue_down)

    report = sweep.sweep_pending(AFTER)
    app.task_queue.drain()

    assert report.requeued == 1
    assert requeued() == [(issue_id, "CRM close was owed but not scheduled; queued now")]
    assert remote.count("close_request") == 1


def test_a_crm_close_is_nobodys_work_when_the_switch_is_off(app, crm, remote, queue_down):
    staff_closed_without_a_job(crm, queue_down)

    report = sweep.sweep_pending(AFTER)

    assert (report.requeued, app.task_queue.depth(), requeued()) == (0, 0, [])


def test_the_requeued_event_is_a_warning_on_the_issue_and_integration(app, crm, queue_down):
    issue_id = crm.add_issue()
    receive(crm, issue_id)
    queue_down[0] = False
    age_everything()

    sweep.sweep_pending(AFTER)

    event = db.session.execute(db.select(Event).where(Event.kind == "requeued")).scalar_one()
    link = db.session.execute(db.select(SyncLink)).scalar_one()
    assert (event.level, event.issue_id, event.integration_id) == (
        "warning",
        issue_id,
        link.integration_id,
    )


def test_work_recorded_as_due_is_left_to_the_dispatcher(app, crm, queue_down):
    receive(crm, crm.add_issue())  # stored and due; its job was never queued
    queue_down[0] = False
    past = utcnow() - 2 * AFTER
    db.session.execute(db.update(SyncLink).values(updated_at=past))  # old, but still due
    db.session.commit()

    report = sweep.sweep_pending(AFTER)

    assert (report.requeued, app.task_queue.depth(), requeued()) == (0, 0, [])
