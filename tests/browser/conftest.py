"""Browser tests: Debian's Chromium driven by Playwright against the app served
over loopback HTTP (a real server thread, real cookies, CSRF on), with the
simulators behind it.

Playwright cannot download its own browsers here, so it launches the system
Chromium (``CROSSWALK_CHROMIUM``, default ``/usr/bin/chromium``); `make test`
installs it when missing (scripts/ensure_services.py). Screenshots go to
``tests/browser/screenshots/`` (git-ignored) for review.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import BOUNDARIES, agency_yaml, make_app
from webapp.agency_config import parse_agency_config
from webapp.extensions import db
from webapp.sync.configure import apply_config

CHROMIUM = os.environ.get("CROSSWALK_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium():
    """One Chromium per test process."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: run `make test` (it installs it) "
            "or `apt-get install -y chromium`"
        )
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield browser
    browser.close()
    playwright.stop()


@dataclass
class LiveServer:
    app: Flask
    url: str  # http://127.0.0.1:PORT, no trailing slash

    def at(self, path: str) -> str:
        return self.url + path


@pytest.fixture
def live(tmp_path, redis_url, sim) -> Iterator[LiveServer]:
    """The app with CSRF protection on, served by a threaded WSGI server."""
    app = make_app(
        f"sqlite:///{tmp_path / 'browser.db'}",
        redis_url,
        WTF_CSRF_ENABLED=True,
        SECRET_KEY="browser-tests-secret-key",
    )
    with app.app_context():
        apply_config(parse_agency_config(agency_yaml(sim.sims), base_dir=BOUNDARIES))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(app, f"http://127.0.0.1:{server.server_port}")
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def page(chromium, request):
    """A fresh browser context (no cookies) and page; a screenshot on failure."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        screenshot(page, f"FAILED-{request.node.name}")
    context.close()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under tests/browser/screenshots/ for review."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def browser_sign_in(page, live: LiveServer, email: str, password: str, *, goto=True) -> None:
    """Sign in through the real form, as a person would (``goto=False``: on the
    sign-in page the browser is already on, e.g. after a redirect)."""
    if goto:
        page.goto(live.at("/login"))
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
