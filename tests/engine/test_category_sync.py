"""Category sync: the remote categories become Crosswalk categories — added,
renamed by their stable key, disabled when gone, never deleted, protected
ones left alone — each matched to a CRM request type by title."""

from __future__ import annotations

from integrations.base import RemoteCategory
from webapp.extensions import db
from webapp.models import Category, Event, Integration, SyncCursor
from webapp.sync import category_sync
from webapp.sync.request_types import remember_request_type

POTHOLE = RemoteCategory(key="oid-1", remote_id="Pothole", name="Pothole", group="Streets")
GRAFFITI = RemoteCategory(key="oid-2", remote_id="Graffiti", name="Graffiti", group="Parks")


def sync(remote, *categories: RemoteCategory) -> category_sync.CategoryReport:
    remote.categories[:] = categories
    integration = db.session.execute(db.select(Integration)).scalar_one()
    return category_sync.sync_categories(integration.id)


def category(remote_id: str) -> Category:
    return db.session.execute(
        db.select(Category).where(Category.remote_id == remote_id)
    ).scalar_one()


def rows() -> dict[str, bool]:
    return {c.remote_id: c.enabled for c in db.session.execute(db.select(Category)).scalars()}


def test_a_new_remote_category_is_added(app, remote):
    report = sync(remote, POTHOLE, GRAFFITI)

    assert report.added == ["Graffiti"]
    added = category("Graffiti")
    assert (added.name, added.group_name, added.remote_key) == ("Graffiti", "Parks", "oid-2")
    assert (added.enabled, added.configured) == (True, False)
    assert category("Pothole").remote_key == "oid-1"  # the configured one, now known remotely
    assert rows() == {"Pothole": True, "Streetlight Out": True, "Graffiti": True}


def test_a_sync_twice_changes_nothing_more(app, remote):
    sync(remote, POTHOLE, GRAFFITI)
    report = sync(remote, POTHOLE, GRAFFITI)
    assert (report.added, report.renamed, report.disabled) == ([], [], [])
    assert len(rows()) == 3


def test_a_category_renamed_remotely_is_the_same_row_renamed(app, remote):
    sync(remote, POTHOLE)
    before = category("Pothole").id

    report = sync(
        remote, RemoteCategory(key="oid-1", remote_id="Road Pothole", name="Road Pothole")
    )

    assert report.renamed == ["Pothole → Road Pothole"]
    renamed = category("Road Pothole")
    assert (renamed.id, renamed.name, renamed.crm_request_type_id) == (before, "Road Pothole", 122)
    assert report.added == []


def test_a_category_gone_or_inactive_remotely_is_disabled_never_deleted(app, remote):
    sync(remote, POTHOLE, GRAFFITI)

    report = sync(
        remote, RemoteCategory(key="oid-1", remote_id="Pothole", name="Pothole", active=False)
    )

    assert sorted(report.disabled) == ["Graffiti", "Pothole"]
    assert rows() == {"Pothole": False, "Streetlight Out": True, "Graffiti": False}


def test_a_category_back_remotely_is_enabled_again(app, remote):
    sync(remote, POTHOLE, GRAFFITI)
    sync(remote, POTHOLE)
    report = sync(remote, POTHOLE, GRAFFITI)
    assert report.enabled == ["Graffiti"]
    assert category("Graffiti").enabled is True


def test_a_configured_category_not_yet_known_remotely_is_left_to_the_admin(app, remote):
    report = sync(remote, POTHOLE)
    assert "Streetlight Out" not in report.disabled
    assert category("Streetlight Out").enabled is True


def test_a_protected_category_is_left_alone(app, remote):
    sync(remote, POTHOLE, GRAFFITI)
    for remote_id in ("Pothole", "Graffiti"):
        category(remote_id).protected = True
    db.session.commit()

    renamed = RemoteCategory(key="oid-1", remote_id="Potholes", name="Potholes", active=False)
    report = sync(remote, renamed)  # Pothole renamed and inactive; Graffiti gone

    assert sorted(report.protected) == ["Pothole"]
    assert (report.renamed, report.disabled) == ([], [])
    assert rows() == {"Pothole": True, "Streetlight Out": True, "Graffiti": True}
    assert category("Pothole").name == "Pothole"


def test_a_new_category_is_matched_to_a_crm_request_type_by_title(app, remote):
    remember_request_type(130, "Graffiti Removal")
    db.session.commit()

    report = sync(
        remote,
        RemoteCategory(key="oid-2", remote_id="GR", name="  graffiti removal "),
        RemoteCategory(key="oid-3", remote_id="Sinkhole", name="Sinkhole"),
    )

    assert category("GR").crm_request_type_id == 130
    assert category("Sinkhole").crm_request_type_id is None
    assert report.unmapped == ["Sinkhole"]
    [event] = db.session.execute(
        db.select(Event).where(Event.kind == "categories_synced")
    ).scalars()
    assert event.level == "warning"
    assert "unmapped: Sinkhole" in event.detail


def test_a_configured_request_type_is_kept_over_a_title_match(app, remote):
    remember_request_type(150, "Pothole")
    db.session.commit()
    sync(remote, POTHOLE)
    assert category("Pothole").crm_request_type_id == 122


def test_internal_remote_categories_are_marked_internal(app, remote):
    sync(
        remote, RemoteCategory(key="oid-9", remote_id="Crew Only", name="Crew Only", internal=True)
    )
    assert category("Crew Only").internal is True


def test_a_sync_records_its_success_and_reads_the_request_types(app, crm, remote):
    integration = db.session.execute(db.select(Integration)).scalar_one()
    remote.categories[:] = [POTHOLE]

    report = category_sync.sync_categories_and_questions(integration.id)

    assert report.summary() == "1 remote categories"
    cursor = db.session.get(SyncCursor, "categories:public-works")
    assert cursor.last_success_at is not None and cursor.last_error is None
    assert sorted(args[0] for name, args in crm.calls if name == "get_request_type") == [122, 123]
