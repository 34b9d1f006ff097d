"""Flask-Login sessions: who is signed in, and when a session stops counting.

A session names the user's id and a fingerprint of their password hash
(keyed with ``SECRET_KEY``): changing a password ends every other session of
that user, and disabling a user ends theirs at the next request. The cookie
session is signed, not stored server-side, so this is how a session is
revoked.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from flask import current_app, flash, jsonify, redirect, request, session, url_for
from flask_login import LoginManager, login_user, logout_user
from werkzeug.wrappers import Response

from ..extensions import db
from ..models import User

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to see this page."
login_manager.login_message_category = "info"

FINGERPRINT = "crosswalk_fp"


def fingerprint(user: User) -> str:
    key = str(current_app.secret_key).encode()
    return hmac.new(key, user.password_hash.encode(), hashlib.sha256).hexdigest()[:32]


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active:
        return None
    if not hmac.compare_digest(str(session.get(FINGERPRINT, "")), fingerprint(user)):
        return None  # the password changed since this session signed in
    return user


def wants_json() -> bool:
    """A program (fetch, curl with Accept: application/json) rather than a page."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


@login_manager.unauthorized_handler
def unauthorized() -> Response | tuple[Response, int]:
    """Pages go to the sign-in form (back here afterwards, for a GET); programs
    get a 401 they can read."""
    if wants_json():
        return jsonify(error="sign in required"), 401
    flash(login_manager.login_message, login_manager.login_message_category)
    next_path = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("auth.login", next=next_path))


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this host ("/issues?state=failed"), else
    None: never another host ("//evil.example", "https://…", "/\\evil")."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def sign_in(user: User) -> None:
    """Start a session for ``user``: a fresh one (nothing of an earlier visitor's
    session carries over), permanent so that it ends after
    ``PERMANENT_SESSION_LIFETIME`` without a request."""
    session.clear()
    login_user(user)
    session[FINGERPRINT] = fingerprint(user)
    session.permanent = True


def sign_out() -> None:
    logout_user()
    session.clear()
