"""What staff see: per-integration counts, the oldest pending push, the
configuration problems to fix, the queue's health, and the issue list's
filters and pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.engine.conftest import load_agency
from webapp.extensions import db
from webapp.models import Category, Integration, Issue, SyncLink, SyncState, utcnow
from webapp.sync import dashboard_queries, events, lifecycle, push_job

STREETLIGHT = "      - remote_id: Streetlight Out\n        crm_request_type_id: 123\n"
PARKS = """\
  - name: parks
    kind: fake
    endpoints:
      test: https://parks.test/api
    categories:
      - remote_id: Tree Down
        crm_request_type_id: 124
"""
DAY = datetime(2026, 11, 1, tzinfo=UTC)


def category(remote_id: str) -> Category:
    return db.session.execute(
        db.select(Category).where(Category.remote_id == remote_id)
    ).scalar_one()


def issue(issue_id: int, *, day: int = 1, **fields) -> Issue:
    row = Issue(
        id=issue_id, status="Open", summary="x", crm_created_at=DAY + timedelta(days=day), **fields
    )
    db.session.add(row)
    db.session.flush()
    return row


def linked(issue_id: int, state: str, remote_id: str = "Pothole", **fields) -> SyncLink:
    row = lifecycle.open_link(issue(issue_id, day=issue_id), category(remote_id), detail="routed")
    row.state = state  # arranged directly: these are read-only queries
    for name, value in fields.items():
        setattr(row, name, value)
    db.session.commit()
    return row


def summary(name: str = "public-works") -> dashboard_queries.IntegrationSummary:
    found = [s for s in dashboard_queries.overview().summaries if s.integration.name == name]
    assert len(found) == 1
    return found[0]


def public_works_id() -> int:
    return db.session.execute(
        db.select(Integration.id).where(Integration.name == "public-works")
    ).scalar_one()


# ---------------------------------------------------------------------- overview
def test_the_overview_counts_links_by_state_and_finds_the_oldest_pending(app):
    now = utcnow()
    linked(1, SyncState.PENDING, created_at=now - timedelta(hours=2))
    linked(2, SyncState.PENDING, created_at=now - timedelta(minutes=5))
    linked(3, SyncState.ACKNOWLEDGED, created_at=now - timedelta(days=3))
    linked(4, SyncState.FAILED)

    found = summary()

    assert found.counts == {"pending": 2, "acknowledged": 1, "failed": 1}
    assert (found.total, found.failed) == (4, 1)
    assert found.oldest_pending == now - timedelta(hours=2)
    assert 7100 < found.oldest_pending_seconds < 7300


def test_an_integration_without_links_shows_zeroes(app):
    found = summary()
    assert (found.counts, found.total, found.failed) == ({}, 0, 0)
    assert found.oldest_pending is None and found.oldest_pending_seconds is None


def test_the_overview_lists_unmapped_and_private_categories(app):
    integration_id = public_works_id()
    db.session.add_all(
        [
            Category(integration_id=integration_id, remote_id="Graffiti", name="Graffiti"),
            Category(integration_id=integration_id, remote_id="Crew", internal=True),
            Category(integration_id=integration_id, remote_id="Old", enabled=False),
            Category(
                integration_id=integration_id,
                remote_id="Noise",
                name="Noise",
                crm_request_type_id=140,
                private=True,
            ),
        ]
    )
    db.session.commit()
    found = summary()
    assert found.unmapped == ["Graffiti"]
    assert found.private_review == ["Noise"]


def configured_long_ago() -> None:
    """The configuration as loaded a month ago: the warnings since then stand."""
    from webapp.models import Agency, Integration, Rule

    month_ago = utcnow() - timedelta(days=30)
    for model, column in ((Agency, "loaded_at"), (Integration, "updated_at"), (Rule, "updated_at")):
        db.session.execute(db.update(model).values({column: month_ago}))
    db.session.commit()


def test_configuration_warnings_are_recent_distinct_and_newest_first(app):
    integration_id = public_works_id()
    configured_long_ago()
    now = utcnow()
    for kind, detail, age in [
        ("config_warning", "question 143 is public", timedelta(days=2)),
        ("rule_error", "rule Tasks >= 1: no field", timedelta(hours=1)),
        ("config_warning", "question 143 is public", timedelta(minutes=1)),
        ("config_warning", "long fixed", timedelta(days=8)),
        ("remote_poll_failed", "not a configuration problem", timedelta(0)),
    ]:
        event = events.record(kind, detail, integration_id=integration_id, level="warning")
        event.created_at = now - age
    db.session.commit()

    assert summary().warnings == ["question 143 is public", "rule Tasks >= 1: no field"]


def test_the_overview_counts_skipped_issues_and_reads_the_queue(app):
    issue(1, skip_reason="request type 999 is not mapped to any integration")
    issue(2)
    link = linked(3, SyncState.PENDING)
    push_job.enqueue_push(link.id)

    overview = dashboard_queries.overview()

    assert overview.skipped == 1
    assert (overview.queue_mode, overview.queue_depth, overview.scheduled) == (
        "in-process (fakeredis)",
        1,
        0,
    )
    assert overview.queue_error is None
    assert overview.crm_poll is None  # the CRM has not been polled yet


def test_the_overview_loads_when_the_queue_is_unreachable(app, monkeypatch):
    def unreachable():
        raise ConnectionError("Redis refused the connection")

    monkeypatch.setattr(app.task_queue, "depth", unreachable)
    overview = dashboard_queries.overview()
    assert overview.queue_error == "queue unreachable: Redis refused the connection"
    assert overview.queue_depth is None
    assert [s.integration.name for s in overview.summaries] == ["public-works"]


# --------------------------------------------------------------------- issue list
@pytest.fixture
def listed(app) -> None:
    """Two integrations; issues 1-4 linked, 5 skipped, 6 neither (not routed yet)."""
    load_agency(**{STREETLIGHT: STREETLIGHT + PARKS})
    linked(1, SyncState.PENDING)
    linked(2, SyncState.ACKNOWLEDGED)
    linked(3, SyncState.PENDING, remote_id="Tree Down")
    linked(4, SyncState.FAILED, remote_id="Tree Down")
    issue(5, day=5, skip_reason="request type 999 is not mapped to any integration")
    issue(6, day=6)
    db.session.commit()


def ids(page: dashboard_queries.Page) -> list[int]:
    return [row[0].id for row in page.items]


def test_the_issue_list_is_newest_first_with_each_link(listed):
    page = dashboard_queries.issue_page(state=None, integration=None)
    assert ids(page) == [6, 5, 4, 3, 2, 1]
    _, link, integration = page.items[2]
    assert (link.state, integration.name) == (SyncState.FAILED, "parks")
    assert page.items[0][1:] == (None, None)


@pytest.mark.parametrize(
    ("state", "integration", "expected"),
    [
        ("pending", None, [3, 1]),
        ("pending", "parks", [3]),
        (None, "public-works", [2, 1]),
        ("skipped", None, [5]),
        ("closed", None, []),
    ],
)
def test_the_issue_list_filters_by_state_and_integration(listed, state, integration, expected):
    page = dashboard_queries.issue_page(state=state, integration=integration)
    assert ids(page) == expected
    assert (page.newer, page.older) == (None, None)  # one page: no pager


def test_the_issue_list_pages_by_where_a_page_ended(listed):
    first = dashboard_queries.issue_page(state=None, integration=None, per_page=4)
    assert ids(first) == [6, 5, 4, 3]
    assert (first.newer, first.older) == (None, 3)
    second = dashboard_queries.issue_page(state=None, integration=None, after=3, per_page=4)
    assert ids(second) == [2, 1]
    assert (second.newer, second.older) == (2, None)  # no page that does not exist
    back = dashboard_queries.issue_page(state=None, integration=None, before=2, per_page=4)
    assert ids(back) == [6, 5, 4, 3]
    assert (back.newer, back.older) == (None, 3)


def test_a_new_issue_does_not_shift_the_pages(listed):
    """By offset, an issue arriving between two clicks would push one issue
    from the first page onto the second, shown twice; by keyset it is not."""
    first = dashboard_queries.issue_page(state=None, integration=None, per_page=4)
    issue(7, day=7)
    db.session.commit()
    second = dashboard_queries.issue_page(
        state=None, integration=None, after=first.older, per_page=4
    )
    assert ids(second) == [2, 1]
    newest = dashboard_queries.issue_page(
        state=None, integration=None, before=ids(second)[0], per_page=4
    )
    assert ids(newest) == [6, 5, 4, 3] and newest.newer == 6  # issue 7 is newer still


def test_issues_without_a_report_time_come_last_and_page_both_ways(app):
    for issue_id, day in ((1, 1), (2, 2), (3, None), (4, None), (5, 3)):
        row = issue(issue_id)
        row.crm_created_at = None if day is None else DAY + timedelta(days=day)
    db.session.commit()
    pages, after = [], None
    while True:
        page = dashboard_queries.issue_page(state=None, integration=None, after=after, per_page=2)
        pages.append(ids(page))
        if page.older is None:
            break
        after = page.older
    assert pages == [[5, 2], [1, 4], [3]]
    assert ids(
        dashboard_queries.issue_page(state=None, integration=None, before=3, per_page=2)
    ) == [
        1,
        4,
    ]
    assert ids(
        dashboard_queries.issue_page(state=None, integration=None, before=4, per_page=2)
    ) == [
        2,
        1,
    ]


def test_an_issue_with_two_links_is_never_split_between_pages(listed):
    both = lifecycle.open_link(db.session.get(Issue, 2), category("Tree Down"), detail="routed")
    db.session.commit()
    first = dashboard_queries.issue_page(state=None, integration=None, per_page=5)
    assert ids(first) == [6, 5, 4, 3, 2, 2]
    links_of_2 = [row[1].id for row in first.items if row[0].id == 2]
    assert len(links_of_2) == 2 and both.id in links_of_2 and links_of_2 == sorted(links_of_2)
    assert ids(dashboard_queries.issue_page(state=None, integration=None, after=2, per_page=5)) == [
        1
    ]


def test_an_issue_detail_has_its_links_and_timeline_in_order(app):
    link = linked(1, SyncState.ACKNOWLEDGED)
    events.record("acknowledged", "ok", issue_id=1, integration_id=link.integration_id)
    db.session.commit()
    found, links, timeline = dashboard_queries.issue_detail(1)
    assert found.id == 1 and [row.id for row in links] == [link.id]
    assert [e.kind for e in timeline] == ["routed", "acknowledged"]
    assert dashboard_queries.issue_detail(404) == (None, [], [])


def test_warnings_of_one_integration_are_not_shown_on_another(app):
    load_agency(**{STREETLIGHT: STREETLIGHT + PARKS})
    parks = db.session.execute(db.select(Integration).where(Integration.name == "parks"))
    events.record("config_warning", "parks problem", integration_id=parks.scalar_one().id)
    db.session.commit()
    assert summary("public-works").warnings == []
    assert summary("parks").warnings == ["parks problem"]


def test_the_overview_counts_issues_with_duplicate_remote_requests(app):
    linked(1, SyncState.ACKNOWLEDGED, remote_duplicates=["R-1002"])
    linked(2, SyncState.ACKNOWLEDGED)
    linked(3, SyncState.ACKNOWLEDGED, remote_duplicates=None)
    db.session.commit()
    assert summary().duplicates == 1
