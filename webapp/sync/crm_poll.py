"""The CRM poll: every issue updated since the cursor, all pages, ingested.

One bad issue is recorded and skipped; it never stops the others, and the
cursor never moves past an issue that failed to store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from integrations.errors import IntegrationError

from ..extensions import db
from ..models import utcnow
from . import cursors, events, ingest, vendors

CURSOR_KEY = "crm"
# Re-read a little before the last seen update: clocks differ and updates land
# with the same second; re-reading is harmless because upserts are idempotent.
POLL_OVERLAP = timedelta(seconds=60)


@dataclass
class CrmPollReport:
    seen: int = 0
    created: int = 0
    failed: int = 0
    enqueued: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.seen} seen, {self.created} new, {self.failed} failed, "
            f"{self.enqueued} push(es) queued"
        )


def poll_crm() -> CrmPollReport:
    """Read every CRM issue updated since the cursor (all pages) and ingest it."""
    report = CrmPollReport()
    cursor = cursors.cursor(CURSOR_KEY)
    cursor.last_started_at = utcnow()
    db.session.commit()
    stored = datetime.fromisoformat(cursor.cursor) if cursor.cursor else None
    since = stored - POLL_OVERLAP if stored else None
    newest = stored  # a poll that reads nothing leaves the cursor where it was
    hold: datetime | None = None  # the cursor must not pass an issue we failed to store
    try:
        client = vendors.crm_client()
        for item in client.iter_updated_issues(since):
            report.seen += 1
            if isinstance(item, Exception):
                report.failed += 1
                report.errors.append(str(item))
                events.record_now(
                    "ingest_failed", f"malformed issue in the CRM poll: {item}", level="error"
                )
                continue
            try:
                result = ingest.receive(item, source="poll")
            except Exception as exc:  # one poisoned issue must not stop the cycle
                db.session.rollback()
                report.failed += 1
                report.errors.append(f"issue {item.id}: {exc}")
                events.record_now("ingest_failed", f"issue {item.id}: {exc}", level="error")
                if item.updated_at and (hold is None or item.updated_at < hold):
                    hold = item.updated_at
                continue
            report.created += int(result.created)
            report.enqueued += result.enqueued
            if item.updated_at and (newest is None or item.updated_at > newest):
                newest = item.updated_at
    except IntegrationError as exc:
        db.session.rollback()
        cursor = cursors.cursor(CURSOR_KEY)
        cursor.last_error, cursor.last_error_at = str(exc), utcnow()
        if (position := _next_position(newest, hold)) is not None:
            cursor.cursor = position.isoformat()
        events.record("crm_poll_failed", str(exc), level="error")
        db.session.commit()
        raise
    cursor = cursors.cursor(CURSOR_KEY)
    if (position := _next_position(newest, hold)) is not None:
        cursor.cursor = position.isoformat()
    cursor.last_success_at = utcnow()
    cursor.last_error = None
    db.session.commit()
    return report


def _next_position(newest: datetime | None, hold: datetime | None) -> datetime | None:
    """Where the next poll starts: the newest update stored, but never past an
    issue that failed to store (just before it, so it is read again)."""
    if hold is not None and (newest is None or hold <= newest):
        return hold - timedelta(microseconds=1)
    return newest
