"""Template filters and tests."""

from __future__ import annotations

from webapp.views.template_filters import web_url


def test_only_http_urls_are_links():
    assert web_url("https://seeclickfix.com/issues/1")
    assert web_url("http://crm.example/issues/1")
    for bad in (None, "", "javascript:alert(1)", "data:text/html,x", "//evil.example/x", "https:"):
        assert not web_url(bad)
