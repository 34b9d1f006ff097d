"""Failure handling: retries, the last attempt, duplicates, isolation, the sweeper."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from integrations.cartegraph import CartegraphConnector
from tests.conftest import BOUNDARIES, agency_yaml
from tests.support import events_of_kind, queue_crm_poll, run_jobs
from webapp.agency_config import parse_agency_config
from webapp.extensions import db
from webapp.models import SyncLink, SyncState, utcnow
from webapp.sync import crm_poll, dispatcher, ingest, push_job, remote_poll
from webapp.sync.configure import apply_config
from workers.rq_workers import ForkingWorker, build_worker


def ingest_only(app) -> list[int]:
    """Run the CRM poll inline (it queues the pushes); return the link ids."""
    report = crm_poll.poll_crm()
    assert report.failed == 0, report.errors
    return db.session.execute(db.select(SyncLink.id).order_by(SyncLink.id)).scalars().all()


def test_vendor_5xx_is_retried_then_marked_failed_with_the_reason(app, sim):
    sim.create_issue()
    sim.fault(
        "cg",
        status=503,
        count=None,
        method="POST",
        path_contains="cgRequestsClass",
        body={"Message": "Service is down for maintenance"},
    )
    with app.app_context():
        [link_id] = ingest_only(app)
        push_job.enqueue_push(link_id)
        run_jobs(app)
        link = db.session.get(SyncLink, link_id)
        assert link.state == SyncState.FAILED
        assert link.attempts == 3  # first try + two retries (CROSSWALK_RETRY_INTERVALS)
        assert "Service is down for maintenance" in link.last_error
        assert [e.level for e in events_of_kind("push_retry")] == ["warning", "warning"]
        [failed] = events_of_kind("push_failed")
        assert failed.level == "error" and "503" in failed.detail
    posts = [
        c
        for c in sim.calls("cg")
        if c["method"] == "POST" and c["path"].endswith("/cgRequestsClass")
    ]
    assert len(posts) == 3


def test_vendor_4xx_fails_at_once_without_retry(app, sim):
    sim.create_issue()
    sim.fault(
        "cg",
        status=400,
        count=None,
        method="POST",
        path_contains="cgRequestsClass",
        body={
            "Message": "The request is invalid.",
            "Errors": [
                {"GUID": "1", "FieldName": "IssueField", "Message": "Pothole is not a valid value."}
            ],
        },
    )
    with app.app_context():
        [link_id] = ingest_only(app)
        push_job.enqueue_push(link_id)
        run_jobs(app)
        link = db.session.get(SyncLink, link_id)
        assert link.state == SyncState.FAILED and link.attempts == 1
        assert "IssueField: Pothole is not a valid value." in link.last_error


def test_lost_create_reply_is_adopted_not_duplicated(app, sim):
    """The vendor creates the request but the reply is lost (502 after the write)."""
    issue_id = sim.create_issue()["id"]
    sim.fault("cg", drop_after=True, count=1, method="POST", path_contains="cgRequestsClass")
    with app.app_context():
        [link_id] = ingest_only(app)
        push_job.enqueue_push(link_id)
        run_jobs(app)
        assert db.session.get(SyncLink, link_id).state == SyncState.ACKNOWLEDGED
        assert len(events_of_kind("remote_adopted")) == 1
    records = [r for r in sim.cg_records() if r["SeeClickFixIDField"] == str(issue_id)]
    assert len(records) == 1


@pytest.mark.both_databases
def test_worker_killed_between_create_and_storing_the_id(app, sim, tmp_path, monkeypatch):
    """A forked work horse dies right after the remote create; the retry adopts."""
    issue_id = sim.create_issue()["id"]
    marker = tmp_path / "killed-once"
    real_create = CartegraphConnector.create_request

    def create_then_die(self, request):
        record = real_create(self, request)
        if not marker.exists():
            marker.write_text("x")
            os._exit(1)  # the process vanishes: no except, no finally, no commit
        return record

    monkeypatch.setattr(CartegraphConnector, "create_request", create_then_die)
    app.config["CROSSWALK_REDISPATCH_AFTER"] = 0
    with app.app_context():
        [link_id] = ingest_only(app)
        push_job.enqueue_push(link_id)
        worker = build_worker(app, ForkingWorker)  # os._exit must end the horse, not pytest
        worker.work(burst=True, logging_level="WARNING")
        db.session.expire_all()
        assert marker.exists()
        link = db.session.get(SyncLink, link_id)
        # The dead job's lease holds the link until it runs out; nothing is lost.
        assert link.state == SyncState.PENDING and link.lease_owner is not None
        assert dispatcher.tick("worker-a").pushes == 0
        link.lease_until = utcnow() - timedelta(seconds=1)  # ...the lease ran out
        db.session.commit()
        assert dispatcher.tick("worker-a").pushes == 1  # the dispatcher queues it again
        worker.work(burst=True, logging_level="WARNING")
        db.session.expire_all()
        link = db.session.get(SyncLink, link_id)
        assert link.state == SyncState.ACKNOWLEDGED
        assert len(events_of_kind("remote_adopted")) == 1
    records = [r for r in sim.cg_records() if r["SeeClickFixIDField"] == str(issue_id)]
    assert len(records) == 1


@pytest.mark.both_databases
def test_one_failing_issue_does_not_stop_the_poll(app, sim):
    first = sim.create_issue()["id"]
    second = sim.create_issue(summary="Second pothole")["id"]
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)
        links = db.session.execute(db.select(SyncLink).order_by(SyncLink.issue_id)).scalars().all()
        assert [link.state for link in links] == ["acknowledged", "acknowledged"]
        for record in sim.cg_records():
            sim.cg_patch(record["Oid"], StatusField="Closed")
        sim.fault("scf", status=500, count=1, path_contains=f"/issues/{first}/close")
        report = remote_poll.poll_integration(links[0].integration_id)
        assert (report.closed, report.failed) == (1, 1)
        db.session.expire_all()
        assert db.session.get(SyncLink, links[0].id).state == SyncState.ACKNOWLEDGED
        assert db.session.get(SyncLink, links[0].id).last_error
        assert db.session.get(SyncLink, links[1].id).state == SyncState.CLOSED
        # The next cycle closes the one that failed.
        assert remote_poll.poll_integration(links[0].integration_id).closed == 1
    assert sim.scf_issue(first)["status"] == "Closed"
    assert sim.scf_issue(second)["status"] == "Closed"


def test_poll_is_one_query_per_batch(app, sim):
    """batch_size (100 by default; 10 here, to keep the test fast) ids per query."""
    for i in range(23):
        sim.create_issue(summary=f"Pothole {i}")
    with app.app_context():
        text = agency_yaml(sim.sims).replace(
            "    timeout: 3\n", "    timeout: 3\n    batch_size: 10\n"
        )
        apply_config(parse_agency_config(text, base_dir=BOUNDARIES))
        queue_crm_poll()
        run_jobs(app)
        acknowledged = db.select(db.func.count()).where(SyncLink.state == SyncState.ACKNOWLEDGED)
        assert db.session.execute(acknowledged).scalar_one() == 23
        requests_before = len(sim.calls("cg"))
        integration_id = db.session.execute(db.select(SyncLink.integration_id)).scalars().first()
        report = remote_poll.poll_integration(integration_id)
    assert (report.polled, report.batches) == (23, 3)
    calls = sim.calls("cg")[requests_before:]
    paths = sorted(c["path"].rsplit("/", 1)[-1] for c in calls)
    # Per batch: one filtered query for the records, one for any other request
    # carrying the batch's external ids (duplicates), one for their public comments.
    assert paths == ["cgRequestsClass"] * 6 + ["cgRequests_cgCommentsClass"] * 3


def test_pushes_lost_with_redis_come_back_from_the_database(app, sim):
    sim.create_issue()
    app.config["CROSSWALK_REDISPATCH_AFTER"] = 0
    with app.app_context():
        [link_id] = ingest_only(app)
        push_job.enqueue_push(link_id)
        app.task_queue.connection.flushdb()  # Redis lost everything
        assert app.task_queue.depth() == 0
        assert dispatcher.tick("worker-a").pushes == 1  # still due in the database
        assert dispatcher.tick("worker-a").pushes == 0  # already waiting: not doubled
        run_jobs(app)
        assert db.session.get(SyncLink, link_id).state == SyncState.ACKNOWLEDGED


def test_enqueue_is_deduplicated_by_job_id(app, sim):
    sim.create_issue()
    with app.app_context():
        [link_id] = ingest_only(app)
        app.task_queue.connection.flushdb()
        assert push_job.enqueue_push(link_id) is True
        assert push_job.enqueue_push(link_id) is False
        assert app.task_queue.depth() == 1


@pytest.mark.both_databases
def test_one_poisoned_issue_does_not_stop_the_crm_poll(app, sim, monkeypatch):
    good = sim.create_issue(summary="Fine")["id"]
    poisoned = sim.create_issue(summary="Poison")["id"]
    later = sim.create_issue(summary="Also fine")["id"]
    real_upsert = ingest.upsert_issue

    def upsert(crm, *, source):
        if crm.id == poisoned:
            raise RuntimeError("database said no")
        return real_upsert(crm, source=source)

    monkeypatch.setattr(ingest, "upsert_issue", upsert)
    with app.app_context():
        report = crm_poll.poll_crm()
        assert (report.seen, report.created, report.failed) == (3, 2, 1)
        assert f"issue {poisoned}: database said no" in report.errors[0]
        stored = set(db.session.execute(db.select(SyncLink.issue_id)).scalars())
        assert stored == {good, later}
        [failure] = events_of_kind("ingest_failed")
        assert failure.level == "error" and str(poisoned) in failure.detail
        # The cursor stays before the poisoned issue, so the next poll reads it again.
        monkeypatch.setattr(ingest, "upsert_issue", real_upsert)
        assert crm_poll.poll_crm().created == 1
        stored = set(db.session.execute(db.select(SyncLink.issue_id)).scalars())
        assert stored == {good, poisoned, later}
