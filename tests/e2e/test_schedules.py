"""Periodic jobs on RQ's scheduler with idempotent ids, and Retry-After honoured."""

from __future__ import annotations

import time

from rq import Retry
from rq.job import Job

from integrations.errors import RateLimitedError
from tests.support import run_jobs
from webapp.sync import schedule
from webapp.sync.schedule import ensure_schedules, next_slot, periodic_tasks


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


def test_two_schedulers_never_double_the_work(app):
    now = time.time()
    with app.app_context():
        first = ensure_schedules(now)
        second = ensure_schedules(now)  # another worker starting at the same moment
        assert len(first) == 5 and second == []
        scheduled = [
            job_id
            for queue in app.task_queue.all_queues
            for job_id in queue.scheduled_job_registry.get_job_ids()
        ]
        assert sorted(scheduled) == sorted(first)
        assert f"tick-crm-poll-{next_slot(60, now)}" in first


def test_a_tick_schedules_its_successor_and_queues_the_run(app, sim):
    with app.app_context():
        queue = app.task_queue
        job, _ = queue.enqueue(schedule.TICK_JOB, "crm-poll", 1)
        run_jobs(app)
        assert Job.fetch(job.id, connection=queue.connection).get_status() == "finished"
        run = Job.fetch("task-crm-poll", connection=queue.connection)
        assert run.get_status() == "finished"
        assert "seen" in run.return_value()
        scheduled = queue.queues["periodic"].scheduled_job_registry.get_job_ids()
        assert any(j.startswith("tick-crm-poll-") for j in scheduled)


def rate_limited():
    raise RateLimitedError("slow down", retry_after=30, status=429)


def test_retry_after_stretches_the_next_rq_retry(app):
    with app.app_context():
        queue = app.task_queue.queue
        job = queue.enqueue(
            "tests.e2e.test_schedules.rate_limited_job", retry=Retry(max=2, interval=[1, 1])
        )
        before = time.time()
        run_jobs(app)
        registry = queue.scheduled_job_registry
        assert registry.get_job_ids() == [job.id]
        at = registry.get_scheduled_time(job)
        assert at.timestamp() >= before + 29  # not 1 s: the vendor asked for 30


def rate_limited_job():
    from workers.jobs import next_retry_in

    try:
        rate_limited()
    except RateLimitedError as exc:
        final, delay = next_retry_in(exc)
        assert (final, delay) == (False, 30.0)
        raise
