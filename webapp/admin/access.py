"""Who may open the console: admins only. Nobody signed in goes to the
sign-in page (and back here afterwards); signed-in staff get a 403."""

from __future__ import annotations

from typing import Any

from flask import abort
from flask_admin import AdminIndexView, BaseView
from flask_login import current_user

from ..auth import current_actor
from ..auth.login import login_manager
from ..auth.roles import is_admin
from ..sync.audit import Actor
from ..sync.engine import EditNotFoundError

ADMINS_ONLY = "This page is for admins. You are signed in as staff."


class AdminOnly:
    """Mixed into every console view (Flask-Admin asks before each request)."""

    def is_accessible(self) -> bool:
        return is_admin()

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        abort(403, ADMINS_ONLY)

    def _run_view(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        # A rule, category or integration that is not there is a 404, not a 500.
        try:
            return super()._run_view(fn, *args, **kwargs)  # type: ignore[misc]
        except EditNotFoundError as exc:
            abort(404, str(exc))


class AdminView(AdminOnly, BaseView):
    """A console page of Crosswalk's own (not a generic model list)."""


class AdminHomeView(AdminOnly, AdminIndexView):
    pass


def actor() -> Actor:
    """The signed-in admin, as the audit log names them."""
    return current_actor()
