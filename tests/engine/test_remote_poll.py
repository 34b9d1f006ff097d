"""The remote poll: records read in batches, closes carried to the CRM with the
right message (the CRM-close leg intended before, done after), unchanged
records left alone in one statement, rules fired once per becoming true,
remote comments imported once, missing records warned, reopened links held
until the remote is seen open, one bad link or batch never stopping the
others, and archiving."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy

from integrations.base import RemoteComment
from integrations.errors import TransientError
from tests.engine.conftest import load_agency
from tests.support import events_of_kind
from webapp.extensions import db
from webapp.models import Comment, Event, Integration, SyncCursor, SyncLink, SyncState, utcnow
from webapp.sync import ingest, lifecycle, push, remote_poll

INTEGRATION_CLOSING = "Public Works has completed this request."
RULE_MESSAGE = "A work task has been created."


def integration() -> Integration:
    return db.session.execute(db.select(Integration)).scalar_one()


def acknowledged(crm, remote, **fields) -> SyncLink:
    """A CRM issue routed and pushed: its link acknowledged, its remote record
    carrying ``fields`` (``Tasks=0`` unless given: the fixture rule's field)."""
    issue_id = crm.add_issue()
    result = ingest.upsert_issue(crm.parsed(issue_id), source="test")
    link = push.push_link(result.links_to_push[0])
    assert link.state == SyncState.ACKNOWLEDGED
    remote.set(link.remote_id, **{"Tasks": 0, **fields})
    return link


def poll() -> remote_poll.RemotePollReport:
    return remote_poll.poll_integration(integration().id)


def fake_setting(line: str) -> dict[str, str]:
    """A ``load_agency`` replacement adding one key to the fake integration."""
    return {"    kind: fake\n": f"    kind: fake\n    {line}\n"}


# ---------------------------------------------------------------------- batches
def test_records_are_fetched_in_batches_of_the_configured_size(app, crm, remote):
    load_agency(**fake_setting("batch_size: 2"))
    links = [acknowledged(crm, remote) for _ in range(5)]
    remote.calls.clear()
    report = poll()
    fetched = [args[0] for name, args in remote.calls if name == "fetch_records"]
    assert [len(batch) for batch in fetched] == [2, 2, 1]
    assert sorted(i for batch in fetched for i in batch) == sorted(k.remote_id for k in links)
    assert (report.batches, report.polled) == (3, 5)


def test_only_acknowledged_links_are_polled(app, crm, remote):
    polled = acknowledged(crm, remote)
    pending = ingest.upsert_issue(crm.parsed(crm.add_issue()), source="test")
    assert pending.links_to_push
    remote.calls.clear()
    poll()
    fetched = [args[0] for name, args in remote.calls if name == "fetch_records"]
    assert fetched == [(polled.remote_id,)]


def test_a_poll_of_one_issue_reads_only_its_record(app, crm, remote):
    acknowledged(crm, remote)
    wanted = acknowledged(crm, remote)
    remote.calls.clear()
    report = remote_poll.poll_integration(integration().id, issue_id=wanted.issue_id)
    assert [a for name, a in remote.calls if name == "fetch_records"] == [((wanted.remote_id,),)]
    assert report.polled == 1


def test_polling_an_unknown_integration_is_refused(app):
    with pytest.raises(LookupError, match="integration 999 does not exist"):
        remote_poll.poll_integration(999)


# ------------------------------------------------------------------------ close
@pytest.mark.parametrize(
    ("replacements", "status_messages", "expected"),
    [
        ({}, {}, INTEGRATION_CLOSING),
        (
            {
                '        acknowledgment_message: "A crew will inspect this pothole."\n': (
                    '        acknowledgment_message: "A crew will inspect this pothole."\n'
                    '        closing_message: "The pothole has been patched."\n'
                )
            },
            {},
            "The pothole has been patched.",
        ),
        ({}, {"Closed": "Closed by crew 4: patched."}, "Closed by crew 4: patched."),
        (
            {f'    closing_message: "{INTEGRATION_CLOSING}"\n': ""},
            {},
            "This request has been completed. Thank you for reporting it.",
        ),
    ],
    ids=["integration", "category", "connector", "default"],
)
def test_a_closed_remote_request_closes_the_crm_issue_with_its_message(
    app, crm, remote, replacements, status_messages, expected
):
    if replacements:
        load_agency(**replacements)
    remote.closing_messages.update(status_messages)
    link = acknowledged(crm, remote)
    remote.set(link.remote_id, Status="Closed")

    report = poll()

    assert report.closed == 1
    assert crm.calls[-1] == ("close", (link.issue_id, expected))
    assert crm.issues[link.issue_id]["status"] == "Closed"
    assert link.state == SyncState.CLOSED
    assert link.issue.status == "Closed"
    assert [e.detail for e in events_of_kind("closed", link.issue_id)] == [expected]


def test_the_crm_close_leg_is_committed_as_intended_before_the_call_and_done_after(
    app, crm, remote, monkeypatch
):
    link = acknowledged(crm, remote)
    link_id = link.id
    remote.set(link.remote_id, Status="Closed")
    seen_by_the_call = []
    real_close = crm.close

    def close(issue_id, comment):
        # What another connection reads while the CRM works: the committed row.
        with db.engine.connect() as connection:
            seen_by_the_call.append(
                connection.execute(
                    sqlalchemy.select(SyncLink.crm_close_intended_at, SyncLink.crm_closed_at).where(
                        SyncLink.id == link_id
                    )
                ).one()
            )
        return real_close(issue_id, comment)

    monkeypatch.setattr(crm, "close", close)
    poll()

    [(intended, done)] = seen_by_the_call
    assert intended is not None and done is None
    assert link.crm_closed_at is not None
    assert link.crm_closed_at >= link.crm_close_intended_at
    assert not lifecycle.in_doubt(link, lifecycle.CLOSE_CRM)


def test_a_failed_crm_close_leaves_the_leg_in_doubt_and_is_tried_again(app, crm, remote):
    link = acknowledged(crm, remote)
    remote.set(link.remote_id, Status="Closed")
    crm.fail("close", TransientError("CRM unavailable", system="SeeClickFix", status=503))

    report = poll()
    assert (report.closed, report.failed) == (0, 1)
    assert link.state == SyncState.ACKNOWLEDGED
    assert lifecycle.in_doubt(link, lifecycle.CLOSE_CRM)
    assert "CRM unavailable" in link.last_error
    assert [e.level for e in events_of_kind("remote_poll_failed", link.issue_id)] == ["error"]

    assert poll().closed == 1
    assert link.state == SyncState.CLOSED
    assert crm.count("close") == 2


def test_a_crm_close_in_doubt_is_resolved_before_closing_again(app, crm, remote, monkeypatch):
    link = acknowledged(crm, remote)
    remote.set(link.remote_id, Status="Closed")
    real_close = crm.close

    def close_then_lose_the_reply(issue_id, comment):
        real_close(issue_id, comment)  # the CRM applied it...
        monkeypatch.setattr(crm, "close", real_close)
        raise TransientError("read timed out")  # ...and the reply was lost

    monkeypatch.setattr(crm, "close", close_then_lose_the_reply)
    poll()
    assert lifecycle.in_doubt(link, lifecycle.CLOSE_CRM)

    poll()

    assert link.state == SyncState.CLOSED
    assert crm.comments_of(link.issue_id).count(INTEGRATION_CLOSING) == 1


# ------------------------------------------------------------- unchanged records
def test_unchanged_open_records_are_left_untouched_in_one_statement(app, crm, remote):
    links = [acknowledged(crm, remote) for _ in range(3)]
    poll()  # the first sight stores what each record looks like
    polled_before = {k.id: k.last_polled_at for k in links}
    events_before = db.session.execute(db.select(sqlalchemy.func.count(Event.id))).scalar_one()
    calls_before = list(crm.calls)
    statements: list[tuple[str, bool]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, executemany))

    sqlalchemy.event.listen(db.engine, "before_cursor_execute", record)
    try:
        report = poll()
    finally:
        sqlalchemy.event.remove(db.engine, "before_cursor_execute", record)

    assert report.polled == 3
    link_updates = [
        many for sql, many in statements if sql.lstrip().upper().startswith("UPDATE SYNC_LINK")
    ]
    assert link_updates == [False]  # one statement for the three, not one (or a batch) each
    assert db.session.execute(db.select(sqlalchemy.func.count(Event.id))).scalar_one() == (
        events_before
    )
    assert crm.calls == calls_before
    for link in links:
        db.session.refresh(link)
        assert link.last_polled_at > polled_before[link.id]
        assert link.state == SyncState.ACKNOWLEDGED


