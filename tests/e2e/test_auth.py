"""Sign-in, roles, CSRF and the security headers, through the app's own routes."""

from __future__ import annotations

import logging
import re

import pytest
from werkzeug.routing import IntegerConverter

from tests.conftest import (
    ADMIN_EMAIL,
    STAFF_EMAIL,
    TEST_PASSWORD,
    add_user,
    make_app,
    sign_in,
)
from tests.support import queue_crm_poll, run_jobs
from webapp import create_app
from webapp.auth import PUBLIC_ENDPOINTS, users
from webapp.auth.roles import admin_required
from webapp.config import MissingSecretKey
from webapp.extensions import db
from webapp.models import AuditEntry, SyncLink, SyncState
from webapp.sync.audit import CLI

FAILED = "Wrong email or password."


@pytest.fixture
def auth_log(caplog, monkeypatch):
    """The sign-in log, captured. Alembic's logging setup (fileConfig) disables
    every logger that existed when a test process first migrated a database,
    so it is switched back on here."""
    monkeypatch.setattr(logging.getLogger("crosswalk.auth"), "disabled", False)
    with caplog.at_level(logging.INFO, logger="crosswalk.auth"):
        yield caplog


def login(client, email: str, password: str, **extra):
    return client.post("/login", data={"email": email, "password": password, **extra})


def failed_link(app, sim) -> tuple[int, int]:
    """A link whose push failed (the EAM answered 503 three times): (link, issue)."""
    issue_id = sim.create_issue()["id"]
    sim.fault("cg", status=503, count=3, method="POST", path_contains="cgRequestsClass")
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)
        link = db.session.execute(db.select(SyncLink)).scalar_one()
        assert link.state == SyncState.FAILED
        return link.id, issue_id


def webhook(client, sim):
    """A signed CRM event, as SeeClickFix sends it (no session, no form token)."""
    from tests.e2e.test_webhook import post

    issue = sim.scf_issue(sim.create_issue()["id"])
    return post(client, {"event": "issue.created", "issue": issue})


# -- signing in and out -----------------------------------------------------------------
def test_a_page_sends_nobody_to_sign_in_and_back(app, anon_client):
    add_user(app, STAFF_EMAIL)
    to_form = anon_client.get("/issues?state=failed")
    assert to_form.status_code == 302
    assert to_form.location == "/login?next=/issues?state%3Dfailed"
    form = anon_client.get(to_form.location).get_data(as_text=True)
    assert "Please sign in" in form
    assert 'name="email"' in form and 'name="password"' in form and ">Sign in</button>" in form

    # The form posts to its own URL, so the ?next= of that URL is honoured.
    signed_in = anon_client.post(
        to_form.location, data={"email": STAFF_EMAIL, "password": TEST_PASSWORD}
    )
    assert signed_in.status_code == 302 and signed_in.location == "/issues?state=failed"
    page = anon_client.get("/").get_data(as_text=True)
    assert STAFF_EMAIL in page and ">staff<" in page and ">Sign out</button>" in page
    assert 'href="/admin/"' not in page  # staff: no Admin link
    with app.app_context():
        assert users.find_user(STAFF_EMAIL).last_sign_in_at is not None

    out = anon_client.post("/logout")
    assert out.status_code == 302 and out.location == "/login"
    assert "You are signed out." in anon_client.get("/login").get_data(as_text=True)
    assert anon_client.get("/").status_code == 302


def test_the_email_is_matched_whatever_its_case_and_spaces(app, anon_client):
    add_user(app, STAFF_EMAIL)
    assert login(anon_client, f"  {STAFF_EMAIL.upper()} ", TEST_PASSWORD).location == "/"


def test_admins_see_the_admin_link(client):
    page = client.get("/").get_data(as_text=True)
    assert ADMIN_EMAIL in page and ">admin<" in page and 'href="/admin/"' in page


