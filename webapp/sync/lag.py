"""Sync lag: is Crosswalk keeping up? Per integration and per day over the
last 30 days: how long residents waited from their report to the
acknowledgment, how long from the crew's close to the CRM's close (p50 and
p90), and how many requests were created, closed and failed.

Read-only. Times come from the sync link's leg timestamps (``crm_acknowledged_at``,
``remote_closed_at``, ``crm_closed_at``) and the issue's ``crm_created_at``;
failures from the ``push_failed`` events. Each query selects only the two
timestamps it needs, bounded by the window, and the percentiles are taken in
Python (the same on SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from ..extensions import db
from ..models import Event, Integration, Issue, SyncLink, utcnow

WINDOW_DAYS = 30


@dataclass(frozen=True)
class DayLag:
    day: date
    ack_p50: float | None = None  # seconds from report to acknowledgment
    ack_p90: float | None = None
    close_p50: float | None = None  # seconds from the crew's close to the CRM's
    close_p90: float | None = None
    created: int = 0
    closed: int = 0
    failed: int = 0


@dataclass
class IntegrationLag:
    integration_id: int
    name: str
    days: list[DayLag] = field(default_factory=list)  # oldest first, one per day

    @property
    def has_data(self) -> bool:
        return any(d.created or d.closed or d.failed or d.ack_p50 is not None for d in self.days)


def window(days: int = WINDOW_DAYS, now: datetime | None = None) -> tuple[datetime, list[date]]:
    """The window's first instant (midnight UTC, ``days`` days ago, today included)
    and its days, oldest first."""
    now = now or utcnow()
    first = now.date() - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=now.tzinfo)
    return since, [first + timedelta(days=i) for i in range(days)]


def sync_lag(days: int = WINDOW_DAYS, now: datetime | None = None) -> list[IntegrationLag]:
    """Every integration's lag per day over the window."""
    since, day_list = window(days, now)
    integrations = db.session.execute(
        db.select(Integration.id, Integration.name).order_by(Integration.name)
    ).all()
    ack = _durations(
        db.select(SyncLink.integration_id, Issue.crm_created_at, SyncLink.crm_acknowledged_at)
        .join(Issue, Issue.id == SyncLink.issue_id)
        .where(SyncLink.origin == "crm", SyncLink.crm_acknowledged_at >= since)
    )
    close = _durations(
        db.select(SyncLink.integration_id, SyncLink.remote_closed_at, SyncLink.crm_closed_at).where(
            SyncLink.crm_closed_at >= since, SyncLink.remote_closed_at.is_not(None)
        )
    )
    created = _counts(
        db.select(SyncLink.integration_id, SyncLink.remote_created_at).where(
            SyncLink.origin == "crm", SyncLink.remote_created_at >= since
        )
    )
    closed = _counts(
        db.select(SyncLink.integration_id, SyncLink.crm_closed_at).where(
            SyncLink.crm_closed_at >= since
        )
    )
    failed = _counts(
        db.select(Event.integration_id, Event.created_at).where(
            Event.kind == "push_failed", Event.created_at >= since
        )
    )
    result = []
    for integration_id, name in integrations:
        row = IntegrationLag(integration_id, name)
        for day in day_list:
            key = (integration_id, day)
            ack_p50, ack_p90 = _percentiles(ack.get(key))
            close_p50, close_p90 = _percentiles(close.get(key))
            row.days.append(
                DayLag(
                    day,
                    ack_p50,
                    ack_p90,
                    close_p50,
                    close_p90,
                    created.get(key, 0),
                    closed.get(key, 0),
                    failed.get(key, 0),
                )
            )
        result.append(row)
    return result


def _durations(query) -> dict[tuple[int, date], list[float]]:
    """Seconds from the first to the second time, by (integration, day of the
    second); a negative span (closed in the CRM before the remote, by staff)
    is not a lag and is left out."""
    spans: dict[tuple[int, date], list[float]] = defaultdict(list)
    for integration_id, start, end in db.session.execute(query):
        if start is None or end is None:
            continue
        seconds = (end - start).total_seconds()
        if seconds >= 0:
            spans[(integration_id, end.date())].append(seconds)
    return spans


def _counts(query) -> dict[tuple[int, date], int]:
    counts: dict[tuple[int, date], int] = defaultdict(int)
    for integration_id, when in db.session.execute(query):
        if integration_id is not None and when is not None:
            counts[(integration_id, when.date())] += 1
    return counts


def _percentiles(values: list[float] | None) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    p50, p90 = np.percentile(np.asarray(values), [50, 90])
    return float(p50), float(p90)
