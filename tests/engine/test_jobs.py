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
from webapp.sync import engine, ingest, jobs, push, schedule
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


def flaky_kind(monkeypatch, exc: BaseException) -> list[tuple]:
    """A job kind whose every attempt raises ``exc``; returns its failure-hook calls."""
    calls: list[tuple] = []

    def run(n):
        raise exc

    def on_failure(n, *, exc, final, retry_in):
        calls.append((n, type(exc).__name__, final, retry_in))

    kind = jobs.JobKind("flaky", run, "flaky-{0}", "flaky {0}", retry=True, on_failure=on_failure)
    monkeypatch.setitem(engine.JOB_KINDS, "flaky", kind)
    return calls


# ----------------------------------------------------------------------- job ids
def test_a_job_id_follows_from_its_kind_and_arguments():
    assert push.PUSH_JOB.job_id(12) == "push-12"
    assert schedule.TASK_JOB.job_id("crm-poll") == "task-crm-poll"
    assert schedule.TICK_JOB.job_id("crm-poll", 29411520) == "tick-crm-poll-29411520"
    assert schedule.TICK_JOB.describe("crm-poll", 3) == "schedule slot 3 of crm-poll"


def test_the_same_work_is_queued_once_on_its_kinds_queue(app):
    assert jobs.enqueue(push.PUSH_JOB, 12) == ("push-12", True)
    assert jobs.enqueue(push.PUSH_JOB, 12) == ("push-12", False)
    assert jobs.enqueue(push.PUSH_JOB, 13) == ("push-13", True)
    assert jobs.enqueue(schedule.TASK_JOB, "sweep") == ("task-sweep", True)
    queues = app.task_queue.queues
    assert queues["default"].job_ids == ["push-12", "push-13"]
    assert queues["periodic"].job_ids == ["task-sweep"]


def test_a_finished_job_no_longer_absorbs_the_next_request(app):
    jobs.enqueue(schedule.TASK_JOB, "sweep")
    app.task_queue.drain()
    assert jobs.enqueue(schedule.TASK_JOB, "sweep") == ("task-sweep", True)


def test_every_kind_is_registered_under_its_name(app):
    assert {name: kind.name for name, kind in engine.JOB_KINDS.items()} == {
        "push": "push",
        "task": "task",
        "tick": "tick",
    }
    with pytest.raises(LookupError, match="unknown job kind 'nope' \\(known: push, task, tick\\)"):
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


def test_a_failing_job_is_told_whether_retries_are_left(app, monkeypatch):
    calls = flaky_kind(monkeypatch, TransientError("down"))
    jobs.enqueue(engine.JOB_KINDS["flaky"], 1)
    app.task_queue.drain()

    assert calls == [
        (1, "TransientError", False, 0.0),
        (1, "TransientError", False, 0.0),
        (1, "TransientError", True, None),
    ]
    job = Job.fetch("flaky-1", connection=app.task_queue.connection)
    assert job.get_status() == "finished"  # the last failure is recorded, not raised
    assert job.return_value() == "failed: down"


def test_a_permanent_failure_is_final_at_the_first_attempt(app, monkeypatch):
    calls = flaky_kind(monkeypatch, PermanentError("refused"))
    jobs.enqueue(engine.JOB_KINDS["flaky"], 2)
    app.task_queue.drain()
    assert calls == [(2, "PermanentError", True, None)]


def test_a_rate_limit_stretches_the_next_retry_to_what_the_vendor_asked(app, monkeypatch):
    calls = flaky_kind(monkeypatch, RateLimitedError("slow down", retry_after=2.5))
    jobs.enqueue(engine.JOB_KINDS["flaky"], 3)
    app.task_queue.drain()
    assert calls == [(3, "RateLimitedError", False, 3.0)]
    # Not retried at once (interval 0): scheduled for when the vendor allows it.
    assert app.task_queue.queues["default"].scheduled_job_registry.get_job_ids() == ["flaky-3"]


# ------------------------------------------------------------------ push retries
def test_a_push_that_fails_once_is_retried_and_acknowledged(app, crm, remote):
    link_id = routed_link(crm)
    remote.fail("create_request", TransientError("EAM timed out"))
    push.enqueue_push(link_id)
    app.task_queue.drain()

    link = db.session.get(SyncLink, link_id)
    assert link.state == SyncState.ACKNOWLEDGED
    assert link.attempts == 1
    assert remote.count("create_request") == 2
    assert timeline(link_id) == ["push_retry", "acknowledged"]


def test_a_push_that_fails_every_attempt_ends_failed_with_the_reason(app, crm, remote):
    link_id = routed_link(crm)
    remote.fail("create_request", TransientError("EAM timed out"), times=3)
    push.enqueue_push(link_id)
    app.task_queue.drain()

    link = db.session.get(SyncLink, link_id)
    assert link.state == SyncState.FAILED
    assert (link.attempts, link.last_error) == (3, "EAM timed out")
    assert timeline(link_id) == ["push_retry", "push_retry", "push_failed"]
    assert crm.count("acknowledge") == 0


def test_a_push_the_vendor_refuses_fails_without_a_retry(app, crm, remote):
    link_id = routed_link(crm)
    remote.fail("create_request", PermanentError("IssueField is required", status=400))
    push.enqueue_push(link_id)
    app.task_queue.drain()

    link = db.session.get(SyncLink, link_id)
    assert link.state == SyncState.FAILED
    assert remote.count("create_request") == 1
    assert timeline(link_id) == ["push_failed"]


def test_a_push_of_a_link_that_is_gone_is_final_and_quiet(app):
    assert perform("push", 999) == "failed: sync link 999 does not exist"