def test_a_changed_status_is_stored_and_written_to_the_timeline(app, crm, remote):
    link = acknowledged(crm, remote)
    poll()
    remote.set(link.remote_id, Status="In Progress")
    poll()
    assert link.remote_status == "In Progress"
    assert link.remote_fields["Status"] == "In Progress"
    assert [e.detail for e in events_of_kind("remote_status", link.issue_id)] == [
        "Open → In Progress"
    ]
    assert crm.count("add_comment") == 0


# ------------------------------------------------------------------------ rules
def test_a_rule_fires_once_per_becoming_true(app, crm, remote):
    link = acknowledged(crm, remote, Tasks=1)
    poll()  # true at first sight: fires
    for tasks in (2, 0, 0, 3, 4):  # still true, false, false, true again, still true
        remote.set(link.remote_id, Tasks=tasks)
        poll()
    assert crm.comments_of(link.issue_id).count(RULE_MESSAGE) == 2
    assert len(events_of_kind("rule_fired", link.issue_id)) == 2


def test_a_rule_that_stays_false_never_posts(app, crm, remote):
    link = acknowledged(crm, remote, Tasks=0)
    poll()
    remote.set(link.remote_id, Description="edited by the crew")
    poll()
    assert RULE_MESSAGE not in crm.comments_of(link.issue_id)
    assert events_of_kind("rule_fired") == []