@pytest.mark.parametrize(
    "target, lands",
    [
        ("/issues?state=failed", "/issues?state=failed"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_next_is_followed_only_to_a_path_on_this_host(app, anon_client, target, lands):
    add_user(app, STAFF_EMAIL)
    response = anon_client.post(
        "/login",
        query_string={"next": target},
        data={"email": STAFF_EMAIL, "password": TEST_PASSWORD},
    )
    assert response.status_code == 302 and response.location == lands


def test_signed_in_visitors_of_the_form_go_on(client):
    assert client.get("/login?next=/check").location == "/check"


def test_unknown_email_and_wrong_password_get_the_same_answer(app, anon_client, auth_log):
    add_user(app, STAFF_EMAIL)
    wrong = login(anon_client, STAFF_EMAIL, "not the password at all")
    unknown = login(anon_client, "nobody@test.invalid", "not the password at all")
    assert wrong.status_code == unknown.status_code == 200
    assert FAILED in wrong.get_data(as_text=True) and FAILED in unknown.get_data(as_text=True)
    assert wrong.get_data(as_text=True) == unknown.get_data(as_text=True).replace(
        "nobody@test.invalid", STAFF_EMAIL
    )
    assert anon_client.get("/").status_code == 302  # still nobody
    # Failures are logged with the email and the address, never the password.
    assert f"sign-in failed for '{STAFF_EMAIL}' from 127.0.0.1" in auth_log.text
    assert "sign-in failed for 'nobody@test.invalid' from 127.0.0.1" in auth_log.text
    assert "not the password at all" not in auth_log.text


def test_an_empty_form_is_refused_with_the_fields_named(anon_client):
    response = anon_client.post("/login", data={"email": "", "password": ""})
    assert response.status_code == 400
    assert "This field is required." in response.get_data(as_text=True)


def test_a_disabled_user_cannot_sign_in_and_their_session_ends(app):
    add_user(app, STAFF_EMAIL)
    session = sign_in(app, STAFF_EMAIL)
    with app.app_context():
        users.disable_user(STAFF_EMAIL, actor=CLI)
    assert session.get("/").status_code == 302  # signed out at the next request
    again = login(app.test_client(), STAFF_EMAIL, TEST_PASSWORD)
    assert again.status_code == 200 and FAILED in again.get_data(as_text=True)


def test_a_new_password_ends_the_other_sessions(app):
    add_user(app, STAFF_EMAIL)
    old = sign_in(app, STAFF_EMAIL)
    with app.app_context():
        users.set_password(STAFF_EMAIL, "a brand new passphrase", actor=CLI)
    assert old.get("/").status_code == 302
    assert FAILED in login(app.test_client(), STAFF_EMAIL, TEST_PASSWORD).get_data(as_text=True)
    assert sign_in(app, STAFF_EMAIL, "a brand new passphrase").get("/").status_code == 200


def test_programs_get_a_401_instead_of_the_form(anon_client):
    response = anon_client.get("/issues", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json() == {"error": "sign in required"}


# -- rate limits ------------------------------------------------------------------------
def test_five_failures_lock_the_account_for_a_while(app, anon_client, auth_log):
    add_user(app, STAFF_EMAIL)
    for _ in range(5):
        assert FAILED in login(anon_client, STAFF_EMAIL, "guess " * 3).get_data(as_text=True)
    locked = login(anon_client, STAFF_EMAIL, TEST_PASSWORD)  # even the right password
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.get_data(as_text=True)
    assert "sign-in refused (too many failures)" in auth_log.text
    # Another account from the same address is not locked (20 per address).
    add_user(app, ADMIN_EMAIL, "admin")
    assert login(anon_client, ADMIN_EMAIL, TEST_PASSWORD).status_code == 302


@pytest.mark.parametrize("redis", [True, False], ids=["redis", "memory"])
def test_failures_from_one_address_are_limited_across_accounts(tmp_path, redis, request, sim):
    redis_url = request.getfixturevalue("redis_url") if redis else None
    app = make_app(
        f"sqlite:///{tmp_path / 'limits.db'}",
        redis_url,
        CROSSWALK_SIGNIN_LIMIT_ADDRESS="3 per 15 minutes",
    )
    add_user(app, STAFF_EMAIL)
    client = app.test_client()
    for n in range(3):
        assert login(client, f"guess{n}@test.invalid", "guess " * 3).status_code == 200
    assert login(client, STAFF_EMAIL, TEST_PASSWORD).status_code == 429
    # Another address is not limited.
    other = app.test_client()
    response = other.post(
        "/login",
        data={"email": STAFF_EMAIL, "password": TEST_PASSWORD},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert response.status_code == 302


def test_a_success_forgets_the_accounts_failures(app, anon_client):
    add_user(app, STAFF_EMAIL)
    for _ in range(4):
        login(anon_client, STAFF_EMAIL, "guess " * 3)
    assert login(anon_client, STAFF_EMAIL, TEST_PASSWORD).status_code == 302
    anon_client.post("/logout")
    for _ in range(4):
        login(anon_client, STAFF_EMAIL, "guess " * 3)
    assert login(anon_client, STAFF_EMAIL, TEST_PASSWORD).status_code == 302


# -- roles ------------------------------------------------------------------------------
def test_staff_get_403_on_admin_only_pages(app, sim):
    app.add_url_rule("/test-admin-only", "test_admin_only", admin_required(lambda: "admins only"))
    add_user(app, STAFF_EMAIL)
    add_user(app, ADMIN_EMAIL, "admin")
    staff, admin = sign_in(app, STAFF_EMAIL), sign_in(app, ADMIN_EMAIL)

    refused = staff.get("/test-admin-only")
    assert refused.status_code == 403
    assert "This page is for admins" in refused.get_data(as_text=True)
    assert admin.get("/test-admin-only").get_data(as_text=True) == "admins only"
    assert app.test_client().get("/test-admin-only").status_code == 302
    if "/admin/" in {rule.rule for rule in app.url_map.iter_rules()}:
        assert staff.get("/admin/").status_code == 403


def test_staff_may_retry_and_the_retry_is_audited(app, staff_client, sim):
    link_id, issue_id = failed_link(app, sim)
    response = staff_client.post(f"/links/{link_id}/retry")
    assert response.status_code == 302
    with app.app_context():
        entry = db.session.execute(
            db.select(AuditEntry).where(AuditEntry.action == "link.retry")
        ).scalar_one()
        assert entry.actor == STAFF_EMAIL
        assert entry.user_id == users.find_user(STAFF_EMAIL).id
        assert entry.target == f"link {link_id} (issue {issue_id})"
        assert db.session.get(SyncLink, link_id).state == SyncState.PENDING


def test_staff_may_run_the_check(staff_client):
    assert staff_client.post("/check").status_code in (200, 409)


# -- no page without a session ------------------------------------------------------------
def _url_of(rule) -> str:
    values = {
        name: 1 if isinstance(rule._converters[name], IntegerConverter) else "x"
        for name in rule.arguments
    }
    return rule.build(values)[1]


def test_every_route_but_the_public_ones_needs_a_session(app, anon_client):
    """Walks the whole url_map, /admin included once it is there: a route
    added later is covered without anyone adding it here."""
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        url = _url_of(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = anon_client.open(url, method=method)
            where = f"{method} {url} ({rule.endpoint})"
            assert response.status_code in (302, 401, 403), where
            if response.status_code == 302:
                assert response.location.startswith("/login"), where
            checked += 1
    assert checked >= 8


def test_the_public_endpoints_are_exactly_these():
    """Making an endpoint public is a decision: it is written here too."""
    assert {
        "static",
        "auth.login",
        "dashboard.healthz",
        "webhooks.seeclickfix",
        "open311.services",
        "open311.service_definition",
    } == PUBLIC_ENDPOINTS


def test_public_endpoints_answer_without_a_session(anon_client):
    assert anon_client.get("/healthz").get_json()["ok"] is True
    assert anon_client.get("/open311/v2/services.json").status_code == 200
    assert anon_client.get("/static/css/crosswalk.css").status_code == 200
    assert anon_client.get("/login").status_code == 200


# -- CSRF -------------------------------------------------------------------------------
def _token(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)[1]


@pytest.fixture
def csrf_app(database_url, redis_url, sim):
    from tests.conftest import BOUNDARIES, agency_yaml
    from webapp.agency_config import parse_agency_config
    from webapp.sync.configure import apply_config

    app = make_app(database_url, redis_url, WTF_CSRF_ENABLED=True)
    with app.app_context():
        apply_config(parse_agency_config(agency_yaml(sim.sims), base_dir=BOUNDARIES))
    add_user(app, STAFF_EMAIL)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_sign_in_itself_needs_the_forms_token(csrf_app):
    client = csrf_app.test_client()
    refused = login(client, STAFF_EMAIL, TEST_PASSWORD)
    assert refused.status_code == 400
    assert "The CSRF token is missing." in refused.get_data(as_text=True)
    token = _token(client.get("/login").get_data(as_text=True))
    assert login(client, STAFF_EMAIL, TEST_PASSWORD, csrf_token=token).status_code == 302


def test_a_post_without_the_token_is_refused_and_with_it_accepted(csrf_app, sim):
    link_id, issue_id = failed_link(csrf_app, sim)
    client = csrf_app.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    login(client, STAFF_EMAIL, TEST_PASSWORD, csrf_token=token)

    # A form on another site, posting with the staff member's cookie.
    forged = client.post(f"/links/{link_id}/retry", headers={"Origin": "https://evil.example"})
    assert forged.status_code == 400
    page = forged.get_data(as_text=True)
    assert "Request refused" in page and "not sent from a Crosswalk page" in page
    as_json = client.post(f"/links/{link_id}/retry", headers={"Accept": "application/json"})
    assert as_json.status_code == 400 and "CSRF token is missing" in as_json.get_json()["error"]
    with csrf_app.app_context():
        assert db.session.get(SyncLink, link_id).state == SyncState.FAILED
        retries = db.select(AuditEntry).where(AuditEntry.action == "link.retry")
        assert db.session.execute(retries).first() is None

    issue_page = client.get(f"/issues/{issue_id}").get_data(as_text=True)
    accepted = client.post(f"/links/{link_id}/retry", data={"csrf_token": _token(issue_page)})
    assert accepted.status_code == 302
    with csrf_app.app_context():
        assert db.session.get(SyncLink, link_id).state == SyncState.PENDING
    # The check and sign-out forms carry theirs.
    check_page = client.get("/check").get_data(as_text=True)
    assert client.post("/check").status_code == 400
    assert client.post("/check", data={"csrf_token": _token(check_page)}).status_code in (200, 409)
    assert client.post("/logout").status_code == 400
    assert client.post("/logout", data={"csrf_token": _token(check_page)}).status_code == 302


def test_the_webhook_needs_no_token(csrf_app, sim):
    response = webhook(csrf_app.test_client(), sim)
    assert response.status_code == 202, response.get_json()


# -- headers and cookies ----------------------------------------------------------------
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https: http:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)


def test_security_headers_on_every_response(client, anon_client, sim):
    responses = {
        "page": client.get("/"),
        "form": anon_client.get("/login"),
        "redirect": anon_client.get("/"),
        "static": anon_client.get("/static/js/refresh.js"),
        "open311": anon_client.get("/open311/v2/services.json"),
        "webhook": webhook(anon_client, sim),
        "404": client.get("/nowhere"),
    }
    for name, response in responses.items():
        headers = response.headers
        assert headers["Content-Security-Policy"] == CSP, name
        assert headers["X-Content-Type-Options"] == "nosniff", name
        assert headers["X-Frame-Options"] == "DENY", name
        assert headers["Referrer-Policy"] == "same-origin", name
        assert "Strict-Transport-Security" not in headers, name
    assert responses["page"].headers["Cache-Control"] == "no-store"


def test_templates_carry_no_inline_script_or_style(client):
    """The policy forbids them: they would silently not run."""
    from pathlib import Path

    import webapp

    for template in Path(webapp.__file__).parent.joinpath("templates").rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", text), template


def test_session_cookie_flags_and_https(tmp_path, redis_url, sim):
    app = make_app(f"sqlite:///{tmp_path / 'https.db'}", redis_url, CROSSWALK_HTTPS=True)
    add_user(app, STAFF_EMAIL)
    response = login(app.test_client(), STAFF_EMAIL, TEST_PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert app.config["REMEMBER_COOKIE_SECURE"] is True

    plain = make_app(f"sqlite:///{tmp_path / 'http.db'}", redis_url)
    add_user(plain, STAFF_EMAIL)
    cookie = login(plain.test_client(), STAFF_EMAIL, TEST_PASSWORD).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


# -- SECRET_KEY -------------------------------------------------------------------------
def test_the_web_app_does_not_start_without_a_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(MissingSecretKey, match=r"^SECRET_KEY is not set\."):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})
    assert app.secret_key == "from-the-environment"


def test_a_command_app_serves_no_page_without_a_secret_key(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
            "CROSSWALK_REQUIRE_SECRET_KEY": False,
        }
    )
    with caplog.at_level(logging.ERROR):
        assert app.test_client().get("/login").status_code == 500
    assert "SECRET_KEY is not set" in caplog.text
