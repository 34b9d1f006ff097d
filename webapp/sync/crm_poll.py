"""The CRM poll: every issue updated since the cursor, all pages, ingested.

The client walks the listing by keyset on ``updated_at`` (see
``integrations.seeclickfix.client.KeysetWalk``), so updates landing while it
pages cannot make it skip an issue. One bad issue is recorded and skipped; it
never stops the others, and the cursor never moves past an issue that failed
to store, until it has failed in ``GIVE_UP_AFTER_POLLS`` polls: then it is
recorded as given up and no longer holds the poll back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from integrations.errors import IntegrationError
from integrations.seeclickfix import CrmIssue

from ..extensions import db
from ..models import Event, SyncCursor, utcnow
from . import cursors, events, ingest, vendors

CURSOR_KEY = "crm"
# Re-read a little before the last seen update: clocks differ, updates land
# within the second of the last one read, and a CRM may commit an update after
# a later one. Re-reading is harmless because upserts are idempotent (and
# refuse an older copy). A copy with the same ``updated_at`` as the stored one
# is still ingested: times have whole seconds, so it may hold a later change
# (Crosswalk's own acknowledgment, seconds after the issue was reported).
POLL_OVERLAP = timedelta(seconds=60)
# An issue that failed to store in this many polls stops holding the cursor:
# a permanently unstorable issue must not stop the poll's progress for good.
GIVE_UP_AFTER_POLLS = 3
# Failures of one version are counted among the events written since a little
# before that version's time (allowing for the CRM's clock being ahead of
# ours), so the count reads a slice of the ``created_at`` index, not the
# whole timeline.
_CLOCK_MARGIN = timedelta(days=1)
# The words of a give-up event; the next polls find the versions given up by them.
GIVEN_UP = "will not be retried automatically"


@dataclass
class CrmPollReport:
    seen: int = 0
    created: int = 0
    failed: int = 0
    enqueued: int = 0
    skipped: int = 0  # read again, but given up on in an earlier poll: not tried
    given_up: int = 0  # failed in their GIVE_UP_AFTER_POLLS-th poll in this one
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.seen} seen, {self.created} new, {self.failed} failed, "
            f"{self.enqueued} push(es) queued"
        )


@dataclass
class _Progress:
    """Where the cursor may go: up to the newest update stored (or given up
    on), but never past one that failed to store and is still retried."""

    newest: datetime | None
    held: dict[int, datetime] = field(default_factory=dict)  # issue id -> failed version

    def passed(self, issue: CrmIssue) -> None:
        self.held.pop(issue.id, None)  # a newer version stored: the old failure is moot
        if issue.updated_at and (self.newest is None or issue.updated_at > self.newest):
            self.newest = issue.updated_at

    def hold(self, issue: CrmIssue) -> None:
        if issue.updated_at:
            self.held[issue.id] = min(issue.updated_at, self.held.get(issue.id, issue.updated_at))

    def position(self) -> datetime | None:
        """The newest update stored, or just before the oldest held one (so
        the next poll reads it again), whichever is earlier."""
        hold = min(self.held.values(), default=None)
        if hold is not None and (self.newest is None or hold <= self.newest):
            return hold - timedelta(microseconds=1)
        return self.newest


@dataclass
class _Poll:
    report: CrmPollReport
    progress: _Progress
    given_up: set[str]  # versions (``_version``) not to try again
    failed: set[str] = field(default_factory=set)  # versions that failed in this poll


# A position further ahead of our clock than this was set by a CRM clock gone
# wrong (an issue "updated" in 9999): it would freeze the poll for good.
FUTURE_TOLERANCE = timedelta(days=1)


def _stored_position(cursor: SyncCursor) -> datetime | None:
    """The stored cursor, unless it lies in the far future: then from when the
    last poll succeeded (our clock; the overlap window covers the skew), and
    the dashboard says so."""
    if not cursor.cursor:
        return None
    position = datetime.fromisoformat(cursor.cursor)
    if position <= utcnow() + FUTURE_TOLERANCE:
        return position
    resume = cursor.last_success_at or utcnow()
    events.record(
        "crm_poll_failed",
        f"the stored CRM poll position {cursor.cursor} is in the future (a CRM clock gone "
        f"wrong): reading from {resume.isoformat()} instead",
        level="warning",
    )
    return resume


def poll_crm() -> CrmPollReport:
    """Read every CRM issue updated since the cursor (all pages) and ingest it."""
    cursor = cursors.cursor(CURSOR_KEY)
    cursor.last_started_at = utcnow()
    db.session.commit()
    stored = _stored_position(cursor)
    since = stored - POLL_OVERLAP if stored else None
    # A poll that reads nothing leaves the cursor where it was.
    poll = _Poll(CrmPollReport(), _Progress(newest=stored), _given_up_versions(since))
    try:
        client = vendors.crm_client()
        for item in client.iter_updated_issues(since):
            _take(item, poll)
    except IntegrationError as exc:
        db.session.rollback()
        _save(poll.progress, error=str(exc))
        raise
    _save(poll.progress)
    return poll.report


def _save(progress: _Progress, *, error: str | None = None) -> None:
    """Keep the progress made (after an error too) and the poll's health."""
    cursor = cursors.cursor(CURSOR_KEY)
    if (position := progress.position()) is not None:
        cursor.cursor = position.isoformat()
    if error is None:
        cursor.last_success_at, cursor.last_error = utcnow(), None
    else:
        cursor.last_error, cursor.last_error_at = error, utcnow()
        events.record("crm_poll_failed", error, level="error")
    db.session.commit()


