"""``POST /webhooks/seeclickfix``: signed CRM events, answered 202 once stored.

Every answer is JSON, refusals and failures included: the sender is a
program, and an HTML error page (or a traceback) tells it nothing.
"""

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from ...extensions import db
from ...sync import engine, vendors, webhook

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def _error(status: int, message: str, field: str | None = None) -> tuple[Response, int]:
    payload = {"error": message}
    if field:
        payload["field"] = field
    return jsonify(payload), status


def _too_large(limit: int) -> tuple[Response, int]:
    return _error(413, f"body larger than {limit} bytes")


def _read_at_most(limit: int) -> bytes | None:
    """The body, or None once it passes ``limit`` bytes: a chunked body has no
    Content-Length to judge first, so it is read no further than the limit.
    (werkzeug's own limit cuts such a body short silently.)"""
    chunks: list[bytes] = []
    size = 0
    while chunk := request.stream.read(min(1 << 16, limit + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None
    return b"".join(chunks)


@bp.post("/seeclickfix")
def seeclickfix():
    # The size is judged before a byte of the body is read: an unsigned 100 MB
    # POST must not cost 100 MB.
    limit = current_app.config["CROSSWALK_WEBHOOK_MAX_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        return _too_large(limit)
    body = _read_at_most(limit)
    if body is None:
        return _too_large(limit)
    try:
        result = engine.receive_webhook(
            body,
            request.headers.get("X-Crosswalk-Timestamp"),
            request.headers.get("X-Crosswalk-Signature"),
            request.headers.get(webhook.DELIVERY_HEADER),
        )
    except vendors.NotConfiguredError as exc:
        return _error(503, str(exc))
    except webhook.WebhookRejected as exc:
        return _error(exc.status, exc.message, exc.field)
    if result.replay:
        return jsonify(issue_id=result.issue_id, event=result.event, replay=True), 200
    return jsonify(issue_id=result.issue_id, event=result.event, enqueued=result.enqueued), 202


@bp.errorhandler(SQLAlchemyError)
def database_error(exc: SQLAlchemyError) -> tuple[Response, int]:
    db.session.rollback()
    current_app.logger.exception("webhook: database error")
    return _error(503, "database error (logged); send the event again later")


@bp.errorhandler(Exception)
def unexpected(exc: Exception) -> tuple[Response, int]:
    """HTTP errors (405, 413...) and anything unforeseen, as JSON (logged, not shown)."""
    if isinstance(exc, HTTPException):
        return _error(exc.code or 500, exc.description or exc.name)
    db.session.rollback()
    current_app.logger.exception("webhook: unexpected error")
    return _error(500, "internal error (logged)")
