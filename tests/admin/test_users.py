"""Users in the console: add (role, password of 12 or more), change role,
disable and enable; every change audited; nobody locks themselves out."""

from __future__ import annotations

from webapp.extensions import db
from webapp.models import AuditEntry, User


def user(app, email: str) -> User:
    with app.app_context():
        found = db.session.execute(db.select(User).where(User.email == email)).scalar_one()
        db.session.expunge(found)
        return found


def actions(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(db.select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [(e.action, e.target) for e in rows]


def test_add_change_role_disable_enable(app, admin_client):
    response = admin_client.post(
        "/admin/users/add",
        data={"email": "Bo.Crew@Example.gov", "role": "staff", "password": "twelve chars"},
    )
    assert response.status_code == 302
    bo = user(app, "bo.crew@example.gov")
    assert (bo.role, bo.active) == ("staff", True)
    assert "bo.crew@example.gov" in admin_client.get("/admin/users/").text

    assert (
        admin_client.post(f"/admin/users/{bo.id}/role", data={"role": "admin"}).status_code == 302
    )
    assert user(app, bo.email).role == "admin"
    assert (
        admin_client.post(f"/admin/users/{bo.id}/active", data={"active": "0"}).status_code == 302
    )
    assert user(app, bo.email).active is False
    admin_client.post(f"/admin/users/{bo.id}/active", data={"active": "1"})
    assert user(app, bo.email).active is True
    assert actions(app) == [
        ("user.add", "user bo.crew@example.gov"),
        ("user.role", "user bo.crew@example.gov"),
        ("user.disable", "user bo.crew@example.gov"),
        ("user.enable", "user bo.crew@example.gov"),
    ]
    with app.app_context():
        entry = db.session.execute(
            db.select(AuditEntry).where(AuditEntry.action == "user.add")
        ).scalar_one()
        assert "password" not in str(entry.after)


def test_a_short_password_or_a_bad_email_is_refused(app, admin_client):
    for form, message in (
        ({"email": "x@example.gov", "role": "staff", "password": "short"}, "at least 12"),
        ({"email": "not-an-email", "role": "staff", "password": "long enough pw"}, "not an email"),
        ({"email": "y@example.gov", "role": "owner", "password": "long enough pw"}, "the role"),
    ):
        response = admin_client.post("/admin/users/add", data=form)
        assert response.status_code == 400
        assert message in response.text
    with app.app_context():
        assert db.session.execute(db.select(db.func.count(User.id))).scalar() == 1
    assert actions(app) == []


def test_an_admin_cannot_demote_or_disable_themselves(app, admin_client, admin_id):
    assert (
        admin_client.post(f"/admin/users/{admin_id}/role", data={"role": "staff"}).status_code
        == 403
    )
    assert (
        admin_client.post(f"/admin/users/{admin_id}/active", data={"active": "0"}).status_code
        == 403
    )
    with app.app_context():
        me = db.session.get(User, admin_id)
        assert (me.role, me.active) == ("admin", True)
