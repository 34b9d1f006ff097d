"""Error pages that tell staff what to do, not just that something broke.

The page never shows the driver's message: it names the database host, port,
database and user (and sometimes a password in the URL). The detail goes to
the log; the page gives a reason in general terms and the command to run.
"""

from __future__ import annotations

from flask import Flask, render_template, request
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

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


def init_app(app: Flask) -> None:
    @app.errorhandler(OperationalError)
    @app.errorhandler(ProgrammingError)
    def database_unavailable(exc: DBAPIError):
        app.logger.exception("database error on %s", request.path)
        return render_template("errors/database.html", reason=_reason(exc)), 503
