"""Signed webhooks from the CRM side: verify, validate, ingest.

Signature: ``X-Crosswalk-Signature: sha256=<hex HMAC-SHA256 of
"{timestamp}.{raw body}">`` keyed with the CRM webhook secret, and
``X-Crosswalk-Timestamp`` within the tolerance of our clock (replays of old
bodies are refused). Nothing is written unless every check passes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, replace
from typing import Any

from integrations.seeclickfix import IssueFormatError, parse_issue
from integrations.seeclickfix.issues import parse_comment

from . import ingest

EVENTS = ("issue.created", "issue.updated", "comment.created")


class WebhookRejected(Exception):
    """``status`` is the HTTP status to answer; ``field`` names the bad field."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    tolerance: int,
    now: float | None = None,
) -> None:
    if not timestamp:
        raise WebhookRejected(401, "missing X-Crosswalk-Timestamp header")
    if not signature:
        raise WebhookRejected(401, "missing X-Crosswalk-Signature header")
    try:
        sent = int(timestamp)
    except ValueError:
        raise WebhookRejected(401, "X-Crosswalk-Timestamp is not unix seconds") from None
    skew = abs((time.time() if now is None else now) - sent)
    if skew > tolerance:
        raise WebhookRejected(
            401, f"timestamp is {skew:.0f} s away from our clock (limit {tolerance} s)"
        )
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        raise WebhookRejected(401, "signature does not match")


@dataclass
class WebhookResult:
    issue_id: int
    event: str
    enqueued: int


def parse_body(body: bytes) -> tuple[str, Any, Any]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookRejected(400, f"malformed JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "body must be a JSON object")
    event = payload.get("event")
    if event not in EVENTS:
        raise WebhookRejected(400, f"event must be one of {', '.join(EVENTS)}", "event")
    if "issue" not in payload:
        raise WebhookRejected(400, "issue is required", "issue")
    try:
        issue = parse_issue(payload["issue"])
    except IssueFormatError as exc:
        raise WebhookRejected(400, f"issue.{exc}", f"issue.{exc.field}") from None
    comment = None
    if event == "comment.created":
        if "comment" not in payload:
            raise WebhookRejected(400, "comment is required for comment.created", "comment")
        try:
            comment = parse_comment(payload["comment"])
        except IssueFormatError as exc:
            raise WebhookRejected(400, str(exc), exc.field) from None
    return event, issue, comment


def handle(
    body: bytes, timestamp: str | None, signature: str | None, *, secret: str | None, tolerance: int
) -> WebhookResult:
    if not secret:
        raise WebhookRejected(
            503, "webhooks are not configured: set crm.webhook_secret_env and that variable"
        )
    verify(secret, timestamp, signature, body, tolerance=tolerance)
    event, issue, comment = parse_body(body)
    if comment is not None:
        known = issue.comments or ()
        if all(c.id != comment.id for c in known):
            issue = replace(issue, comments=(*known, comment))
    result = ingest.receive(issue, source="webhook")
    return WebhookResult(issue.id, event, result.enqueued)
