"""POST /webhooks/seeclickfix: signed events are stored then queued; every bad
input is refused with the right status and writes nothing."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import WEBHOOK_SECRET
from tests.support import run_jobs
from webapp.extensions import db
from webapp.models import Comment, Event, Issue, SyncLink, SyncState
from webapp.sync.webhook import sign


def post(client, body, *, secret=WEBHOOK_SECRET, offset=0, signature=None, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    ts = str(int(time.time()) + offset)
    headers = {
        "X-Crosswalk-Timestamp": ts,
        "X-Crosswalk-Signature": signature or sign(secret, ts, data),
        "Content-Type": "application/json",
    }
    return client.post("/webhooks/seeclickfix", data=data, headers=headers)


def row_counts(app) -> dict[str, int]:
    with app.app_context():
        counts = {
            model.__name__: db.session.execute(
                db.select(db.func.count()).select_from(model)
            ).scalar_one()
            for model in (Issue, SyncLink, Comment, Event)
        }
        counts["queued"] = app.task_queue.depth()
    return counts


@pytest.mark.both_databases  # PostgreSQL writes a new issue, link and events in one statement
def test_signed_webhook_is_stored_then_pushed(app, client, sim):
    issue = sim.scf_issue(sim.create_issue()["id"])
    response = post(client, {"event": "issue.created", "issue": issue})
    assert response.status_code == 202
    assert response.get_json()["issue_id"] == issue["id"]
    with app.app_context():
        stored = db.session.get(Issue, issue["id"])
        assert (stored.status, stored.summary, stored.address) == (
            issue["status"],
            issue["summary"],
            issue["address"],
        )
        assert stored.first_seen_at is not None and stored.private is False
        link = db.session.execute(db.select(SyncLink)).scalar_one()
        assert (link.issue_id, link.state, link.origin) == (issue["id"], "pending", "crm")
        assert (link.attempts, link.failures_in_row) == (0, 0)
        assert link.category.integration_id == link.integration_id
        assert link.due_at is not None and link.created_at is not None
        of_issue = db.select(Event.kind, Event.integration_id).where(Event.issue_id == issue["id"])
        timeline = db.session.execute(of_issue.order_by(Event.id)).all()
        assert timeline == [("received", None), ("routed", link.integration_id)]
        assert app.task_queue.depth() == 1
        # A second delivery of the same event does not queue a second push.
        assert post(client, {"event": "issue.updated", "issue": issue}).status_code == 202
        assert app.task_queue.depth() == 1
        assert db.session.execute(db.select(db.func.count()).select_from(SyncLink)).scalar() == 1
        assert db.session.execute(of_issue.order_by(Event.id)).all() == timeline
        run_jobs(app)
        link = db.session.execute(db.select(SyncLink)).scalar_one()
        assert link.state == SyncState.ACKNOWLEDGED
    assert sim.scf_issue(issue["id"])["status"] == "Acknowledged"


@pytest.mark.both_databases
def test_comment_event_stores_the_comment(app, client, sim):
    issue = sim.scf_issue(sim.create_issue()["id"])
    comment = {
        "id": 9001,
        "comment": "Still there this morning",
        "created_at": issue["created_at"],
        "commenter": {"name": "Ada", "role": "Resident"},
    }
    response = post(client, {"event": "comment.created", "issue": issue, "comment": comment})
    assert response.status_code == 202
    with app.app_context():
        stored = db.session.execute(db.select(Comment)).scalar_one()
        assert (stored.crm_comment_id, stored.author) == (9001, "Ada")


GOOD_ISSUE = {
    "id": 77,
    "status": "Open",
    "summary": "Pothole",
    "lat": 41.3,
    "lng": -72.9,
    "request_type": {"id": 122, "title": "Pothole"},
}


@pytest.mark.parametrize(
    "case, kwargs, status, field",
    [
        ("bad signature", {"signature": "sha256=" + "0" * 64}, 401, None),
        ("wrong secret", {"secret": "not-the-secret"}, 401, None),
        ("stale timestamp", {"offset": -301}, 401, None),
        ("future timestamp", {"offset": 301}, 401, None),
        ("malformed JSON", {"raw": b'{"event": "issue.created", "issue": {'}, 400, None),
        (
            "missing issue id",
            {"body": {"event": "issue.created", "issue": {**GOOD_ISSUE, "id": None}}},
            400,
            "issue.id",
        ),
        (
            "id of the wrong type",
            {"body": {"event": "issue.created", "issue": {**GOOD_ISSUE, "id": [1]}}},
            400,
            "issue.id",
        ),
        (
            "lat of the wrong type",
            {"body": {"event": "issue.created", "issue": {**GOOD_ISSUE, "lat": "north"}}},
            400,
            "issue.lat",
        ),
        ("unknown event", {"body": {"event": "issue.deleted", "issue": GOOD_ISSUE}}, 400, "event"),
        ("no issue", {"body": {"event": "issue.created"}}, 400, "issue"),
        ("body not an object", {"body": [GOOD_ISSUE]}, 400, None),
    ],
)
def test_bad_webhooks_are_refused_and_write_nothing(app, client, case, kwargs, status, field):
    kwargs = dict(kwargs)  # parametrized values are shared between the two databases
    body = kwargs.pop("body", {"event": "issue.created", "issue": GOOD_ISSUE})
    before = row_counts(app)
    response = post(client, body, **kwargs)
    assert response.status_code == status, case
    payload = response.get_json()
    assert payload["error"]
    if field:
        assert payload["field"] == field
    assert row_counts(app) == before


def test_missing_signature_headers_are_401(app, client):
    before = row_counts(app)
    response = client.post(
        "/webhooks/seeclickfix", json={"event": "issue.created", "issue": GOOD_ISSUE}
    )
    assert response.status_code == 401
    assert "X-Crosswalk-Timestamp" in response.get_json()["error"]
    assert row_counts(app) == before
