"""The boundary page: the polygon with the importer's candidates; an admin's
upload judged by the loader's rules, a refused one drawn with its problem
marked, an accepted one replacing the configured file after confirmation."""

from __future__ import annotations

import io
import re
import shutil

import pytest

from tests.conftest import BOUNDARIES
from tests.support import integration_id
from webapp.extensions import db
from webapp.models import Agency, AuditEntry
from webapp.sync import importer

INSIDE = {"lat": 41.3083, "long": -72.9279}


@pytest.fixture
def boundary_file(app, tmp_path):
    """The configured boundary, as a copy the test may replace."""
    path = tmp_path / "boundary.geojson"
    shutil.copyfile(BOUNDARIES / "new_haven.geojson", path)
    with app.app_context():
        db.session.execute(db.update(Agency).values(boundary_path=str(path)))
        db.session.commit()
    return path


def staff_request(sim, **fields):
    base = {"IssueField": "Streetlight Out", "DescriptionField": "Out", **INSIDE, **fields}
    return sim.cg_staff_create("cgRequestsClass", **base)


def test_the_map_shows_candidates_coloured_by_outcome(app, client, sim, boundary_file):
    staff_request(sim)
    staff_request(sim, lat=41.395, long=-72.90)  # Hamden, next door
    staff_request(sim, lat=41.52, long=-72.70)  # Middletown: too far to draw
    staff_request(sim, IssueField="Tree Down")  # not mapped
    with app.app_context():
        importer.import_requests(integration_id())

    html = client.get("/boundary").get_data(as_text=True)

    assert '<path class="boundary"' in html
    assert html.count('class="pt inside"') == 1
    assert html.count('class="pt outside"') == 1
    assert html.count('class="pt skipped"') == 1
    assert "outside the agency boundary</title>" in html
    assert "inside, imported: 1" in html and "outside the boundary: 2" in html
    assert "1 more lies too far away to draw" in html


def upload(client, text: str, name: str = "new.geojson"):
    data = {"boundary": (io.BytesIO(text.encode()), name)}
    return client.post("/boundary/check", data=data, content_type="multipart/form-data")


def test_a_self_intersecting_upload_is_refused_and_drawn_with_the_point(app, client, boundary_file):
    before = boundary_file.read_text()
    response = upload(client, (BOUNDARIES / "bowtie.geojson").read_text())

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-testid="upload-refused"' in html and "self-intersect" in html.lower()
    assert 'data-testid="refused-drawing"' in html and 'stroke="#d00000"' in html  # the marker
    assert 'data-testid="replace-boundary"' not in html
    assert boundary_file.read_text() == before


def test_an_accepted_upload_replaces_the_file_after_confirmation(app, client, boundary_file):
    new = (BOUNDARIES / "new_haven.geojson").read_text().replace("New Haven", "New Haven v2")
    checked = upload(client, new)
    assert checked.status_code == 200
    html = checked.get_data(as_text=True)
    assert 'data-testid="upload-accepted"' in html
    assert "New Haven v2" not in boundary_file.read_text()  # nothing replaced yet

    geojson = re.search(r'<textarea name="geojson" hidden>(.*?)</textarea>', html, re.S)[1]
    import html as html_module

    replaced = client.post(
        "/boundary/replace", data={"geojson": html_module.unescape(geojson)}, follow_redirects=True
    )

    assert "Boundary replaced" in replaced.get_data(as_text=True)
    assert boundary_file.read_text() == new
    [backup] = list(boundary_file.parent.glob("boundary.geojson.*.bak"))
    assert "New Haven v2" not in backup.read_text()
    with app.app_context():
        [entry] = db.session.execute(
            db.select(AuditEntry).where(AuditEntry.action == "boundary.replace")
        ).scalars()
        assert entry.target == str(boundary_file) and entry.after["bytes"] == len(new)


def test_a_refused_text_posted_to_replace_changes_nothing(app, client, boundary_file):
    before = boundary_file.read_text()
    bowtie = (BOUNDARIES / "bowtie.geojson").read_text()
    response = client.post("/boundary/replace", data={"geojson": bowtie}, follow_redirects=True)
    assert "Boundary refused" in response.get_data(as_text=True)
    assert boundary_file.read_text() == before


def test_staff_see_the_map_but_cannot_upload(app, staff_client, boundary_file):
    page = staff_client.get("/boundary").get_data(as_text=True)
    assert '<path class="boundary"' in page and "Upload a new boundary" not in page
    assert upload(staff_client, "{}").status_code == 403
    assert staff_client.post("/boundary/replace", data={"geojson": "{}"}).status_code == 403


def test_without_a_configured_boundary_the_page_says_how(app, client):
    with app.app_context():
        db.session.execute(db.update(Agency).values(boundary_path=None))
        db.session.commit()
    html = client.get("/boundary").get_data(as_text=True)
    assert "set agency.boundary in the agency file" in html