def test_a_rule_added_later_is_judged_on_unchanged_records_at_the_next_poll(app, crm, remote):
    from webapp.models import Rule, RuleState

    link = acknowledged(crm, remote, Tasks=0, Crew="B")
    poll()
    poll()  # the record as it stays: untouched from here on
    db.session.add(
        Rule(
            integration_id=integration().id,
            position=1,
            field="Crew",
            op="=",
            value="b",
            message="Crew B has it.",
        )
    )
    db.session.commit()
    poll()  # the record did not change: the new rule is judged all the same
    poll()
    assert crm.comments_of(link.issue_id).count("Crew B has it.") == 1
    states = db.session.execute(db.select(RuleState).where(RuleState.link_id == link.id))
    assert sorted((s.rule_id, s.is_true) for s in states.scalars()) == [(1, False), (2, True)]


def test_a_rule_naming_a_missing_field_is_a_rule_error_said_once(app, crm, remote):
    links = [acknowledged(crm, remote) for _ in range(2)]
    for link in links:
        del remote.records[link.remote_id]["Tasks"]
    poll()
    for link in links:
        remote.set(link.remote_id, Description="changed, so polled again")
    poll()

    [error] = events_of_kind("rule_error")
    assert error.level == "error"
    assert 'no field "Tasks"' in error.detail
    assert error.detail.count("Tasks >= 1") == 1  # the rule is named once
    assert error.integration_id == integration().id
    assert all(RULE_MESSAGE not in crm.comments_of(k.issue_id) for k in links)


# --------------------------------------------------------------------- comments
def public_and_private(remote_id: str) -> list[RemoteComment]:
    return [
        RemoteComment("c-1", remote_id, "Crew scheduled for Monday.", public=True, author="Crew 4"),
        RemoteComment("c-2", remote_id, "Bring the big truck.", public=False, author="Crew 4"),
    ]


def test_public_remote_comments_are_imported_once_private_ones_never(app, crm, remote):
    load_agency(**fake_setting("import_comments: true"))
    link = acknowledged(crm, remote)
    remote.comments[link.remote_id] = public_and_private(link.remote_id)

    poll()
    poll()

    comments = crm.comments_of(link.issue_id)
    assert comments.count("Crew scheduled for Monday.") == 1
    assert "Bring the big truck." not in comments
    [stored] = db.session.execute(db.select(Comment).where(Comment.origin == "remote")).scalars()
    assert (stored.remote_key, stored.author) == ("c-1", "Crew 4")
    assert stored.pushed_at is not None  # never sent back to the remote request
    assert not lifecycle.has_unsent_notes(link)
    assert len(events_of_kind("comments_imported", link.issue_id)) == 1


def test_remote_comments_are_not_read_unless_switched_on(app, crm, remote):
    link = acknowledged(crm, remote)
    remote.comments[link.remote_id] = public_and_private(link.remote_id)
    poll()
    assert remote.count("fetch_comments") == 0
    assert "Crew scheduled for Monday." not in crm.comments_of(link.issue_id)


