"""Sign-in, roles and the web app's security: sessions (Flask-Login), CSRF
(Flask-WTF), sign-in rate limits, cookie flags, security headers and the
``crosswalk users`` commands.

Every endpoint requires a signed-in user unless it is in ``PUBLIC_ENDPOINTS``:
a route added later is protected without anyone remembering a decorator.
Admin-only views add ``roles.admin_required``.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import Forbidden
from werkzeug.middleware.proxy_fix import ProxyFix

from ..config import SECRET_KEY_MISSING, MissingSecretKey
from ..extensions import db
from ..models import User
from ..sync.audit import Actor
from . import headers, throttle
from .login import login_manager, wants_json

log = logging.getLogger("crosswalk.auth")

csrf = CSRFProtect()

# Answered without a session. The webhook has its own HMAC signature, Open311
# is public by design, /healthz is for load balancers; everything else
# (dashboard, /check, retry, /admin, whatever comes next) needs sign-in.
PUBLIC_ENDPOINTS = frozenset(
    {
        "static",
        "auth.login",
        "dashboard.healthz",
        "webhooks.seeclickfix",
        "open311.services",
        "open311.service_definition",
    }
)
# Blueprints whose POSTs carry no CSRF token (they are not sent by browsers).
CSRF_EXEMPT_BLUEPRINTS = ("webhooks",)


def current_actor() -> Actor:
    """The signed-in user as the audit log's actor."""
    return Actor.of(current_user._get_current_object())


def _require_sign_in():
    if not current_app.secret_key:
        raise MissingSecretKey(SECRET_KEY_MISSING)
    # No endpoint: a 404 or 405 is answered as it is (it shows no data).
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if current_user.is_authenticated:
        return None
    return login_manager.unauthorized()


def _nav_user() -> dict[str, User | None]:
    """The signed-in user for the navigation, or None. Never raises: the
    database-error page renders this template too, with the database down."""
    try:
        user = current_user._get_current_object()
    except SQLAlchemyError:
        db.session.rollback()
        return {"nav_user": None}
    # None outside a request (a template rendered by a command).
    return {"nav_user": user if user is not None and user.is_authenticated else None}


def _refused(status: int, title: str, message: str):
    if wants_json() or request.blueprint in CSRF_EXEMPT_BLUEPRINTS:
        return jsonify(error=message), status
    return render_template("errors/refused.html", title=title, message=message), status


def _csrf_refused(exc: CSRFError):
    log.warning(
        "refused %s %s from %s: %s (origin %s)",
        request.method,
        request.path,
        request.remote_addr,
        exc.description,
        request.headers.get("Origin") or request.referrer or "-",
    )
    return _refused(
        400,
        "Request refused",
        "This form was not sent from a Crosswalk page, or its security token has expired "
        f"({exc.description}). Go back, reload the page and send it again.",
    )


def _forbidden(exc: Forbidden):
    return _refused(403, "Not allowed", exc.description or "You may not open this page.")


def _cookie_settings(app: Flask) -> None:
    """HttpOnly (no script reads the session), SameSite=Lax (another site's
    form POST arrives without it), Secure when served over HTTPS."""
    https = bool(app.config.get("CROSSWALK_HTTPS"))
    for prefix in ("SESSION_COOKIE", "REMEMBER_COOKIE"):
        app.config[f"{prefix}_HTTPONLY"] = True
        app.config[f"{prefix}_SAMESITE"] = "Lax"
        app.config[f"{prefix}_SECURE"] = https
    # A form token lives as long as the session: a dashboard page left open
    # over lunch still retries (Flask-WTF's default is one hour).
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)


def init_app(app: Flask) -> None:
    from . import cli, views

    if app.config.get("CROSSWALK_PROXIES"):
        hops = app.config["CROSSWALK_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    _cookie_settings(app)
    login_manager.init_app(app)
    # CSRF is checked before sign-in: a cross-site POST is refused as such
    # (400), signed in or not.
    csrf.init_app(app)
    for name in CSRF_EXEMPT_BLUEPRINTS:
        csrf.exempt(app.blueprints[name])
    app.before_request(_require_sign_in)
    app.register_blueprint(views.bp)
    app.register_error_handler(CSRFError, _csrf_refused)
    app.register_error_handler(Forbidden, _forbidden)
    app.context_processor(_nav_user)
    throttle.init_app(app)
    headers.init_app(app)
    app.cli.add_command(cli.users)
