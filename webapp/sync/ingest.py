"""Ingest: one CRM issue (from the poll, a webhook or the CLI) into the
database, routed to the integration that owns its request type.

Rows are committed before any push is enqueued, so a lost queue loses
nothing (the sweeper re-enqueues what is owed).
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import InstrumentedAttribute, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql import Executable

from integrations.seeclickfix import CrmComment, CrmIssue, CrmQuestion
from integrations.seeclickfix.issues import MAX_CLOCK_AHEAD

from ..extensions import db
from ..models import (
    Category,
    Comment,
    Event,
    ImportedRequest,
    Integration,
    Issue,
    SyncLink,
    SyncState,
    utcnow,
)
from . import crm_identity, events, lifecycle, routing, vendors
from .push_job import enqueue_push
from .request_types import remember_request_type

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    issue_id: int
    created: bool
    links_to_push: list[int] = field(default_factory=list)
    enqueued: int = 0


def route(request_type_id: int | None) -> routing.Route | None:
    """The enabled category of an enabled integration mapped to this request
    type (from the configuration as this process holds it: ``routing``)."""
    return routing.route(request_type_id)


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
    row.private = crm.private
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
    # ASCII text (most of it) holds no surrogate: skip the regex scan.
    if not value.isascii() and _SURROGATE.search(value):
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


def _upsert_comments(
    issue_id: int,
    comments: tuple[CrmComment, ...],
    ours: crm_identity.CrmIdentity,
    *,
    created: bool = False,
) -> int:
    """Store new CRM comments; return how many came from people (not from us).

    A comment is known by its key (``CrmComment.key``: the CRM's id when it
    sends one, else a digest of when, who and what, since the documented
    comment objects have no id), stored as ``crm_key``: one already stored on
    this issue, or repeated in the same reply, is not stored again. A CRM id
    is unique across issues too (a unique column): one already stored on
    another issue (bad data) is skipped, so it can never fail the whole issue.

    Comments Crosswalk wrote (acknowledgments, closing messages, imported
    remote comments) come back on the next poll: they are kept as
    ``crosswalk`` comments, never mirrored anywhere or reported as news.
    """
    known_keys = (
        set()  # an issue stored just now has no comments yet
        if created
        else set(
            db.session.execute(
                db.select(Comment.crm_key).where(
                    Comment.issue_id == issue_id,
                    Comment.crm_key.in_(sorted({c.key for c in comments})),
                )
            ).scalars()
        )
    )
    known_ids = _stored_crm_ids({c.id for c in comments if c.id is not None})
    added = 0
    for c in comments:
        if c.key in known_keys or c.id in known_ids:
            continue
        known_keys.add(c.key)
        if c.id is not None:
            known_ids.add(c.id)
        origin = "crosswalk" if ours.wrote(c) else "crm"
        added += origin == "crm"
        db.session.add(
            Comment(
                issue_id=issue_id,
                crm_comment_id=c.id,
                crm_key=c.key,
                origin=origin,
                author=c.author,
                author_role=c.author_role,
                body=c.body,
                image_url=c.image_url,
                created_at=c.created_at,
            )
        )
    return added


def _stored_crm_ids(ids: set[int]) -> set[int]:
    if not ids:
        return set()
    query = db.select(Comment.crm_comment_id).where(Comment.crm_comment_id.in_(sorted(ids)))
    return set(db.session.execute(query).scalars())


def _skip_unrouted(row: Issue) -> None:
    reason = (
        f"request type {row.request_type_id} ({row.request_type_title or 'untitled'}) "
        "is not mapped to any integration"
    )
    if row.skip_reason != reason and not row.links:
        row.skip_reason = reason
        events.record("skipped", reason, issue_id=row.id)


# ------------------------------------------------------------ imported requests
# The importer ends the description of every CRM issue it creates with this
# marker. A create held for moderation (202, no id yet) is linked by it when
# its issue appears, however it arrives (poll, webhook, CLI fetch), and an
# issue carrying it is never taken for a resident's report (never pushed as
# a new remote request: the remote request exists).
_IMPORT_MARKER = re.compile(
    r"\[(?P<integration>[a-z0-9_-]+) request (?P<remote_id>[^\]\n]+)\]\s*\Z"
)
# The marker is searched for only in the description's tail: it ends the text,
# and a long description must not cost a scan from every "[" in it.
_MARKER_TAIL = 320
# Imports whose CRM issue is linked when it appears, and why it had not been.
ADOPTABLE_IMPORTS = {
    "moderated": "the CRM held it for moderation",
    "failed": "the CRM applied a create whose reply was lost",
}


def import_marker(integration: str, remote_id: str) -> str:
    """The marker of an issue imported from ``integration``'s request ``remote_id``."""
    return f"[{integration} request {remote_id}]"


