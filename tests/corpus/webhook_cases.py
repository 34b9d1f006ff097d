"""Bad ``POST /webhooks/seeclickfix`` deliveries, as data: each case is a name,
the input (a body, or raw bytes, and header changes) and the answer expected
(status, the field named, words of the error).

Bodies are signed correctly unless a case changes the headers, so each case
proves one refusal. Add a case by adding a line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.conftest import WEBHOOK_SECRET
from webapp.sync.webhook import MAX_DEPTH, sign

# Headers a case sends instead of the correctly signed ones: a function of
# the timestamp and the raw body (None as a value: leave the header out).
HeaderChange = Callable[[str, bytes], dict[str, str | None]]

GOOD_ISSUE: dict[str, Any] = {
    "id": 700001,
    "status": "Open",
    "summary": "Pothole",
    "description": "Deep pothole in the right lane",
    "lat": 41.3083,
    "lng": -72.9279,
    "address": "165 Church St, New Haven",
    "request_type": {"id": 122, "title": "Pothole"},
    "reporter": {"name": "Ada Resident", "email": "ada@example.com"},
    "created_at": "2026-11-30T08:00:00Z",
    "updated_at": "2026-11-30T08:00:00Z",
}
GOOD_COMMENT: dict[str, Any] = {
    "id": 9001,
    "comment": "Still there",
    "commenter": {"name": "Ada", "role": "Resident"},
    "created_at": "2026-11-30T08:01:00Z",
}


@dataclass(frozen=True)
class WebhookCase:
    name: str
    status: int
    field: str | None = None  # the "field" of the JSON answer
    error: str | None = None  # words the "error" of the JSON answer contains
    body: Any = None  # JSON-serialisable body (raw takes precedence)
    raw: bytes | None = None
    headers: HeaderChange | None = None


def issue(event: str = "issue.created", **changes: Any) -> dict[str, Any]:
    """An event whose issue is GOOD_ISSUE with ``changes`` (a None value drops the key)."""
    data = {**GOOD_ISSUE, **changes}
    return {"event": event, "issue": {k: v for k, v in data.items() if v is not None}}


def nested(key: str, **changes: Any) -> dict[str, Any]:
    """GOOD_ISSUE's object ``key`` with ``changes``."""
    return {**GOOD_ISSUE.get(key, {}), **changes}


def commented(**changes: Any) -> dict[str, Any]:
    """A comment.created event whose comment is GOOD_COMMENT with ``changes``."""
    return {**issue("comment.created"), "comment": {**GOOD_COMMENT, **changes}}


def with_comments(*comments: dict[str, Any]) -> dict[str, Any]:
    return issue(comments=list(comments))


# -- header changes ------------------------------------------------------------
def headers(**values: str | None) -> HeaderChange:
    """Send these header values (names with _ for -) instead of the right ones."""
    return lambda ts, body: {k.replace("_", "-"): v for k, v in values.items()}


def signed_at(timestamp: str) -> HeaderChange:
    """A correct signature over another timestamp text."""
    return lambda ts, body: {
        "X-Crosswalk-Timestamp": timestamp,
        "X-Crosswalk-Signature": sign(WEBHOOK_SECRET, timestamp, body),
    }


def shifted(seconds: int) -> HeaderChange:
    """Signed correctly, ``seconds`` away from our clock."""
    return lambda ts, body: signed_at(str(int(ts) + seconds))(ts, body)


def signed_with(secret: str) -> HeaderChange:
    return lambda ts, body: {"X-Crosswalk-Signature": sign(secret, ts, body)}


def signed_over(other: bytes) -> HeaderChange:
    """The signature of another body."""
    return lambda ts, body: {"X-Crosswalk-Signature": sign(WEBHOOK_SECRET, ts, other)}


LONG = "x" * 320
NUL = "pot\x00hole"
LONE_HIGH = "pot\ud800hole"
LONE_LOW = "pot\udc00hole"
MAX_INT = 2**31 - 1


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def _too_deep_issue() -> dict[str, Any]:
    answer: Any = "deep"
    for _ in range(MAX_DEPTH):
        answer = [answer]
    return issue(questions=[{"question": "How deep?", "answer": answer}])


