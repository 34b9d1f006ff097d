"""Ingest: one CRM issue into the database, routed to its integration, and the
pushes it owes queued after the rows are committed."""

from __future__ import annotations

import pytest

from tests.support import event_kinds, link_of
from webapp.extensions import db
from webapp.models import Agency, Comment, Event, Integration, Issue, SyncState
from webapp.sync import crm_identity, ingest, push, remote_poll


def receive(crm, issue_id: int) -> ingest.IngestResult:
    return ingest.receive(crm.parsed(issue_id), source="poll")


def comments_of(issue_id: int) -> list[tuple[str, str]]:
    query = db.select(Comment.origin, Comment.body).where(Comment.issue_id == issue_id)
    return [tuple(row) for row in db.session.execute(query.order_by(Comment.id))]


def acknowledged(crm) -> int:
    """A routed issue whose push finished (the queue left empty)."""
    issue_id = crm.add_issue()
    (link_id,) = ingest.upsert_issue(crm.parsed(issue_id), source="poll").links_to_push
    assert push.push_link(link_id).state == SyncState.ACKNOWLEDGED
    return issue_id


def test_a_new_issue_is_stored_routed_and_its_push_queued(app, crm):
    issue_id = crm.add_issue(summary="Pothole on Church St")
    result = receive(crm, issue_id)

    issue = db.session.get(Issue, issue_id)
    assert (issue.summary, issue.status, issue.reporter_email) == (
        "Pothole on Church St",
        "Open",
        "ada@example.com",
    )
    link = link_of(issue_id)
    assert (link.state, link.category.remote_id) == (SyncState.PENDING, "Pothole")
    assert event_kinds(issue_id) == ["received", "routed"]
    assert (result.created, result.links_to_push, result.enqueued) == (True, [link.id], 1)
    assert app.task_queue.depth() == 1


def test_an_unmapped_request_type_is_skipped_with_its_reason(app, crm):
    issue_id = crm.add_issue(request_type_id=999)
    result = receive(crm, issue_id)
    receive(crm, issue_id)  # seen again: the reason is not repeated

    issue = db.session.get(Issue, issue_id)
    assert issue.skip_reason == "request type 999 (Type 999) is not mapped to any integration"
    assert event_kinds(issue_id) == ["received", "skipped"]
    assert link_of(issue_id) is None
    assert (result.links_to_push, app.task_queue.depth()) == ([], 0)


def test_an_issue_first_seen_closed_is_skipped(app, crm):
    issue_id = crm.add_issue(status="Closed")
    result = receive(crm, issue_id)

    issue = db.session.get(Issue, issue_id)
    assert issue.skip_reason == "issue was already Closed in the CRM when first seen"
    assert event_kinds(issue_id) == ["received", "skipped"]
    assert link_of(issue_id) is None
    assert result.links_to_push == []


def test_an_older_copy_never_overwrites_a_newer_one(app, crm):
    issue_id = crm.add_issue(summary="first words")
    old_copy = crm.parsed(issue_id)
    crm.update(issue_id, summary="corrected words")
    receive(crm, issue_id)

    result = ingest.receive(old_copy, source="webhook")  # a late webhook

    assert db.session.get(Issue, issue_id).summary == "corrected words"
    assert (result.created, result.links_to_push) == (False, [])


def test_our_own_comments_are_stored_as_crosswalk_and_never_mirrored(app, crm, remote):
    issue_id = acknowledged(crm)  # the acknowledgment comes back on the next poll

    result = receive(crm, issue_id)
    app.task_queue.drain()

    assert comments_of(issue_id) == [("crosswalk", "A crew will inspect this pothole.")]
    assert result.links_to_push == []
    assert "comments" not in event_kinds(issue_id)
    assert remote.count("add_comments") == 0


def test_a_new_resident_comment_on_an_acknowledged_link_owes_a_push(app, crm, remote):
    issue_id = acknowledged(crm)
    crm.resident_comment(issue_id, "It is getting deeper")

    result = receive(crm, issue_id)

    link = link_of(issue_id)
    assert (result.links_to_push, result.enqueued) == ([link.id], 1)
    assert ("crm", "It is getting deeper") in comments_of(issue_id)
    assert event_kinds(issue_id)[-1] == "comments"
    app.task_queue.drain()
    assert [n.body for n in remote.notes[link.remote_id]] == ["It is getting deeper"]


def test_a_reopened_closed_issue_is_acknowledged_again_with_a_note(app, crm, remote):
    issue_id = acknowledged(crm)
    link = link_of(issue_id)
    remote.set(link.remote_id, Status="Closed")
    remote_poll.poll_integration(link.integration_id)  # the crew closed it: CRM closed
    assert link_of(issue_id).state == SyncState.CLOSED
    crm.reopen(issue_id)

    result = receive(crm, issue_id)

    link = link_of(issue_id)
    assert link.state == SyncState.ACKNOWLEDGED
    assert event_kinds(issue_id)[-1] == "reopened"
    assert ("note", "The resident reopened this request in SeeClickFix.") in comments_of(issue_id)
    assert result.links_to_push == [link.id]


def test_receive_queues_exactly_the_pushes_owed(app, crm):
    routed = crm.add_issue()
    unmapped = crm.add_issue(request_type_id=999)

    results = [receive(crm, routed), receive(crm, unmapped), receive(crm, routed)]

    # The same push asked for twice while it waits is queued once.
    assert [r.enqueued for r in results] == [1, 0, 0]
    assert app.task_queue.depth() == 1


