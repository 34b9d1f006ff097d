"""The engine's entry points, as views, the CLI and the jobs call them."""

from __future__ import annotations

import json
import time

import pytest
from rq.job import validate_job_id

from integrations.errors import PermanentError
from tests.support import event_kinds, fresh_link
from webapp.extensions import db
from webapp.models import Event, Issue, SyncLink, SyncState
from webapp.sync import engine, ingest, lifecycle, push, push_job, schedule
from webapp.sync.webhook import WebhookRejected, sign

SECRET = "test-webhook-secret"


def routed(crm, **fields) -> tuple[int, int]:
    issue_id = crm.add_issue(**fields)
    (link_id,) = ingest.upsert_issue(crm.parsed(issue_id), source="poll").links_to_push
    return issue_id, link_id


def failed(crm, remote) -> tuple[int, int]:
    issue_id, link_id = routed(crm)
    remote.fail("create_request", PermanentError("EAM: HTTP 400: bad category"))
    assert engine.push_here(link_id).state == SyncState.FAILED
    return issue_id, link_id


def link_integration() -> int:
    return db.session.execute(db.select(SyncLink.integration_id)).scalar_one()


# ------------------------------------------------------------------------ retry
def test_retry_sends_a_failed_link_back_to_pending_and_queues_it(app, crm, remote):
    issue_id, link_id = failed(crm, remote)

    outcome = engine.retry(link_id)

    assert (outcome.reset, outcome.queued) == (True, True)
    assert fresh_link(link_id).state == SyncState.PENDING
    assert event_kinds(issue_id)[-1] == "retry_requested"
    assert app.task_queue.depth() == 1
    app.task_queue.drain()
    assert fresh_link(link_id).state == SyncState.ACKNOWLEDGED


def test_retry_of_an_acknowledged_link_owing_nothing_queues_nothing(app, crm):
    _, link_id = routed(crm)
    push.push_link(link_id)

    outcome = engine.retry(link_id)

    assert (outcome.reset, outcome.queued) == (False, False)
    assert app.task_queue.depth() == 0


def test_retry_of_an_acknowledged_link_with_unsent_comments_queues_it(app, crm):
    issue_id, link_id = routed(crm)
    push.push_link(link_id)
    crm.resident_comment(issue_id, "any news?")
    ingest.upsert_issue(crm.parsed(issue_id), source="poll")

    outcome = engine.retry(link_id)

    assert (outcome.reset, outcome.queued) == (False, True)


def test_retry_of_an_unknown_link_is_refused(app):
    with pytest.raises(engine.LinkNotFoundError, match="sync link 404 does not exist"):
        engine.retry(404)


def test_retry_by_an_actor_writes_its_audit_entry_in_the_same_commit(app, crm, remote):
    from webapp.models import AuditEntry
    from webapp.sync import audit

    issue_id, link_id = failed(crm, remote)

    engine.retry(link_id, actor=audit.Actor("staff@agency.example", None))
    engine.retry(link_id)  # no actor (a job, a test): no entry
    db.session.rollback()  # nothing left uncommitted: the entry was written with the change

    (entry,) = db.session.execute(db.select(AuditEntry)).scalars()
    assert (entry.actor, entry.action) == ("staff@agency.example", "link.retry")
    assert entry.target == f"link {link_id} (issue {issue_id})"
    assert entry.before == {"state": "failed"}
    assert entry.after == {"state": "pending", "push_owed": True}


# -------------------------------------------------------------------- push_here
def test_push_here_runs_every_leg_in_this_process(app, crm, remote):
    issue_id, link_id = routed(crm)

    outcome = engine.push_here(link_id)

    assert outcome == engine.PushOutcome(link_id, issue_id, SyncState.ACKNOWLEDGED)
    assert remote.count("create_request") == 1
    assert app.task_queue.depth() == 0


def test_push_here_records_a_failure_as_final(app, crm, remote):
    issue_id, link_id = routed(crm)
    remote.fail("create_request", PermanentError("EAM: HTTP 400: bad category"))

    outcome = engine.push_here(link_id)

    assert outcome.state == SyncState.FAILED
    assert outcome.error == "EAM: HTTP 400: bad category"
    row = fresh_link(link_id)
    assert (row.state, row.attempts, row.last_error) == (SyncState.FAILED, 1, outcome.error)
    assert event_kinds(issue_id)[-1] == "push_failed"


def test_push_here_resets_a_failed_link_first(app, crm, remote):
    issue_id, link_id = failed(crm, remote)

    outcome = engine.push_here(link_id)

    assert outcome.state == SyncState.ACKNOWLEDGED
    assert event_kinds(issue_id)[-3:] == ["retry_requested", "remote_created", "acknowledged"]


# ---------------------------------------------------------- links_to_push_again
def test_push_again_by_issue_covers_that_issues_links(app, crm, remote):
    issue_id, link_id = routed(crm)
    push.push_link(link_id)
    routed(crm)

    assert engine.links_to_push_again(issue_id=issue_id) == [link_id]


