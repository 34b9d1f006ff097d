"""The CRM poll pages by keyset: issues acknowledged while it pages through
them (issue 8) shift nothing out of its sight — over real HTTP to the
SeeClickFix simulator, which moves every issue it lists to the end of the
``updated_at`` order right after serving it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
import requests

from tests.simcontrol.base import TIMEOUT, checked
from webapp.extensions import db
from webapp.models import Issue
from webapp.sync import crm_poll, vendors

PER_PAGE = 3


def update_listed_issues(sim) -> None:
    """Each issue the CRM lists is updated once, right after it is served (as
    when the agency's workers acknowledge every issue the poll has just read)."""
    response = requests.post(
        f"{sim.scf}/_sim/update_listed_issues", json={"enabled": True}, timeout=TIMEOUT
    )
    checked(response)


def report_issues(sim, hour_ago: datetime) -> None:
    """Twelve reports a minute apart, then seven within one second (an import)."""
    for minute in range(12):
        sim.create_issue(created_at=(hour_ago + timedelta(minutes=minute)).isoformat())
    bulk = (hour_ago + timedelta(minutes=30)).isoformat()
    for _ in range(7):
        sim.create_issue(created_at=bulk)


def crm_versions(sim) -> dict[int, datetime]:
    """Every issue's current ``updated_at``, as the CRM has it."""
    return {
        issue["id"]: datetime.fromisoformat(issue["updated_at"]).astimezone(UTC)
        for issue in sim.seeclickfix.state()["issues"]
    }


def stored_versions() -> dict[int, datetime]:
    db.session.expire_all()
    return dict(db.session.execute(db.select(Issue.id, Issue.crm_updated_at)).all())


def listing_queries(sim) -> list[dict[str, str]]:
    calls = sim.seeclickfix.calls(method="GET", path_contains="/issues")
    return [
        {key: values[0] for key, values in parse_qs(call["query_string"]).items()}
        for call in calls
        if call["path"].endswith("/issues")
    ]


@pytest.mark.both_databases
def test_issues_acknowledged_while_the_poll_pages_are_all_stored(app, sim):
    hour_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    report_issues(sim, hour_ago)
    update_listed_issues(sim)
    with app.app_context():
        agency = vendors.find_agency()
        agency.crm = {**agency.crm, "per_page": PER_PAGE}
        db.session.commit()

        report = crm_poll.poll_crm()

        assert report.failed == 0, report.errors
        # Every issue, at the version it has now: the one moved after it was read too.
        versions = crm_versions(sim)
        assert len(versions) == 19
        assert stored_versions() == versions
        assert crm_poll.poll_crm().created == 0

    queries = listing_queries(sim)
    assert {(q["sort"], q["sort_direction"], q["per_page"]) for q in queries} == {
        ("updated_at", "ASC", str(PER_PAGE))
    }
    # From the newest update read, in UTC with Z; page numbers within a second
    # a full page shares, as the seven do.
    stamps = [q["updated_at_after"] for q in queries if "updated_at_after" in q]
    assert stamps and all(s.endswith("Z") for s in stamps)
    paged = {q["updated_at_after"] for q in queries if q["page"] != "1"}
    assert (hour_ago + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ") in paged
