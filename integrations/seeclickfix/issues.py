"""SeeClickFix issue JSON → plain data the engine stores.

The same parser reads poll replies and webhook bodies, so a malformed
webhook is refused with the same field names the poll would complain about.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ..http import VendorFormatError

STATUSES = ("Open", "Acknowledged", "Closed", "Archived")
# Issue, request type and comment ids are stored in 32-bit integer columns
# (PostgreSQL INTEGER): a larger id cannot be stored, so it is refused here,
# where the poll records it as a malformed issue and the webhook answers 400.
MAX_ID = 2**31 - 1
# An updated_at further ahead of our clock than this is not believed (see
# ``_believable_update``); a day covers any honest clock difference.
MAX_CLOCK_AHEAD = timedelta(days=1)


class IssueFormatError(VendorFormatError, ValueError):
    """The issue JSON is missing a field or has one of the wrong type.

    A ``VendorFormatError`` like every reply the vendor's API does not
    document, so whatever catches integration errors (the CLI's one-line
    reasons, the dashboard) catches it too; still a ``ValueError`` for the
    callers that parse and catch that."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


# The path of the picture SeeClickFix shows for an issue (or comment) without
# a photo (``media.representative_image_url``), on whichever host serves it.
PLACEHOLDER_IMAGE_PATH = "/files/default_image.png"
# A comment key made from a digest starts with a letter, so it can never equal
# the key of a comment with an id (``str(id)``: digits only).
DIGEST_KEY_PREFIX = "h"
DIGEST_KEY_LENGTH = 24  # hex digits: 96 bits, plenty within one issue


@dataclass(frozen=True)
class CrmComment:
    # The CRM's id: documented comment objects carry none, a server may send one.
    id: int | None
    body: str
    author: str | None
    author_role: str | None
    created_at: datetime | None
    image_url: str | None
    author_id: int | None = None  # ``commenter.id``: stable across display-name changes
    # The comment's identity within its issue (``comment_key``): what ingest
    # de-duplicates on and the marker of the note sent to the remote system.
    key: str = ""


def comment_key(
    comment_id: int | None,
    created_at: datetime | None,
    author_id: int | None,
    author: str | None,
    body: str,
) -> str:
    """A comment's identity within its issue, from what the CRM documents.

    ``str(id)`` when the CRM sends an id (the marker already written on remote
    records for such comments). Otherwise a digest of when (in UTC, so the
    same instant in another offset is the same comment), who (the commenter's
    id, else their name) and what (the text): the documented comment objects
    have no id. The commenter's id keeps the key stable when a display name
    changes; an edited text is a new comment.
    """
    if comment_id is not None:
        return str(comment_id)
    when = created_at.astimezone(UTC).isoformat() if created_at is not None else ""
    who = f"id:{author_id}" if author_id is not None else f"name:{author or ''}"
    material = "\x1f".join((when, who, body)).encode("utf-8", "surrogatepass")
    return DIGEST_KEY_PREFIX + hashlib.sha256(material).hexdigest()[:DIGEST_KEY_LENGTH]


@dataclass(frozen=True)
class CrmQuestion:
    question: str
    answer: str
    key: str | None = None


@dataclass(frozen=True)
class CrmIssue:
    id: int
    status: str
    summary: str
    description: str
    lat: float | None
    lng: float | None
    address: str | None
    request_type_id: int | None
    request_type_title: str | None
    reporter_name: str | None
    reporter_email: str | None
    image_url: str | None
    html_url: str | None
    created_at: datetime | None
    updated_at: datetime | None
    private: bool | None = None  # ``private_visibility``; None when not sent
    acknowledged_at: datetime | None = None
    closed_at: datetime | None = None
    reopened_at: datetime | None = None
    questions: tuple[CrmQuestion, ...] = ()
    comments: tuple[CrmComment, ...] | None = None  # None: the reply did not carry them
    # What the parser set aside rather than refuse the issue for (a far-future
    # updated_at): ingest writes them on the issue's timeline as a warning.
    notes: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


def _flag(data: dict[str, Any], name: str) -> bool | None:
    """A documented boolean; None when absent or not a boolean."""
    value = data.get(name)
    return value if isinstance(value, bool) else None


