"""Security headers on every response.

The Content-Security-Policy allows no inline script or style: the templates
load ``static/js`` and ``static/css`` only. A page that must carry an inline
block (Flask-Admin's templates have a few) asks for ``csp_nonce()`` — pass it
as ``Admin(csp_nonce_generator=csp_nonce)`` — and only that response's
policy then admits that one nonce.
"""

from __future__ import annotations

import secrets

from flask import Flask, current_app, g, request
from flask_login import current_user
from werkzeug.wrappers import Response

# img-src allows remote images: a CRM issue's photo is a link to the vendor's host.
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data: https: http:",
    "frame-ancestors": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "object-src": "'none'",
}


def csp_nonce() -> str:
    """This response's nonce for an inline ``<script>``/``<style>`` (one per request)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _rendered(policy: dict[str, str]) -> str:
    return "; ".join(f"{name} {value}" for name, value in policy.items())


# Every response without a nonce carries the same policy: rendered once.
_PLAIN_POLICY = _rendered(POLICY)


def content_security_policy(nonce: str | None = None) -> str:
    if not nonce:
        return _PLAIN_POLICY
    policy = dict(POLICY)
    for directive in ("script-src", "style-src"):
        policy[directive] = f"{policy[directive]} 'nonce-{nonce}'"
    return _rendered(policy)


def _set_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(g.get("csp_nonce")))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config.get("CROSSWALK_HTTPS"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    # Pages for a signed-in user hold residents' names and addresses: no
    # shared cache or back-button cache on a kiosk keeps them.
    if request.endpoint != "static" and _signed_in():
        headers.setdefault("Cache-Control", "no-store")
    return response


def _signed_in() -> bool:
    try:
        return bool(current_user.is_authenticated)
    except Exception:  # the database is down: the error page is being sent
        return False


def init_app(app: Flask) -> None:
    app.after_request(_set_headers)