def _take(item: CrmIssue | Exception, poll: _Poll) -> None:
    """One issue of the listing: ingested, unless malformed or given up on."""
    report = poll.report
    report.seen += 1
    if isinstance(item, Exception):
        report.failed += 1
        report.errors.append(str(item))
        events.record_now(
            "ingest_failed", f"malformed issue in the CRM poll: {item}", level="error"
        )
        return
    if _version(item) in poll.given_up:
        report.skipped += 1
        poll.progress.passed(item)
        return
    try:
        result = ingest.receive(item, source="poll")
    except Exception as exc:  # one poisoned issue must not stop the cycle
        db.session.rollback()
        _failed(item, exc, poll)
        return
    report.created += int(result.created)
    report.enqueued += result.enqueued
    poll.progress.passed(item)


def _version(item: CrmIssue) -> str:
    """How the timeline names one version of an issue (failures are counted by it)."""
    when = item.updated_at.isoformat() if item.updated_at else "unknown"
    return f"issue {item.id} (updated {when})"


def _failed(item: CrmIssue, exc: Exception, poll: _Poll) -> None:
    """Record a failure to store; hold the cursor before it, until it has
    failed in ``GIVE_UP_AFTER_POLLS`` polls."""
    poll.report.failed += 1
    poll.report.errors.append(f"issue {item.id}: {exc}")
    version = _version(item)
    if item.updated_at is None:  # no time to hold the cursor at: recorded, that is all
        events.record_now("ingest_failed", f"{version}: {exc}", level="error")
        return
    if version in poll.failed:  # read again (it changed within its second): one poll, once
        poll.progress.hold(item)
        return
    poll.failed.add(version)
    polls = _failed_polls(version, item.updated_at) + 1
    if polls < GIVE_UP_AFTER_POLLS:
        events.record_now("ingest_failed", f"{version}: {exc}", level="error")
        poll.progress.hold(item)
        return
    poll.given_up.add(version)
    poll.report.given_up += 1
    events.record_now(
        "ingest_failed",
        f"{version}: {exc}; failed to store in {polls} polls, so it {GIVEN_UP} and no "
        "longer holds the CRM poll back. Once the cause is fixed, fetch it with "
        f"`crosswalk sync crm --issue {item.id}`.",
        level="error",
    )
    poll.progress.passed(item)


def _failed_polls(version: str, updated_at: datetime) -> int:
    """How many polls already failed to store this version of the issue: its
    ``ingest_failed`` events (each poll records a version's failure once)."""
    query = (
        db.select(db.func.count())
        .select_from(Event)
        .where(
            Event.created_at >= updated_at - _CLOCK_MARGIN,
            Event.kind == "ingest_failed",
            Event.detail.startswith(f"{version}:", autoescape=True),
        )
    )
    return db.session.execute(query).scalar_one()


def _given_up_versions(since: datetime | None) -> set[str]:
    """The versions given up on that this poll may read again (its overlap
    re-reads the last minute): they are not tried again."""
    query = db.select(Event.detail).where(
        Event.kind == "ingest_failed", Event.detail.contains(GIVEN_UP, autoescape=True)
    )
    if since is not None:
        query = query.where(Event.created_at >= since - _CLOCK_MARGIN)
    details = db.session.execute(query).scalars()
    return {detail.partition("): ")[0] + ")" for detail in details}
