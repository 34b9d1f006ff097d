"""Ingest: one CRM issue (from the poll, a webhook or the CLI) into the
database, routed to the integration that owns its request type.

Rows are committed before any push is enqueued, so a lost queue loses
nothing (the sweeper re-enqueues what is owed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from integrations.seeclickfix import CrmComment, CrmIssue

from ..extensions import db
from ..models import Category, Comment, Integration, Issue, SyncLink, SyncState
from . import events, lifecycle, vendors
from .push import enqueue_push
from .request_types import remember_request_type

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    issue_id: int
    created: bool
    links_to_push: list[int] = field(default_factory=list)
    enqueued: int = 0


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


def _skip_unrouted(row: Issue) -> None:
    reason = (
        f"request type {row.request_type_id} ({row.request_type_title or 'untitled'}) "
        "is not mapped to any integration"
    )
    if row.skip_reason != reason and not row.links:
        row.skip_reason = reason
        events.record("skipped", reason, issue_id=row.id)


def _ensure_link(row: Issue, created: bool) -> SyncLink | None:
    """Route the issue; return its link when it owes work to a push."""
    category = route(row.request_type_id)
    if category is None:
        _skip_unrouted(row)
        return None
    row.skip_reason = None
    link = lifecycle.link_of(row.id, category.integration_id)
    if link is None:
        if row.status not in lifecycle.OPEN_CRM_STATUSES:
            row.skip_reason = f"issue was already {row.status} in the CRM when first seen"
            if created:
                events.record("skipped", row.skip_reason, issue_id=row.id)
            return None
        link = lifecycle.open_link(
            row,
            category,
            detail=f"to {category.integration.name} as {category.remote_id}",
        )
    if link.state == SyncState.CLOSED and lifecycle.was_reopened(row, link):
        lifecycle.reopen(link, row)
    return link if _owes_push(link, row) else None


def _owes_push(link: SyncLink, issue: Issue) -> bool:
    if link.state == SyncState.PENDING:
        return True
    if link.state != SyncState.ACKNOWLEDGED:
        return False
    # New public comments (or a reopen note) go to the remote request, and a
    # close by staff may go there too.
    settings = vendors.settings_of(link.integration)
    return lifecycle.has_unsent_notes(link) or lifecycle.owes_remote_close(
        link, issue, settings.close_remote_on_crm_close
    )


def _integration_user() -> str | None:
    agency = vendors.find_agency()
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


def receive(crm: CrmIssue, *, source: str) -> IngestResult:
    """Store one CRM issue, then queue the pushes it owes.

    The rows are committed first: if the queue is unreachable the push is
    not lost, the sweeper queues it."""
    result = upsert_issue(crm, source=source)
    for link_id in result.links_to_push:
        try:
            result.enqueued += int(enqueue_push(link_id))
        except Exception:
            log.exception("could not enqueue push of link %s; the sweeper will", link_id)
    return result
