"""Category sync against the Cartegraph simulator, and the Open311 service list."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import CG_PASSWORD, CG_USER
from tests.support import integration_id
from webapp.extensions import db
from webapp.models import Category, Event
from webapp.sync import category_sync, crm_poll, engine, request_types

ISSUES = "cgRequestIssuesClass"


def by_name(integration_id: int | None = None) -> dict[str, Category]:
    rows = db.session.execute(db.select(Category)).scalars().all()
    return {c.name or c.remote_id: c for c in rows}


def remote_oid(sim, name: str) -> int:
    return next(r["Oid"] for r in sim.cg_records(ISSUES) if r["IssueField"] == name)


@pytest.mark.both_databases
def test_sync_adds_links_and_flags_categories(app, sim):
    sim.create_issue(request_type_id=124, summary="Tag on the bridge")  # CRM type "Graffiti"
    with app.app_context():
        crm_poll.poll_crm()  # Crosswalk now knows request type 124 is titled "Graffiti"
        report = category_sync.sync_categories(integration_id())
        cats = by_name()
    assert report.seen == 6
    assert sorted(report.added) == [
        "Graffiti",
        "Missed Trash Pickup",
        "Sidewalk Damage",
        "Tree Down",
    ]
    assert cats["Pothole"].crm_request_type_id == 122  # from the configuration
    assert cats["Pothole"].remote_key is not None and cats["Pothole"].group_name == "Streets"
    assert cats["Graffiti"].crm_request_type_id == 124  # matched by title
    assert cats["Sidewalk Damage"].crm_request_type_id is None  # shown as unmapped
    assert "Sidewalk Damage" in report.unmapped
    assert cats["Tree Down"].internal is True
    assert cats["Missed Trash Pickup"].enabled is False  # inactive remotely
    with app.app_context():
        again = category_sync.sync_categories(integration_id())
    assert (again.added, again.renamed, again.disabled) == ([], [], [])


def test_rename_disable_and_protect(app, sim):
    with app.app_context():
        category_sync.sync_categories(integration_id())
        sim.cg_patch_class(ISSUES, remote_oid(sim, "Pothole"), IssueField="Potholes")
        sim.cg_delete(ISSUES, remote_oid(sim, "Graffiti"))
        by_name()["Sidewalk Damage"].protected = True
        db.session.commit()
        sim.cg_patch_class(ISSUES, remote_oid(sim, "Sidewalk Damage"), IssueField="Sidewalks")

        report = category_sync.sync_categories(integration_id())
        cats = by_name()
        assert report.renamed == ["Pothole → Potholes"]
        assert cats["Potholes"].remote_id == "Potholes"
        assert cats["Potholes"].crm_request_type_id == 122  # the link survives the rename
        assert cats["Graffiti"].enabled is False  # gone remotely: disabled, not deleted
        assert "Sidewalk Damage" in cats and "Sidewalks" not in cats  # protected: left alone
        assert report.protected == ["Sidewalk Damage"]
        event = (
            db.session.execute(
                db.select(Event).where(Event.kind == "categories_synced").order_by(Event.id.desc())
            )
            .scalars()
            .first()
        )
        assert "renamed: Pothole → Potholes" in event.detail

        # It comes back: enabled again, same row.
        sim.cg_staff_create(ISSUES, IssueField="Graffiti", ServiceAreaField="Parks")
        report = category_sync.sync_categories(integration_id())
        assert (report.added, report.enabled) == ([], ["Graffiti"])
        assert by_name()["Graffiti"].enabled is True


def test_protected_from_the_configuration_file(app, sim):
    from tests.conftest import BOUNDARIES, agency_yaml
    from webapp.agency_config import parse_agency_config
    from webapp.sync.configure import apply_config

    text = agency_yaml(sim.sims).replace(
        "      - remote_id: Streetlight Out\n",
        "      - remote_id: Streetlight Out\n        protected: true\n",
    )
    with app.app_context():
        apply_config(parse_agency_config(text, base_dir=BOUNDARIES))
        sim.cg_patch_class(ISSUES, remote_oid(sim, "Streetlight Out"), InactiveField=True)
        report = category_sync.sync_categories(integration_id())
        assert "Streetlight Out" in report.protected
        assert by_name()["Streetlight Out"].enabled is True


def test_every_page_is_read(app, sim):
    records = [{"IssueField": f"Category {i:04d}", "ServiceAreaField": "Misc"} for i in range(2100)]
    requests.post(
        f"{sim.sims.cartegraph_base_url}/classes/{ISSUES}",
        json={ISSUES: records},
        auth=(CG_USER, CG_PASSWORD),
        timeout=30,
    ).raise_for_status()
    requests.delete(f"{sim.cg}/_sim/requests", timeout=5).raise_for_status()
    with app.app_context():
        report = category_sync.sync_categories(integration_id())
    assert report.seen == 2106
    pages = [c for c in sim.calls("cg") if ISSUES in c["path"] and c["method"] == "GET"]
    assert len(pages) == 3  # 1000 per page


def test_open311_services(app, client, sim):
    with app.app_context():
        category_sync.sync_categories(integration_id())
        request_types.refresh_request_types(integration_id())
    services = client.get("/open311/v2/services.json").get_json()
    names = [s["service_name"] for s in services]
    assert "Tree Down" not in names  # internal
    assert "Missed Trash Pickup" not in names  # disabled
    pothole = next(s for s in services if s["service_code"] == "Pothole")
    assert pothole == {
        "service_code": "Pothole",
        "service_name": "Pothole",
        "description": "Pothole",
        "metadata": True,
        "type": "realtime",
        "keywords": "",
        "group": "Streets",
    }
    groups = [s["group"] for s in services]
    assert groups == sorted(groups)  # grouped by service area

    definition = client.get("/open311/v2/services/Pothole.json").get_json()
    depth = next(a for a in definition["attributes"] if a["code"] == "142")
    assert depth["datatype"] == "singlevaluelist" and depth["required"] is True
    assert {v["key"] for v in depth["values"]} == {"SHALLOW", "DEEP"}

    missing = client.get("/open311/v2/services/Nope.json")
    assert missing.status_code == 404
    assert missing.get_json()[0]["code"] == 404


def test_category_sync_job_and_cli_queue(app, sim):
    with app.app_context():
        [task] = engine.find_tasks("categories", "public-works")
        assert engine.run_task_now(task) is True
        assert engine.run_task_now(task) is False  # already queued: not doubled
