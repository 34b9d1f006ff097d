"""What staff see: sync health per integration, issue lists, timelines.
Read-only queries; the dashboard views render them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func

from ..extensions import db
from ..models import Event, Integration, Issue, SyncCursor, SyncLink, SyncState, utcnow
from . import category_sync, crm_poll, importer, remote_poll


@dataclass
class IntegrationSummary:
    integration: Integration
    counts: dict[str, int] = field(default_factory=dict)
    oldest_pending: datetime | None = None
    last_poll: SyncCursor | None = None
    last_import: SyncCursor | None = None
    last_categories: SyncCursor | None = None
    unmapped: list[str] = field(default_factory=list)
    # Private but not internal: the vendor guide says these need a review.
    private_review: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Links whose issue has more than one remote request (a late-applied create).
    duplicates: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def failed(self) -> int:
        return self.counts.get(SyncState.FAILED, 0)

    @property
    def oldest_pending_seconds(self) -> float | None:
        if self.oldest_pending is None:
            return None
        return (utcnow() - self.oldest_pending).total_seconds()


@dataclass
class Overview:
    summaries: list[IntegrationSummary]
    crm_poll: SyncCursor | None
    skipped: int
    queue_mode: str
    queue_depth: int | None
    scheduled: int | None
    queue_error: str | None = None


def integration_summaries() -> list[IntegrationSummary]:
    integrations = db.session.execute(db.select(Integration).order_by(Integration.name)).scalars()
    summaries = {row.id: IntegrationSummary(row) for row in integrations}
    counts = db.session.execute(
        db.select(SyncLink.integration_id, SyncLink.state, func.count()).group_by(
            SyncLink.integration_id, SyncLink.state
        )
    )
    for integration_id, state, count in counts:
        if integration_id in summaries:
            summaries[integration_id].counts[state] = count
    oldest = db.session.execute(
        db.select(SyncLink.integration_id, func.min(SyncLink.created_at))
        .where(SyncLink.state == SyncState.PENDING)
        .group_by(SyncLink.integration_id)
    )
    for integration_id, created in oldest:
        if integration_id in summaries:
            summaries[integration_id].oldest_pending = created
    duplicated = db.session.execute(
        db.select(SyncLink.integration_id, func.count())
        .where(SyncLink.remote_duplicates.is_not(None))
        .group_by(SyncLink.integration_id)
    )
    for integration_id, count in duplicated:
        if integration_id in summaries:
            summaries[integration_id].duplicates = count
    for summary in summaries.values():
        row = summary.integration
        summary.last_poll = db.session.get(SyncCursor, remote_poll.cursor_key(row))
        summary.last_import = db.session.get(SyncCursor, importer.cursor_key(row))
        summary.last_categories = db.session.get(SyncCursor, category_sync.cursor_key(row))
        summary.unmapped = [
            c.name or c.remote_id
            for c in row.categories
            if c.enabled and not c.internal and c.crm_request_type_id is None
        ]
        summary.private_review = [
            c.name or c.remote_id
            for c in row.categories
            if c.enabled and c.private and not c.internal
        ]
        summary.warnings = configuration_warnings(row.id)
    return list(summaries.values())


WARNING_KINDS = ("config_warning", "rule_error")


def configuration_warnings(integration_id: int, days: int = 7) -> list[str]:
    """Distinct configuration problems seen lately (public requester questions,
    broken rules), newest first: what an admin should fix."""
    since = utcnow() - timedelta(days=days)
    rows = db.session.execute(
        db.select(Event.detail, func.max(Event.created_at))
        .where(
            Event.integration_id == integration_id,
            Event.kind.in_(WARNING_KINDS),
            Event.created_at >= since,
        )
        .group_by(Event.detail)
        .order_by(func.max(Event.created_at).desc())
        .limit(20)
    ).all()
    return [detail for detail, _ in rows]


def overview() -> Overview:
    queue = current_app.task_queue
    depth = scheduled = None
    error = None
    try:
        depth, scheduled = queue.depth(), queue.scheduled_count()
    except Exception as exc:  # the dashboard must load even when Redis is down
        error = f"queue unreachable: {exc}"
    skipped = db.session.execute(
        db.select(func.count()).select_from(Issue).where(Issue.skip_reason.is_not(None))
    ).scalar_one()
    return Overview(
        summaries=integration_summaries(),
        crm_poll=db.session.get(SyncCursor, crm_poll.CURSOR_KEY),
        skipped=skipped,
        queue_mode=queue.mode,
        queue_depth=depth,
        scheduled=scheduled,
        queue_error=error,
    )


@dataclass
class Page:
    """One page of (issue, link, integration) rows (Flask-SQLAlchemy's paginate
    returns only the first entity of a multi-entity select)."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def issue_page(
    *, state: str | None, integration: str | None, page: int, per_page: int = 50
) -> Page:
    """Issues with their sync link, newest first; ``state="skipped"`` lists unrouted ones."""
    query = (
        db.select(Issue, SyncLink, Integration)
        .outerjoin(SyncLink, SyncLink.issue_id == Issue.id)
        .outerjoin(Integration, Integration.id == SyncLink.integration_id)
        .order_by(Issue.crm_created_at.desc().nulls_last(), Issue.id.desc())
    )
    if state == "skipped":
        query = query.where(SyncLink.id.is_(None), Issue.skip_reason.is_not(None))
    elif state:
        query = query.where(SyncLink.state == state)
    if integration:
        query = query.where(Integration.name == integration)
    total = db.session.execute(
        db.select(func.count()).select_from(query.order_by(None).subquery())
    ).scalar_one()
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items=[tuple(row) for row in rows], page=page, per_page=per_page, total=total)


def issue_detail(issue_id: int):
    issue = db.session.get(Issue, issue_id)
    if issue is None:
        return None, [], []
    links = (
        db.session.execute(
            db.select(SyncLink).where(SyncLink.issue_id == issue_id).order_by(SyncLink.id)
        )
        .scalars()
        .all()
    )
    timeline = (
        db.session.execute(
            db.select(Event).where(Event.issue_id == issue_id).order_by(Event.created_at, Event.id)
        )
        .scalars()
        .all()
    )
    return issue, links, timeline
