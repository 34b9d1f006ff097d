"""The timeline's writes: one row at a time with the caller's commit, or
gathered and written together (a poll batch, a new webhook issue)."""

from __future__ import annotations

import pytest

from webapp.extensions import db
from webapp.models import Event, Issue
from webapp.sync import events


@pytest.fixture
def issue(app) -> int:
    db.session.add(Issue(id=7, status="Open"))
    db.session.commit()
    return 7


def kinds() -> list[str]:
    """The kinds on the test issue's timeline, in order."""
    query = db.select(Event.kind).where(Event.issue_id == 7).order_by(Event.id)
    return list(db.session.execute(query).scalars())


def test_events_recorded_in_a_block_are_written_together_in_order(issue):
    with events.collected():
        for kind in ("a", "b", "c", "d", "e", "f"):
            assert events.record(kind, "x", issue_id=issue) is None
        assert not db.session.new  # gathered, not added one by one
    db.session.commit()
    assert kinds() == ["a", "b", "c", "d", "e", "f"]


def test_a_block_that_fails_writes_none_of_its_events(issue):
    with pytest.raises(RuntimeError), events.collected():
        events.record("a", issue_id=issue)
        raise RuntimeError("poisoned")
    db.session.commit()
    assert kinds() == []


def test_a_few_events_are_one_statement_with_their_ids(issue):
    events.insert(
        [
            {"kind": "received", "detail": "new issue", "issue_id": issue},
            {"kind": "routed", "detail": "to public-works", "issue_id": issue, "level": "info"},
        ]
    )
    db.session.commit()
    assert kinds() == ["received", "routed"]
