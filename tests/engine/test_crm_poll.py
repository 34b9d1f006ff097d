"""The CRM poll: every issue updated since the cursor ingested; one bad issue
recorded and skipped without stopping the others or passing the cursor (until
it has failed in enough polls); the listing walked by keyset so that updates
between its requests skip nothing; a CRM that pages wrongly stopped, recorded."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from integrations.errors import TransientError
from integrations.seeclickfix.client import CrmListingError
from webapp.extensions import db
from webapp.models import Event, Issue, SyncCursor, utcnow
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


def version(crm, issue_id: int) -> str:
    """How the timeline names the issue's current version."""
    return f"issue {issue_id} (updated {updated_at(crm, issue_id).isoformat()})"


def requests(crm) -> list[tuple[datetime | None, int]]:
    """The listing requests the poll made: (updated_at_after, page)."""
    return crm.args_of("issues_page")


def stored_versions() -> dict[int, datetime]:
    db.session.expire_all()
    rows = db.session.execute(db.select(Issue.id, Issue.crm_updated_at)).all()
    return dict(rows)


def current_versions(crm) -> dict[int, datetime]:
    return {issue_id: updated_at(crm, issue_id) for issue_id in crm.issues}


def spy_on_receive(monkeypatch) -> list[int]:
    """The ids ``ingest.receive`` is called with, in order."""
    real, received = ingest.receive, []

    def receive(crm_issue, **kwargs):
        received.append(crm_issue.id)
        return real(crm_issue, **kwargs)

    monkeypatch.setattr(ingest, "receive", receive)
    return received


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
    assert failures() == [f"{version(crm, bad)}: poisoned"]
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


# -- the listing, walked by keyset ---------------------------------------------
def test_each_request_is_page_1_from_the_newest_update_read(app, crm):
    crm.per_page = 2
    ids = [crm.add_issue() for _ in range(5)]

    crm_poll.poll_crm()

    assert stored() == ids
    times = [updated_at(crm, i) for i in ids]
    assert requests(crm) == [(None, 1), (times[1], 1), (times[2], 1), (times[3], 1)]


def test_issues_read_again_at_a_page_boundary_are_ingested_once(app, crm, monkeypatch):
    crm.per_page = 2
    ids = [crm.add_issue() for _ in range(5)]
    received = spy_on_receive(monkeypatch)

    report = crm_poll.poll_crm()

    # Each request re-reads the last issue of the one before; it is dropped by id.
    assert received == ids
    assert (report.seen, report.created, report.skipped) == (5, 5, 0)


def test_a_change_in_the_second_of_the_stored_copy_is_still_ingested(app, crm):
    issue_id = crm.add_issue()
    crm_poll.poll_crm()
    # Crosswalk acknowledges it within the second it was reported: the CRM's
    # copy changes, its updated_at (whole seconds) does not.
    crm.issues[issue_id]["status"] = "Acknowledged"

    crm_poll.poll_crm()

    db.session.expire_all()
    assert db.session.get(Issue, issue_id).status == "Acknowledged"


def test_a_boundary_issue_changed_in_its_second_is_taken_again(app, crm, monkeypatch):
    crm.per_page = 2
    first, second, third = crm.add_issue(), crm.add_issue(), crm.add_issue()

    def acknowledge_second(since, page):
        if since == updated_at(crm, second):  # read on page 1, read again now
            crm.issues[second]["status"] = "Acknowledged"

    crm.before_page = acknowledge_second
    received = spy_on_receive(monkeypatch)

    crm_poll.poll_crm()

    assert received == [first, second, second, third]  # unchanged copies are dropped
    db.session.expire_all()
    assert db.session.get(Issue, second).status == "Acknowledged"


def test_more_issues_in_one_second_than_a_page_are_paged_within_that_second(app, crm):
    crm.per_page = 2
    ids = [crm.add_issue() for _ in range(5)]
    crm.bulk_update(ids, summary="Bulk edit")  # five issues, one updated_at
    later = crm.add_issue()

    crm_poll.poll_crm()

    assert stored_versions() == current_versions(crm)
    instant = updated_at(crm, ids[0])
    within = [(instant, 1), (instant, 2), (instant, 3)]
    # Twice through the instant (the second pass finds the same issues), then
    # on by keyset from the first update after it.
    assert requests(crm) == [(None, 1), *within, *within, (updated_at(crm, later), 1)]
    assert cursor_time() == updated_at(crm, later)


def test_an_issue_leaving_a_shared_second_mid_pass_shifts_none_out_of_sight(app, crm):
    crm.per_page = 2
    ids = [crm.add_issue() for _ in range(6)]
    crm.bulk_update(ids, summary="Bulk edit")
    instant = updated_at(crm, ids[0])

    def acknowledge_the_first(since, page):
        # After the poll read page 1 of the instant, a worker acknowledges its
        # first issue, an hour later: the rest of the instant moves up a page.
        if (since, page) == (instant, 2) and updated_at(crm, ids[0]) == instant:
            crm.advance(3600)
            crm.update(ids[0], status="Acknowledged")

    crm.before_page = acknowledge_the_first

    crm_poll.poll_crm()

    # ids[2] moved onto page 1 of the instant after it was read; only the
    # repeated pass finds it. The cursor is an hour on: no later poll would.
    assert stored_versions() == current_versions(crm)
    assert cursor_time() == updated_at(crm, ids[0])


