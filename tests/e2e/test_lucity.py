"""CentralSquare EAM (Lucity): Work Requests and Work Orders end to end."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import BOUNDARIES, agency_yaml, make_app, signed_in_client
from tests.support import link_of, queue_crm_poll, run_jobs
from webapp.agency_config import ConfigError, parse_agency_config
from webapp.extensions import db
from webapp.models import Category, Event, SyncState
from webapp.sync import category_sync, importer, remote_poll, schedule
from webapp.sync.configure import apply_config


def lucity_yaml(sims) -> str:
    return agency_yaml(sims, "lucity.yaml")


@pytest.fixture
def lucity_app(database_url, redis_url, sim):
    app = make_app(database_url, redis_url)
    with app.app_context():
        apply_config(parse_agency_config(lucity_yaml(sim.sims), base_dir=BOUNDARIES))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def integration(name: str) -> int:
    from webapp.models import Integration

    return db.session.execute(
        db.select(Integration.id).where(Integration.name == name)
    ).scalar_one()


def push(app):
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)


JPEG = b"\xff\xd8\xff\xe0" + b"water" * 400


class _PhotoHandler(BaseHTTPRequestHandler):
    """The CRM's photo host: one JPEG, the rest 404."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path != "/files/water.jpg":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(JPEG)))
        self.end_headers()
        self.wfile.write(JPEG)

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture
def photo_url() -> Iterator[str]:
    """The URL of a resident's photo, served over loopback HTTP."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PhotoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/files/water.jpg"
    server.shutdown()
    server.server_close()


@pytest.mark.both_databases
def test_work_request_round_trip_with_projection(lucity_app, sim, photo_url):
    from geo.projection import projector_for

    issue_id = sim.create_issue(
        request_type_id=123,
        summary="Water in the street",
        description="Water bubbling up",
        image_url=photo_url,
        reporter={"name": "Grace Brewster Hopper", "email": "grace@example.com"},
    )["id"]
    push(lucity_app)
    with lucity_app.app_context():
        link = link_of(issue_id)
        assert link.state == SyncState.ACKNOWLEDGED and link.remote_display_id
        auto = link.remote_id
    requests_sim = sim.lucity_requests
    record = requests_sim.record(auto)
    x, y = projector_for(2234).to_xy(41.3083, -72.9279)
    assert abs(record["XCoordinate"] - x) < 0.01 and abs(record["YCoordinate"] - y) < 0.01
    assert record["ProblemCode"] == "WB" and record["User20"] == str(issue_id)
    assert record["User13"] == "SCF" and record["WorkOrderUser1"] == "165 Church St, New Haven"
    assert record["Comments"].startswith("Water bubbling up")
    assert record["Street"]  # from the ArcGIS-verified address
    # The requester is the resident (the CRM reporter's name), not "SeeClickFix User".
    assert (record["RequestorName1"], record["RequestorName2"]) == ("Grace Brewster", "Hopper")
    # The photo: downloaded from the CRM and uploaded through the documented
    # citizen media endpoint, multipart, in FileToUpload; no link in the create.
    [upload] = requests_sim.uploads(auto)
    assert (upload["Field"], upload["FileName"], upload["ContentType"]) == (
        "FileToUpload",
        "water.jpg",
        "image/jpeg",
    )
    assert base64.b64decode(upload["Content"]) == JPEG
    assert photo_url not in str(record)
    media_posts = [c for c in sim.calls("lucity") if c["path"].endswith(f"/{auto}/media/")]
    assert len(media_posts) == 1 and media_posts[0]["method"] == "POST"

    # Comments out: RecordedBy is the commenter; the image URL in the text only.
    sim.resident_comment(
        issue_id,
        "Now it is a river.",
        name="Ada Resident",
        image_url="https://img.example/river.jpg",
    )
    push(lucity_app)
    comments = requests_sim.comments(auto)
    assert comments[-1]["RecordedBy"] == "Ada Resident"
    assert "Now it is a river. Image: https://img.example/river.jpg" in comments[-1]["Comment"]
    assert [d["DocumentUrl"] for d in requests_sim.documents(auto)] == [upload_url(sim, auto)]
    # Nothing is ever posted to the Documents child (no public source shows one).
    assert not [
        c for c in sim.calls("lucity") if "/Documents" in c["path"] and c["method"] != "GET"
    ]

    # Comments and images in: only Publicly Available ones, each once.
    requests_sim.vendor_comment(auto, "Crew dispatched.", public=True)
    requests_sim.vendor_comment(auto, "Overtime approved.", public=False)
    with lucity_app.app_context():
        remote_poll.poll_integration(integration("water"))
        remote_poll.poll_integration(integration("water"))
    texts = [c["comment"] for c in sim.scf_issue(issue_id)["comments"]]
    assert texts.count("Crew dispatched.") == 1 and "Overtime approved." not in texts

    # Closed at a status code >= 950, with the message of that code.
    requests_sim.set_status(auto, 951)
    with lucity_app.app_context():
        assert remote_poll.poll_integration(integration("water")).closed == 1
    crm = sim.scf_issue(issue_id)
    assert crm["status"] == "Closed"
    assert crm["comments"][-1]["comment"] == "This request was canceled."


def upload_url(sim, auto: str) -> str:
    """Where the simulator serves the one file uploaded to request ``auto``."""
    [document] = [d for d in sim.lucity_requests.documents(auto) if "/media/" in d["DocumentUrl"]]
    return document["DocumentUrl"]


def test_lucity_sets_its_own_category_sync_interval(lucity_app, sim):
    text = lucity_yaml(sim.sims).replace(
        "    category_code: SCF\n", "    category_code: SCF\n    category_sync_interval: 3600\n"
    )
    with lucity_app.app_context():
        apply_config(parse_agency_config(text, base_dir=BOUNDARIES))
        [water] = schedule.find_tasks("categories", "water")
    assert (water.key, water.interval) == ("categories-water", 3600)


def test_private_non_internal_category_is_flagged_for_review(lucity_app, sim):
    with lucity_app.app_context():
        category = db.session.execute(
            db.select(Category).where(Category.remote_id == "WB")
        ).scalar_one()
        category.private = True
        db.session.commit()
    html = signed_in_client(lucity_app, "staff").get("/").get_data(as_text=True)
    assert "Private, not internal" in html and "needs review" in html


def water_categories() -> dict[str, Category]:
    return {
        c.remote_id: c
        for c in db.session.execute(
            db.select(Category).where(Category.integration_id == integration("water"))
        ).scalars()
    }


def test_problem_codes_become_categories(lucity_app, sim):
    with lucity_app.app_context():
        report = category_sync.sync_categories(integration("water"))
        names = water_categories()
    assert set(names) == {"WB", "HYD", "SW", "TRP", "ILD"}
    assert names["HYD"].name == "Hydrant Leaking" and all(c.enabled for c in names.values())
    assert "FAC" not in names  # not associated with the SCF category code
    assert "LEAF" not in names  # inactive: the 311 lookup does not offer it
    assert report.seen == 5
    # Read from the documented citizen lookup, never from an internal module.
    [lookup] = [c for c in sim.calls("lucity") if "/LookupList/" in c["path"]]
    assert lookup["path"].endswith("/LucityCitizenRestAPI/LookupList/Request.svc/ProblemCode/")
    assert "311Only=true" in lookup["query_string"] and "format=json" in lookup["query_string"]
    assert not [c for c in sim.calls("lucity") if "ProblemCodes.svc" in c["path"]]

    # The lookup has no inactive flag: a code staff disable, or move out of the
    # 311 category, leaves the list, and the category sync disables it; a
    # renamed code is renamed; one staff add is added.
    requests_sim = sim.lucity_requests
    requests_sim.set_problem_code("HYD", Inactive=True)
    requests_sim.set_problem_code("SW", CategoryCode="INT")
    requests_sim.set_problem_code("WB", Description="Water Main Break (urgent)")
    requests_sim.set_problem_code("LEAF", Inactive=False)
    with lucity_app.app_context():
        report = category_sync.sync_categories(integration("water"))
        names = water_categories()
    assert sorted(report.disabled) == ["Hydrant Leaking", "Storm Drain Clogged"]
    assert not names["HYD"].enabled and not names["SW"].enabled
    assert names["WB"].name == "Water Main Break (urgent)" and names["WB"].enabled
    assert names["LEAF"].enabled and report.added == ["Leaf Collection"]


def test_importer_reads_projected_coordinates(lucity_app, sim):
    from geo.projection import projector_for

    x, y = projector_for(2234).to_xy(41.3083, -72.9279)
    sim.lucity_requests.staff_create(
        ProblemCode="WB",
        XCoordinate=x,
        YCoordinate=y,
        BuildingNumber="165",
        Street="Church St",
        Comments="Staff-entered main break",
        minutes_ago=5,
    )
    sim.lucity_requests.staff_create(ProblemCode="WB", Comments="No location", minutes_ago=5)
    with lucity_app.app_context():
        report = importer.import_requests(integration("water"))
    assert report.imported == 1 and report.skipped == {"no coordinates": 1}


def test_work_order_create_status_messages_and_close(lucity_app, sim):
    issue_id = sim.create_issue(request_type_id=126, summary="Broken door at City Hall")["id"]
    push(lucity_app)
    with lucity_app.app_context():
        link = link_of(issue_id)
        assert link.state == SyncState.ACKNOWLEDGED
        assert link.address_source == "reported"  # no secondary geocoding for work orders
        auto = link.remote_id
    sim.lucity_orders.set_status(auto, 200)
    with lucity_app.app_context():
        remote_poll.poll_integration(integration("facilities"))
        remote_poll.poll_integration(integration("facilities"))
    texts = [c["comment"] for c in sim.scf_issue(issue_id)["comments"]]
    assert texts.count("A crew is working on it.") == 1
    sim.lucity_orders.set_status(auto, 999)
    with lucity_app.app_context():
        assert remote_poll.poll_integration(integration("facilities")).closed == 1
        kinds = [
            e.kind
            for e in db.session.execute(
                db.select(Event).where(Event.issue_id == issue_id)
            ).scalars()
        ]
        assert "status_message" in kinds and "closed" in kinds
    crm = sim.scf_issue(issue_id)
    assert crm["status"] == "Closed" and crm["comments"][-1]["comment"] == "Facilities closed this."


def test_rules_on_work_request_fields(lucity_app, sim):
    issue_id = sim.create_issue(request_type_id=124, summary="Bags left at the curb")["id"]
    push(lucity_app)
    with lucity_app.app_context():
        auto = link_of(issue_id).remote_id
    sim.lucity_requests.patch(auto, ProblemCode="ILD")
    sim.lucity_requests.set_status(auto, 2)
    with lucity_app.app_context():
        remote_poll.poll_integration(integration("water"))
        remote_poll.poll_integration(integration("water"))
    texts = [c["comment"] for c in sim.scf_issue(issue_id)["comments"]]
    assert texts.count("Reclassified as illegal dumping.") == 1
    assert texts.count("Assigned to a work order.") == 1


def test_work_order_comments_both_ways(lucity_app, sim):
    issue_id = sim.create_issue(request_type_id=126, summary="Leaking roof")["id"]
    push(lucity_app)
    with lucity_app.app_context():
        auto = link_of(issue_id).remote_id
    sim.resident_comment(issue_id, "Dripping on the stairs too.", name="Bo Neighbor")
    push(lucity_app)
    comments = sim.lucity_orders.comments(auto)
    assert comments[-1]["RecordedBy"] == "Bo Neighbor"
    sim.lucity_orders.vendor_comment(auto, "Roofer booked.", public=True)
    with lucity_app.app_context():
        remote_poll.poll_integration(integration("facilities"))
    texts = [c["comment"] for c in sim.scf_issue(issue_id)["comments"]]
    assert "Roofer booked." in texts
    assert not any("[#" in t for t in texts)  # our own notes never come back


@pytest.mark.parametrize(
    "switch",
    ["sync_categories", "import_requests", "geocode", "close_remote_on_crm_close", "import_images"],
)
def test_work_orders_refuse_what_the_module_does_not_do(sim, switch):
    text = lucity_yaml(sim.sims).replace(
        "    close_at_status: [998, 999]\n",
        f"    close_at_status: [998, 999]\n    {switch}: true\n",
    )
    with pytest.raises(ConfigError) as info:
        parse_agency_config(text, base_dir=BOUNDARIES)
    assert f"integrations[1].{switch}" in str(info.value)
    assert "Work Order module" in str(info.value)


@pytest.mark.parametrize("srid, reason", [(99999, "not a known"), (4978, "geocentric")])
def test_unusable_srid_is_refused_at_load(sim, srid, reason):
    text = lucity_yaml(sim.sims).replace(
        "    srid: 2234\n    timezone", f"    srid: {srid}\n    timezone"
    )
    with pytest.raises(ConfigError, match=reason) as info:
        parse_agency_config(text, base_dir=BOUNDARIES)
    assert "integrations[0].srid" in str(info.value)


def test_public_documents_reach_the_crm_as_images(lucity_app, sim, photo_url):
    """A public Lucity document goes to SeeClickFix as an image (its documented
    comment API takes a multipart ``image``); one Crosswalk cannot fetch goes as
    a link in the text, and the comment is never held back for it."""
    import requests

    issue_id = sim.create_issue(request_type_id=123, summary="Water", description="Bubbling")["id"]
    push(lucity_app)
    with lucity_app.app_context():
        auto = link_of(issue_id).remote_id
    requests_sim = sim.lucity_requests
    requests_sim.vendor_document(auto, photo_url, public=True, Description="After the repair")
    gone = photo_url.replace("water.jpg", "gone.jpg")
    requests_sim.vendor_document(auto, gone, public=True, Description="Before")
    with lucity_app.app_context():
        remote_poll.poll_integration(integration("water"))
        remote_poll.poll_integration(integration("water"))  # nothing twice
        warnings = [e.detail for e in db.session.execute(db.select(Event)).scalars()]

    comments = sim.scf_issue(issue_id)["comments"]
    [after] = [c for c in comments if c["comment"] == "After the repair"]
    image = after["media"]["image_full"]
    assert image and image != photo_url  # uploaded to the CRM, not linked
    assert requests.get(image, timeout=5).content == JPEG
    [before] = [c for c in comments if c["comment"].startswith("Before")]
    assert before["comment"] == f"Before\n{gone}"
    assert before["media"]["image_full"] is None
    assert any("posted as a link" in w and "HTTP 404" in w for w in warnings)
