"""The sync link's lifecycle: its states, the moves allowed between them, the
timeline event each move writes, its legs, and the queries over link state.

Nothing else assigns ``SyncLink.state``: every module moves a link through
:func:`open_link` (a new link) or :func:`move` (an existing one), which
refuses an illegal move with :class:`IllegalTransition` instead of leaving a
link in a state no other part of the engine expects.

States (``SyncState``) and moves (``TRANSITIONS``), each with its event::

    from          to            event            when
    (new)         pending       routed/imported  a CRM issue is routed; a request imported
    pending       acknowledged  acknowledged     the push finished its legs
    failed        acknowledged  acknowledged     a push after the last failure worked
    pending       failed        push_failed      the push gave up after its last attempt
    failed        pending       retry_requested  staff asked to try again
    acknowledged  closed        closed           the crew closed the work; CRM closed
    acknowledged  closed        remote_closed    staff closed the CRM issue; remote closed
    closed        acknowledged  reopened         the resident reopened the CRM issue
    closed        archived      archived         closed longer than the archive period

Owed work. The database, not the queue, records what a link owes:
``due_at`` is when its next push is owed (NULL: nothing, or failed for good).
A push claims the link with a lease (:func:`claim`); a job killed mid-run
leaves a lease that simply runs out, and the dispatcher queues the link again.

Legs. A link owes up to four conversations with the vendors, each a *leg*
with two timestamps on the row: *intended*, committed **before** the vendor
is called, and *done*, committed after it answered. A push that dies between
two legs resumes at the first leg not done; a leg intended but not done is
*in doubt* (the vendor may have applied it and the reply was lost), which
the caller resolves before sending again (the create leg looks the request
up by external id; see :func:`in_doubt`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, literal

from ..extensions import db
from ..models import Comment, Issue, SyncLink, SyncState, utcnow
from . import events, leases

PENDING = SyncState.PENDING
ACKNOWLEDGED = SyncState.ACKNOWLEDGED
CLOSED = SyncState.CLOSED
FAILED = SyncState.FAILED
ARCHIVED = SyncState.ARCHIVED

# (from, to) → the timeline event kinds that may record the move. ``None`` as
# "from" is a new link.
TRANSITIONS: dict[tuple[str | None, str], tuple[str, ...]] = {
    (None, PENDING): ("routed", "imported"),
    (PENDING, ACKNOWLEDGED): ("acknowledged",),
    (FAILED, ACKNOWLEDGED): ("acknowledged",),
    (PENDING, FAILED): ("push_failed",),
    (FAILED, PENDING): ("retry_requested",),
    (ACKNOWLEDGED, CLOSED): ("closed", "remote_closed"),
    (CLOSED, ACKNOWLEDGED): ("reopened",),
    (CLOSED, ARCHIVED): ("archived",),
}

# CRM statuses in which an issue still takes a new link (and syncs after a reopen).
OPEN_CRM_STATUSES = ("Open", "Acknowledged")
# Comments that travel to the remote request: residents' (crm) and the hub's notes.
NOTE_ORIGINS = ("crm", "note")


class IllegalTransition(RuntimeError):
    """A move the state machine does not allow (a bug, never a vendor's fault)."""


# --------------------------------------------------------------------------- moves
class CategoryRef(Protocol):
    """A category row, or ingest's cached route to one (``routing.Route``)."""

    id: int
    integration_id: int


def open_link(
    issue: Issue,
    category: CategoryRef,
    *,
    event: str = "routed",
    detail: str,
    **fields,
) -> SyncLink:
    """A new link for ``issue`` in ``category``'s integration, pending its push."""
    _check(None, PENDING, event)
    link = SyncLink(
        issue=issue,
        integration_id=category.integration_id,
        category_id=category.id,
        state=PENDING,
        due_at=utcnow(),
        **fields,
    )
    db.session.add(link)
    events.record(event, detail, issue_id=issue.id, integration_id=category.integration_id)
    return link


def open_imported_link(
    issue: Issue,
    category: CategoryRef,
    *,
    detail: str,
    remote_id: str,
    remote_display_id: str | None,
    **fields,
) -> SyncLink:
    """A link for an issue the importer created from a remote request: the
    remote request exists already, so its create leg is done, and the address
    is the one the request carried (never geocoded again)."""
    now = utcnow()
    return open_link(
        issue,
        category,
        event="imported",
        detail=detail,
        origin="remote",
        remote_id=remote_id,
        remote_display_id=remote_display_id,
        remote_create_intended_at=now,
        remote_created_at=now,
        address_source="reported",
        **fields,
    )


def open_link_now(
    issue_id: int,
    category: CategoryRef,
    *,
    event: str = "routed",
    detail: str,
    events_before: list[dict] | None = None,
) -> int:
    """``open_link`` for an issue stored in this transaction, written at once
    without ORM rows (two statements: the link, then its events, after
    ``events_before``); the new link's id. The caller commits."""
    check_open(event)
    now = utcnow()
    link_id = db.session.execute(
        _INSERT_LINK,
        {
            "issue_id": issue_id,
            "integration_id": category.integration_id,
            "category_id": category.id,
            "state": PENDING,
            "due_at": now,
            "created_at": now,
            "updated_at": now,
        },
    ).scalar_one()
    integration_id = category.integration_id
    row = {"kind": event, "detail": detail, "issue_id": issue_id, "integration_id": integration_id}
    events.insert([*(events_before or []), row])
    return link_id


_INSERT_LINK = SyncLink.__table__.insert().returning(SyncLink.__table__.c.id)


def pending_link_columns(
    issue_id: ColumnElement, integration_id: ColumnElement, category_id: ColumnElement, now: Any
) -> dict[str, ColumnElement]:
    """The columns of a new pending link by name, as SQL expressions: for a
    statement that writes the row itself (``ingest``'s one statement for a
    new issue). The model's scalar defaults (origin, attempts, ...) are
    included as literals: SQLAlchemy fills defaults in only for the statement
    it executes, not for one inside a WITH."""
    table = SyncLink.__table__
    columns: dict[str, ColumnElement] = {
        "issue_id": issue_id,
        "integration_id": integration_id,
        "category_id": category_id,
        "state": literal(PENDING, table.c.state.type),
        "due_at": now,
        "created_at": now,
        "updated_at": now,
    }
    columns.update(
        (c.name, literal(c.default.arg, c.type))
        for c in table.columns
        if c.name not in columns and c.default is not None and c.default.is_scalar
    )
    return columns


def check_open(event: str = "routed") -> None:
    """Refuse opening a link recorded as ``event`` unless the lifecycle allows it
    (for a caller writing the new link's row itself)."""
    _check(None, PENDING, event)


def move(link: SyncLink, to: str, event: str, detail: str, *, level: str = "info") -> None:
    """Move ``link`` to state ``to`` and write ``event`` to the issue's timeline.

    The caller commits (with whatever else the move belongs to)."""
    _check(link.state, to, event)
    link.state = to
    events.record_for(link, event, detail, level=level)


def _check(state: str | None, to: str, event: str) -> None:
    allowed = TRANSITIONS.get((state, to))
    if allowed is None:
        raise IllegalTransition(f"a sync link cannot move from {state or 'nothing'} to {to}")
    if event not in allowed:
        raise IllegalTransition(
            f"the move {state or 'new'} → {to} is recorded as {' or '.join(allowed)}, not {event}"
        )


def reopen(link: SyncLink, issue: Issue) -> None:
    """The resident reopened a closed issue: sync it again and tell the crew.

    The remote request is still closed, so the next close must be a new one:
    ``reopened_at`` holds until the remote poll sees the request open again.
    """
    move(
        link,
        ACKNOWLEDGED,
        "reopened",
        "reopened in the CRM: syncing again; the remote request gets a note",
    )
    link.reopened_at = utcnow()
    link.crm_closed_at = None
    link.crm_close_intended_at = None
    owe(link)  # the note for the crew
    db.session.add(
        Comment(
            issue_id=issue.id,
            origin="note",
            author="Crosswalk",
            body="The resident reopened this request in SeeClickFix.",
            created_at=utcnow(),
        )
    )


def request_retry(link: SyncLink) -> bool:
    """Staff asked to retry a failed link: back to pending (attempts kept for
    history). False when the link was not failed (nothing to reset)."""
    if link.state != FAILED:
        return False
    move(link, PENDING, "retry_requested", "failed push queued again")
    link.due_at = utcnow()  # staff asked: now, whatever backoff there was
    return True


# ---------------------------------------------------------------------------- legs
@dataclass(frozen=True)
class Leg:
    """One conversation with a vendor that a link owes, and its two columns."""

    name: str
    intended: str  # column set (and committed) before the vendor call
    done: str  # column set when the vendor answered


CREATE_REMOTE = Leg("create the remote request", "remote_create_intended_at", "remote_created_at")
ACKNOWLEDGE_CRM = Leg("acknowledge the CRM issue", "crm_ack_intended_at", "crm_acknowledged_at")
CLOSE_CRM = Leg("close the CRM issue", "crm_close_intended_at", "crm_closed_at")
CLOSE_REMOTE = Leg("close the remote request", "remote_close_intended_at", "remote_closed_at")
# The resident's photo, where the vendor takes it as an upload after the
# create (Connector.uploads_photos): retried on its own, never redoing the create.
ATTACH_PHOTO = Leg("attach the photo", "photo_intended_at", "photo_attached_at")
LEGS = (CREATE_REMOTE, ACKNOWLEDGE_CRM, CLOSE_CRM, CLOSE_REMOTE, ATTACH_PHOTO)


def is_done(link: SyncLink, leg: Leg) -> bool:
    return getattr(link, leg.done) is not None


def in_doubt(link: SyncLink, leg: Leg) -> bool:
    """Sent before without a recorded answer: the vendor may have applied it."""
    return getattr(link, leg.intended) is not None and getattr(link, leg.done) is None


def intend(link: SyncLink, leg: Leg) -> None:
    """Record, and commit, that ``leg`` is about to be sent.

    Committed before the call so that a process killed while the vendor works
    leaves the leg visibly in doubt instead of looking never tried."""
    if not is_done(link, leg):
        setattr(link, leg.intended, utcnow())
    db.session.commit()


def mark_done(link: SyncLink, leg: Leg, when: datetime | None = None) -> None:
    """Record that the vendor answered ``leg`` (the caller commits)."""
    setattr(link, leg.done, when or utcnow())
    if getattr(link, leg.intended) is None:
        setattr(link, leg.intended, getattr(link, leg.done))


# -------------------------------------------------------------------- owed work
def owe(link: SyncLink) -> None:
    """The link owes a push (new comments, a reopen note, a CRM close to carry):
    due now, unless a push is already owed — a retry's backoff is kept."""
    if link.due_at is None:
        link.due_at = utcnow()


def owes_work(
    link: SyncLink, close_remote_on_crm_close: bool, uploads_photos: bool = False
) -> bool:
    """Whether a push has anything left to do for the link."""
    if link.state in (PENDING, FAILED):
        return link.state == PENDING
    if link.state != ACKNOWLEDGED:
        return False
    return (
        has_unsent_notes(link)
        or owes_remote_close(link, link.issue, close_remote_on_crm_close)
        or owes_photo(link, link.issue, uploads_photos)
    )


def owes_photo(link: SyncLink, issue: Issue, uploads_photos: bool) -> bool:
    """The vendor takes photos as uploads, the resident sent one, and it is
    not attached yet (a photo that could not be used counts as done)."""
    return (
        uploads_photos
        and issue.image_url is not None
        and link.remote_id is not None
        and link.photo_attached_at is None
    )


def settle_due(
    link: SyncLink, close_remote_on_crm_close: bool, uploads_photos: bool = False
) -> None:
    """After a push: due again now if work arrived meanwhile, else nothing owed."""
    owed = owes_work(link, close_remote_on_crm_close, uploads_photos)
    link.due_at = utcnow() if owed else None


def claim(link_id: int, owner: str, seconds: float) -> bool:
    """Take the link's lease for ``seconds`` if it is free (or ours); commit.

    Two jobs for the same link never work on it at once, and a lease left by
    a killed job is free once it runs out."""
    return leases.take_row(
        SyncLink, SyncLink.id == link_id, "lease_owner", "lease_until", owner, seconds
    )


def release(link_id: int, owner: str, *, commit: bool = True) -> None:
    """Give the lease back (only ours); commit (or leave it to the caller's)."""
    leases.release_row(
        SyncLink, SyncLink.id == link_id, "lease_owner", "lease_until", owner, commit=commit
    )


def lease_renewer(link_id: int, owner: str, seconds: float) -> Callable[[], None]:
    """A ``leases.Keeper`` callback renewing the link's lease."""
    return leases.row_renewer(
        SyncLink, SyncLink.id == link_id, "lease_owner", "lease_until", owner, seconds
    )


def record_owed(link_ids: list[int]) -> None:
    """Mark these links due now where nothing was recorded as owed."""
    if link_ids:
        db.session.execute(
            db.update(SyncLink)
            .where(SyncLink.id.in_(link_ids), SyncLink.due_at.is_(None))
            .values(due_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def due_links(now: datetime, dispatched_before: datetime, limit: int) -> list[int]:
    """Links whose push is due, free of any lease, and not queued since
    ``dispatched_before`` (a job queued just now is still on its way)."""
    query = (
        db.select(SyncLink.id)
        .where(
            SyncLink.due_at <= now,
            (SyncLink.lease_until.is_(None)) | (SyncLink.lease_until < now),
            (SyncLink.dispatched_at.is_(None)) | (SyncLink.dispatched_at < dispatched_before),
        )
        .order_by(SyncLink.due_at, SyncLink.id)
        .limit(limit)
    )
    return list(db.session.execute(query).scalars())


def mark_dispatched(link_ids: list[int], now: datetime) -> None:
    if link_ids:
        db.session.execute(
            db.update(SyncLink)
            .where(SyncLink.id.in_(link_ids))
            .values(dispatched_at=now)
            .execution_options(synchronize_session=False)
        )


# ------------------------------------------------------------------------- queries
def unsent_notes_query(issue_id: int):
    """The issue's comments still owed to the remote request, oldest first."""
    return (
        db.select(Comment)
        .where(
            Comment.issue_id == issue_id,
            Comment.pushed_at.is_(None),
            Comment.origin.in_(NOTE_ORIGINS),
        )
        .order_by(Comment.created_at.nulls_first(), Comment.id)
    )


def has_unsent_notes(link: SyncLink) -> bool:
    query = unsent_notes_query(link.issue_id).with_only_columns(Comment.id).limit(1)
    return db.session.execute(query).first() is not None


def owes_remote_close(link: SyncLink, issue: Issue, close_remote_on_crm_close: bool) -> bool:
    """Staff closed the CRM issue (not Crosswalk: our own close is intended
    before it is sent) and the integration closes the remote request then."""
    return (
        close_remote_on_crm_close
        and link.state == ACKNOWLEDGED
        and link.remote_id is not None
        and issue.status == "Closed"
        and link.crm_close_intended_at is None
        # Not closed yet (a close in doubt is owed again: it is idempotent).
        and link.remote_closed_at is None
    )


def was_reopened(issue: Issue, link: SyncLink) -> bool:
    """Open again in the CRM, and reopened after we closed it (a stale copy of the
    issue read before our close has no such ``reopened_at``)."""
    if issue.status not in OPEN_CRM_STATUSES or issue.reopened_at is None:
        return False
    if issue.closed_at is not None:
        # Both times from the CRM's clock (whole seconds: same second counts).
        return issue.reopened_at >= issue.closed_at
    return link.crm_closed_at is None or issue.reopened_at >= link.crm_closed_at.replace(
        microsecond=0
    )


def link_of(issue_id: int, integration_id: int) -> SyncLink | None:
    return db.session.execute(
        db.select(SyncLink).where(
            SyncLink.issue_id == issue_id, SyncLink.integration_id == integration_id
        )
    ).scalar_one_or_none()


def links_to_poll(integration_id: int, issue_id: int | None = None) -> list[int]:
    """Acknowledged links of an integration with a remote request, by id."""
    return [link_id for link_id, _, _ in poll_targets(integration_id, issue_id)]


def poll_targets(integration_id: int, issue_id: int | None = None) -> list[tuple[int, str, int]]:
    """(link id, remote id, issue id) of the links ``links_to_poll`` lists."""
    query = (
        db.select(SyncLink.id, SyncLink.remote_id, SyncLink.issue_id)
        .where(
            SyncLink.integration_id == integration_id,
            SyncLink.state == ACKNOWLEDGED,
            SyncLink.remote_id.is_not(None),
        )
        .order_by(SyncLink.id)
    )
    if issue_id is not None:
        query = query.where(SyncLink.issue_id == issue_id)
    return [(link_id, remote_id, issue) for link_id, remote_id, issue in db.session.execute(query)]


def closed_before(integration_id: int, cutoff: datetime) -> list[SyncLink]:
    """Links the CRM closed before ``cutoff`` (due for archiving)."""
    return list(
        db.session.execute(
            db.select(SyncLink).where(
                SyncLink.integration_id == integration_id,
                SyncLink.state == CLOSED,
                SyncLink.crm_closed_at < cutoff,
            )
        ).scalars()
    )


def links_to_push_again(integration_ids: list[int], issue_id: int | None = None) -> list[int]:
    """Links a staff "push again" covers: one issue's links, else every pending
    or failed link of the integrations."""
    query = (
        db.select(SyncLink.id)
        .where(SyncLink.integration_id.in_(integration_ids))
        .order_by(SyncLink.id)
    )
    if issue_id is not None:
        query = query.where(SyncLink.issue_id == issue_id)
    else:
        query = query.where(SyncLink.state.in_([PENDING, FAILED]))
    return list(db.session.execute(query).scalars())


@dataclass(frozen=True)
class OwedWork:
    """A link with work left and no job known to carry it (for the sweeper)."""

    link_id: int
    issue_id: int
    integration_id: int
    why: str


def work_left_since(cutoff: datetime, closing_integrations: Collection[int]) -> list[OwedWork]:
    """Links owing work since before ``cutoff`` that the database has not
    recorded as due (``due_at`` NULL: a race between a push finishing and a
    comment arriving, or rows from before owed work was recorded): a pending
    push, unsent comments on an acknowledged link, or a CRM close not yet
    carried to the remote request (only for ``closing_integrations``, those
    with close_remote_on_crm_close on). Work recorded as due is the
    dispatcher's."""
    columns = (SyncLink.id, SyncLink.issue_id, SyncLink.integration_id)
    unscheduled = SyncLink.due_at.is_(None)
    pending = db.session.execute(
        db.select(*columns).where(
            unscheduled, SyncLink.state == PENDING, SyncLink.updated_at < cutoff
        )
    ).all()
    unsent = db.session.execute(
        db.select(*columns)
        .join(Comment, Comment.issue_id == SyncLink.issue_id)
        .where(
            unscheduled,
            SyncLink.state == ACKNOWLEDGED,
            Comment.pushed_at.is_(None),
            Comment.origin.in_(NOTE_ORIGINS),
            Comment.seen_at < cutoff,
        )
        .distinct()
    ).all()
    closes = db.session.execute(
        db.select(*columns)
        .join(Issue, Issue.id == SyncLink.issue_id)
        .where(
            unscheduled,
            SyncLink.integration_id.in_(list(closing_integrations)),
            SyncLink.state == ACKNOWLEDGED,
            SyncLink.remote_id.is_not(None),
            Issue.status == "Closed",
            SyncLink.crm_close_intended_at.is_(None),
            SyncLink.remote_closed_at.is_(None),
            SyncLink.updated_at < cutoff,
        )
    ).all()
    found: dict[int, OwedWork] = {}
    for rows, why in (
        (pending, "pending push"),
        (unsent, "unsent comments"),
        (closes, "CRM close"),
    ):
        for link_id, issue_id, integration_id in rows:
            found.setdefault(link_id, OwedWork(link_id, issue_id, integration_id, why))
    return list(found.values())