def test_an_update_during_the_confirming_pass_shifts_no_later_issue_out_of_sight(app, crm):
    crm.per_page = 2
    a, b = crm.add_issue(), crm.add_issue()
    crm.bulk_update([a, b], summary="Bulk edit")  # a full page in one second
    instant = updated_at(crm, a)
    after = crm.add_issue()
    crm.advance(3600)
    crm.add_issue(), crm.add_issue()
    asked: list[int] = []

    def acknowledge_a(since, page):
        # The second time page 2 of the instant is asked for, ``a`` (read on
        # page 1 just before) has been acknowledged: ``after`` moves to page 1.
        asked.append(page)
        if (since, page) == (instant, 2) and asked.count(2) == 2:
            crm.advance(3600)
            crm.update(a, status="Acknowledged")

    crm.before_page = acknowledge_a

    crm_poll.poll_crm()

    # Both passes found {a, b}; the second's last page no longer shows what
    # follows the instant, the first's does: the walk goes on from ``after``.
    assert stored_versions() == current_versions(crm)
    assert (updated_at(crm, after), 1) in requests(crm)


@pytest.mark.parametrize("seed", range(40))
def test_nothing_is_skipped_whatever_is_updated_between_the_requests(app, crm, seed):
    """The scheme against "nothing skipped": random page sizes, issues sharing
    seconds, and updates (acknowledgments, bulk edits, an hour passing) landing
    between the poll's requests. After one poll every issue is stored at its
    current version: nothing depends on the next poll's overlap."""
    rng = random.Random(seed)
    crm.per_page = rng.choice([1, 2, 3, 5])
    ids = [crm.add_issue() for _ in range(rng.randint(4, 20))]
    for _ in range(rng.randint(0, 3)):
        crm.bulk_update(rng.sample(ids, rng.randint(1, len(ids))), summary="Bulk edit")
    budget = [rng.randint(0, 12)]  # updates the workers make while the poll pages

    def workers(since, page):
        for _ in range(rng.randint(0, 2)):
            if budget[0] == 0:
                return
            budget[0] -= 1
            crm.advance(rng.choice([0, 0, 1, 3600]))
            chosen = rng.sample(ids, rng.randint(1, 3))
            if len(chosen) > 1:
                crm.bulk_update(chosen, status="Acknowledged")
            else:
                crm.update(chosen[0], status="Acknowledged")

    crm.before_page = workers

    report = crm_poll.poll_crm()

    assert report.failed == 0
    assert stored_versions() == current_versions(crm)
    assert cursor_time() == max(current_versions(crm).values())


# -- a CRM that pages wrongly ----------------------------------------------------
def crm_poll_errors() -> list[str]:
    query = db.select(Event.detail).where(Event.kind == "crm_poll_failed").order_by(Event.id)
    return list(db.session.execute(query).scalars())


def test_a_crm_that_pages_forever_is_stopped_after_the_cap(app, crm):
    crm.per_page, crm.max_requests = 2, 12
    ids = [crm.add_issue() for _ in range(3)]
    served: list[dict] = []

    def same_page_forever(body, page):
        # The first page ever served, again and again, always with a next page.
        served.append(served[0] if served else body)
        return {**served[-1], "metadata": {"pagination": {"page": page, "next_page": page + 1}}}

    crm.tamper_page = same_page_forever

    with pytest.raises(CrmListingError, match="stopped after 12 requests"):
        crm_poll.poll_crm()

    assert crm.count("issues_page") == 12
    row = cursor()
    assert "stopped after 12 requests" in row.last_error
    assert crm_poll_errors() == [row.last_error]
    assert stored() == ids[:2]  # what was read is kept, and the cursor with it
    assert cursor_time() == updated_at(crm, ids[1])


def test_a_next_page_that_does_not_move_on_is_a_recorded_failure(app, crm):
    crm.per_page = 1
    crm.add_issue(), crm.add_issue()

    def stuck(body, page):
        body["metadata"]["pagination"]["next_page"] = page  # "next" is this page again
        return body

    crm.tamper_page = stuck

    with pytest.raises(CrmListingError, match="next_page 1 does not come after page 1"):
        crm_poll.poll_crm()
    assert "the listing would loop" in cursor().last_error
    assert crm.count("issues_page") == 1


