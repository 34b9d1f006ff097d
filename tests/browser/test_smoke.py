"""The browser harness itself: Chromium reaches the live server."""

from __future__ import annotations


def test_chromium_reaches_the_live_server(live, page):
    response = page.goto(live.at("/healthz"))
    assert response is not None and response.status == 200