def test_receive_survives_a_queue_that_raises_and_keeps_the_rows(app, crm, monkeypatch):
    def unreachable(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(app.task_queue, "enqueue", unreachable)
    issue_id = crm.add_issue()

    result = receive(crm, issue_id)

    db.session.rollback()  # nothing left uncommitted: the sweeper finds the link
    link = link_of(issue_id)
    assert link.state == SyncState.PENDING
    assert (result.links_to_push, result.enqueued) == ([link.id], 0)
    assert event_kinds(issue_id) == ["received", "routed"]


def test_a_disabled_integration_takes_no_new_issues(app, crm):
    db.session.execute(db.update(Integration).values(enabled=False))
    db.session.commit()
    issue_id = crm.add_issue()

    receive(crm, issue_id)

    assert link_of(issue_id) is None
    assert "is not mapped to any integration" in db.session.get(Issue, issue_id).skip_reason


@pytest.mark.parametrize("source", ["poll", "webhook"])
def test_new_comments_are_reported_with_their_source(app, crm, source):
    issue_id = acknowledged(crm)
    crm.resident_comment(issue_id, "one")
    crm.resident_comment(issue_id, "two")

    ingest.receive(crm.parsed(issue_id), source=source)

    detail = db.session.execute(
        db.select(Event.detail).where(Event.kind == "comments").order_by(Event.id.desc())
    ).scalar()
    # The acknowledgment written by us is not news: two comments, not three.
    assert detail == f"2 new comment(s) from the CRM {source}"


# -- the documented comment objects: no id ---------------------------------------------
def stored_comments(issue_id: int) -> list[Comment]:
    db.session.expire_all()
    query = db.select(Comment).where(Comment.issue_id == issue_id).order_by(Comment.id)
    return list(db.session.execute(query).scalars())


def crosswalk_identity_learnt(crm, issue_id: int) -> None:
    """What the push does after each CRM write: remember who answered."""
    crm_identity.remember(crm.add_comment(issue_id, "Noted."))
    db.session.commit()


def test_id_less_comments_are_stored_once_each_by_their_key(app, crm, remote):
    issue_id = acknowledged(crm)
    crm.resident_comment(issue_id, "It is getting deeper")
    crm.resident_comment(issue_id, "It is getting deeper", name="Bo Neighbour")  # same words

    receive(crm, issue_id)
    receive(crm, issue_id)  # read again: nothing new
    app.task_queue.drain()

    stored = [c for c in stored_comments(issue_id) if c.origin == "crm"]
    assert [(c.author, c.crm_comment_id) for c in stored] == [
        ("Ada Resident", None),
        ("Bo Neighbour", None),
    ]
    assert all(c.crm_key.startswith("h") for c in stored)
    assert len({c.crm_key for c in stored}) == 2
    link = link_of(issue_id)
    assert [n.body for n in remote.notes[link.remote_id]] == ["It is getting deeper"] * 2


def test_a_comment_with_an_id_is_keyed_by_it(app, crm):
    crm.comment_ids = True  # a server that sends comment ids
    issue_id = crm.add_issue()
    crm.resident_comment(issue_id, "first")

    receive(crm, issue_id)
    receive(crm, issue_id)

    [stored] = stored_comments(issue_id)
    assert (stored.crm_comment_id, stored.crm_key) == (90001, "90001")


def test_a_comment_id_stored_on_another_issue_never_fails_this_one(app, crm):
    crm.comment_ids = True
    first, second = crm.add_issue(), crm.add_issue()
    crm.resident_comment(first, "mine")
    receive(crm, first)
    crm.issues[second]["comments"] = list(crm.issues[first]["comments"])  # bad data
    crm.update(second)

    receive(crm, second)

    assert [c.body for c in stored_comments(first)] == ["mine"]
    assert stored_comments(second) == []


def test_our_comments_after_a_rename_are_known_by_our_commenter_id(app, crm, remote):
    issue_id = acknowledged(crm)
    crosswalk_identity_learnt(crm, issue_id)
    crm.rename_integration_user("New Haven Public Works")  # before the poll reads our comments

    result = receive(crm, issue_id)

    assert {origin for origin, _ in comments_of(issue_id)} == {"crosswalk"}
    assert result.links_to_push == []
    assert "comments" not in event_kinds(issue_id)


def test_the_acknowledgment_teaches_crosswalk_its_commenter_id(app, crm):
    acknowledged(crm)
    assert db.session.execute(db.select(Agency.crm_commenter_id)).scalar_one() is not None


def test_without_the_commenter_id_a_renamed_user_would_be_echoed(app, crm):
    # The name is the fallback while no write has told Crosswalk its id (a
    # server whose replies carry no commenter).
    issue_id = acknowledged(crm)
    db.session.execute(db.update(Agency).values(crm_commenter_id=None))
    db.session.commit()
    crm.rename_integration_user("New Haven Public Works")

    receive(crm, issue_id)

    assert ("crm", "A crew will inspect this pothole.") in comments_of(issue_id)


def test_someone_else_showing_our_name_is_not_us_once_our_id_is_known(app, crm):
    issue_id = acknowledged(crm)
    crosswalk_identity_learnt(crm, issue_id)
    crm.resident_comment(issue_id, "I am the city, honest", name="City of New Haven")

    receive(crm, issue_id)

    assert ("crm", "I am the city, honest") in comments_of(issue_id)
