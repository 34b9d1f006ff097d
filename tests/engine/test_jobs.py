"""Background jobs: ids from arguments (the same work queued once), which
failures are worth retrying, and ``workers.jobs.perform`` running a kind and
telling its failure hook whether retries are left (the app's retry intervals
are ``[0, 0]``: three attempts, the retries run at once)."""

from __future__ import annotations

import pytest
from rq.job import Job

from integrations.errors import (
    IntegrationConfigError,
    NotSupportedError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from webapp.extensions import db
from webapp.models import Event, SyncLink, SyncState
from webapp.sync import engine, ingest, jobs, push, push_job, schedule
from webapp.sync.vendors import NotConfiguredError
from workers.jobs import perform


def routed_link(crm) -> int:
    """A CRM issue stored and routed: the id of its pending link (not queued)."""
    return ingest.upsert_issue(crm.parsed(crm.add_issue()), source="test").links_to_push[0]


def timeline(link_id: int) -> list[str]:
    link = db.session.get(SyncLink, link_id)
    return list(
        db.session.execute(
            db.select(Event.kind)
            .where(Event.issue_id == link.issue_id, Event.kind.in_(PUSH_EVENTS))
            .order_by(Event.id)
        ).scalars()
    )


PUSH_EVENTS = ("push_retry", "push_failed", "acknowledged")


# ----------------------------------------------------------------------- job ids
def test_a_job_id_follows_from_its_kind_and_arguments():
    assert push_job.PUSH_JOB.job_id(12) == "push-12"
    assert push_job.PUSH_RETRY_JOB.job_id(12, "ab12") == "push-12-retry-ab12"
    assert schedule.TASK_JOB.job_id("crm-poll") == "task-crm-poll"
    assert schedule.TASK_JOB.describe("crm-poll") == "periodic task crm-poll"


def test_the_same_work_is_queued_once_on_its_kinds_queue(app):
    assert jobs.enqueue(push_job.PUSH_JOB, 12) == ("push-12", True)
    assert jobs.enqueue(push_job.PUSH_JOB, 12) == ("push-12", False)
    assert jobs.enqueue(push_job.PUSH_JOB, 13) == ("push-13", True)
    assert jobs.enqueue(schedule.TASK_JOB, "sweep") == ("task-sweep", True)
    queues = app.task_queue.queues
    assert queues["default"].job_ids == ["push-12", "push-13"]
    assert queues["periodic"].job_ids == ["task-sweep"]
    # Listed among Redis's queues, where RQ's tools look (once a minute, not per job).
    listed = {q.name for q in type(queues["default"]).all(connection=app.task_queue.connection)}
    assert listed == {queues["default"].name, queues["periodic"].name}


def test_a_job_done_before_does_not_stop_the_same_work_being_queued_again(app):
    """The first enqueue of an id is RQ's atomic unique enqueue; an id whose
    job is done (RQ keeps it an hour) is queued again, once."""
    from rq.job import JobStatus

    jobs.enqueue(push_job.PUSH_JOB, 12)
    queue = app.task_queue.queues["default"]
    job = Job.fetch("push-12", connection=app.task_queue.connection)
    queue.remove(job)
    job.set_status(JobStatus.FINISHED)
    assert queue.job_ids == []
    assert jobs.enqueue(push_job.PUSH_JOB, 12) == ("push-12", True)
    assert jobs.enqueue(push_job.PUSH_JOB, 12) == ("push-12", False)
    assert queue.job_ids == ["push-12"]


def test_work_scheduled_for_later_is_not_doubled_by_a_second_request(app):
    from datetime import UTC, datetime, timedelta

    later = datetime.now(UTC) + timedelta(hours=1)
    assert jobs.enqueue(schedule.TASK_JOB, "sweep", at=later) == ("task-sweep", True)
    assert jobs.enqueue(schedule.TASK_JOB, "sweep", at=later) == ("task-sweep", False)
    assert jobs.enqueue(schedule.TASK_JOB, "sweep") == ("task-sweep", False)  # still waiting
    assert app.task_queue.scheduled_count() == 1


def test_a_finished_job_no_longer_absorbs_the_next_request(app):
    jobs.enqueue(schedule.TASK_JOB, "sweep")
    app.task_queue.drain()
    assert jobs.enqueue(schedule.TASK_JOB, "sweep") == ("task-sweep", True)


def test_every_kind_is_registered_under_its_name(app):
    assert {name: kind.name for name, kind in engine.JOB_KINDS.items()} == {
        "push": "push",
        "push-retry": "push-retry",
        "task": "task",
    }
    with pytest.raises(
        LookupError, match="unknown job kind 'nope' \\(known: push, push-retry, task\\)"
    ):
        engine.job_kind("nope")


# --------------------------------------------------------------------- retryable
@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (TransientError("503"), True),
        (RateLimitedError("429", retry_after=5), True),
        (PermanentError("400"), False),
        (IntegrationConfigError("no secret"), False),
        (NotSupportedError("no comments"), False),
        (NotConfiguredError("no agency"), False),
        (push.LinkNotFoundError("gone"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_only_failures_that_may_pass_later_are_retryable(exc, expected):
    assert jobs.retryable(exc) is expected


# ----------------------------------------------------------------------- perform
def test_perform_runs_the_kind_and_returns_its_result(app):
    assert perform("task", "sweep") == "requeued 0"


def test_perform_re_raises_for_a_kind_without_a_failure_hook(app, monkeypatch):
    def run():
        raise TransientError("down")

    monkeypatch.setitem(engine.JOB_KINDS, "plain", jobs.JobKind("plain", run, "plain", "plain"))
    with pytest.raises(TransientError, match="down"):
        perform("plain")


# ------------------------------------------------------------------ retry policy
@pytest.mark.parametrize(
    ("failures", "exc", "delay"),
    [
        (1, TransientError("down"), 0.0),
        (2, TransientError("down"), 0.0),
        (3, TransientError("down"), None),  # two intervals: the third failure is final
        (1, PermanentError("refused"), None),
        (1, RateLimitedError("slow down", retry_after=2.5), 3.0),  # what the vendor asked
        (1, RateLimitedError("slow down", retry_after=None), 0.0),
    ],
)
def test_the_retry_delay_follows_the_intervals_and_the_vendor(app, failures, exc, delay):
    assert push_job.retry_delay(failures, exc) == delay


def test_a_rate_limited_push_waits_for_the_dispatcher_instead_of_retrying_at_once(app, crm, remote):
    link_id = routed_link(crm)
    remote.fail("create_request", RateLimitedError("slow down", retry_after=30))
    push_job.enqueue_push(link_id)
    app.task_queue.drain()
    link = db.session.get(SyncLink, link_id)
    assert link.state == SyncState.PENDING
    assert (link.due_at - link.last_error_at).total_seconds() >= 29
    assert remote.count("create_request") == 1  # nothing more queued: it is not due yet
    assert app.task_queue.depth() == 0


# ------------------------------------------------------------------ push retries
def test_a_push_that_fails_once_is_retried_and_acknowledged(app, crm, remote):
    link_id = routed_link(crm)
    remote.fail("create_request", TransientError("EAM timed out"))
    push_job.enqueue_push(link_id)
    app.task_queue.drain()

    link = db.session.get(SyncLink, link_id)
    assert link.state == SyncState.ACKNOWLEDGED
    assert link.attempts == 1
    assert remote.count("create_request") == 2
    assert timeline(link_id) == ["push_retry", "acknowledged"]
    # What the push did is in the database: RQ keeps neither job, so the next
    # push of the link is queued without a read.
    connection = app.task_queue.connection
    assert Job.fetch_many([f"push-{link_id}"], connection=connection) == [None]
    assert not any(key.startswith(b"rq:job:push-") for key in connection.keys("rq:job:*"))
    assert jobs.enqueue(push_job.PUSH_JOB, link_id) == (f"push-{link_id}", True)


def test_a_push_that_fails_every_attempt_ends_failed_with_the_reason(app, crm, remote):
    link_id = routed_link(crm)
    remote.fail("create_request", TransientError("EAM timed out"), times=3)
    push_job.enqueue_push(link_id)
    app.task_queue.drain()

    link = db.session.get(SyncLink, link_id)
    assert link.state == SyncState.FAILED
    assert (link.attempts, link.last_error) == (3, "EAM timed out")
    assert timeline(link_id) == ["push_retry", "push_retry", "push_failed"]
    assert crm.count("acknowledge") == 0


def test_a_push_the_vendor_refuses_fails_without_a_retry(app, crm, remote):
    link_id = routed_link(crm)
    remote.fail("create_request", PermanentError("IssueField is required", status=400))
    push_job.enqueue_push(link_id)
    app.task_queue.drain()

    link = db.session.get(SyncLink, link_id)
    assert link.state == SyncState.FAILED
    assert remote.count("create_request") == 1
    assert timeline(link_id) == ["push_failed"]


def test_a_push_of_a_link_that_is_gone_is_final_and_quiet(app):
    assert perform("push", 999) == "failed: sync link 999 does not exist"


# --------------------------------------------------------- a dead worker's job
def _started_long_ago(app, job_id: str, seconds: float) -> None:
    """Mark the queued job ``job_id`` started, with its last heartbeat ``seconds`` ago."""
    from datetime import UTC, datetime, timedelta

    from rq.job import JobStatus

    job = Job.fetch(job_id, connection=app.task_queue.connection)
    job.set_status(JobStatus.STARTED)
    job.heartbeat(datetime.now(UTC) - timedelta(seconds=seconds), ttl=600)


def test_a_started_job_with_a_live_worker_absorbs_the_next_request(app):
    jobs.enqueue(schedule.TASK_JOB, "crm-poll")
    _started_long_ago(app, "task-crm-poll", 5)
    assert jobs.enqueue(schedule.TASK_JOB, "crm-poll") == ("task-crm-poll", False)


def test_a_job_whose_worker_died_is_queued_again_under_an_id_of_its_own(app):
    jobs.enqueue(schedule.TASK_JOB, "crm-poll")
    _started_long_ago(app, "task-crm-poll", 120)  # no heartbeat for two minutes
    job_id, created = jobs.enqueue(schedule.TASK_JOB, "crm-poll")
    assert created and job_id.startswith("task-crm-poll-r") and job_id != "task-crm-poll"
    assert Job.fetch("task-crm-poll", connection=app.task_queue.connection).get_status() == (
        "started"  # left as RQ has it
    )
