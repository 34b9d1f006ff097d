"""Signed webhooks from the CRM side: verify, validate, ingest.

Signature: ``X-Crosswalk-Signature: sha256=<hex HMAC-SHA256 of
"{timestamp}.{raw body}">`` keyed with the CRM webhook secret, and
``X-Crosswalk-Timestamp`` within the tolerance of our clock (replays of old
bodies are refused). Nothing is written unless every check passes: a body
the database could not store as it is (an over-long name, a NUL character)
is refused with the field named, never half-stored or answered with a 500.

An exact replay inside the tolerance (the same signed timestamp and body, or
the same ``X-Crosswalk-Delivery`` id) is recognised through Redis and
answered without being processed again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import time
from dataclasses import dataclass, replace
from typing import Any

import redis
from flask import current_app

from integrations.seeclickfix import CrmComment, CrmIssue, IssueFormatError, parse_issue
from integrations.seeclickfix.issues import parse_comment

from . import ingest

log = logging.getLogger(__name__)

EVENTS = ("issue.created", "issue.updated", "comment.created")
# A sender's own id of a delivery, the same on its retries (optional).
DELIVERY_HEADER = "X-Crosswalk-Delivery"
# An issue body is about five levels deep; far deeper nesting is an attack on
# the parser (a 100k-deep array), refused before anything walks it.
MAX_DEPTH = 32
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")  # ASCII digits only: int() takes any script's
_REPLAY_KEY = "crosswalk:webhook:seen:"


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
) -> int:
    """Check the headers against the body; return the timestamp sent (unix seconds)."""
    if not timestamp:
        raise WebhookRejected(401, "missing X-Crosswalk-Timestamp header")
    if not signature:
        raise WebhookRejected(401, "missing X-Crosswalk-Signature header")
    if not _UNIX_SECONDS.fullmatch(timestamp.strip()):
        raise WebhookRejected(401, "X-Crosswalk-Timestamp is not unix seconds")
    sent = int(timestamp)
    skew = abs((time.time() if now is None else now) - sent)
    if skew > tolerance:
        raise WebhookRejected(
            401, f"timestamp is {skew:.0f} s away from our clock (limit {tolerance} s)"
        )
    # compare_digest refuses non-ASCII text with a TypeError: say what is wrong instead.
    if not signature.isascii():
        raise WebhookRejected(401, "X-Crosswalk-Signature is not ASCII (expected sha256=<hex>)")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        raise WebhookRejected(401, "signature does not match")
    return sent


@dataclass
class WebhookResult:
    issue_id: int
    event: str
    enqueued: int
    replay: bool = False  # already received inside the tolerance: not processed again


def parse_body(body: bytes) -> tuple[str, CrmIssue, CrmComment | None]:
    """The event, the issue and (for ``comment.created``) the comment, each
    checked against what the database can store; ``WebhookRejected`` (400)
    names the first bad field."""
    payload = _decode(body)
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
        # The parser names fields inside the issue; "issue" itself is the object.
        name = "issue" if exc.field == "issue" else f"issue.{exc.field}"
        raise WebhookRejected(400, f"{name}: {exc.problem}", name) from None
    comment = None
    if event == "comment.created":
        if "comment" not in payload:
            raise WebhookRejected(400, "comment is required for comment.created", "comment")
        try:
            comment = parse_comment(payload["comment"])
        except IssueFormatError as exc:
            raise WebhookRejected(400, str(exc), exc.field) from None
    _check_storable(issue, comment)
    return event, issue, comment


def _decode(body: bytes) -> Any:
    try:
        payload = json.loads(body)
    except RecursionError:
        raise WebhookRejected(400, f"JSON nested more than {MAX_DEPTH} levels deep") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookRejected(400, f"malformed JSON: {exc}") from None
    _check_depth(payload)
    return payload


def _check_depth(payload: Any) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH`` (iteratively: no recursion to exhaust)."""
    stack = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise WebhookRejected(400, f"JSON nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


def _check_storable(issue: CrmIssue, comment: CrmComment | None) -> None:
    """Refuse what ingest would have to change to store (it would store the
    poll's copy changed, and say so; a webhook can simply be refused)."""
    misfits = ingest.fit_for_storage(issue, prefix="issue.")[1]
    if comment is not None:
        misfits += ingest.fit_comment(comment, prefix="comment.")[1]
    if misfits:
        first = misfits[0]
        raise WebhookRejected(400, f"{first.field}: {first.problem}", first.field)


# ------------------------------------------------------------------ replays
def _replay_keys(timestamp: str, body: bytes, delivery_id: str | None) -> list[str]:
    """Redis keys naming this delivery: the signed message (an exact replay has
    the same timestamp and body) and the sender's delivery id when it gave one.

    The delivery id is not signed: it alone would let a replay through under
    a new id, so the signed message is always one of the keys."""
    keys = [_REPLAY_KEY + "signed:" + hashlib.sha256(timestamp.encode() + b"." + body).hexdigest()]
    if delivery_id:
        digest = hashlib.sha256(delivery_id.encode("utf-8", "surrogatepass")).hexdigest()
        keys.append(_REPLAY_KEY + "delivery:" + digest)
    return keys


def _claim(keys: list[str], ttl: int) -> list[str] | None:
    """Mark the delivery seen; return the keys this call set (to release them
    if processing fails), or None when it was seen before: a replay.

    ``SET NX EX``: one round trip, atomic, forgotten by Redis when the
    timestamp could no longer pass ``verify``. Without Redis the delivery is
    processed anyway: ingest is idempotent, replay detection only saves work."""
    connection = current_app.task_queue.connection
    try:
        pipeline = connection.pipeline(transaction=False)
        for key in keys:
            pipeline.set(key, 1, nx=True, ex=ttl)
        claimed = pipeline.execute()
    except redis.RedisError as exc:
        log.warning("webhook replay check skipped: Redis is unavailable (%s)", exc)
        return []
    if not all(claimed):
        return None
    return keys


def _release(keys: list[str]) -> None:
    """Forget a delivery that failed, so the sender's retry is processed."""
    if not keys:
        return
    try:
        current_app.task_queue.connection.delete(*keys)
    except redis.RedisError:
        log.warning("could not release the replay keys of a failed webhook", exc_info=True)


def handle(
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    secret: str | None,
    tolerance: int,
    delivery_id: str | None = None,
) -> WebhookResult:
    if not secret:
        raise WebhookRejected(
            503, "webhooks are not configured: set crm.webhook_secret_env and that variable"
        )
    now = time.time()
    sent = verify(secret, timestamp, signature, body, tolerance=tolerance, now=now)
    event, issue, comment = parse_body(body)
    # The timestamp passes verify until sent + tolerance: remember it that long.
    ttl = max(1, math.ceil(sent + tolerance - now))
    keys = _replay_keys(timestamp or "", body, delivery_id)
    claimed = _claim(keys, ttl)
    if claimed is None:
        return WebhookResult(issue.id, event, 0, replay=True)
    if comment is not None:
        known = issue.comments or ()
        if all(c.key != comment.key for c in known):
            issue = replace(issue, comments=(*known, comment))
    try:
        result = ingest.receive(issue, source="webhook")
    except Exception:
        _release(claimed)
        raise
    return WebhookResult(issue.id, event, result.enqueued)