WEBHOOK_CASES: list[WebhookCase] = [
    # -- signature and timestamp: 401 ---------------------------------------------------
    WebhookCase(
        "no timestamp header",
        401,
        error="X-Crosswalk-Timestamp",
        headers=headers(X_Crosswalk_Timestamp=None),
    ),
    WebhookCase(
        "no signature header",
        401,
        error="X-Crosswalk-Signature",
        headers=headers(X_Crosswalk_Signature=None),
    ),
    WebhookCase(
        "no headers at all",
        401,
        headers=headers(X_Crosswalk_Timestamp=None, X_Crosswalk_Signature=None),
    ),
    WebhookCase(
        "signature of zeros",
        401,
        error="does not match",
        headers=headers(X_Crosswalk_Signature="sha256=" + "0" * 64),
    ),
    WebhookCase(
        "signature with the wrong secret",
        401,
        error="does not match",
        headers=signed_with("not-the-secret"),
    ),
    WebhookCase(
        "signature of another body", 401, error="does not match", headers=signed_over(b"{}")
    ),
    WebhookCase(
        "signature without its sha256= prefix",
        401,
        error="does not match",
        headers=lambda ts, body: {"X-Crosswalk-Signature": sign(WEBHOOK_SECRET, ts, body)[7:]},
    ),
    WebhookCase(
        "signature in upper case",
        401,
        error="does not match",
        headers=lambda ts, body: {"X-Crosswalk-Signature": sign(WEBHOOK_SECRET, ts, body).upper()},
    ),
    WebhookCase(
        "empty signature hex",
        401,
        error="does not match",
        headers=headers(X_Crosswalk_Signature="sha256="),
    ),
    WebhookCase(
        "non-ASCII signature header",
        401,
        error="not ASCII",
        headers=headers(X_Crosswalk_Signature="sha256=é" + "0" * 63),
    ),
    WebhookCase(
        "non-ASCII signature, the right length",
        401,
        error="not ASCII",
        headers=lambda ts, body: {
            "X-Crosswalk-Signature": sign(WEBHOOK_SECRET, ts, body)[:-1] + "ÿ"
        },
    ),
    WebhookCase("stale timestamp", 401, error="away from our clock", headers=shifted(-301)),
    WebhookCase("future timestamp", 401, error="away from our clock", headers=shifted(301)),
    WebhookCase("timestamp a day old", 401, error="away from our clock", headers=shifted(-86400)),
    WebhookCase("timestamp in words", 401, error="unix seconds", headers=signed_at("yesterday")),
    WebhookCase(
        "timestamp in Arabic-Indic digits",
        401,
        error="unix seconds",
        headers=signed_at("١٧٠٠٠٠٠٠٠٠"),
    ),
    WebhookCase(
        "timestamp of 5000 digits", 401, error="unix seconds", headers=signed_at("9" * 5000)
    ),
    WebhookCase("negative timestamp", 401, error="unix seconds", headers=signed_at("-5")),
    WebhookCase(
        "timestamp with a fraction", 401, error="unix seconds", headers=signed_at("1800000000.5")
    ),
    WebhookCase(
        "timestamp in hexadecimal", 401, error="unix seconds", headers=signed_at("0x6b49d200")
    ),
    WebhookCase(
        "timestamp with underscores", 401, error="unix seconds", headers=signed_at("1_800_000_000")
    ),
    # -- the body as JSON: 400 ---------------------------------------------------------
    WebhookCase("malformed JSON", 400, error="malformed JSON", raw=b'{"event": "issue.created", '),
    WebhookCase("empty body", 400, error="malformed JSON", raw=b""),
    WebhookCase("invalid UTF-8", 400, error="malformed JSON", raw=b'{"event": "\xff\xfe"}'),
    WebhookCase(
        "raw NUL byte in a string",
        400,
        error="malformed JSON",
        raw=b'{"event": "issue.created\x00"}',
    ),
    WebhookCase("body is a list", 400, error="JSON object", body=[GOOD_ISSUE]),
    WebhookCase("body is a string", 400, error="JSON object", body="issue.created"),
    WebhookCase("body is null", 400, error="JSON object", body=None, raw=b"null"),
    WebhookCase("body is NaN", 400, error="JSON object", raw=b"NaN"),
    WebhookCase("100,000-deep JSON array", 400, error="nested more than", raw=_deep(100_000)),
    WebhookCase(
        "100,000-deep JSON object",
        400,
        error="nested more than",
        raw=b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    ),
    WebhookCase(
        "nesting just past the limit", 400, error="nested more than", body=_too_deep_issue()
    ),
    # -- the event ---------------------------------------------------------------------
    WebhookCase("no event", 400, field="event", body={"issue": GOOD_ISSUE}),
    WebhookCase("unknown event", 400, field="event", body=issue("issue.deleted")),
    WebhookCase("event of the wrong type", 400, field="event", body={**issue(), "event": 1}),
    WebhookCase("event with a NUL", 400, field="event", body=issue("issue.created\x00")),
    WebhookCase("no issue", 400, field="issue", body={"event": "issue.created"}),
    WebhookCase(
        "issue is null", 400, field="issue", body={"event": "issue.created", "issue": None}
    ),
    WebhookCase(
        "issue is a list",
        400,
        field="issue",
        body={"event": "issue.created", "issue": [GOOD_ISSUE]},
    ),
    # -- ids: 32-bit columns -----------------------------------------------------------
    WebhookCase("issue id missing", 400, field="issue.id", body=issue(id=None)),
    WebhookCase("issue id zero", 400, field="issue.id", body=issue(id=0)),
    WebhookCase("issue id negative", 400, field="issue.id", body=issue(id=-5)),
    WebhookCase(
        "issue id 2^31", 400, field="issue.id", error=str(MAX_INT), body=issue(id=MAX_INT + 1)
    ),
    WebhookCase("issue id 2^63", 400, field="issue.id", body=issue(id=2**63)),
    WebhookCase("issue id of 400 digits", 400, field="issue.id", body=issue(id=10**400)),
    WebhookCase(
        "issue id as a long digit string", 400, field="issue.id", body=issue(id="9" * 5000)
    ),
    WebhookCase("issue id a fraction", 400, field="issue.id", body=issue(id=1.5)),
    WebhookCase(
        "issue id in exponent form",
        400,
        field="issue.id",
        raw=json.dumps(issue()).replace('"id": 700001', '"id": 7e5').encode(),
    ),
    WebhookCase("issue id text", 400, field="issue.id", body=issue(id="abc")),
    WebhookCase("issue id true", 400, field="issue.id", body=issue(id=True)),
    WebhookCase("issue id a list", 400, field="issue.id", body=issue(id=[1])),
    WebhookCase(
        "request type id 2^31",
        400,
        field="issue.request_type.id",
        body=issue(request_type=nested("request_type", id=MAX_INT + 1)),
    ),
    WebhookCase(
        "request type id text",
        400,
        field="issue.request_type.id",
        body=issue(request_type=nested("request_type", id="pothole")),
    ),
    WebhookCase(
        "request type id negative",
        400,
        field="issue.request_type.id",
        body=issue(request_type=nested("request_type", id=-122)),
    ),
    # -- status --------------------------------------------------------------------------
    WebhookCase("status missing", 400, field="issue.status", body=issue(status=None)),
    WebhookCase("status unknown", 400, field="issue.status", body=issue(status="Pending")),
    WebhookCase(
        "status longer than its column", 400, field="issue.status", body=issue(status="Open" * 8)
    ),
    WebhookCase("status a number", 400, field="issue.status", body=issue(status=1)),
    WebhookCase("status with a NUL", 400, field="issue.status", body=issue(status="Open\x00")),
    # -- coordinates -------------------------------------------------------------------
    WebhookCase("lat NaN", 400, field="issue.lat", body=issue(lat=float("nan"))),
    WebhookCase("lat 'NaN' as text", 400, field="issue.lat", body=issue(lat="NaN")),
    WebhookCase("lat Infinity", 400, field="issue.lat", body=issue(lat=float("inf"))),
    WebhookCase("lat -Infinity", 400, field="issue.lat", body=issue(lat=float("-inf"))),
    WebhookCase("lat '1e999' (infinite)", 400, field="issue.lat", body=issue(lat="1e999")),
    WebhookCase("lat 91", 400, field="issue.lat", error="-90 to 90", body=issue(lat=91)),
    WebhookCase("lat -90.5", 400, field="issue.lat", body=issue(lat=-90.5)),
    WebhookCase("lng 181", 400, field="issue.lng", error="-180 to 180", body=issue(lng=181)),
    WebhookCase("lng -1e308", 400, field="issue.lng", body=issue(lng=-1e308)),
    WebhookCase("lng NaN", 400, field="issue.lng", body=issue(lng=float("nan"))),
    WebhookCase(
        "lat and lng swapped (lng as lat)", 400, field="issue.lat", body=issue(lat=-172.9, lng=41.3)
    ),
    WebhookCase("lat in words", 400, field="issue.lat", body=issue(lat="north")),
    WebhookCase("lat a list", 400, field="issue.lat", body=issue(lat=[41.3])),
    WebhookCase("lat true", 400, field="issue.lat", body=issue(lat=True)),
    # -- text the database cannot store ----------------------------------------------
    WebhookCase(
        "reporter name of 320 characters",
        400,
        field="issue.reporter.name",
        error="320 characters",
        body=issue(reporter=nested("reporter", name=LONG)),
    ),
    WebhookCase(
        "reporter email of 301 characters",
        400,
        field="issue.reporter.email",
        body=issue(reporter=nested("reporter", email="a" * 289 + "@example.com")),
    ),
    WebhookCase(
        "request type title of 301 characters",
        400,
        field="issue.request_type.title",
        body=issue(request_type=nested("request_type", title="T" * 301)),
    ),
    WebhookCase(
        "reporter name with NUL",
        400,
        field="issue.reporter.name",
        error="NUL",
        body=issue(reporter=nested("reporter", name="Ada\x00")),
    ),
    WebhookCase(
        "summary with NUL", 400, field="issue.summary", error="NUL", body=issue(summary=NUL)
    ),
    WebhookCase(
        "description with NUL", 400, field="issue.description", body=issue(description=NUL)
    ),
    WebhookCase("address with NUL", 400, field="issue.address", body=issue(address=NUL)),
    WebhookCase(
        "html_url with NUL",
        400,
        field="issue.html_url",
        body=issue(html_url="https://seeclickfix.com/issues/1\x00"),
    ),
    WebhookCase(
        "image URL with NUL",
        400,
        field="issue.media",
        body=issue(media={"image_full": "https://img.example/a\x00.jpg"}),
    ),
    WebhookCase(
        "summary with a lone high surrogate",
        400,
        field="issue.summary",
        error="surrogate",
        body=issue(summary=LONE_HIGH),
    ),
    WebhookCase(
        "summary with a lone low surrogate",
        400,
        field="issue.summary",
        body=issue(summary=LONE_LOW),
    ),
    WebhookCase(
        "address with a lone surrogate", 400, field="issue.address", body=issue(address=LONE_HIGH)
    ),
    WebhookCase(
        "reporter name with a lone surrogate",
        400,
        field="issue.reporter.name",
        body=issue(reporter=nested("reporter", name=LONE_LOW)),
    ),
    WebhookCase(
        "request type title with NUL",
        400,
        field="issue.request_type.title",
        body=issue(request_type=nested("request_type", title="Pot\x00hole")),
    ),
    WebhookCase(
        "question answer with NUL",
        400,
        field="issue.questions[0].answer",
        body=issue(questions=[{"question": "Depth?", "answer": NUL}]),
    ),
    WebhookCase(
        "question text with a lone surrogate",
        400,
        field="issue.questions[0].question",
        body=issue(questions=[{"question": LONE_HIGH, "answer": "deep"}]),
    ),
    # -- wrong shapes ------------------------------------------------------------------
    WebhookCase("summary a number", 400, field="issue.summary", body=issue(summary=5)),
    WebhookCase("reporter a string", 400, field="issue.reporter", body=issue(reporter="Ada")),
    WebhookCase(
        "reporter name a number", 400, field="issue.reporter.name", body=issue(reporter={"name": 5})
    ),
    WebhookCase(
        "request type a list", 400, field="issue.request_type", body=issue(request_type=[122])
    ),
    WebhookCase(
        "request type title a list",
        400,
        field="issue.request_type.title",
        body=issue(request_type=nested("request_type", title=["Pothole"])),
    ),
    WebhookCase("media a string", 400, field="issue.media", body=issue(media="photo.jpg")),
    WebhookCase("questions an object", 400, field="issue.questions", body=issue(questions={})),
    WebhookCase(
        "question a string", 400, field="issue.questions[0]", body=issue(questions=["Depth?"])
    ),
    # -- times ---------------------------------------------------------------------------
    WebhookCase(
        "created_at in words", 400, field="issue.created_at", body=issue(created_at="yesterday")
    ),
    WebhookCase(
        "updated_at a number", 400, field="issue.updated_at", body=issue(updated_at=1700000000)
    ),
    WebhookCase(
        "updated_at past year 9999 in UTC",
        400,
        field="issue.updated_at",
        error="out of range",
        body=issue(updated_at="9999-12-31T23:00:00-05:00"),
    ),
    WebhookCase(
        "closed_at before year 1 in UTC",
        400,
        field="issue.closed_at",
        body=issue(closed_at="0001-01-01T00:00:00+05:00"),
    ),
    WebhookCase(
        "acknowledged_at a list",
        400,
        field="issue.acknowledged_at",
        body=issue(acknowledged_at=["2026-11-30T08:00:00Z"]),
    ),
    WebhookCase(
        "reopened_at of year 10000",
        400,
        field="issue.reopened_at",
        body=issue(reopened_at="10000-01-01T00:00:00Z"),
    ),
    # -- comments carried on the issue ---------------------------------------------
    WebhookCase("comments an object", 400, field="issue.comments", body=issue(comments={})),
    # (A comment without an id is the documented shape: accepted, not a case here.)
    WebhookCase(
        "commenter id text",
        400,
        field="issue.comments[0].commenter.id",
        body=with_comments({"comment": "hi", "commenter": {"id": "Ada"}}),
    ),
    WebhookCase(
        "comment id 2^31",
        400,
        field="issue.comments[0].id",
        body=with_comments({**GOOD_COMMENT, "id": MAX_INT + 1}),
    ),
    WebhookCase(
        "second comment's id text",
        400,
        field="issue.comments[1].id",
        body=with_comments(GOOD_COMMENT, {**GOOD_COMMENT, "id": "x"}),
    ),
    WebhookCase(
        "comment text with NUL",
        400,
        field="issue.comments[0].comment",
        body=with_comments({**GOOD_COMMENT, "comment": NUL}),
    ),
    WebhookCase(
        "commenter name of 301 characters",
        400,
        field="issue.comments[0].commenter.name",
        body=with_comments({**GOOD_COMMENT, "commenter": {"name": "N" * 301}}),
    ),
    WebhookCase(
        "commenter role of 101 characters",
        400,
        field="issue.comments[0].commenter.role",
        body=with_comments({**GOOD_COMMENT, "commenter": {"role": "R" * 101}}),
    ),
    WebhookCase(
        "commenter a string",
        400,
        field="issue.comments[0].commenter",
        body=with_comments({**GOOD_COMMENT, "commenter": "Ada"}),
    ),
    WebhookCase(
        "comment created_at in words",
        400,
        field="issue.comments[0].created_at",
        body=with_comments({**GOOD_COMMENT, "created_at": "noon"}),
    ),
    # -- comment.created ---------------------------------------------------------------
    WebhookCase(
        "comment.created without a comment", 400, field="comment", body=issue("comment.created")
    ),
    WebhookCase(
        "comment.created comment a string",
        400,
        field="comment",
        body={**issue("comment.created"), "comment": "hi"},
    ),
    WebhookCase(
        "comment.created commenter id 2^31",
        400,
        field="comment.commenter.id",
        body=commented(id=None, commenter={"id": MAX_INT + 1, "name": "Ada"}),
    ),
    WebhookCase(
        "comment.created comment id 2^31", 400, field="comment.id", body=commented(id=MAX_INT + 1)
    ),
    WebhookCase(
        "comment.created text with NUL", 400, field="comment.comment", body=commented(comment=NUL)
    ),
    WebhookCase(
        "comment.created text with a lone surrogate",
        400,
        field="comment.comment",
        body=commented(comment=LONE_HIGH),
    ),
    WebhookCase(
        "comment.created commenter of 400 characters",
        400,
        field="comment.commenter.name",
        body=commented(commenter={"name": "N" * 400}),
    ),
    WebhookCase(
        "comment.created bad created_at",
        400,
        field="comment.created_at",
        body=commented(created_at="2026-13-45"),
    ),
    WebhookCase(
        "comment.created with a bad issue",
        400,
        field="issue.lat",
        body={**commented(), "issue": {**GOOD_ISSUE, "lat": 999}},
    ),
]
