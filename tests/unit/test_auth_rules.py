"""The pure rules of sign-in: where ``next`` may lead, the policy header,
what an email and a password must be, when a secret key is required."""

from __future__ import annotations

import pytest

from webapp.auth import users
from webapp.auth.headers import content_security_policy
from webapp.auth.login import safe_next
from webapp.config import MissingSecretKey, ensure_secret_key


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/", "/"),
        ("/issues?state=failed&page=2", "/issues?state=failed&page=2"),
        ("/admin/rules/", "/admin/rules/"),
        (None, None),
        ("", None),
        ("issues", None),
        ("//evil.example/", None),
        ("/\\evil.example", None),
        ("https://evil.example/", None),
        ("javascript:alert(1)", None),
        ("/\x00", None),
        ("/ok\r\nSet-Cookie: x=1", None),
    ],
)
def test_next_leads_only_to_a_path_on_this_host(target, expected):
    assert safe_next(target) == expected


def test_the_policy_admits_a_nonce_only_when_a_page_asks_for_one():
    plain = content_security_policy()
    assert "script-src 'self';" in plain and "'unsafe-inline'" not in plain
    assert "frame-ancestors 'none'" in plain and "nonce" not in plain
    with_nonce = content_security_policy("abc123")
    assert "script-src 'self' 'nonce-abc123';" in with_nonce
    assert "style-src 'self' 'nonce-abc123';" in with_nonce


@pytest.mark.parametrize(
    "raw, email",
    [(" Ada@Agency.Example ", "ada@agency.example"), ("admin@demo.invalid", "admin@demo.invalid")],
)
def test_emails_are_stripped_and_lowercased(raw, email):
    assert users.valid_email(raw) == email


@pytest.mark.parametrize(
    "raw", ["", "ada", "ada@", "@agency.example", "ada@agency", "a b@agency.example", "a@b@c.d"]
)
def test_what_is_not_an_email_is_refused(raw):
    with pytest.raises(users.UserError, match="is not an email address"):
        users.valid_email(raw)


def test_passwords_and_roles():
    users.check_password("x" * 12)
    with pytest.raises(users.UserError, match="at least 12 characters"):
        users.check_password("x" * 11)
    with pytest.raises(users.UserError, match="at most 1024 characters"):
        users.check_password("x" * 1025)
    assert users.check_role("admin") == "admin"
    with pytest.raises(users.UserError, match="one of staff, admin, not 'root'"):
        users.check_role("root")


def test_a_secret_key_is_required_unless_testing_or_told_otherwise():
    with pytest.raises(MissingSecretKey, match="SECRET_KEY is not set"):
        ensure_secret_key({"SECRET_KEY": None})
    testing = {"SECRET_KEY": None, "TESTING": True}
    ensure_secret_key(testing)
    assert len(testing["SECRET_KEY"]) == 64
    command = {"SECRET_KEY": None, "CROSSWALK_REQUIRE_SECRET_KEY": False}
    ensure_secret_key(command)
    assert command["SECRET_KEY"] is None
    ensure_secret_key({"SECRET_KEY": "set"})