def imported_from(description: str | None) -> tuple[str, str] | None:
    """(integration, remote id) of the marker ending ``description``, if any."""
    found = _IMPORT_MARKER.search((description or "")[-_MARKER_TAIL:])
    return (found["integration"], found["remote_id"]) if found else None


def _import_of(row: Issue) -> ImportedRequest | None:
    """The importer's record of the remote request this issue's marker names."""
    marker = imported_from(row.description)
    if marker is None:
        return None
    name, remote_id = marker
    return db.session.execute(
        db.select(ImportedRequest)
        .join(Integration, Integration.id == ImportedRequest.integration_id)
        .where(Integration.name == name, ImportedRequest.remote_id == remote_id)
    ).scalar_one_or_none()


def _import_category(row: Issue, integration_id: int) -> Category | None:
    return (
        db.session.execute(
            db.select(Category)
            .where(
                Category.integration_id == integration_id,
                Category.crm_request_type_id == row.request_type_id,
                Category.enabled.is_(True),
            )
            .order_by(Category.id)
        )
        .scalars()
        .first()
    )


def _skip(row: Issue, reason: str, *, level: str = "info") -> None:
    if row.skip_reason != reason:
        row.skip_reason = reason
        events.record("skipped", reason, issue_id=row.id, level=level)


def _import_refusal(
    row: Issue, imported: ImportedRequest, category: Category | None, request: str
) -> tuple[str, str] | None:
    """Why an issue carrying an import marker is not linked now (reason, level)."""
    if imported.outcome == "importing":  # the importer is between its create and its link
        return f"being imported from {request}: the importer links it", "info"
    if imported.outcome not in ADOPTABLE_IMPORTS or imported.issue_id not in (None, row.id):
        other = f"CRM issue {imported.issue_id}" if imported.issue_id else imported.outcome
        return f"carries the import marker of {request} ({other}): not sent again", "warning"
    if category is None:
        return f"imported from {request}, but no enabled category maps its request type", "warning"
    if row.status not in lifecycle.OPEN_CRM_STATUSES:
        return f"imported from {request}, but already {row.status} in the CRM", "warning"
    return None


def _link_import(row: Issue, imported: ImportedRequest) -> SyncLink | None:
    """Link an issue the importer created to its remote request, exactly once:
    the import record moves to ``imported`` in the commit that adds the link,
    and the push then writes the CRM id onto the remote request (both ways)
    and acknowledges the resident."""
    integration = db.session.get(Integration, imported.integration_id)
    request = f"{integration.name} request {imported.remote_display_id or imported.remote_id}"
    category = _import_category(row, imported.integration_id)
    refusal = _import_refusal(row, imported, category, request)
    if refusal is not None:
        _skip(row, refusal[0], level=refusal[1])
        return None
    link = lifecycle.open_imported_link(
        row,
        category,
        detail=f"from {request} ({ADOPTABLE_IMPORTS[imported.outcome]}): linked now",
        remote_id=imported.remote_id,
        remote_display_id=imported.remote_display_id,
    )
    imported.outcome, imported.reason, imported.issue_id = "imported", None, row.id
    row.skip_reason = None
    return link


