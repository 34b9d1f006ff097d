"""The CRM poll: every issue updated since the cursor ingested; one bad issue
recorded and skipped without stopping the others or passing the cursor."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from integrations.errors import TransientError
from webapp.extensions import db
from webapp.models import Event, Issue, SyncCursor
from webapp.sync import crm_poll, ingest


def cursor() -> SyncCursor:
    db.session.expire_all()
    return db.session.get(SyncCursor, crm_poll.CURSOR_KEY)


def cursor_time() -> datetime:
    return datetime.fromisoformat(cursor().cursor)


def updated_at(crm, issue_id: int) -> datetime:
    return crm.parsed(issue_id).updated_at


def stored() -> list[int]:
    return list(db.session.execute(db.select(Issue.id).order_by(Issue.id)).scalars())


def failures() -> list[str]:
    query = db.select(Event.detail).where(Event.kind == "ingest_failed").order_by(Event.id)
    return list(db.session.execute(query).scalars())


def poison(monkeypatch, bad_id: int) -> set[int]:
    """Storing ``bad_id`` raises while it is in the returned set."""
    real, poisoned = ingest.upsert_issue, {bad_id}

    def upsert(crm_issue, **kwargs):
        if crm_issue.id in poisoned:
            raise RuntimeError("poisoned")
        return real(crm_issue, **kwargs)

    monkeypatch.setattr(ingest, "upsert_issue", upsert)
    return poisoned


def test_every_issue_is_ingested_and_the_cursor_moves_to_the_newest(app, crm):
    ids = [crm.add_issue(), crm.add_issue(), crm.add_issue(request_type_id=999)]
    crm.update(ids[0], summary="edited last")

    report = crm_poll.poll_crm()

    assert stored() == ids
    assert (report.seen, report.created, report.failed, report.enqueued) == (3, 3, 0, 2)
    assert cursor_time() == updated_at(crm, ids[0])
    assert cursor().last_success_at is not None
    assert app.task_queue.depth() == 2


def test_the_next_poll_reads_from_the_cursor_less_the_overlap(app, crm):
    issue_id = crm.add_issue()
    crm_poll.poll_crm()

    report = crm_poll.poll_crm()

    since = crm.args_of("iter_updated_issues")[-1][0]
    assert since == updated_at(crm, issue_id) - crm_poll.POLL_OVERLAP
    assert (report.seen, report.created) == (1, 0)  # re-read, harmlessly


def test_a_poisoned_issue_is_recorded_skipped_and_holds_the_cursor(app, crm, monkeypatch):
    good, bad = crm.add_issue(), crm.add_issue()
    crm.advance(3600)  # far beyond the overlap: only the held cursor reads it again
    later = crm.add_issue()
    poisoned = poison(monkeypatch, bad)

    report = crm_poll.poll_crm()

    assert stored() == [good, later]
    assert (report.seen, report.failed, report.errors) == (3, 1, [f"issue {bad}: poisoned"])
    assert failures() == [f"issue {bad}: poisoned"]
    assert cursor_time() < updated_at(crm, bad)
    poisoned.clear()
    crm_poll.poll_crm()
    assert stored() == [good, bad, later]


def test_a_malformed_issue_is_counted_and_the_others_ingested(app, crm):
    broken = crm.add_issue()
    crm.issues[broken]["status"] = "Exploded"
    fine = crm.add_issue()

    report = crm_poll.poll_crm()

    assert stored() == [fine]
    assert (report.seen, report.failed) == (2, 1)
    assert report.errors == ["status: must be one of Open, Acknowledged, Closed, Archived"]
    assert failures() == [f"malformed issue in the CRM poll: {report.errors[0]}"]


def test_a_crm_error_mid_run_records_last_error_and_reraises(app, crm):
    first, second = crm.add_issue(), crm.add_issue()
    crm.fail_listing_after(1, TransientError("page 2 timed out", system="SeeClickFix"))

    with pytest.raises(TransientError):
        crm_poll.poll_crm()

    assert stored() == [first]
    row = cursor()
    assert row.last_error == "SeeClickFix: page 2 timed out"
    assert row.last_error_at is not None
    assert cursor_time() == updated_at(crm, first)  # the progress made is kept
    kinds = db.session.execute(db.select(Event.kind).where(Event.level == "error")).scalars()
    assert list(kinds) == ["crm_poll_failed"]
    crm_poll.poll_crm()
    assert stored() == [first, second]
    assert cursor().last_error is None


def test_a_crm_error_mid_run_never_moves_the_cursor_past_a_poisoned_issue(app, crm, monkeypatch):
    bad = crm.add_issue()
    crm.advance(3600)
    good = crm.add_issue()
    poisoned = poison(monkeypatch, bad)
    crm.fail_listing_after(2, TransientError("page 2 timed out"))
    with pytest.raises(TransientError):
        crm_poll.poll_crm()
    assert stored() == [good]
    poisoned.clear()

    crm_poll.poll_crm()

    assert stored() == [bad, good]


def test_a_poll_that_reads_nothing_keeps_the_cursor(app, crm):
    issue_id = crm.add_issue()
    crm_poll.poll_crm()
    before = cursor_time()
    del crm.issues[issue_id]  # moved out of the organization, say: nothing to read

    crm_poll.poll_crm()
    crm_poll.poll_crm()

    assert cursor_time() == before


def test_the_summary_line_counts_what_happened(app, crm, monkeypatch):
    crm.add_issue()
    poison(monkeypatch, crm.add_issue())
    crm.add_issue(request_type_id=999)

    report = crm_poll.poll_crm()

    assert report.summary() == "3 seen, 2 new, 1 failed, 1 push(es) queued"


def test_a_poll_of_an_empty_crm_succeeds_without_a_cursor(app, crm):
    report = crm_poll.poll_crm()

    assert report.summary() == "0 seen, 0 new, 0 failed, 0 push(es) queued"
    row = cursor()
    assert (row.cursor, row.last_error) == (None, None)
    assert row.last_started_at <= row.last_success_at


def test_a_poisoned_update_holds_the_cursor_just_before_it(app, crm, monkeypatch):
    first = crm.add_issue()
    crm_poll.poll_crm()
    crm.update(first, summary="edited")
    crm.add_issue()
    poison(monkeypatch, first)

    crm_poll.poll_crm()

    # The cursor sits just before the poisoned update: the next poll reads it again.
    assert cursor_time() == updated_at(crm, first) - timedelta(microseconds=1)
