"""The configuration ingest holds per process (webapp.sync.routing): which
integration takes a request type, the known request types, the webhook
secret's variable — read again after this process changes the configuration,
and within CROSSWALK_CONFIG_CACHE_SECONDS after another process does."""

from __future__ import annotations

import time

from sqlalchemy import text

from webapp.extensions import db
from webapp.models import Category
from webapp.sync import ingest, routing

POTHOLE = 122


def pothole() -> Category:
    return db.session.execute(
        db.select(Category).where(Category.crm_request_type_id == POTHOLE)
    ).scalar_one()


def test_a_route_names_the_category_and_its_integration(app):
    found = ingest.route(POTHOLE)
    assert (found.id, found.remote_id, found.integration_name) == (
        pothole().id,
        "Pothole",
        "public-works",
    )
    assert ingest.route(999) is None and ingest.route(None) is None


def test_a_change_this_process_commits_is_seen_at_once(app):
    app.config["CROSSWALK_CONFIG_CACHE_SECONDS"] = 3600
    assert ingest.route(POTHOLE) is not None
    pothole().enabled = False
    db.session.commit()
    assert ingest.route(POTHOLE) is None
    db.session.execute(db.update(Category).values(enabled=True))  # a bulk edit too
    db.session.commit()
    assert ingest.route(POTHOLE) is not None


def test_another_process_change_is_seen_when_the_snapshot_is_old(app):
    app.config["CROSSWALK_CONFIG_CACHE_SECONDS"] = 3600
    assert ingest.route(POTHOLE) is not None
    # Plain SQL, as another process's commit looks from here: no session event.
    db.session.execute(text("UPDATE category SET enabled = false"))
    db.session.commit()
    assert ingest.route(POTHOLE) is not None  # still the snapshot this process holds
    app.config["CROSSWALK_CONFIG_CACHE_SECONDS"] = 0.01
    time.sleep(0.02)
    assert ingest.route(POTHOLE) is None


def test_a_rolled_back_change_keeps_the_snapshot(app):
    app.config["CROSSWALK_CONFIG_CACHE_SECONDS"] = 3600
    held = routing.snapshot()
    pothole().enabled = False
    db.session.flush()
    db.session.rollback()
    assert routing.snapshot() is held


def test_request_types_stored_are_noted(app):
    app.config["CROSSWALK_CONFIG_CACHE_SECONDS"] = 3600
    assert not routing.knows_request_type(500, "Graffiti")
    routing.note_request_type(500, "Graffiti")
    assert routing.knows_request_type(500, "Graffiti")
    assert not routing.knows_request_type(500, "Graffiti removal")
