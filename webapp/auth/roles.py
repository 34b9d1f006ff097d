"""Roles: ``staff`` see everything and may retry a link and run a periodic job
now; ``admin`` also edits rules, messages, categories, the boundary and users.

Every endpoint already requires sign-in unless it is on the public list
(``webapp.auth.PUBLIC_ENDPOINTS``), so ``staff_required`` only documents a
view's intent; ``admin_required`` is the one that changes who gets in.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user

from .login import login_manager

F = TypeVar("F", bound=Callable[..., Any])


def is_admin() -> bool:
    """The signed-in user is an admin (False when nobody is signed in)."""
    return bool(current_user.is_authenticated and current_user.is_admin)


def staff_required(view: F) -> F:
    """Any signed-in, active user (staff or admin); else the sign-in page."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def admin_required(view: F) -> F:
    """Admins only: the sign-in page for nobody, 403 for signed-in staff."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_admin:
            abort(403, "This page is for admins. You are signed in as staff.")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