def parse_time(value: Any, field_name: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise IssueFormatError(field_name, "must be an ISO 8601 time string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise IssueFormatError(field_name, f"not an ISO 8601 time: {_shown(value)}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        # In UTC now: the database stores UTC, and 9999-12-31T23:00-05:00 has no
        # UTC time (year 10000), which would fail only when the row is written.
        return parsed.astimezone(UTC)
    except OverflowError:
        raise IssueFormatError(field_name, f"out of range in UTC: {_shown(value)}") from None


def _shown(value: Any, limit: int = 60) -> str:
    """``repr`` of a bad value, cut short: an error message must stay one line."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _int(data: dict, key: str, *, required: bool = False, prefix: str = "") -> int | None:
    value = data.get(key)
    name = f"{prefix}{key}"
    if value is None:
        if required:
            raise IssueFormatError(name, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise IssueFormatError(name, "must be an integer")
    try:
        return int(value)
    except ValueError:
        raise IssueFormatError(name, f"must be an integer, got {_shown(value)}") from None


def _id(data: dict, key: str, *, required: bool = False, prefix: str = "") -> int | None:
    """An id: a positive integer that fits the database's 32-bit columns."""
    value = _int(data, key, required=required, prefix=prefix)
    if value is not None and not 0 < value <= MAX_ID:
        raise IssueFormatError(
            f"{prefix}{key}", f"must be a positive integer up to {MAX_ID}, got {_shown(value)}"
        )
    return value


def _float(data: dict, key: str) -> float | None:
    value = data.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise IssueFormatError(key, "must be a number")
    try:
        return float(value)
    except (ValueError, OverflowError):
        raise IssueFormatError(key, f"must be a number, got {_shown(value)}") from None


def _coordinate(data: dict, key: str, limit: float) -> float | None:
    """WGS84 latitude (``limit`` 90) or longitude (180), refused when NaN,
    infinite or out of range: a push could never geocode or project it, and
    would fail for good with the geocoder's words instead of the field's."""
    value = _float(data, key)
    if value is not None and not (math.isfinite(value) and -limit <= value <= limit):
        raise IssueFormatError(
            key, f"must be a number from -{limit:g} to {limit:g}, got {_shown(data.get(key))}"
        )
    return value


def _believable_update(value: datetime | None) -> tuple[datetime | None, tuple[str, ...]]:
    """``updated_at``, or None with a note when it is more than a day ahead of our clock.

    Ingest never lets an older copy win over the stored one, so a stored
    year-9999 time would freeze the issue: no real update could ever apply.
    It is treated as unknown rather than clamped to our clock because the CRM
    poll's cursor follows ``updated_at``: our clock could pass issues the
    CRM, with a slower clock, has yet to show; an unknown time moves nothing.
    """
    now = datetime.now(UTC)
    if value is None or value - now <= MAX_CLOCK_AHEAD:
        return value, ()
    note = (
        f"updated_at {value.isoformat()} is more than a day ahead of our clock "
        f"({now.isoformat(timespec='seconds')}): ignored, so later updates still apply"
    )
    return None, (note,)


def _text(data: dict, key: str, prefix: str = "") -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise IssueFormatError(f"{prefix}{key}", "must be a string")
    return value


def _mapping(data: dict, key: str) -> dict:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise IssueFormatError(key, "must be an object")
    return value


def is_placeholder(url: str) -> bool:
    """SeeClickFix's "no photo" picture (``http://seeclickfix.com/files/default_image.png``),
    recognised by its path on any host and scheme."""
    return urlsplit(url.strip()).path.endswith(PLACEHOLDER_IMAGE_PATH)


def image_of(media: dict) -> str | None:
    """The photo's URL, or None when there is none.

    Documented: a photo-less issue has ``image_full: null`` and a placeholder
    as ``representative_image_url``. So a null ``image_full`` means no photo,
    and the placeholder is never a photo; the other sizes are read only from
    a server that leaves ``image_full`` out altogether."""
    if "image_full" in media and media["image_full"] is None:
        return None
    for key in ("image_full", "representative_image_url", "image_square_100x100"):
        value = media.get(key)
        if isinstance(value, str) and value.strip() and not is_placeholder(value):
            return value
    return None


def parse_comment(data: Any, prefix: str = "comment.") -> CrmComment:
    """One comment object; its ``id`` is optional (the documented objects have none)."""
    if not isinstance(data, dict):
        raise IssueFormatError(prefix.rstrip("."), "must be an object")
    commenter = data.get("commenter") or {}
    if not isinstance(commenter, dict):
        raise IssueFormatError(f"{prefix}commenter", "must be an object")
    media = data.get("media") or {}
    comment_id = _id(data, "id", prefix=prefix)
    body = _text(data, "comment", prefix) or ""
    author = commenter.get("name") if isinstance(commenter.get("name"), str) else None
    author_id = _id(commenter, "id", prefix=f"{prefix}commenter.")
    created_at = parse_time(data.get("created_at"), f"{prefix}created_at")
    return CrmComment(
        id=comment_id,
        body=body,
        author=author,
        author_role=commenter.get("role") if isinstance(commenter.get("role"), str) else None,
        created_at=created_at,
        image_url=image_of(media) if isinstance(media, dict) else None,
        author_id=author_id,
        key=comment_key(comment_id, created_at, author_id, author, body),
    )


def parse_issue(data: Any) -> CrmIssue:
    """Validate and convert one issue object; ``IssueFormatError`` names the field."""
    if not isinstance(data, dict):
        raise IssueFormatError("issue", "must be an object")
    issue_id = _id(data, "id", required=True)
    status = data.get("status")
    if not isinstance(status, str) or status.capitalize() not in STATUSES:
        raise IssueFormatError("status", f"must be one of {', '.join(STATUSES)}")
    request_type = _mapping(data, "request_type")
    reporter = _mapping(data, "reporter")
    questions = []
    raw_questions = data.get("questions")
    raw_questions = [] if raw_questions is None else raw_questions
    if not isinstance(raw_questions, list):
        raise IssueFormatError("questions", "must be a list")
    for i, q in enumerate(raw_questions):
        if not isinstance(q, dict):
            raise IssueFormatError(f"questions[{i}]", "must be an object")
        answer = q.get("answer")
        if isinstance(answer, list):
            answer = ", ".join(str(a) for a in answer)
        questions.append(
            CrmQuestion(
                question=str(q.get("question") or ""),
                answer="" if answer is None else str(answer),
                key=str(q["primary_key"]) if q.get("primary_key") is not None else None,
            )
        )
    comments = None
    if "comments" in data:
        raw_comments = data["comments"]
        if not isinstance(raw_comments, list):
            raise IssueFormatError("comments", "must be a list")
        comments = tuple(parse_comment(c, f"comments[{i}].") for i, c in enumerate(raw_comments))
    updated_at, notes = _believable_update(parse_time(data.get("updated_at"), "updated_at"))
    return CrmIssue(
        id=issue_id,
        status=status.capitalize(),
        summary=_text(data, "summary") or "",
        description=_text(data, "description") or "",
        lat=_coordinate(data, "lat", 90),
        lng=_coordinate(data, "lng", 180),
        address=_text(data, "address"),
        request_type_id=_id(request_type, "id", prefix="request_type."),
        request_type_title=_text(request_type, "title", "request_type."),
        reporter_name=_text(reporter, "name", "reporter."),
        reporter_email=_text(reporter, "email", "reporter."),
        image_url=image_of(_mapping(data, "media")),
        html_url=_text(data, "html_url"),
        private=_flag(data, "private_visibility"),
        created_at=parse_time(data.get("created_at"), "created_at"),
        updated_at=updated_at,
        acknowledged_at=parse_time(data.get("acknowledged_at"), "acknowledged_at"),
        closed_at=parse_time(data.get("closed_at"), "closed_at"),
        reopened_at=parse_time(data.get("reopened_at"), "reopened_at"),
        questions=tuple(questions),
        comments=comments,
        notes=notes,
        raw=data,
    )
