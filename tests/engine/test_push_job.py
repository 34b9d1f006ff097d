"""The push job: the link's lease, the retry policy on the database's clock,
and the settle time after a create whose answer was lost."""

from __future__ import annotations

import time
from datetime import timedelta

from integrations.errors import PermanentError, TransientError
from tests.support import event_kinds, fresh_link
from webapp.extensions import db
from webapp.models import SyncState, utcnow
from webapp.sync import ingest, leases, lifecycle, push_job


def routed(crm) -> tuple[int, int]:
    issue_id = crm.add_issue()
    (link_id,) = ingest.upsert_issue(crm.parsed(issue_id), source="poll").links_to_push
    return issue_id, link_id


# ------------------------------------------------------------------------ lease
def test_a_push_leaves_its_link_free_and_owing_nothing(app, crm, remote):
    _, link_id = routed(crm)
    assert push_job.run_push(link_id) == SyncState.ACKNOWLEDGED
    link = fresh_link(link_id)
    assert (link.lease_owner, link.lease_until, link.due_at) == (None, None, None)
    assert link.failures_in_row == 0


def test_a_link_under_another_jobs_lease_is_left_to_it(app, crm, remote):
    _, link_id = routed(crm)
    assert lifecycle.claim(link_id, "another job", 60)
    assert push_job.run_push(link_id) == "another job holds this link's lease; it does the work"
    assert remote.count("create_request") == 0
    assert fresh_link(link_id).lease_owner == "another job"  # not released by us


def test_a_lease_left_by_a_killed_job_is_free_once_it_runs_out(app, crm, remote):
    _, link_id = routed(crm)
    lifecycle.claim(link_id, "a job that was killed", 60)
    fresh_link(link_id).lease_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert push_job.run_push(link_id) == SyncState.ACKNOWLEDGED


def test_the_lease_is_renewed_while_the_job_works(app, crm):
    _, link_id = routed(crm)
    lifecycle.claim(link_id, "me", 0.3)
    with leases.Keeper(lifecycle.lease_renewer(link_id, "me", 0.3), 0.3, "test"):
        time.sleep(0.5)  # longer than the lease: the keeper renews it
        db.session.expire_all()
        assert fresh_link(link_id).lease_until > utcnow()


# ------------------------------------------------------------------ retry policy
def test_a_failure_moves_the_due_time_out_by_the_next_interval(app, crm, remote):
    app.config["CROSSWALK_RETRY_INTERVALS"] = [30, 120]
    _, link_id = routed(crm)
    remote.fail("create_request", TransientError("EAM: HTTP 503"))

    summary = push_job.run_push(link_id)

    link = fresh_link(link_id)
    assert summary.startswith("retry at ") and "HTTP 503" in summary
    assert (link.state, link.failures_in_row, link.lease_owner) == (SyncState.PENDING, 1, None)
    assert 29 <= (link.due_at - link.last_error_at).total_seconds() <= 31
    assert app.task_queue.depth() == 0  # the dispatcher queues it when it is due
    assert push_job.run_push(link_id).startswith("not due until")  # backing off
    assert remote.count("create_request") == 1


def test_a_retry_due_at_once_is_queued_by_the_failed_attempt(app, crm, remote):
    _, link_id = routed(crm)  # the test intervals are [0, 0]
    remote.fail("create_request", TransientError("EAM: HTTP 503"))
    push_job.run_push(link_id)
    assert app.task_queue.depth() == 1
    app.task_queue.drain()
    assert fresh_link(link_id).state == SyncState.ACKNOWLEDGED
    assert fresh_link(link_id).failures_in_row == 0  # reset by the success


def test_staff_retry_after_the_last_failure_gets_the_full_retries_again(app, crm, remote):
    _, link_id = routed(crm)
    remote.fail("create_request", PermanentError("EAM: HTTP 400: IssueField"))
    push_job.run_push(link_id)
    assert fresh_link(link_id).state == SyncState.FAILED
    lifecycle.request_retry(fresh_link(link_id))
    db.session.commit()
    remote.fail("create_request", TransientError("EAM: HTTP 503"))
    push_job.run_push(link_id)
    link = fresh_link(link_id)
    assert (link.state, link.attempts) == (SyncState.PENDING, 2)  # retried, not failed


# ------------------------------------------------------------------ settle time
def test_a_lost_create_waits_the_settle_time_then_adopts_a_late_create(app, crm, remote):
    app.config["CROSSWALK_CREATE_SETTLE_SECONDS"] = 60
    issue_id, link_id = routed(crm)
    remote.fail("create_request", TransientError("EAM: read timed out"))
    push_job.run_push(link_id)  # the create was sent; its answer never came
    app.task_queue.connection.flushdb()  # (whatever was queued: this test drives the job)

    waiting = push_job.run_push(link_id)

    link = fresh_link(link_id)
    assert waiting.startswith("waiting until")
    settle_until = link.remote_create_intended_at + timedelta(seconds=60)
    assert link.due_at == settle_until
    assert "create_settling" in event_kinds(issue_id)
    assert remote.count("find_by_external_id") == 1  # no lookup while it may still land

    late = remote.add_record(ExternalId=str(issue_id), Category="Pothole")  # it lands late
    link.remote_create_intended_at -= timedelta(seconds=61)  # ...and the settle time passes
    link.due_at = utcnow()
    db.session.commit()

    assert push_job.run_push(link_id) == SyncState.ACKNOWLEDGED
    assert fresh_link(link_id).remote_id == late
    assert remote.count("create_request") == 1  # never sent twice
    assert list(remote.records) == [late]


def test_a_failed_lookup_sent_nothing_so_there_is_nothing_to_wait_for(app, crm, remote):
    app.config["CROSSWALK_CREATE_SETTLE_SECONDS"] = 60
    _, link_id = routed(crm)
    remote.fail("find_by_external_id", TransientError("EAM: HTTP 503"))
    push_job.run_push(link_id)
    assert fresh_link(link_id).remote_create_intended_at is None
    app.task_queue.drain()  # the retry, due at once
    assert fresh_link(link_id).state == SyncState.ACKNOWLEDGED
