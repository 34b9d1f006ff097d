"""Configuration warnings on the overview clear when the configuration changes
(a fixed rule, a reloaded file), and come back at once if the problem is seen
again; their text names the rule once."""

from __future__ import annotations

from datetime import timedelta

from tests.engine.conftest import load_agency
from tests.engine.test_dashboard_queries import configured_long_ago
from webapp.extensions import db
from webapp.models import Event, Integration, Rule, utcnow
from webapp.sync import dashboard_queries


def integration() -> Integration:
    return db.session.execute(db.select(Integration)).scalars().first()


def warn(detail: str, ago: timedelta) -> None:
    db.session.add(
        Event(
            kind="rule_error",
            level="error",
            detail=detail,
            integration_id=integration().id,
            created_at=utcnow() - ago,
        )
    )
    db.session.commit()


def test_a_warning_from_before_a_rule_edit_no_longer_shows(app):
    load_agency()
    configured_long_ago()
    warn('rule "TaskField >= 1": the remote record has no field "TaskField"', timedelta(hours=2))
    row = integration()
    assert dashboard_queries.configuration_warnings(row.id)

    rule = db.session.execute(db.select(Rule)).scalars().first()
    rule.field = "TasksField"  # the admin fixes it (updated_at moves)
    db.session.commit()

    assert dashboard_queries.configuration_warnings(row.id) == []


def test_a_warning_seen_again_after_the_change_shows(app):
    load_agency()
    row = integration()
    warn("rule x: still broken", timedelta(seconds=0))
    assert dashboard_queries.configuration_warnings(row.id) == ["rule x: still broken"]


def test_reloading_the_file_clears_older_warnings(app):
    load_agency()
    warn("rule y: broken", timedelta(minutes=5))
    load_agency()  # loaded again: the file may have fixed it
    assert dashboard_queries.configuration_warnings(integration().id) == []