def test_push_again_by_integration_covers_its_pending_and_failed_links(app, crm, remote):
    _, done = routed(crm)
    push.push_link(done)
    _, pending = routed(crm)
    _, failing = failed(crm, remote)

    assert engine.links_to_push_again("public-works") == [pending, failing]
    assert engine.links_to_push_again() == [pending, failing]


def test_push_again_of_an_unknown_integration_says_so(app):
    with pytest.raises(engine.TaskNotAvailable, match="no integration named 'nope'"):
        engine.links_to_push_again("nope")


def test_push_again_of_an_unrouted_issue_says_so(app, crm):
    issue_id = crm.add_issue(request_type_id=999)
    ingest.upsert_issue(crm.parsed(issue_id), source="poll")

    with pytest.raises(engine.LinkNotFoundError, match=f"issue {issue_id} has no sync link"):
        engine.links_to_push_again(issue_id=issue_id)


# ------------------------------------------------------------------ fetch_issue
def test_fetch_issue_reads_the_crm_now_stores_and_queues(app, crm):
    issue_id = crm.add_issue()

    result = engine.fetch_issue(issue_id)

    assert crm.args_of("get_issue") == [(issue_id,)]
    assert (result.created, result.enqueued) == (True, 1)
    assert db.session.get(Issue, issue_id) is not None
    detail = db.session.execute(
        db.select(Event.detail).where(Event.issue_id == issue_id, Event.kind == "received")
    ).scalar_one()
    assert detail == "new issue from the CRM CLI"


# -------------------------------------------------------------- receive_webhook
def webhook_body(crm, issue_id: int, event: str = "issue.created") -> bytes:
    return json.dumps({"event": event, "issue": crm.issues[issue_id]}).encode()


def test_a_signed_webhook_is_stored_and_its_push_queued(app, crm):
    issue_id = crm.add_issue()
    body = webhook_body(crm, issue_id)
    timestamp = str(int(time.time()))

    result = engine.receive_webhook(body, timestamp, sign(SECRET, timestamp, body))

    assert (result.issue_id, result.event, result.enqueued) == (issue_id, "issue.created", 1)
    assert lifecycle.link_of(issue_id, link_integration()).state == SyncState.PENDING
    assert app.task_queue.depth() == 1


def test_a_webhook_with_a_bad_signature_is_refused_and_writes_nothing(app, crm):
    issue_id = crm.add_issue()
    body = webhook_body(crm, issue_id)
    timestamp = str(int(time.time()))
    events_before = db.session.execute(db.select(db.func.count(Event.id))).scalar()

    with pytest.raises(WebhookRejected) as rejected:
        engine.receive_webhook(body, timestamp, sign("not-the-secret", timestamp, body))

    assert (rejected.value.status, rejected.value.message) == (401, "signature does not match")
    assert db.session.get(Issue, issue_id) is None
    assert db.session.execute(db.select(db.func.count(Event.id))).scalar() == events_before
    assert app.task_queue.depth() == 0


def test_a_comment_webhook_adds_the_comment_and_queues_its_push(app, crm):
    issue_id, link_id = routed(crm)
    push.push_link(link_id)
    crm.resident_comment(issue_id, "Please hurry")
    payload = {
        "event": "comment.created",
        "issue": {**crm.issues[issue_id], "comments": []},  # the issue as the event carries it
        "comment": crm.issues[issue_id]["comments"][-1],
    }
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()))

    result = engine.receive_webhook(body, timestamp, sign(SECRET, timestamp, body))

    assert result.enqueued == 1
    assert lifecycle.has_unsent_notes(fresh_link(link_id))


# ------------------------------------------------------------------------- jobs
def test_job_kind_finds_every_known_kind_by_name(app):
    assert engine.job_kind("push") is push_job.PUSH_JOB
    assert engine.job_kind("push-retry") is push_job.PUSH_RETRY_JOB
    assert engine.job_kind("task") is schedule.TASK_JOB


def test_job_kind_refuses_an_unknown_name_and_lists_the_known(app):
    with pytest.raises(
        LookupError, match=r"unknown job kind 'pull' \(known: push, push-retry, task\)"
    ):
        engine.job_kind("pull")


def test_every_job_id_is_one_rq_accepts(app):
    keys = [task.key for task in engine.periodic_tasks()]
    assert "remote-poll-public-works" in keys
    ids = [engine.JOB_KINDS["push"].job_id(12)]
    ids += [engine.JOB_KINDS["task"].job_id(key) for key in keys]
    ids += [engine.JOB_KINDS["push-retry"].job_id(12, "0f3a9c1e")]
    for job_id in ids:
        validate_job_id(job_id)  # raises on a character RQ does not allow
    assert set(engine.JOB_KINDS) == {"push", "push-retry", "task"}
