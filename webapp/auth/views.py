"""``/login`` and ``/logout``."""

from __future__ import annotations

import logging

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from . import throttle, users
from .login import safe_next, sign_in, sign_out

log = logging.getLogger("crosswalk.auth")

bp = Blueprint("auth", __name__)

# One answer for an unknown email, a wrong password and a disabled account:
# the page must not tell a guesser which accounts exist.
SIGN_IN_FAILED = "Wrong email or password."


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(max=users.MAX_PASSWORD_LENGTH)]
    )


def _client_address() -> str:
    return request.remote_addr or "unknown"


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_path = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_path or url_for("dashboard.index"))
    form = SignInForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("auth/login.html", form=form, next=next_path), status

    email = users.normalise_email(form.email.data)
    address = _client_address()
    limits = throttle.limits()
    if limits.blocked(email, address):
        log.warning("sign-in refused (too many failures) for %r from %s", email, address)
        error = (
            "Too many failed sign-ins for this account or from this address. "
            f"Try again in {limits.retry_after_minutes()} minutes."
        )
        return render_template("auth/login.html", form=form, next=next_path, error=error), 429
    user = users.authenticate(email, form.password.data)
    if user is None:
        limits.failed(email, address)
        log.warning("sign-in failed for %r from %s", email, address)
        return render_template(
            "auth/login.html", form=form, next=next_path, error=SIGN_IN_FAILED
        ), 200
    limits.succeeded(email)
    sign_in(user)
    users.record_sign_in(user)
    log.info("signed in: %s (%s) from %s", user.email, user.role, address)
    return redirect(next_path or url_for("dashboard.index"))


@bp.post("/logout")
def logout():
    # The token is checked by CSRFProtect: another site cannot sign staff out.
    if current_user.is_authenticated:
        log.info("signed out: %s", current_user.email)
    sign_out()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
