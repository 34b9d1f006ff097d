"""``POST /webhooks/seeclickfix``: signed CRM events, answered 202 once stored."""

from flask import Blueprint, jsonify, request

from ...sync import engine, vendors, webhook

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/seeclickfix")
def seeclickfix():
    body = request.get_data(cache=False)
    try:
        result = engine.receive_webhook(
            body,
            request.headers.get("X-Crosswalk-Timestamp"),
            request.headers.get("X-Crosswalk-Signature"),
        )
    except vendors.NotConfiguredError as exc:
        return jsonify(error=str(exc)), 503
    except webhook.WebhookRejected as exc:
        payload = {"error": exc.message}
        if exc.field:
            payload["field"] = exc.field
        return jsonify(payload), exc.status
    return jsonify(issue_id=result.issue_id, event=result.event, enqueued=result.enqueued), 202
