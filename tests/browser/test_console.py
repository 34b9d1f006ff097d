"""The operations console in Chromium: run a task now and watch it finish,
the sync-lag charts with data from the simulators, a failed job listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import browser_sign_in, screenshot
from tests.conftest import TEST_PASSWORD, add_user
from tests.support import integration_id, link_of, queue_crm_poll, run_jobs
from webapp.sync import remote_poll


@pytest.fixture
def staff_page(live, page):
    add_user(live.app, "sam@city.invalid", "staff")
    browser_sign_in(page, live, "sam@city.invalid", TEST_PASSWORD)
    return page


def test_run_a_category_sync_now_and_watch_it_finish(live, staff_page):
    page = staff_page
    page.goto(live.at("/jobs"))
    row = page.locator('tr[data-task="categories-public-works"]')
    row.get_by_role("button", name="Run now").click()

    assert "public-works: category sync: queued." in page.content()
    assert row.locator("[data-testid=task-state]").inner_text() == "queued"
    assert row.get_by_role("button", name="Run now").is_disabled()  # never doubled

    with live.app.app_context():
        run_jobs(live.app)  # a worker takes it

    # The page refreshes itself while a run is queued: it shows the outcome.
    row.locator("[data-testid=task-state]", has_text="finished").wait_for(timeout=10_000)
    assert row.locator("[data-testid=task-summary]").inner_text()
    screenshot(page, "jobs")


def test_the_lag_chart_renders_with_data_from_the_simulators(live, staff_page, sim):
    issue_id = sim.create_issue(request_type_id=122, summary="Pothole", description="Deep")["id"]
    with live.app.app_context():
        queue_crm_poll()
        run_jobs(live.app)
        remote_id = link_of(issue_id).remote_id
    sim.cg_patch(int(remote_id), StatusField="Closed")
    with live.app.app_context():
        remote_poll.poll_integration(integration_id())
    page = staff_page

    page.goto(live.at("/lag"))

    charts = page.locator("svg.chart")
    assert charts.count() >= 3
    box = charts.first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 80
    assert page.locator("svg.chart circle").count() >= 2  # a p50 and a p90 point today
    assert page.locator("svg.chart rect.s1 title").count() >= 1  # today's created bar
    screenshot(page, "lag")


def test_upload_a_self_intersecting_boundary_and_see_the_point(live, page, tmp_path):
    import shutil

    from tests.conftest import BOUNDARIES
    from webapp.extensions import db
    from webapp.models import Agency

    configured = tmp_path / "boundary.geojson"
    shutil.copyfile(BOUNDARIES / "new_haven.geojson", configured)
    with live.app.app_context():
        db.session.execute(db.update(Agency).values(boundary_path=str(configured)))
        db.session.commit()
    add_user(live.app, "ada@city.invalid", "admin")
    browser_sign_in(page, live, "ada@city.invalid", TEST_PASSWORD)

    page.goto(live.at("/boundary"))
    assert page.locator("svg.boundary-map path.boundary").count() == 1
    page.set_input_files("[data-testid=boundary-file]", str(BOUNDARIES / "bowtie.geojson"))
    page.locator("[data-testid=check-boundary]").click()

    refused = page.locator("[data-testid=upload-refused]")
    assert "self-intersect" in refused.inner_text().lower()
    drawing = page.locator("[data-testid=refused-drawing] svg")
    assert drawing.locator('circle[stroke="#d00000"], g[stroke="#d00000"]').count() >= 1
    assert page.locator("[data-testid=replace-boundary]").count() == 0
    screenshot(page, "boundary-refused")
    assert page.locator("svg.boundary-map path.boundary").count() == 1  # the current one
    assert configured.read_text() == (BOUNDARIES / "new_haven.geojson").read_text()


def test_search_by_address_and_export_csv(live, staff_page, sim):
    for address in ("165 Church St", "1 Elm St"):
        sim.create_issue(request_type_id=122, summary="Pothole", address=address)
    with live.app.app_context():
        queue_crm_poll()
        run_jobs(live.app)
    page = staff_page
    page.goto(live.at("/issues"))
    page.fill("[data-testid=search]", "church st")
    page.get_by_role("button", name="Filter").click()

    rows = page.locator("table.grid tbody tr")
    assert rows.count() == 1
    assert "q=church+st" in page.url
    with page.expect_download() as download_info:
        page.locator("[data-testid=export-csv]").click()
    download = download_info.value
    assert download.suggested_filename.startswith("crosswalk-issues-")
    text = Path(download.path()).read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("crm_issue_id,reported_at_utc")
    assert len(text.splitlines()) == 2 and "165 Church St" in text
    screenshot(page, "issues-search")


def test_the_jobs_page_lists_a_failed_job_with_its_error(live, staff_page, sim):
    sim.fault("cg", status=500, count=100)  # Cartegraph down: the category sync fails
    page = staff_page
    page.goto(live.at("/jobs"))
    row = page.locator('tr[data-task="categories-public-works"]')
    row.get_by_role("button", name="Run now").click()
    with live.app.app_context():
        run_jobs(live.app)

    page.goto(live.at("/jobs"))
    failed = page.locator("section", has=page.locator("h2", has_text="Failed"))
    assert "periodic task categories-public-works" in failed.inner_text()
    assert "500" in failed.inner_text()
    assert row.locator("[data-testid=task-state]").inner_text() == "failed"
