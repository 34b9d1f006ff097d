"""The dispatcher on real Redis: periodic tasks from the database's schedule,
owed pushes re-queued after a flush, one dispatching worker at a time, and
Retry-After honoured."""

from __future__ import annotations

from datetime import timedelta

from rq.job import Job

from integrations.errors import RateLimitedError
from tests.support import link_of, run_jobs
from webapp.extensions import db
from webapp.models import Lease, PeriodicRun, SyncLink
from webapp.sync import dispatcher, ingest, push_job
from webapp.sync.schedule import periodic_tasks


def queued_ids(app) -> list[str]:
    return sorted(job_id for q in app.task_queue.all_queues for job_id in q.job_ids)


def test_periodic_tasks_follow_the_configuration(app):
    with app.app_context():
        names = {t.key: t.interval for t in periodic_tasks()}
    assert names == {
        "sweep": 60,
        "crm-poll": 60,
        "remote-poll-public-works": 300,
        "categories-public-works": 86400,
        "import-public-works": 300,
    }


def test_a_tick_queues_each_due_task_once_and_schedules_the_next_run(app):
    with app.app_context():
        first = dispatcher.tick("worker-a")
        second = dispatcher.tick("worker-a")  # the same tick again: nothing is due
        assert first.held and sorted(first.tasks) == sorted(t.key for t in periodic_tasks())
        assert second.held and second.tasks == []
        assert queued_ids(app) == sorted(f"task-{t.key}" for t in periodic_tasks())
        run = db.session.get(PeriodicRun, "crm-poll")
        assert run.next_run_at - run.last_queued_at == timedelta(seconds=60)


def test_one_worker_dispatches_at_a_time_and_another_takes_over(app):
    with app.app_context():
        assert dispatcher.tick("worker-a").held
        assert not dispatcher.tick("worker-b").held  # a holds the lease
        lease = db.session.get(Lease, dispatcher.LEASE_NAME)
        lease.until = lease.until - timedelta(minutes=5)  # worker a died: its lease ran out
        db.session.commit()
        assert dispatcher.tick("worker-b").held


def test_owed_pushes_and_due_tasks_come_back_after_a_redis_flush(app, sim):
    app.config["CROSSWALK_REDISPATCH_AFTER"] = 0
    issue_id = sim.create_issue()["id"]
    with app.app_context():
        ingest.upsert_issue(_crm_issue(sim, issue_id), source="test")
        tick = dispatcher.tick("worker-a")
        assert tick.pushes == 1 and "crm-poll" in tick.tasks
        app.task_queue.connection.flushdb()  # Redis lost every queued job
        assert queued_ids(app) == []
        db.session.execute(db.update(PeriodicRun).values(next_run_at=PeriodicRun.last_queued_at))
        db.session.commit()

        again = dispatcher.tick("worker-a")
        assert again.pushes == 1 and "crm-poll" in again.tasks
        run_jobs(app)
        assert link_of(issue_id).state == "acknowledged"
        assert link_of(issue_id).due_at is None  # nothing owed any more


def test_a_job_waiting_in_the_queue_is_not_queued_twice(app, sim):
    app.config["CROSSWALK_REDISPATCH_AFTER"] = 0
    issue_id = sim.create_issue()["id"]
    with app.app_context():
        ingest.upsert_issue(_crm_issue(sim, issue_id), source="test")
        dispatcher.tick("worker-a")
        dispatcher.tick("worker-a")  # redispatch time over, but the job still waits
        assert [j for j in queued_ids(app) if j.startswith("push-")] == [
            f"push-{link_of(issue_id).id}"
        ]


def test_retry_after_stretches_the_next_attempt(app, sim):
    app.config["CROSSWALK_RETRY_INTERVALS"] = [1, 1]
    issue_id = sim.create_issue()["id"]
    with app.app_context():
        link_id = ingest.upsert_issue(_crm_issue(sim, issue_id), source="test").links_to_push[0]
        failure = push_job.record_failure(
            link_id, RateLimitedError("slow down", retry_after=30, status=429)
        )
        link = db.session.get(SyncLink, link_id)
        assert not failure.final
        assert (link.due_at - link.last_error_at).total_seconds() >= 29  # not 1 s
        assert push_job.retry_delay(1, RateLimitedError("x", retry_after=None)) == 1.0


def test_a_finished_task_run_can_be_queued_again(app, sim):
    with app.app_context():
        dispatcher.tick("worker-a")
        run_jobs(app)
        job = Job.fetch("task-sweep", connection=app.task_queue.connection)
        assert job.get_status() == "finished" and job.return_value() == "requeued 0"


def _crm_issue(sim, issue_id: int):
    from integrations.seeclickfix import parse_issue

    return parse_issue(sim.scf_issue(issue_id))
