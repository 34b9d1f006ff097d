"""The dispatcher: the periodic tasks and the pushes the database says are due
are queued, once, by one worker at a time; work lost with a queue comes back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support import fresh_link
from webapp.extensions import db
from webapp.models import Lease, PeriodicRun, utcnow
from webapp.sync import dispatcher, ingest, lifecycle, schedule


def queued(app, queue: str) -> list[str]:
    return list(app.task_queue.queues[queue].job_ids)


def routed(crm) -> int:
    """A new CRM issue stored and routed: its pending link's id (nothing queued)."""
    return ingest.upsert_issue(crm.parsed(crm.add_issue()), source="poll").links_to_push[0]


# ------------------------------------------------------------------ the lease
def test_one_worker_holds_the_dispatcher_lease_until_it_runs_out(app):
    assert dispatcher.take_lease("dispatcher", "worker-a", 15)
    assert dispatcher.take_lease("dispatcher", "worker-a", 15)  # renewing is fine
    assert not dispatcher.take_lease("dispatcher", "worker-b", 15)
    lease = db.session.get(Lease, "dispatcher")
    lease.until = utcnow() - timedelta(seconds=1)  # worker a died
    db.session.commit()
    assert dispatcher.take_lease("dispatcher", "worker-b", 15)
    assert db.session.get(Lease, "dispatcher").owner == "worker-b"


def test_a_tick_without_the_lease_queues_nothing(app, crm):
    routed(crm)
    dispatcher.take_lease("dispatcher", "worker-a", 15)
    tick = dispatcher.tick("worker-b")
    assert (tick.held, tick.summary()) == (False, "another worker dispatches")
    assert app.task_queue.depth() == 0


# ------------------------------------------------------------- periodic tasks
def test_the_first_tick_queues_every_task_and_schedules_its_next_run(app):
    tick = dispatcher.tick("worker-a")
    keys = [task.key for task in schedule.periodic_tasks()]
    assert sorted(tick.tasks) == sorted(keys)
    assert sorted(queued(app, "periodic")) == sorted(f"task-{key}" for key in keys)
    for task in schedule.periodic_tasks():
        run = db.session.get(PeriodicRun, task.key)
        assert run.next_run_at - run.last_queued_at == timedelta(seconds=task.interval)


def test_a_task_is_queued_again_only_when_its_next_run_comes(app):
    dispatcher.tick("worker-a")
    assert dispatcher.tick("worker-a").tasks == []
    run = db.session.get(PeriodicRun, "crm-poll")
    run.next_run_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    app.task_queue.drain()  # the first runs are done
    assert dispatcher.tick("worker-a").tasks == ["crm-poll"]
    assert queued(app, "periodic") == ["task-crm-poll"]


def test_a_due_task_whose_run_still_waits_is_not_doubled(app):
    dispatcher.tick("worker-a")
    db.session.execute(db.update(PeriodicRun).values(next_run_at=utcnow() - timedelta(1)))
    db.session.commit()
    dispatcher.tick("worker-a")  # every task due again, every run still waiting
    keys = [task.key for task in schedule.periodic_tasks()]
    assert sorted(queued(app, "periodic")) == sorted(f"task-{key}" for key in keys)


# -------------------------------------------------------------------- pushes
def test_a_due_link_is_queued_once_until_the_redispatch_time(app, crm):
    link_id = routed(crm)
    assert dispatcher.tick("worker-a").pushes == 1
    assert queued(app, "default") == [f"push-{link_id}"]
    assert fresh_link(link_id).dispatched_at is not None
    assert dispatcher.tick("worker-a").pushes == 0  # queued just now: on its way


def test_a_push_lost_with_the_queue_is_queued_again(app, crm):
    app.config["CROSSWALK_REDISPATCH_AFTER"] = 0
    link_id = routed(crm)
    dispatcher.tick("worker-a")
    app.task_queue.connection.flushdb()  # Redis lost the job
    assert dispatcher.tick("worker-a").pushes == 1
    assert queued(app, "default") == [f"push-{link_id}"]
    app.task_queue.drain()
    assert fresh_link(link_id).state == "acknowledged"
    assert fresh_link(link_id).due_at is None  # nothing owed any more
    assert dispatcher.tick("worker-a").pushes == 0


def test_a_job_still_waiting_is_not_doubled_after_the_redispatch_time(app, crm):
    app.config["CROSSWALK_REDISPATCH_AFTER"] = 0
    link_id = routed(crm)
    dispatcher.tick("worker-a")
    dispatcher.tick("worker-a")
    assert queued(app, "default") == [f"push-{link_id}"]


@pytest.mark.parametrize(
    ("lease_until", "queued_now"),
    [(timedelta(seconds=30), False), (timedelta(seconds=-1), True)],
    ids=["lease-held", "lease-ran-out"],
)
def test_a_link_under_a_live_lease_is_left_to_its_job(app, crm, lease_until, queued_now):
    link_id = routed(crm)
    link = fresh_link(link_id)
    link.lease_owner, link.lease_until = "a job that may be dead", utcnow() + lease_until
    db.session.commit()
    assert dispatcher.tick("worker-a").pushes == int(queued_now)


def test_a_link_backing_off_is_not_queued_before_its_time(app, crm):
    link_id = routed(crm)
    fresh_link(link_id).due_at = utcnow() + timedelta(minutes=5)
    db.session.commit()
    assert dispatcher.tick("worker-a").pushes == 0


def test_an_acknowledged_link_owes_nothing_until_new_work_arrives(app, crm, remote):
    issue_id = crm.add_issue()
    (link_id,) = ingest.upsert_issue(crm.parsed(issue_id), source="poll").links_to_push
    dispatcher.tick("worker-a")
    app.task_queue.drain()
    assert fresh_link(link_id).due_at is None
    crm.resident_comment(issue_id, "It got bigger")
    ingest.upsert_issue(crm.parsed(issue_id), source="poll")
    assert fresh_link(link_id).due_at is not None
    assert lifecycle.owes_work(fresh_link(link_id), False)


def test_a_job_started_by_a_dead_worker_does_not_hold_up_a_free_link(app, crm):
    """RQ still calls the job started (it notices a dead worker only much
    later), but the link's lease is free: no job works on it, so a new job is
    queued at once, under an id of its own."""
    from rq.job import Job, JobStatus

    app.config["CROSSWALK_REDISPATCH_AFTER"] = 0
    link_id = routed(crm)
    dispatcher.tick("worker-a")
    job = Job.fetch(f"push-{link_id}", connection=app.task_queue.connection)
    job.set_status(JobStatus.STARTED)  # taken by a worker that was then killed
    app.task_queue.queues["default"].remove(job)

    assert dispatcher.tick("worker-a").pushes == 1
    [queued_id] = queued(app, "default")
    assert queued_id.startswith(f"push-{link_id}-r")
    app.task_queue.drain()
    assert fresh_link(link_id).state == "acknowledged"


def test_a_task_run_started_by_a_dead_worker_does_not_hold_up_the_schedule(app):
    from rq.job import Job, JobStatus

    dispatcher.tick("worker-a")
    job = Job.fetch("task-crm-poll", connection=app.task_queue.connection)
    job.set_status(JobStatus.STARTED)  # taken by a worker that was then killed
    app.task_queue.queues["periodic"].remove(job)
    db.session.execute(db.update(PeriodicRun).values(next_run_at=utcnow() - timedelta(1)))
    db.session.commit()

    assert "crm-poll" in dispatcher.tick("worker-a").tasks
    assert any(j.startswith("task-crm-poll-r") for j in queued(app, "periodic"))