def _ensure_link(row: Issue, created: bool) -> SyncLink | None:
    """Route the issue; return its link when it owes work to a push."""
    imported = _import_of(row)
    if imported is not None and lifecycle.link_of(row.id, imported.integration_id) is None:
        return _link_import(row, imported)
    category = route(row.request_type_id)
    if category is None:
        _skip_unrouted(row)
        return None
    row.skip_reason = None
    # An issue stored just now has no link yet: no need to ask.
    link = None if created else lifecycle.link_of(row.id, category.integration_id)
    if link is None:
        if row.status not in lifecycle.OPEN_CRM_STATUSES:
            row.skip_reason = f"issue was already {row.status} in the CRM when first seen"
            if created:
                events.record("skipped", row.skip_reason, issue_id=row.id)
            return None
        link = lifecycle.open_link(
            row,
            category,
            detail=f"to {category.integration_name} as {category.remote_id}",
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


def upsert_issue(crm: CrmIssue, *, source: str, route: bool = True) -> IngestResult:
    """Store one CRM issue and its comments; commit; return what to push."""
    crm, misfits = fit_for_storage(crm)
    plain = _plain_route(crm, misfits) if route else None
    if plain is not None:
        # The usual webhook: a new, open, routed issue and nothing more to say.
        link_id = _insert_new_routed(crm, plain, source)
        if link_id is not None:
            db.session.commit()
            return IngestResult(crm.id, True, [link_id])
        row = None  # stored before: read and updated below
    else:
        row = _insert_new(crm)
    created = row is not None
    if row is None:
        row = db.session.get(Issue, crm.id)
        if (stored := _believed(row.crm_updated_at)) and crm.updated_at and crm.updated_at < stored:
            # Never let an older copy (a late webhook, an overlapping poll) win.
            return IngestResult(crm.id, False)
        _copy_fields(row, crm)
    # Warn when this copy changed what is stored, not on every re-read of it
    # (an issue with a far-future time is in every poll's reply).
    changed = created or db.session.is_modified(row)
    if not routing.knows_request_type(crm.request_type_id, crm.request_type_title):
        remember_request_type(crm.request_type_id, crm.request_type_title)
        routing.note_request_type(crm.request_type_id, crm.request_type_title)
    db.session.flush()  # events reference the row: it must exist first (PostgreSQL FKs)
    added = (
        _upsert_comments(crm.id, crm.comments, crm_identity.current(), created=created)
        if crm.comments
        else 0
    )
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


def _plain_route(crm: CrmIssue, misfits: list[Misfit]) -> routing.Route | None:
    """The route of the issue if, should it be new, it needs nothing but a
    link and two events (no comments, nothing stored changed, no import
    marker, open, a request type stored as it is and routed), else None: the
    general path."""
    if crm.comments or misfits or crm.notes or crm.status not in lifecycle.OPEN_CRM_STATUSES:
        return None
    if imported_from(crm.description) is not None:
        return None
    if not routing.knows_request_type(crm.request_type_id, crm.request_type_title):
        return None
    return route(crm.request_type_id)


def _insert_new_routed(crm: CrmIssue, plain: routing.Route, source: str) -> int | None:
    """Store a new issue on its plain route — the issue, its pending link, and
    the events "received" and "routed" — and return the link's id; None when
    the issue was stored before (nothing is written then).

    On PostgreSQL one statement writes all three (data-modifying CTEs: the
    link and events are inserted from what the issue's insert returns, so an
    issue stored before gets neither); elsewhere three, as ``_insert_new``
    and ``lifecycle.open_link_now`` write them."""
    received = f"new issue from the CRM {source}"
    routed = f"to {plain.integration_name} as {plain.remote_id}"
    statement = _insert_routed_if_new(db.session.get_bind().dialect.name)
    if statement is None:
        row = _insert_new(crm)
        if row is None:
            return None
        return lifecycle.open_link_now(
            row.id,
            plain,
            detail=routed,
            events_before=[{"kind": "received", "detail": received, "issue_id": row.id}],
        )
    lifecycle.check_open("routed")
    now = utcnow()
    values = {f"issue_{key}": value for key, value in _issue_values(crm, now).items()}
    values.update(
        integration_id=plain.integration_id,
        category_id=plain.id,
        now=now,
        received=received,
        routed=routed,
    )
    return db.session.execute(statement, values).scalar()


@functools.cache
def _insert_routed_if_new(dialect: str) -> Executable | None:
    """PostgreSQL's one statement for ``_insert_new_routed``, built once (the
    values come as parameters); None for a database without DML in WITH."""
    if dialect != "postgresql":
        return None
    issue, link, event = Issue.__table__, SyncLink.__table__, Event.__table__
    now = sa.bindparam("now", type_=link.c.created_at.type)
    integration_id = sa.bindparam("integration_id", type_=link.c.integration_id.type)
    new_issue = (
        postgresql_insert(issue)
        .values({c.name: sa.bindparam(f"issue_{c.key}", type_=c.type) for c in issue.columns})
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(issue.c.id)
        .cte("new_issue")
    )
    given = lifecycle.pending_link_columns(
        new_issue.c.id,
        integration_id,
        sa.bindparam("category_id", type_=link.c.category_id.type),
        now,
    )
    new_link = (
        link.insert()
        .from_select(list(given), sa.select(*given.values()), include_defaults=False)
        .returning(link.c.id, link.c.issue_id)
        .cte("new_link")
    )

    def event_row(position: int, kind: str, integration: sa.ColumnElement) -> sa.Select:
        return sa.select(
            new_link.c.issue_id,
            integration.label("integration_id"),
            sa.literal(kind, event.c.kind.type).label("kind"),
            sa.literal("info", event.c.level.type).label("level"),
            sa.bindparam(kind, type_=event.c.detail.type).label("detail"),
            now.label("created_at"),
            sa.literal(position).label("position"),
        )

    # "received" before "routed" on the timeline (ids follow the ORDER BY).
    rows = sa.union_all(
        event_row(0, "received", sa.cast(sa.null(), event.c.integration_id.type)),
        event_row(1, "routed", integration_id),
    ).subquery()
    columns = ["issue_id", "integration_id", "kind", "level", "detail", "created_at"]
    new_events = (
        event.insert()
        .from_select(
            columns,
            sa.select(*(rows.c[c] for c in columns)).order_by(rows.c.position),
            include_defaults=False,
        )
        .cte("new_events")
    )
    return sa.select(new_link.c.id).add_cte(new_events)


def _insert_new(crm: CrmIssue) -> Issue | None:
    """The issue's row if this call stored it (it was new), else None.

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` instead of a read
    then a write: most webhook deliveries bring a new issue. The row then
    joins the session as loaded, with no links or comments yet (nothing can
    reference a row this transaction has just written), so nothing about it
    is read back."""
    statement = _insert_if_new(db.session.get_bind().dialect.name)
    if statement is None:
        return None
    values = _issue_values(crm, utcnow())
    if db.session.execute(statement, values).first() is None:
        return None  # stored before: read and updated the usual way
    row = Issue(**values)
    make_transient_to_detached(row)
    db.session.add(row)
    set_committed_value(row, "links", [])
    set_committed_value(row, "comments", [])
    return row


def _issue_values(crm: CrmIssue, now: datetime) -> dict[str, Any]:
    """Every column of a new issue's row, by key, as ``_copy_fields`` sets them."""
    row = Issue(id=crm.id, skip_reason=None, first_seen_at=now, updated_at=now)
    _copy_fields(row, crm)
    return {column.key: getattr(row, column.key) for column in Issue.__table__.columns}


# INSERT ... ON CONFLICT, where the database has it (both that Crosswalk runs on).
_UPSERTS = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}


@functools.cache
def _insert_if_new(dialect: str) -> Executable | None:
    """The statement, built once (the values come as parameters)."""
    if dialect not in _UPSERTS:
        return None
    table = Issue.__table__  # a Core statement: the ORM's bulk insert costs more CPU
    return (
        _UPSERTS[dialect](table).on_conflict_do_nothing(index_elements=["id"]).returning(table.c.id)
    )


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
