"""Users: who may sign in, and as what. Adding, disabling and enabling go
through ``webapp.auth.users`` (the functions ``crosswalk users`` uses, each
writing its audit entry); an admin cannot lock themselves out here."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user

from ..auth import users
from ..extensions import db
from ..models import User
from ..sync import audit
from .access import AdminView, actor
from .forms import ButtonForm, UserAddForm, UserRoleForm


def change_role(user: User, role: str, *, by: audit.Actor) -> User:
    """A new role, with its audit entry in the same commit.
    (TODO for the lead: move beside ``create_user`` in webapp/auth/users.py.)"""
    users.check_role(role)
    if user.role != role:
        audit.record(
            by, "user.role", f"user {user.email}", before={"role": user.role}, after={"role": role}
        )
        user.role = role
        db.session.commit()
    return user


class UsersView(AdminView):
    def _page(self, add: UserAddForm | None = None, error: str | None = None, status: int = 200):
        return self.render(
            "admin/crosswalk/users.html",
            users=users.list_users(),
            add=add or UserAddForm(formdata=None),
            role_form=UserRoleForm,
            button=ButtonForm(formdata=None),
            error=error,
        ), status

    @expose("/")
    def index(self) -> Any:
        return self._page()

    @expose("/add", methods=("POST",))
    def add(self) -> Any:
        form = UserAddForm()
        form.validate()
        if form.errors:
            return self._page(form, "; ".join(e for es in form.errors.values() for e in es), 400)
        try:
            user = users.create_user(
                form.email.data or "", form.password.data or "", form.role.data, actor=actor()
            )
        except users.UserError as exc:
            return self._page(form, str(exc), 400)
        flash(f"User {user.email} added as {user.role}.", "success")
        return redirect(url_for(".index"))

    def _other_user(self, user_id: int) -> User:
        user = db.session.get(User, user_id)
        if user is None:
            abort(404, f"user {user_id} does not exist")
        if user.id == current_user.id:
            # Nobody demotes or disables themselves: another admin must.
            abort(403, "You cannot change your own role or disable yourself; ask another admin.")
        return user

    @expose("/<int:user_id>/role", methods=("POST",))
    def role(self, user_id: int) -> Any:
        user = self._other_user(user_id)
        form = UserRoleForm()
        form.validate()
        try:
            change_role(user, form.role.data, by=actor())
        except users.UserError as exc:
            return self._page(error=str(exc), status=400)
        flash(f"{user.email} is now {user.role}.", "success")
        return redirect(url_for(".index"))

    @expose("/<int:user_id>/active", methods=("POST",))
    def active(self, user_id: int) -> Any:
        user = self._other_user(user_id)
        ButtonForm().validate()
        if request.form.get("active") == "1":
            users.enable_user(user.email, actor=actor())
            flash(f"{user.email} may sign in again.", "success")
        else:
            users.disable_user(user.email, actor=actor())
            flash(f"{user.email} is disabled: their sessions end now.", "success")
        return redirect(url_for(".index"))
