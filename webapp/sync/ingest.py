"""Ingest: one CRM issue (from the poll, a webhook or the CLI) into the
database, routed to the integration that owns its request type.

Rows are committed before any push is enqueued, so a lost queue loses
nothing (the sweeper re-enqueues what is owed).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import InstrumentedAttribute

from integrations.seeclickfix import CrmComment, CrmIssue, CrmQuestion
from integrations.seeclickfix.issues import MAX_CLOCK_AHEAD

from ..extensions import db
from ..models import Category, Comment, Integration, Issue, SyncLink, SyncState, utcnow
from . import events, lifecycle, vendors
from .push_job import enqueue_push
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


# ------------------------------------------------------ what the database can hold
@dataclass(frozen=True)
class Misfit:
    """A value the database cannot store as it came: ``field`` as the CRM names it."""

    field: str
    problem: str
    remedy: str

    def __str__(self) -> str:
        return f"{self.field} {self.problem}"


# Text the CRM sends, by attribute: the name the CRM gives it and the column
# that stores it (its length, when it has one, comes from the model).
_TextFields = dict[str, tuple[str, InstrumentedAttribute | None]]
_Fits = TypeVar("_Fits", CrmIssue, CrmComment, CrmQuestion)

_ISSUE_TEXT: _TextFields = {
    "summary": ("summary", Issue.summary),
    "description": ("description", Issue.description),
    "address": ("address", Issue.address),
    "request_type_title": ("request_type.title", Issue.request_type_title),
    "reporter_name": ("reporter.name", Issue.reporter_name),
    "reporter_email": ("reporter.email", Issue.reporter_email),
    "image_url": ("media", Issue.image_url),
    "html_url": ("html_url", Issue.html_url),
}
_COMMENT_TEXT: _TextFields = {
    "body": ("comment", Comment.body),
    "author": ("commenter.name", Comment.author),
    "author_role": ("commenter.role", Comment.author_role),
    "image_url": ("media", Comment.image_url),
}
# Questions are kept in a JSON column: no length, but the same characters.
_QUESTION_TEXT: _TextFields = {
    "question": ("question", None),
    "answer": ("answer", None),
    "key": ("primary_key", None),
}
_SURROGATE = re.compile("[\ud800-\udfff]")


def _fit_text(
    value: str | None, column: InstrumentedAttribute | None, name: str, misfits: list[Misfit]
) -> str | None:
    """``value`` as the column can hold it; each change is added to ``misfits``.

    PostgreSQL text cannot hold NUL; an unpaired surrogate (JSON allows
    ``"\\ud800"``) is no character at all and cannot be encoded; a String(n)
    column refuses more than n characters."""
    if not value:
        return value
    if "\x00" in value:
        value = value.replace("\x00", "")
        misfits.append(
            Misfit(name, "contains NUL characters, which the database cannot store", "removed")
        )
    if _SURROGATE.search(value):
        value = _SURROGATE.sub("\ufffd", value)
        misfits.append(
            Misfit(
                name,
                "contains unpaired UTF-16 surrogates, which are not characters",
                "replaced with U+FFFD",
            )
        )
    limit = getattr(column.type, "length", None) if column is not None else None
    if limit is not None and len(value) > limit:
        misfits.append(
            Misfit(
                name,
                f"has {len(value)} characters, more than the {limit} its column holds",
                "truncated",
            )
        )
        value = value[:limit]
    return value


def _fitted(item: _Fits, fields: _TextFields, prefix: str, misfits: list[Misfit]) -> _Fits:
    """A copy of the frozen dataclass ``item`` with each of ``fields`` fitted."""
    changes = {}
    for attribute, (name, column) in fields.items():
        value = getattr(item, attribute)
        fitted = _fit_text(value, column, prefix + name, misfits)
        if fitted != value:
            changes[attribute] = fitted
    return replace(item, **changes) if changes else item


def fit_comment(comment: CrmComment, prefix: str = "comment.") -> tuple[CrmComment, list[Misfit]]:
    """The comment as the database can store it, and what had to change."""
    misfits: list[Misfit] = []
    return _fitted(comment, _COMMENT_TEXT, prefix, misfits), misfits


def fit_for_storage(crm: CrmIssue, prefix: str = "") -> tuple[CrmIssue, list[Misfit]]:
    """The issue as the database can store it (text cut to its column, NUL
    removed, unpaired surrogates replaced) and every change made, by field.

    The webhook refuses an issue with any change (400 naming the field); the
    poll and the CLI store the fitted copy and say so on the issue's timeline,
    so one odd value never stops an issue from syncing."""
    misfits: list[Misfit] = []
    fitted = _fitted(crm, _ISSUE_TEXT, prefix, misfits)
    questions = tuple(
        _fitted(q, _QUESTION_TEXT, f"{prefix}questions[{i}].", misfits)
        for i, q in enumerate(crm.questions)
    )
    comments = crm.comments
    if comments is not None:
        comments = tuple(
            _fitted(c, _COMMENT_TEXT, f"{prefix}comments[{i}].", misfits)
            for i, c in enumerate(comments)
        )
    if questions != crm.questions or comments != crm.comments:
        fitted = replace(fitted, questions=questions, comments=comments)
    return fitted, misfits


def _believed(stored: datetime | None) -> datetime | None:
    """The stored ``crm_updated_at``, unless it is far ahead of our clock: a copy
    stored before such times were set aside must not freeze its issue forever."""
    if stored is not None and stored - utcnow() > MAX_CLOCK_AHEAD:
        return None
    return stored


def _record_warnings(crm: CrmIssue, misfits: list[Misfit], source: str) -> None:
    """One warning on the issue's timeline for what was stored other than it came."""
    parts = [*crm.notes, *(f"{m} ({m.remedy})" for m in misfits)]
    if parts:
        events.record(
            "ingest_warning",
            f"stored from the CRM {source} with changes: " + "; ".join(parts),
            issue_id=crm.id,
            level="warning",
        )


