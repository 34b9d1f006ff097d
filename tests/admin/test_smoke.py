from __future__ import annotations

import pytest

PAGES = [
    "/admin/",
    "/admin/rules/",
    "/admin/rules/new",
    "/admin/messages/",
    "/admin/categories/",
    "/admin/users/",
    "/admin/audit/",
]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_renders_for_an_admin(admin_client, url):
    response = admin_client.get(url, follow_redirects=True)
    assert response.status_code == 200, response.text[:2000]
