"""What staff see: sync health per integration, issue lists, timelines.
Read-only queries; the dashboard views render them.

Every page stays fast with a hundred thousand issues (``bench/dashboard_scale.py``):
the overview counts links in one grouped query and reads the rest in a
handful of small ones; the issue list pages by keyset — the issues older (or
newer) than the one a page ended at, through the listing index
(``ix_issue_listing``, migration 0009) — so a deep page costs what the first
one does, and it offers only pages that exist.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, literal, or_, tuple_
from sqlalchemy.orm import aliased, load_only, selectinload

from ..extensions import db
from ..models import (
    DATABASE_INT_MAX,
    Event,
    Integration,
    Issue,
    SyncCursor,
    SyncLink,
    SyncState,
    utcnow,
)
from . import category_sync, configure, crm_poll, importer, remote_poll


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
    """Each integration's health: link counts by state from one grouped query
    over the links (an index-only scan); the oldest pending push, the
    duplicates, the cursors, categories and warnings from one small query
    each, for all the integrations at once."""
    integrations = db.session.execute(
        db.select(Integration)
        .order_by(Integration.name)
        .options(selectinload(Integration.categories))
    ).scalars()
    summaries = {row.id: IntegrationSummary(row) for row in integrations}
    counts = db.session.execute(
        db.select(SyncLink.integration_id, SyncLink.state, func.count()).group_by(
            SyncLink.integration_id, SyncLink.state
        )
    )
    for integration_id, state, count in counts:
        if integration_id in summaries:
            summaries[integration_id].counts[state] = count
    oldest = db.session.execute(  # ix_sync_link_state_integration: the pending ones only
        db.select(SyncLink.integration_id, func.min(SyncLink.created_at))
        .where(SyncLink.state == SyncState.PENDING)
        .group_by(SyncLink.integration_id)
    )
    for integration_id, created in oldest:
        if integration_id in summaries:
            summaries[integration_id].oldest_pending = created
    duplicated = db.session.execute(  # the partial index ix_sync_link_duplicates
        db.select(SyncLink.integration_id, func.count())
        .where(SyncLink.remote_duplicates.is_not(None))
        .group_by(SyncLink.integration_id)
    )
    for integration_id, count in duplicated:
        if integration_id in summaries:
            summaries[integration_id].duplicates = count
    cursors = _cursors(
        [
            key
            for summary in summaries.values()
            for key in (
                remote_poll.cursor_key(summary.integration),
                importer.cursor_key(summary.integration),
                category_sync.cursor_key(summary.integration),
            )
        ]
    )
    warnings = recent_configuration_warnings(list(summaries))
    for summary in summaries.values():
        row = summary.integration
        summary.last_poll = cursors.get(remote_poll.cursor_key(row))
        summary.last_import = cursors.get(importer.cursor_key(row))
        summary.last_categories = cursors.get(category_sync.cursor_key(row))
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
        summary.warnings = warnings.get(row.id, [])
    return list(summaries.values())


def _cursors(keys: Sequence[str]) -> dict[str, SyncCursor]:
    if not keys:
        return {}
    rows = db.session.execute(db.select(SyncCursor).where(SyncCursor.key.in_(keys))).scalars()
    return {row.key: row for row in rows}


def integration_names() -> list[str]:
    """The integrations to filter the issue list by (a small query, no counts)."""
    return list(
        db.session.execute(db.select(Integration.name).order_by(Integration.name)).scalars()
    )


WARNING_KINDS = ("config_warning", "rule_error")


def recent_configuration_warnings(
    integration_ids: Sequence[int], days: int = 7, limit: int = 20
) -> dict[int, list[str]]:
    """Distinct configuration problems seen lately (public requester questions,
    broken rules), newest first, per integration: what an admin should fix.
    One query for all (through ``ix_event_kind_created``).

    A warning from before the integration's configuration last changed (a
    fixed rule, a reloaded file) no longer shows: it stands again when the
    problem is seen again after the change."""
    if not integration_ids:
        return {}
    since = utcnow() - timedelta(days=days)
    changed = configure.configuration_changed_at(list(integration_ids))
    rows = db.session.execute(
        db.select(Event.integration_id, Event.detail, func.max(Event.created_at))
        .where(
            Event.kind.in_(WARNING_KINDS),
            Event.created_at >= since,
            Event.integration_id.in_(integration_ids),
        )
        .group_by(Event.integration_id, Event.detail)
        .order_by(func.max(Event.created_at).desc())
    ).all()
    found: dict[int, list[str]] = {}
    for integration_id, detail, last_seen in rows:
        if integration_id in changed and last_seen < changed[integration_id]:
            continue  # resolved by a change, unless seen again since
        details = found.setdefault(integration_id, [])
        if len(details) < limit:
            details.append(detail)
    return found


def configuration_warnings(integration_id: int, days: int = 7) -> list[str]:
    """The configuration problems of one integration (see above)."""
    return recent_configuration_warnings([integration_id], days).get(integration_id, [])


def overview() -> Overview:
    queue = current_app.task_queue
    depth = scheduled = None
    error = None
    try:
        depth, scheduled = queue.depth(), queue.scheduled_count()
    except Exception as exc:  # the dashboard must load even when Redis is down
        error = f"queue unreachable: {exc}"
    skipped = db.session.execute(  # through the partial index ix_issue_skipped
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
    """One page of the issue list: (issue, link, integration) rows, newest
    first, and the issues to page from — ``newer``/``older`` are the ids for
    ``?before=``/``?after=``, None when there is no such page."""

    items: list[tuple[Issue, SyncLink | None, Integration | None]]
    per_page: int
    newer: int | None = None
    older: int | None = None


# The listing's order (ix_issue_listing): newest reported first, issues
# without a report time last; an issue's links in order.
_CREATED = Issue.crm_created_at
_NEWEST_FIRST = (_CREATED.desc().nulls_last(), Issue.id.desc())
_OLDEST_FIRST = (_CREATED.asc().nulls_first(), Issue.id.asc())


SEARCH_MAX = 200  # characters of a search: more is not a search


def _matches(q: str) -> Any:
    """The search: a number is a CRM issue id or a remote request number
    (exactly); any text is looked for, ignoring case, in the remote request
    number, the reported and the verified address, the summary and the
    description. A substring search reads every row: fine for staff looking
    something up, and the default list never pays for it."""
    q = q.strip()[:SEARCH_MAX]
    exact = [SyncLink.remote_id == q, SyncLink.remote_display_id == q]
    if q.isdecimal() and int(q) <= DATABASE_INT_MAX:
        exact.append(Issue.id == int(q))
    texts = (
        SyncLink.remote_display_id,
        Issue.address,
        SyncLink.verified_address,
        Issue.summary,
        Issue.description,
    )
    lowered = q.lower()
    return or_(
        *exact,
        *(func.lower(column).contains(lowered, autoescape=True) for column in texts),
    )


def issue_page(
    *,
    state: str | None,
    integration: str | None,
    q: str | None = None,
    after: int | None = None,
    before: int | None = None,
    per_page: int = 50,
) -> Page:
    """Issues with their sync links, newest first; ``state="skipped"`` lists
    unrouted ones. ``after``: the issues older than this one (the next page);
    ``before``: the ones newer (the previous page); neither: the first page.

    Pages by keyset, never by offset: each page is an index range read from
    where the last one ended, however deep. A page holds whole issues (an
    issue's links are never split between two pages)."""
    query = _listing(state, integration, q)
    going_newer = before is not None and (anchor := _anchor(before)) is not None
    if not going_newer:
        anchor = _anchor(after) if after is not None else None
    issues = _issues(query, anchor, per_page, older=not going_newer)
    more = len(issues) > per_page  # beyond this page, on the side read
    issues = issues[:per_page]
    if going_newer:
        issues.reverse()  # read nearest first: shown newest first
    items = [row for group in issues for row in group]
    if not items:
        return Page(items, per_page)
    first, last = items[0][0], items[-1][0]
    if going_newer:
        newer = first.id if more else None
        older = last.id if _exists(query, last, older=True) else None
    else:
        older = last.id if more else None
        newer = first.id if anchor is not None and _exists(query, first, older=False) else None
    return Page(items, per_page, newer, older)


# What a row of the list shows: the rest of each row (JSON answers and remote
# fields among it) is neither read nor decoded (a template that wanted more
# would load it, one query a row: keep this list in step with issues.html).
_SHOWN = (
    load_only(
        Issue.id,
        Issue.status,
        Issue.private,
        Issue.request_type_title,
        Issue.skip_reason,
        Issue.crm_created_at,
    ),
    load_only(
        SyncLink.id,
        SyncLink.state,
        SyncLink.remote_id,
        SyncLink.remote_display_id,
        SyncLink.last_synced_at,
        SyncLink.last_error,
    ),
    load_only(Integration.id, Integration.name),
)


def _listing(
    state: str | None, integration: str | None, q: str | None = None, shown: Any = _SHOWN
) -> Any:
    query = (
        db.select(Issue, SyncLink, Integration)
        .outerjoin(SyncLink, SyncLink.issue_id == Issue.id)
        .outerjoin(Integration, Integration.id == SyncLink.integration_id)
        .options(*shown)
    )
    if q:
        query = query.where(_matches(q))
    if state == "skipped":
        # NOT EXISTS, not "the joined link IS NULL": read in order from the
        # unrouted issues' own index, each checked for a link by one probe.
        other = aliased(SyncLink)
        linked = db.select(other.id).where(other.issue_id == Issue.id).exists()
        query = query.where(Issue.skip_reason.is_not(None), ~linked)
    elif state:
        query = query.where(SyncLink.state == state)
    if integration:
        query = query.where(Integration.name == integration)
    return query


@dataclass(frozen=True)
class _Anchor:
    """Where a page starts: an issue's place in the listing order."""

    created: datetime | None
    issue_id: int


def _anchor(issue_id: int) -> _Anchor | None:
    row = db.session.execute(db.select(Issue.crm_created_at).where(Issue.id == issue_id)).first()
    return _Anchor(row[0], issue_id) if row is not None else None


def _issues(query: Any, anchor: _Anchor | None, count: int, *, older: bool) -> list[list[tuple]]:
    """The rows of the ``count`` issues nearest ``anchor`` on one side, issue
    by issue, and at least one row of the next issue if there is one. Mostly
    one query of ``count + 2`` rows; issues with several links take more."""
    limit = count + 2
    while True:
        rows = _rows(query, anchor, limit, older=older)
        issues = _by_issue(rows)
        if len(issues) > count or len(rows) < limit:
            return issues
        limit *= 2


def _rows(query: Any, anchor: _Anchor | None, limit: int, *, older: bool) -> list[tuple]:
    """Up to ``limit`` rows on one side of ``anchor``, nearest first (an
    issue's links in order). Issues without a report time sort last, which a
    row comparison cannot say: they are read as a second range."""
    order = _NEWEST_FIRST if older else _OLDEST_FIRST
    found: list[tuple] = []
    for condition in _ranges(anchor, older):
        ranged = query.where(*condition).order_by(*order, SyncLink.id)
        found.extend(tuple(row) for row in db.session.execute(ranged.limit(limit - len(found))))
        if len(found) >= limit:
            break
    return found


def _ranges(anchor: _Anchor | None, older: bool) -> list[tuple]:
    """The WHERE conditions of the listing's ranges after (``older``) or
    before ``anchor``, in listing order from it."""
    timed, untimed = _CREATED.is_not(None), _CREATED.is_(None)
    if anchor is None:
        return [(timed,), (untimed,)] if older else [(untimed,), (timed,)]
    key = tuple_(_CREATED, Issue.id)
    if anchor.created is None:
        if older:
            return [(untimed, Issue.id < anchor.issue_id)]
        return [(untimed, Issue.id > anchor.issue_id), (timed,)]
    # Typed as the column (UTC without zone): an aware datetime would be sent
    # as timestamptz, and the comparison would no longer use the index.
    at = tuple_(literal(anchor.created, _CREATED.type), literal(anchor.issue_id, Issue.id.type))
    if older:
        return [(key < at,), (untimed,)]
    return [(key > at,)]


def _by_issue(rows: list[tuple]) -> list[list[tuple]]:
    """Rows grouped by issue, in the order they came."""
    groups: list[list[tuple]] = []
    for row in rows:
        if groups and groups[-1][0][0].id == row[0].id:
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


def _exists(query: Any, issue: Issue, *, older: bool = False) -> bool:
    """Whether the listing has an issue past ``issue`` (older, or newer)."""
    anchor = _Anchor(issue.crm_created_at, issue.id)
    for condition in _ranges(anchor, older):
        order = _NEWEST_FIRST if older else _OLDEST_FIRST
        probe = query.where(*condition).with_only_columns(Issue.id).order_by(*order).limit(1)
        if db.session.execute(probe).first() is not None:
            return True
    return False


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


# The CSV export's columns: what the list shows, plus the addresses and times.
EXPORT_COLUMNS = (
    "crm_issue_id",
    "reported_at_utc",
    "category",
    "crm_status",
    "integration",
    "sync_state",
    "remote_request",
    "reported_address",
    "verified_address",
    "last_synced_at_utc",
    "last_error",
    "private",
)


def export_rows(
    *, state: str | None, integration: str | None, q: str | None = None
) -> Iterator[tuple]:
    """Every row of the filtered list, newest first, for the CSV export:
    streamed in batches (yield_per), so a 100,000-row export holds one batch."""
    query = _listing(state, integration, q, shown=()).order_by(*_NEWEST_FIRST, SyncLink.id)
    for issue, link, integ in db.session.execute(query.execution_options(yield_per=1000)):
        yield (
            issue.id,
            _iso(issue.crm_created_at),
            issue.request_type_title or "",
            issue.status,
            integ.name if integ else "",
            link.state if link else "skipped",
            (link.remote_display_id or link.remote_id or "") if link else "",
            issue.address or "",
            (link.verified_address or "") if link else "",
            _iso(link.last_synced_at) if link else "",
            (link.last_error or "") if link else (issue.skip_reason or ""),
            "yes" if issue.private else "",
        )


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""