def _upsert_comments(issue_id: int, comments: tuple[CrmComment, ...], ours: str | None) -> int:
    """Store new CRM comments; return how many came from people (not from us).

    Comments written by the integration user (our acknowledgments, closing
    messages) come back on the next poll: they are kept as ``crosswalk``
    comments so they are never mirrored anywhere or reported as news.

    A comment id is stored once (a unique column): one already stored, on
    this issue or (bad data) on another, or repeated in the same reply, is
    not stored again, so it can never fail the whole issue.
    """
    known = set(
        db.session.execute(
            db.select(Comment.crm_comment_id).where(
                Comment.crm_comment_id.in_(sorted({c.id for c in comments}))
            )
        ).scalars()
    )
    added = 0
    for c in comments:
        if c.id in known:
            continue
        known.add(c.id)
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
    if not _owes_push(link, row):
        return None
    lifecycle.owe(link)
    return link


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
    crm, misfits = fit_for_storage(crm)
    row = db.session.get(Issue, crm.id)
    created = row is None
    if created:
        row = Issue(id=crm.id)
        db.session.add(row)
    elif (stored := _believed(row.crm_updated_at)) and crm.updated_at and crm.updated_at < stored:
        # Never let an older copy (a late webhook, an overlapping poll) win.
        return IngestResult(crm.id, False)
    _copy_fields(row, crm)
    # Warn when this copy changed what is stored, not on every re-read of it
    # (an issue with a far-future time is in every poll's reply).
    changed = created or db.session.is_modified(row)
    remember_request_type(crm.request_type_id, crm.request_type_title)
    db.session.flush()  # events reference the row: it must exist first (PostgreSQL FKs)
    added = _upsert_comments(crm.id, crm.comments, _integration_user()) if crm.comments else 0
    if created:
        events.record("received", f"new issue from the CRM {source}", issue_id=crm.id)
    elif added:
        events.record("comments", f"{added} new comment(s) from the CRM {source}", issue_id=crm.id)
    if changed or added:
        _record_warnings(crm, misfits, source)
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
