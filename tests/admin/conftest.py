"""The admin console's fixtures: the end-to-end app (simulators over real
HTTP, the New Haven agency loaded), an admin and a staff user, and test
clients signed in as them through the session (no dependence on /login)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support import link_of, queue_crm_poll, run_jobs
from webapp.extensions import db
from webapp.models import SyncLink, SyncState, User
from webapp.sync import remote_poll

ADMIN_EMAIL = "ada.admin@example.gov"
STAFF_EMAIL = "sam.staff@example.gov"


def make_user(email: str, role: str) -> User:
    # Sessions are set directly, so the hash is never checked: skip scrypt's cost.
    user = User(email=email, password_hash=f"test-hash-{email}", role=role)
    db.session.add(user)
    db.session.commit()
    return user


def sign_in(app: Flask, client: FlaskClient, user_id: int) -> FlaskClient:
    """Flask-Login's session for ``user_id``, as a sign-in would leave it."""
    from webapp.auth.login import FINGERPRINT, fingerprint

    with app.app_context():
        user = db.session.get(User, user_id)
        print_ = fingerprint(user)
    with client.session_transaction() as session:
        session["_user_id"] = str(user_id)
        session["_fresh"] = True
        session[FINGERPRINT] = print_
    return client


@pytest.fixture
def csrf_off(app: Flask) -> Flask:
    """Forms posted without their token (the CSRF tests turn it back on)."""
    app.config["WTF_CSRF_ENABLED"] = False
    return app


@pytest.fixture
def admin_id(app: Flask) -> int:
    with app.app_context():
        return make_user(ADMIN_EMAIL, "admin").id


@pytest.fixture
def staff_id(app: Flask) -> int:
    with app.app_context():
        return make_user(STAFF_EMAIL, "staff").id


@pytest.fixture
def admin_client(app: Flask, admin_id: int, csrf_off: Flask) -> FlaskClient:
    return sign_in(app, app.test_client(), admin_id)


@pytest.fixture
def staff_client(app: Flask, staff_id: int) -> FlaskClient:
    return sign_in(app, app.test_client(), staff_id)


def acknowledged_issue(app: Flask, sim, **fields) -> tuple[int, dict]:
    """A CRM issue pushed to the Cartegraph simulator and acknowledged, its
    record polled once (so Crosswalk has seen its fields); (issue id, record)."""
    issue_id = sim.create_issue(**fields)["id"]
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)
        link = link_of(issue_id)
        assert link.state == SyncState.ACKNOWLEDGED
        remote_poll.poll_integration(link.integration_id)
    [record] = [r for r in sim.cg_records() if r["SeeClickFixIDField"] == str(issue_id)]
    return issue_id, record


def poll(app: Flask) -> remote_poll.RemotePollReport:
    with app.app_context():
        integration_id = db.session.execute(db.select(SyncLink.integration_id)).scalars().first()
        return remote_poll.poll_integration(integration_id)


def crm_comments(sim, issue_id: int) -> list[str]:
    return [c["comment"] for c in sim.scf_issue(issue_id)["comments"]]


def writes(sim, system: str) -> list[dict]:
    """The requests that could change a simulator's data."""
    return [c for c in sim.calls(system) if c.get("method") not in ("GET", "HEAD")]


Within = Callable[..., object]