# ---------------------------------------------------------------------- missing
def test_a_missing_remote_record_is_a_warning_said_once(app, crm, remote):
    link = acknowledged(crm, remote)
    saved = remote.records.pop(link.remote_id)
    poll()
    poll()

    [warning] = events_of_kind("remote_missing", link.issue_id)
    assert warning.level == "warning"
    assert warning.detail == f"remote request R-{link.remote_id} was not found"
    assert link.state == SyncState.ACKNOWLEDGED
    assert link.last_error == warning.detail

    remote.records[link.remote_id] = saved  # back again: the problem clears
    poll()
    assert link.last_error is None


# ----------------------------------------------------------------------- reopen
def test_a_reopened_link_waits_for_the_remote_to_be_seen_open_before_closing_again(
    app, crm, remote
):
    link = acknowledged(crm, remote)
    remote.set(link.remote_id, Status="Closed")
    poll()
    crm.update(link.issue_id, status="Open", reopened_at=crm.tick())
    ingest.upsert_issue(crm.parsed(link.issue_id), source="test")
    assert link.state == SyncState.ACKNOWLEDGED

    poll()  # the remote request is still the old, closed one
    assert link.state == SyncState.ACKNOWLEDGED
    assert crm.count("close") == 1

    remote.set(link.remote_id, Status="Open")
    poll()
    assert link.reopened_at is None
    remote.set(link.remote_id, Status="Closed")
    poll()
    assert link.state == SyncState.CLOSED
    assert crm.count("close") == 2
    assert [e.kind for e in events_of_kind("closed", link.issue_id)] == ["closed", "closed"]


# ------------------------------------------------------------------- isolation
def poison(monkeypatch, link_id: int) -> None:
    real = remote_poll.apply_remote

    def apply_remote(ctx, link, record, comments=None):
        if link.id == link_id:
            raise RuntimeError("poisoned row")
        return real(ctx, link, record, comments)

    monkeypatch.setattr(remote_poll, "apply_remote", apply_remote)


def test_a_poisoned_link_is_isolated_and_the_others_still_close(app, crm, remote, monkeypatch):
    links = [acknowledged(crm, remote) for _ in range(3)]
    for link in links:
        remote.set(link.remote_id, Status="Closed")
    poison(monkeypatch, links[1].id)

    report = poll()

    assert (report.closed, report.failed) == (2, 1)
    assert [k.state for k in links] == [SyncState.CLOSED, SyncState.ACKNOWLEDGED, SyncState.CLOSED]
    assert links[1].last_error == "poisoned row"
    assert [e.level for e in events_of_kind("remote_poll_failed", links[1].issue_id)] == ["error"]
    assert crm.count("close") == 2


def test_a_poisoned_link_in_a_batch_of_quiet_changes_does_not_lose_or_double_the_rest(
    app, crm, remote, monkeypatch
):
    links = [acknowledged(crm, remote) for _ in range(3)]
    poll()
    for link in links:
        remote.set(link.remote_id, Status="In Progress")
    poison(monkeypatch, links[1].id)

    report = poll()

    assert (report.polled, report.failed) == (2, 1)
    assert [k.remote_status for k in links] == ["In Progress", "Open", "In Progress"]
    assert [len(events_of_kind("remote_status", k.issue_id)) for k in links] == [1, 0, 1]


def test_unchanged_links_are_marked_polled_even_when_a_neighbour_is_poisoned(
    app, crm, remote, monkeypatch
):
    quiet, changed, poisoned = (acknowledged(crm, remote) for _ in range(3))
    poll()
    before = quiet.last_polled_at
    remote.set(changed.remote_id, Status="In Progress")
    remote.set(poisoned.remote_id, Status="In Progress")
    poison(monkeypatch, poisoned.id)

    poll()

    db.session.refresh(quiet)
    assert quiet.last_polled_at > before


def test_a_batch_fetch_error_is_recorded_and_the_poll_goes_on(app, crm, remote):
    load_agency(**fake_setting("batch_size: 1"))
    first, second = acknowledged(crm, remote), acknowledged(crm, remote)
    for link in (first, second):
        remote.set(link.remote_id, Status="Closed")
    remote.fail("fetch_records", TransientError("timed out", system="Fake EAM"))

    report = poll()

    assert (report.batches, report.failed, report.closed) == (2, 1, 1)
    assert report.errors == ["Fake EAM: timed out"]
    assert (first.state, second.state) == (SyncState.ACKNOWLEDGED, SyncState.CLOSED)
    [failure] = events_of_kind("remote_poll_failed")
    assert (failure.level, failure.detail) == ("error", "batch of 1: Fake EAM: timed out")
    cursor = db.session.get(SyncCursor, "poll:public-works")
    assert cursor.last_success_at is not None
    assert cursor.last_error == "Fake EAM: timed out"


