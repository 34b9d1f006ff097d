"""Admins only: every /admin URL sends nobody to the sign-in page and answers
signed-in staff 403; forms carry the CSRF token CSRFProtect checks."""

from __future__ import annotations

import re

import pytest
from werkzeug.routing import Rule

from tests.admin.conftest import sign_in
from webapp.extensions import db
from webapp.models import Integration

ARGUMENTS = {"export_type": "csv", "filename": "x"}


def admin_urls(app) -> list[tuple[str, str]]:
    """(method, URL) of every console route, its arguments filled in."""
    found = []
    rule: Rule
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or rule.endpoint == "admin.static":
            continue
        url = rule.rule
        for name in rule.arguments:
            url = re.sub(rf"<(?:\w+:)?{name}>", ARGUMENTS.get(name, "1"), url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, url))
    return found


def test_the_console_has_the_expected_pages(app):
    urls = {url for _, url in admin_urls(app)}
    assert {
        "/admin/",
        "/admin/rules/",
        "/admin/rules/1/",
        "/admin/rules/preview",
        "/admin/messages/1/",
        "/admin/categories/1/",
        "/admin/users/",
        "/admin/audit/",
    } <= urls


def test_nobody_signed_in_is_sent_to_sign_in(app, csrf_off):
    client = app.test_client()
    for method, url in admin_urls(app):
        response = client.open(url, method=method)
        assert response.status_code == 302, (method, url)
        location = response.headers["Location"]
        assert location.startswith("/login"), (method, url, location)
        if method == "GET":
            assert "next=" in location, (method, url)


def test_staff_are_refused(app, staff_client, csrf_off):
    for method, url in admin_urls(app):
        response = staff_client.open(url, method=method, data={"enabled": "1"})
        assert response.status_code == 403, (method, url, response.status_code)
    assert "for admins" in staff_client.get("/admin/rules/").text
    with app.app_context():  # nothing a refused POST carried was applied
        assert db.session.get(Integration, 1).settings["acknowledgment_message"] == (
            "Your request has been received by Public Works."
        )


def test_a_disabled_admin_is_signed_out(app, admin_id, csrf_off):
    from webapp.models import User

    client = sign_in(app, app.test_client(), admin_id)
    with app.app_context():
        db.session.get(User, admin_id).active = False
        db.session.commit()
    assert client.get("/admin/rules/").status_code == 302


def token_of(html: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


@pytest.fixture
def admin_with_csrf(app, admin_id):
    app.config["WTF_CSRF_ENABLED"] = True
    return sign_in(app, app.test_client(), admin_id)


def test_forms_carry_the_token_and_a_post_without_it_is_refused(app, admin_with_csrf):
    client = admin_with_csrf
    form = {"acknowledgment_message": "Token or nothing.", "closing_message": "Done."}
    refused = client.post("/admin/messages/1/", data=form)
    assert refused.status_code == 400
    assert "Request refused" in refused.text or "CSRF" in refused.text

    page = client.get("/admin/messages/1/").text
    accepted = client.post("/admin/messages/1/", data={**form, "csrf_token": token_of(page)})
    assert accepted.status_code == 302
    with app.app_context():
        assert db.session.get(Integration, 1).settings["acknowledgment_message"] == (
            "Token or nothing."
        )


def test_the_live_preview_posts_with_the_forms_token(app, admin_with_csrf):
    client = admin_with_csrf
    page = client.get("/admin/rules/1/").text
    token = token_of(page)
    data = {
        "csrf_token": token,
        "integration_id": "1",
        "rule_id": "1",
        "field": "TasksField",
        "op": ">=",
        "value": "1",
        "message": "m",
    }
    response = client.post("/admin/rules/preview", data=data, headers={"X-Requested-With": "fetch"})
    assert response.status_code == 200 and "TasksField &gt;= 1" in response.text
    without = client.post(
        "/admin/rules/preview",
        data={k: v for k, v in data.items() if k != "csrf_token"},
        headers={"X-Requested-With": "fetch"},
    )
    assert without.status_code == 400


def test_pages_load_no_inline_script_or_style_and_nothing_remote(admin_client):
    for url in (
        "/admin/",
        "/admin/rules/1/",
        "/admin/messages/1/",
        "/admin/categories/",
        "/admin/users/",
        "/admin/audit/",
    ):
        response = admin_client.get(url)
        html = response.text
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [], url  # inline script
        assert "<style" not in html and " style=" not in html, url
        assert not re.search(r"\son[a-z]+=", html), url  # inline event handlers
        assert "javascript:" not in html, url
        for src in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert not src.startswith(("http:", "https:", "//")), (url, src)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "nonce" not in csp


def test_what_is_not_there_is_a_404(admin_client):
    for url in ("/admin/rules/999/", "/admin/categories/999/", "/admin/messages/999/"):
        assert admin_client.get(url).status_code == 404, url
    assert admin_client.post("/admin/rules/999/enabled", data={"enabled": "0"}).status_code == 404
