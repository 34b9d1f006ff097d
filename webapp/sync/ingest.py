"""Ingest: CRM issues (from the poll or a webhook) into the database, routed
to the integration that owns their request type. Rows are committed before
any push is enqueued, so a lost queue loses nothing (the sweeper re-enqueues)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from integrations.errors import IntegrationError
from integrations.seeclickfix import CrmComment, CrmIssue

from ..extensions import db
from ..models import (
    Agency,
    Category,
    Comment,
    Integration,
    Issue,
    SyncLink,
    SyncState,
    utcnow,
)
from . import cursors, dispatch, events, runtime
from .categories import remember_request_type

CRM_CURSOR = "crm"
# Comments that travel to the remote request: residents' (crm) and the hub's notes.
NOTE_ORIGINS = ("crm", "note")
# Re-read a little before the last seen update: clocks differ and updates land
# with the same second; re-reading is harmless because upserts are idempotent.
POLL_OVERLAP = timedelta(seconds=60)


@dataclass
class IngestResult:
    issue_id: int
    created: bool
    links_to_push: list[int] = field(default_factory=list)


def route(request_type_id: int | None) -> Category | None:
    """The enabled category of an enabled integration mapped to this request type."""
    if request_type_id is None:
        return None
    return (
        db.session.execute(
            db.select(Category)
            .join(Integration)
            .where(
                Category.crm_request_type_id == request_type_id,
                Category.enabled.is_(True),
                Integration.enabled.is_(True),
            )
            .order_by(Category.id)
        )
        .scalars()
        .first()
    )


def _copy_fields(row: Issue, crm: CrmIssue) -> None:
    row.status = crm.status
    row.summary = crm.summary
    row.description = crm.description
    row.lat, row.lng = crm.lat, crm.lng
    row.address = crm.address
    row.request_type_id = crm.request_type_id
    row.request_type_title = crm.request_type_title
    row.reporter_name = crm.reporter_name
    row.reporter_email = crm.reporter_email
    row.image_url = crm.image_url
    row.html_url = crm.html_url
    row.questions = [
        {"question": q.question, "answer": q.answer, "key": q.key} for q in crm.questions
    ]
    row.crm_created_at = crm.created_at
    row.crm_updated_at = crm.updated_at
    row.acknowledged_at = crm.acknowledged_at
    row.closed_at = crm.closed_at
    row.reopened_at = crm.reopened_at


def _upsert_comments(issue_id: int, comments: tuple[CrmComment, ...], ours: str | None) -> int:
    """Store new CRM comments; return how many came from people (not from us).

    Comments written by the integration user (our acknowledgments, closing
    messages) come back on the next poll: they are kept as ``crosswalk``
    comments so they are never mirrored anywhere or reported as news.
    """
    known = set(
        db.session.execute(
            db.select(Comment.crm_comment_id).where(Comment.issue_id == issue_id)
        ).scalars()
    )
    added = 0
    for c in comments:
        if c.id in known:
            continue
        origin = "crosswalk" if ours and c.author == ours else "crm"
        added += origin == "crm"
        db.session.add(
            Comment(
                issue_id=issue_id,
                crm_comment_id=c.id,
                origin=origin,
                author=c.author,
                author_role=c.author_role,
                body=c.body,
                image_url=c.image_url,
                created_at=c.created_at,
            )
        )
    return added


def _ensure_link(row: Issue, created: bool) -> SyncLink | None:
    """Route the issue; return its link when it needs a push."""
    category = route(row.request_type_id)
    if category is None:
        reason = (
            f"request type {row.request_type_id} ({row.request_type_title or 'untitled'}) "
            "is not mapped to any integration"
        )
        if row.skip_reason != reason and not row.links:
            row.skip_reason = reason
            events.record("skipped", reason, issue_id=row.id)
        return None
    row.skip_reason = None
    link = db.session.execute(
        db.select(SyncLink).where(
            SyncLink.issue_id == row.id, SyncLink.integration_id == category.integration_id
        )
    ).scalar_one_or_none()
    if link is None:
        if row.status not in ("Open", "Acknowledged"):
            row.skip_reason = f"issue was already {row.status} in the CRM when first seen"
            if created:
                events.record("skipped", row.skip_reason, issue_id=row.id)
            return None
        link = SyncLink(issue=row, integration_id=category.integration_id, category=category)
        db.session.add(link)
        events.record(
            "routed",
            f"to {category.integration.name} as {category.remote_id}",
            issue_id=row.id,
            integration_id=category.integration_id,
        )
    if link.state == SyncState.CLOSED and was_reopened(row, link):
        reopen(link, row)
    if link.state == SyncState.PENDING:
        return link
    if link.state == SyncState.ACKNOWLEDGED and has_unsent_notes(link):
        return link  # new public comments (or a reopen note) go to the remote request
    return None


def has_unsent_notes(link: SyncLink) -> bool:
    return (
        db.session.execute(
            db.select(Comment.id)
            .where(
                Comment.issue_id == link.issue_id,
                Comment.pushed_at.is_(None),
                Comment.origin.in_(NOTE_ORIGINS),
            )
            .limit(1)
        ).first()
        is not None
    )


def was_reopened(issue: Issue, link: SyncLink) -> bool:
    """Open again in the CRM, and reopened after we closed it (a stale copy of the
    issue read before our close has no such ``reopened_at``)."""
    if issue.status not in ("Open", "Acknowledged") or issue.reopened_at is None:
        return False
    if issue.closed_at is not None:
        # Both times from the CRM's clock (whole seconds: same second counts).
        return issue.reopened_at >= issue.closed_at
    return link.crm_closed_at is None or issue.reopened_at >= link.crm_closed_at.replace(
        microsecond=0
    )


def reopen(link: SyncLink, issue: Issue) -> None:
    """The resident reopened a closed issue: sync it again and tell the crew."""
    link.state = SyncState.ACKNOWLEDGED
    link.reopened_at = utcnow()
    link.crm_closed_at = None
    db.session.add(
        Comment(
            issue_id=issue.id,
            origin="note",
            author="Crosswalk",
            body="The resident reopened this request in SeeClickFix.",
            created_at=utcnow(),
        )
    )
    events.record(
        "reopened",
        "reopened in the CRM: syncing again; the remote request gets a note",
        issue_id=issue.id,
        integration_id=link.integration_id,
    )


def _integration_user() -> str | None:
    agency = db.session.execute(db.select(Agency).order_by(Agency.id)).scalars().first()
    return agency.integration_user if agency else None


def upsert_issue(crm: CrmIssue, *, source: str, route: bool = True) -> IngestResult:
    """Store one CRM issue and its comments; commit; return what to push."""
    row = db.session.get(Issue, crm.id)
    created = row is None
    if created:
        row = Issue(id=crm.id)
        db.session.add(row)
    elif row.crm_updated_at and crm.updated_at and crm.updated_at < row.crm_updated_at:
        # Never let an older copy (a late webhook, an overlapping poll) win.
        return IngestResult(crm.id, False)
    _copy_fields(row, crm)
    remember_request_type(crm.request_type_id, crm.request_type_title)
    db.session.flush()  # events reference the row: it must exist first (PostgreSQL FKs)
    added = _upsert_comments(crm.id, crm.comments, _integration_user()) if crm.comments else 0
    if created:
        events.record("received", f"new issue from the CRM {source}", issue_id=crm.id)
    elif added:
        events.record("comments", f"{added} new comment(s) from the CRM {source}", issue_id=crm.id)
    link = _ensure_link(row, created) if route else None
    db.session.flush()
    to_push = [link.id] if link is not None else []
    db.session.commit()
    return IngestResult(crm.id, created, to_push)


def ingest_and_enqueue(crm: CrmIssue, *, source: str) -> IngestResult:
    result = upsert_issue(crm, source=source)
    for link_id in result.links_to_push:
        dispatch.enqueue_push(link_id)
    return result


@dataclass
class PollReport:
    seen: int = 0
    created: int = 0
    failed: int = 0
    enqueued: int = 0
    errors: list[str] = field(default_factory=list)


def poll_crm() -> PollReport:
    """Read every CRM issue updated since the cursor (all pages) and ingest it.

    One bad issue is recorded and skipped; it never stops the others.
    """
    report = PollReport()
    cursor = cursors.cursor(CRM_CURSOR)
    cursor.last_started_at = utcnow()
    db.session.commit()
    since = datetime.fromisoformat(cursor.cursor) - POLL_OVERLAP if cursor.cursor else None
    newest = since
    hold: datetime | None = None  # the cursor must not pass an issue we failed to store
    try:
        client = runtime.crm_client()
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
                result = upsert_issue(item, source="poll")
            except Exception as exc:  # one poisoned issue must not stop the cycle
                db.session.rollback()
                report.failed += 1
                report.errors.append(f"issue {item.id}: {exc}")
                events.record_now("ingest_failed", f"issue {item.id}: {exc}", level="error")
                if item.updated_at and (hold is None or item.updated_at < hold):
                    hold = item.updated_at
                continue
            report.created += int(result.created)
            for link_id in result.links_to_push:
                report.enqueued += int(dispatch.enqueue_push(link_id))
            if item.updated_at and (newest is None or item.updated_at > newest):
                newest = item.updated_at
    except IntegrationError as exc:
        db.session.rollback()
        cursor = cursors.cursor(CRM_CURSOR)
        cursor.last_error, cursor.last_error_at = str(exc), utcnow()
        if newest is not None:
            cursor.cursor = newest.isoformat()
        events.record("crm_poll_failed", str(exc), level="error")
        db.session.commit()
        raise
    cursor = cursors.cursor(CRM_CURSOR)
    if hold is not None and (newest is None or hold < newest):
        newest = hold - timedelta(microseconds=1)
    if newest is not None:
        cursor.cursor = newest.isoformat()
    cursor.last_success_at = utcnow()
    cursor.last_error = None
    db.session.commit()
    return report
