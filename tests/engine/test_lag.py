"""Sync lag per integration and day: percentiles and counts from the legs'
timestamps, only inside the window, negative spans left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.engine.conftest import load_agency
from webapp.extensions import db
from webapp.models import Event, Integration, Issue, SyncLink
from webapp.sync import lag

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
_ids = iter(range(1, 10_000))


@pytest.fixture
def integration(app) -> Integration:
    load_agency()
    return db.session.execute(db.select(Integration)).scalars().first()


def link(integration: Integration, reported: datetime, **legs) -> SyncLink:
    issue = Issue(id=next(_ids), status="Open", crm_created_at=reported)
    row = SyncLink(issue=issue, integration_id=integration.id, state="acknowledged", **legs)
    db.session.add_all([issue, row])
    db.session.commit()
    return row


def day_of(rows: list[lag.IntegrationLag], integration: Integration, when: datetime) -> lag.DayLag:
    [row] = [r for r in rows if r.integration_id == integration.id]
    [found] = [d for d in row.days if d.day == when.date()]
    return found


def test_acknowledgment_lag_percentiles_per_day(integration):
    today = NOW.replace(hour=9)
    for minutes in (1, 2, 3, 4, 100):
        reported = today - timedelta(minutes=minutes)
        link(integration, reported, crm_acknowledged_at=today, remote_created_at=today)

    day = day_of(lag.sync_lag(now=NOW), integration, today)

    assert day.ack_p50 == 180.0  # the median of 1, 2, 3, 4 and 100 minutes
    assert day.ack_p90 == pytest.approx(240 + 0.6 * (6000 - 240))  # 60 % from 4 to 100 minutes
    assert day.created == 5


def test_close_lag_counts_and_failures(integration):
    yesterday = NOW - timedelta(days=1)
    crew = yesterday - timedelta(minutes=10)
    link(integration, crew - timedelta(days=2), remote_closed_at=crew, crm_closed_at=yesterday)
    # Staff closed the CRM issue first (close_remote_on_crm_close): not a lag.
    link(
        integration,
        crew - timedelta(days=2),
        crm_closed_at=yesterday,
        remote_closed_at=yesterday + timedelta(minutes=1),
    )
    db.session.add(
        Event(kind="push_failed", integration_id=integration.id, created_at=yesterday, detail="x")
    )
    db.session.commit()

    day = day_of(lag.sync_lag(now=NOW), integration, yesterday)

    assert (day.close_p50, day.close_p90) == (600.0, 600.0)
    assert (day.closed, day.failed) == (2, 1)


def test_only_the_window_counts(integration):
    old = NOW - timedelta(days=lag.WINDOW_DAYS)
    link(integration, old - timedelta(minutes=5), crm_acknowledged_at=old, remote_created_at=old)

    [row] = [r for r in lag.sync_lag(now=NOW) if r.integration_id == integration.id]

    assert len(row.days) == lag.WINDOW_DAYS
    assert row.days[0].day == (NOW - timedelta(days=lag.WINDOW_DAYS - 1)).date()
    assert row.days[-1].day == NOW.date()
    assert not row.has_data
