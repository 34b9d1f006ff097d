"""Error pages that tell staff what to do, not just that something broke.

The page never shows the driver's message: it names the database host, port,
database and user (and sometimes a password in the URL). The detail goes to
the log; the page gives a reason in general terms and the command to run.
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from werkzeug.exceptions import HTTPException, InternalServerError

from ..auth.login import wants_json

_NO_TABLES = "The database does not have the Crosswalk tables yet, or they are out of date."
_UNREACHABLE = "The database server could not be reached, or refused the connection."


def _reason(exc: DBAPIError) -> str:
    """What the error means, in words that name nothing of the server.
    (SQLite reports a missing table as an OperationalError, PostgreSQL as a
    ProgrammingError.)"""
    detail = str(exc.orig).lower()
    if isinstance(exc, ProgrammingError) or "no such table" in detail or "no such column" in detail:
        return _NO_TABLES
    return _UNREACHABLE


# Programs read these paths: their errors are JSON, never an HTML page.
_API_PREFIXES = ("/open311/", "/webhooks/")

_TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    413: "Request too large",
    429: "Too many requests",
    500: "Something went wrong",
}


def _wants_json() -> bool:
    return request.path.startswith(_API_PREFIXES) or wants_json()


def _page(status: int, message: str):
    if _wants_json():
        return jsonify(error=message, status=status), status
    title = _TITLES.get(status, f"Error {status}")
    return render_template("errors/refused.html", title=title, message=message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(OperationalError)
    @app.errorhandler(ProgrammingError)
    def database_unavailable(exc: DBAPIError):
        app.logger.exception("database error on %s", request.path)
        if _wants_json():
            return _page(503, "the database is unavailable; the details are in the server log")
        return render_template("errors/database.html", reason=_reason(exc)), 503

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        """Flask's unstyled defaults replaced: the site's layout and navigation
        for people, JSON for programs (Open311, the webhook, Accept: JSON)."""
        if exc.code is None or exc.code < 400:
            return exc
        return _page(exc.code, exc.description or exc.name)

    @app.errorhandler(InternalServerError)
    def server_error(exc: InternalServerError):
        # The original exception is logged by Flask; the page names nothing of it.
        return _page(
            500,
            "Crosswalk could not finish this request. The details are in the web app's "
            "log; nothing was half-written (each change is one transaction).",
        )
