"""Error pages that tell staff what to do, not just that something broke."""

from __future__ import annotations

from flask import Flask, render_template, request
from sqlalchemy.exc import OperationalError, ProgrammingError


def init_app(app: Flask) -> None:
    @app.errorhandler(OperationalError)
    @app.errorhandler(ProgrammingError)
    def database_unavailable(exc: Exception):
        app.logger.exception("database error on %s", request.path)
        return render_template("errors/database.html", error=str(exc.orig)), 503