@pytest.mark.parametrize(
    ("next_page", "message"),
    [
        ("two", "next_page is not a page number: 'two'"),
        (2.5, "next_page is not a page number: 2.5"),
        (True, "next_page is not a page number: True"),
    ],
)
def test_a_non_numeric_next_page_is_a_recorded_failure(app, crm, next_page, message):
    crm.add_issue()

    def garbled(body, page):
        body["metadata"]["pagination"]["next_page"] = next_page
        return body

    crm.tamper_page = garbled

    with pytest.raises(CrmListingError) as caught:
        crm_poll.poll_crm()

    assert not isinstance(caught.value, ValueError)
    assert str(caught.value) == f"SeeClickFix: issue listing, page 1: {message}"
    assert cursor().last_error == str(caught.value)
    assert crm_poll_errors() == [str(caught.value)]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (["not", "an", "object"], "the reply has no 'issues' list"),
        ({"issues": {"id": 1}}, "the reply has no 'issues' list"),
        ({"issues": []}, "the reply has no 'metadata.pagination' object"),
        ({"issues": [], "metadata": {"pagination": 3}}, "no 'metadata.pagination' object"),
    ],
)
def test_a_malformed_envelope_is_a_recorded_failure(app, crm, reply, message):
    crm.add_issue()
    crm.tamper_page = lambda body, page: reply

    with pytest.raises(CrmListingError, match=message):
        crm_poll.poll_crm()

    assert message in cursor().last_error
    assert len(crm_poll_errors()) == 1


def test_issues_out_of_updated_at_order_are_refused(app, crm):
    crm.add_issue(), crm.add_issue()

    def unsorted(body, page):
        body["issues"].reverse()
        return body

    crm.tamper_page = unsorted

    with pytest.raises(CrmListingError, match="not in ascending updated_at order"):
        crm_poll.poll_crm()
    assert stored() == []


# -- an issue that never stores ------------------------------------------------------
def test_an_issue_that_never_stores_is_given_up_after_n_polls(app, crm, monkeypatch):
    bad = crm.add_issue()
    crm.advance(10)  # within the overlap: later polls read ``bad`` again
    later = crm.add_issue()
    poisoned = poison(monkeypatch, bad)
    received = spy_on_receive(monkeypatch)

    for _ in range(crm_poll.GIVE_UP_AFTER_POLLS - 1):
        assert crm_poll.poll_crm().given_up == 0
        assert cursor_time() < updated_at(crm, bad)  # held: read again next time
    report = crm_poll.poll_crm()

    assert (report.failed, report.given_up) == (1, 1)
    assert cursor_time() == updated_at(crm, later)  # released past it
    *held, given_up = failures()
    assert held == [f"{version(crm, bad)}: poisoned"] * (crm_poll.GIVE_UP_AFTER_POLLS - 1)
    assert given_up.startswith(f"{version(crm, bad)}: poisoned; failed to store in 3 polls")
    assert "will not be retried automatically" in given_up
    assert f"crosswalk sync crm --issue {bad}" in given_up
    levels = db.session.execute(db.select(Event.level).where(Event.kind == "ingest_failed"))
    assert set(levels.scalars()) == {"error"}

    tries = received.count(bad)
    report = crm_poll.poll_crm()  # reads ``bad`` again (the overlap), does not retry it
    assert received.count(bad) == tries
    assert (report.failed, report.skipped, len(failures())) == (0, 1, 3)

    poisoned.clear()
    crm.update(bad, summary="edited")  # a new version is new data: tried again
    crm_poll.poll_crm()
    assert stored_versions()[bad] == updated_at(crm, bad)


def test_failures_are_counted_per_version(app, crm, monkeypatch):
    bad = crm.add_issue()
    poison(monkeypatch, bad)
    for _ in range(crm_poll.GIVE_UP_AFTER_POLLS - 1):
        crm_poll.poll_crm()
    crm.update(bad, summary="edited")

    report = crm_poll.poll_crm()

    assert report.given_up == 0  # the new version failed once, not three times
    assert cursor_time() < updated_at(crm, bad)


def test_a_failure_read_twice_in_one_poll_counts_as_one_poll(app, crm, monkeypatch):
    crm.per_page = 2
    crm.add_issue()
    bad = crm.add_issue()
    crm.add_issue()
    poison(monkeypatch, bad)

    def edit_bad(since, page):
        if since == updated_at(crm, bad):  # re-read at the page boundary, changed
            crm.issues[bad]["summary"] = "edited within the same second"

    crm.before_page = edit_bad

    report = crm_poll.poll_crm()

    assert report.failed == 2  # both copies were tried...
    assert failures() == [f"{version(crm, bad)}: poisoned"]  # ...one poll's failure
    assert cursor_time() < updated_at(crm, bad)


def test_a_stored_position_in_the_far_future_does_not_freeze_the_poll(app, crm):

    row = db.session.get(SyncCursor, "crm") or SyncCursor(key="crm")
    row.cursor = "9999-12-31T00:00:00+00:00"  # left by a CRM clock gone wrong
    row.last_success_at = utcnow() - timedelta(minutes=5)
    db.session.add(row)
    db.session.commit()
    issue_id = crm.add_issue()
    crm.issues[issue_id]["updated_at"] = utcnow().isoformat()  # a real, current update

    crm_poll.poll_crm()

    assert db.session.get(Issue, issue_id) is not None
    assert datetime.fromisoformat(db.session.get(SyncCursor, "crm").cursor).year < 9999
