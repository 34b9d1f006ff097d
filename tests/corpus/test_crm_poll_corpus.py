"""The CRM poll's side of issue 8: an issue the database cannot take is
recorded (``ingest_failed``, naming the field) and skipped, and stores
nothing else; an issue it can take after changes is stored with them and a
warning; a far-future ``updated_at`` never freezes an issue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integrations.seeclickfix import CrmIssue, parse_issue
from tests.corpus.conftest import table_counts
from tests.corpus.vendor_cases import CRM_POLL_CASES, CrmIssueCase
from webapp.extensions import db
from webapp.models import Event, Issue
from webapp.sync import crm_poll, vendors


class ListedCrm:
    """The CRM client as the poll uses it: the listing, each issue parsed, a
    parse error yielded in its place (as the real client does)."""

    def __init__(self, *issues: dict[str, Any]) -> None:
        self.issues = list(issues)

    def iter_updated_issues(self, since: datetime | None) -> Iterator[CrmIssue | Exception]:
        for raw in self.issues:
            try:
                yield parse_issue(raw)
            except ValueError as exc:
                yield exc

    def get_issue(self, issue_id: int) -> CrmIssue:
        return parse_issue(next(raw for raw in self.issues if raw["id"] == issue_id))


def good_issue(issue_id: int, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    data = {
        "id": issue_id,
        "status": "Open",
        "summary": "Pothole",
        "lat": 41.3083,
        "lng": -72.9279,
        "request_type": {"id": 122, "title": "Pothole"},
        "reporter": {"name": "Ada Resident"},
        "created_at": now,
        "updated_at": now,
        **changes,
    }
    return {k: v for k, v in data.items() if v is not None}


def poll(app, monkeypatch, *issues: dict[str, Any]) -> crm_poll.CrmPollReport:
    monkeypatch.setattr(vendors, "crm_client", lambda agency_row=None: ListedCrm(*issues))
    with app.app_context():
        report = crm_poll.poll_crm()
        db.session.remove()
    return report


def failures(app) -> list[str]:
    with app.app_context():
        query = db.select(Event.detail).where(Event.kind == "ingest_failed").order_by(Event.id)
        found = list(db.session.execute(query).scalars())
        db.session.remove()
    return found


@pytest.mark.parametrize("case", CRM_POLL_CASES, ids=lambda case: case.name)
def test_an_issue_the_database_cannot_take_is_recorded_and_skipped(
    corpus_app, monkeypatch, case: CrmIssueCase
):
    before = table_counts(corpus_app)
    report = poll(corpus_app, monkeypatch, good_issue(800001, **case.changes))
    assert (report.seen, report.failed, report.created) == (1, 1, 0), report.errors
    assert failures(corpus_app)[-1].startswith(f"malformed issue in the CRM poll: {case.field}: ")
    after = table_counts(corpus_app)
    # The failure is written down (one event); the cursor keeps its bookkeeping.
    assert after["event"] == before["event"] + 1
    assert after["sync_cursor"] <= max(before["sync_cursor"], 1)
    unchanged = {k: v for k, v in after.items() if k not in ("event", "sync_cursor")}
    assert unchanged == {k: v for k, v in before.items() if k not in ("event", "sync_cursor")}


def test_one_malformed_issue_fetched_by_the_cli_is_a_one_line_error(corpus_app, monkeypatch):
    from webapp.cli import cli

    crm = ListedCrm(good_issue(800005, lat=91))
    monkeypatch.setattr(vendors, "crm_client", lambda agency_row=None: crm)
    before = table_counts(corpus_app)
    result = corpus_app.test_cli_runner().invoke(cli, ["sync", "crm", "--issue", "800005"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stderr.splitlines()[-1] == "Error: lat: must be a number from -90 to 90, got 91"
    assert "Traceback" not in result.output
    assert table_counts(corpus_app) == before


def test_text_the_database_cannot_hold_is_stored_fitted_with_a_warning(corpus_app, monkeypatch):
    raw = good_issue(
        800002,
        summary="pot\x00hole",
        reporter={"name": "N" * 320, "email": "a" * 301},
        request_type={"id": 122, "title": "T" * 301},
        comments=[{"id": 800002, "comment": "hi\ud800", "commenter": {"role": "R" * 101}}],
    )
    report = poll(corpus_app, monkeypatch, raw)
    assert (report.failed, report.created) == (0, 1), report.errors
    with corpus_app.app_context():
        row = db.session.get(Issue, 800002)
        assert row.summary == "pothole"
        assert (len(row.reporter_name), len(row.reporter_email)) == (300, 300)
        assert len(row.request_type_title) == 300
        [comment] = row.comments
        assert (comment.body, len(comment.author_role)) == ("hi\ufffd", 100)
        [warning] = db.session.execute(
            db.select(Event).where(Event.issue_id == 800002, Event.kind == "ingest_warning")
        ).scalars()
        for words in (
            "reporter.name has 320 characters, more than the 300 its column holds (truncated)",
            "summary contains NUL characters, which the database cannot store (removed)",
            "comments[0].comment contains unpaired UTF-16 surrogates, which are not characters "
            "(replaced with U+FFFD)",
            "comments[0].commenter.role has 101 characters",
        ):
            assert words in warning.detail
        db.session.remove()
    # Read again unchanged (the poll's overlap): no second warning.
    poll(corpus_app, monkeypatch, raw)
    with corpus_app.app_context():
        warnings = db.session.execute(
            db.select(db.func.count()).where(
                Event.issue_id == 800002, Event.kind == "ingest_warning"
            )
        ).scalar_one()
        assert warnings == 1
        db.session.remove()


def test_a_far_future_updated_at_does_not_freeze_the_issue(corpus_app, monkeypatch):
    poll(corpus_app, monkeypatch, good_issue(800003, updated_at="9999-12-31T23:59:59Z"))
    with corpus_app.app_context():
        row = db.session.get(Issue, 800003)
        assert row.crm_updated_at is None  # not believed: it gates nothing
        [warning] = db.session.execute(
            db.select(Event).where(Event.issue_id == 800003, Event.kind == "ingest_warning")
        ).scalars()
        assert "updated_at 9999-12-31T23:59:59+00:00 is more than a day ahead" in warning.detail
        db.session.remove()
    # The CRM fixes its clock; the real update applies.
    later = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
    poll(corpus_app, monkeypatch, good_issue(800003, summary="Patched?", updated_at=later))
    with corpus_app.app_context():
        row = db.session.get(Issue, 800003)
        assert row.summary == "Patched?" and row.crm_updated_at is not None
        db.session.remove()


def test_an_issue_frozen_before_the_fix_takes_updates_again(corpus_app, monkeypatch):
    """A row stored with a year-9999 time (by an earlier version) is not frozen."""
    poll(corpus_app, monkeypatch, good_issue(800004))
    with corpus_app.app_context():
        db.session.get(Issue, 800004).crm_updated_at = datetime(9999, 12, 31, tzinfo=UTC)
        db.session.commit()
        db.session.remove()
    poll(corpus_app, monkeypatch, good_issue(800004, summary="Updated"))
    with corpus_app.app_context():
        assert db.session.get(Issue, 800004).summary == "Updated"
        db.session.remove()