def test_a_poll_whose_every_batch_failed_is_a_failed_poll_on_its_cursor(app, crm, remote):
    acknowledged(crm, remote)
    remote.fail("fetch_records", TransientError("down"))
    poll()
    cursor = db.session.get(SyncCursor, "poll:public-works")
    assert cursor.last_success_at is None
    assert (cursor.last_error, cursor.last_error_at is not None) == ("down", True)


# ---------------------------------------------------------------------- archive
def test_links_closed_longer_than_the_archive_period_are_archived(app, crm, remote):
    load_agency(**{"  poll_interval: 60\n": "  poll_interval: 60\n  archive_after_days: 3\n"})
    old, recent = acknowledged(crm, remote), acknowledged(crm, remote)
    for link in (old, recent):
        remote.set(link.remote_id, Status="Closed")
    poll()
    db.session.execute(
        db.update(SyncLink)
        .where(SyncLink.id == old.id)
        .values(crm_closed_at=utcnow() - timedelta(days=4))
    )
    db.session.commit()

    report = poll()

    assert report.archived == 1
    assert (old.state, recent.state) == (SyncState.ARCHIVED, SyncState.CLOSED)
    assert [e.detail for e in events_of_kind("archived", old.issue_id)] == [
        "closed for more than 3 days; no more sync"
    ]


# ----------------------------------------------------------------- duplicates
def test_a_second_request_with_the_same_external_id_is_reported_once(app, crm, remote):
    link = acknowledged(crm, remote)
    late = remote.add_record(ExternalId=str(link.issue_id))  # a create applied late

    first = poll()
    second = poll()

    assert (first.duplicates, second.duplicates) == (1, 0)
    assert "1 duplicate(s) found" in first.summary()
    db.session.expire_all()
    assert link.remote_duplicates == [f"R-{late}"]
    [event] = events_of_kind("remote_duplicate", link.issue_id)
    assert event.level == "warning" and f"R-{late}" in event.detail
    assert remote.count("records_by_external_ids") == 2  # one query per batch, every poll


def test_a_duplicate_removed_remotely_is_no_longer_counted(app, crm, remote):
    link = acknowledged(crm, remote)
    late = remote.add_record(ExternalId=str(link.issue_id))
    poll()
    del remote.records[late]  # staff merged it away
    poll()
    db.session.expire_all()
    assert link.remote_duplicates is None
    assert (
        db.session.execute(
            db.select(SyncLink.id).where(SyncLink.remote_duplicates.is_not(None))
        ).first()
        is None
    )


def test_a_failed_duplicate_check_is_recorded_and_the_poll_goes_on(app, crm, remote):
    link = acknowledged(crm, remote)
    remote.set(link.remote_id, Status="Closed")
    remote.fail("records_by_external_ids", TransientError("EAM: HTTP 503"))

    report = poll()

    assert report.closed == 1
    assert any("duplicate check" in error for error in report.errors)
    assert events_of_kind("remote_poll_failed")[-1].level == "warning"


def test_the_next_batch_is_read_in_a_thread_while_this_one_is_written(
    app, crm, remote, monkeypatch
):
    """Reading and writing overlap (issue 11): the remote reads of every batch
    happen in the reading thread; the database work stays in this one."""
    import threading

    from tests.fakes import FakeConnector

    load_agency(**fake_setting("batch_size: 1"))
    links = [acknowledged(crm, remote) for _ in range(3)]
    for link in links:
        remote.set(link.remote_id, Status="Closed")
    readers = []
    real = FakeConnector.fetch_records

    def fetch_records(self, remote_ids):
        readers.append(threading.current_thread().name)
        return real(self, remote_ids)

    monkeypatch.setattr(FakeConnector, "fetch_records", fetch_records)
    report = poll()
    assert (report.batches, report.polled, report.closed) == (3, 3, 3)
    assert len(readers) == 3
    assert all(name.startswith("remote-poll-read") for name in readers)
    assert [link.state for link in links] == [SyncState.CLOSED] * 3
