"""The SeeClickFix simulator's store: issues, comments, request types, people.

Validation raises :class:`~simulators.server.SimulatedError` carrying the
CRM's own 422/404 bodies, so the HTTP layer and the ``/_sim/`` resident
endpoints share one set of rules. Times are whole seconds in the
organization's time zone, rendered ISO 8601 with an explicit offset.

The JSON is the documented shape (vendor-apis.md §6): comments carry no
``id``, answers in issue details are ``{question, answer}`` without the key,
a photo-less issue's media is the ``default_image.png`` placeholder. Fields
a server might add beyond it (comment ids, answer keys) are served only when
a test asks for them (``extra_fields``), to prove clients still take them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from simulators.server import SimulatedError, SimulatorState
from simulators.webhooks import WebhookSender

API_PREFIX = "/api/v2"
STATUS_NAMES = {
    "open": "Open",
    "acknowledged": "Acknowledged",
    "closed": "Closed",
    "archived": "Archived",
}
DEFAULT_STATUSES = ("open", "acknowledged", "closed")
ACTION_STATUS = {"acknowledge": "Acknowledged", "close": "Closed", "open": "Open"}
RESIDENT_ROLE = "Registered User"
# Id ranges look like production ids and differ per kind, so a client that
# mixes up an issue id with a comment id fails loudly.
FIRST_ISSUE_ID = 14_100_001
FIRST_COMMENT_ID = 52_000_001
FIRST_PERSON_ID = 800_001
OFFICIAL_ID = 700_001
# What SeeClickFix shows for a missing photo (documented, vendor-apis.md §6).
PLACEHOLDER_IMAGE = "http://seeclickfix.com/files/default_image.png"
DEFAULT_AVATAR = "http://seeclickfix.com/files/default_avatar.png"
# Undocumented fields a test may switch on (``/_sim/extra_fields``).
EXTRA_FIELDS = ("comment_ids", "question_keys")


def scf_error(status: int, field_name: str, message: str) -> SimulatedError:
    return SimulatedError(status, {"errors": {field_name: [message]}})


def not_found() -> SimulatedError:
    return scf_error(404, "base", "Not Found")


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    email: str | None
    role: str

    def reporter_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email, "role": self.role}

    def commenter_json(self) -> dict[str, Any]:
        avatar = {"full": DEFAULT_AVATAR, "square_100x100": DEFAULT_AVATAR}
        return {"id": self.id, "name": self.name, "role": self.role, "avatar": avatar}


@dataclass
class Question:
    primary_key: str
    question: str
    question_type: str = "text"
    answer_kept_private: bool = False
    response_required: bool = False
    select_values: list[dict[str, str]] = field(default_factory=list)
    # Configured in the CRM's admin screens, not part of the API's question
    # JSON; kept so seed data can tell the demo which answer feeds which field.
    integration_key: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "primary_key": self.primary_key,
            "question": self.question,
            "question_type": self.question_type,
            "answer_kept_private": self.answer_kept_private,
            "response_required": self.response_required,
            "select_values": self.select_values,
        }


@dataclass
class RequestType:
    id: int
    title: str
    questions: list[Question] = field(default_factory=list)
    # An admin marked the request category Private (seed 003): its issues are
    # created with ``private_visibility`` true, whoever reports them.
    private: bool = False


@dataclass
class Comment:
    id: int
    comment: str
    commenter: Person
    created_at: datetime
    image_url: str | None = None


@dataclass
class Issue:
    id: int
    request_type_id: int
    status: str
    summary: str
    description: str
    lat: float
    lng: float
    address: str | None
    reporter: Person
    created_at: datetime
    updated_at: datetime
    answers: dict[str, str] = field(default_factory=dict)
    # Each answered question's text when it was answered: the issue keeps it
    # when an admin later renames or removes the question.
    question_texts: dict[str, str] = field(default_factory=dict)
    image_url: str | None = None
    private_visibility: bool = False
    # Created through the API while moderation was on: invisible until approved.
    held: bool = False
    acknowledged_at: datetime | None = None
    closed_at: datetime | None = None
    reopened_at: datetime | None = None
    comments: list[Comment] = field(default_factory=list)


def media_json(image_url: str | None) -> dict[str, Any]:
    if not image_url:  # documented: no photo is a null image and the placeholder
        return {
            "image_full": None,
            "image_square_100x100": None,
            "video_url": None,
            "representative_image_url": PLACEHOLDER_IMAGE,
        }
    folder, _, name = image_url.rpartition("/")
    return {
        "image_full": image_url,
        "image_square_100x100": f"{folder}/square_100x100_{name}",
        "video_url": None,
        "representative_image_url": image_url,
    }


@dataclass
class IssueQuery:
    """Filters of ``GET /organizations/{id}/issues``; ``None`` means "no filter"."""

    statuses: tuple[str, ...] = DEFAULT_STATUSES
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    request_type_ids: frozenset[int] | None = None
    search: str | None = None
    bbox: tuple[float, float, float, float] | None = None  # min_lat, min_lng, max_lat, max_lng

    def matches(self, issue: Issue) -> bool:
        checks = (
            issue.status.lower() in self.statuses,
            # Inclusive, as documented (vendor-apis.md §6): a client that pages by
            # keyset asks again from the last time it read.
            self.updated_after is None or issue.updated_at >= self.updated_after,
            self.updated_before is None or issue.updated_at < self.updated_before,
            self.created_after is None or issue.created_at > self.created_after,
            self.created_before is None or issue.created_at < self.created_before,
            self.request_type_ids is None or issue.request_type_id in self.request_type_ids,
            self.search is None or self._text_matches(issue),
            self.bbox is None or _in_box(issue.lat, issue.lng, self.bbox),
        )
        return all(checks)

    def _text_matches(self, issue: Issue) -> bool:
        needle = (self.search or "").lower()
        haystack = " ".join([issue.summary, issue.description, issue.address or ""]).lower()
        return needle in haystack


def _in_box(lat: float, lng: float, box: tuple[float, float, float, float]) -> bool:
    min_lat, min_lng, max_lat, max_lng = box
    return min_lat <= lat <= max_lat and min_lng <= lng <= max_lng


class SeeClickFixState(SimulatorState):
    """Issues, comments and request types of one organization."""

    def __init__(
        self,
        *,
        token: str = "demo-token",
        organization_id: int = 1234,
        organization_name: str = "City of New Haven",
        official_name: str | None = None,
        official_role: str = "Verified Official",
        basic_credentials: tuple[str, str] | None = ("crosswalk", "demo-password"),
        boundary: tuple[float, float, float, float] | None = None,
        timezone: str = "America/New_York",
        public_url: str = "https://seeclickfix.example",
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        clock: Callable[[], datetime] | None = None,
        seeder: Callable[[SeeClickFixState], None] | None = None,
    ) -> None:
        super().__init__(seeder)
        self.token = token
        self.organization_id = organization_id
        self.organization_name = organization_name
        self.basic_credentials = basic_credentials
        self.boundary = boundary
        self.tz = ZoneInfo(timezone)
        self.public_url = public_url.rstrip("/")
        self._initial_webhook = (webhook_url, webhook_secret)
        self.webhooks = WebhookSender()
        self._clock = clock or (lambda: datetime.now(UTC))
        # The user the API token belongs to (Crosswalk's integration user).
        self._first_official = Person(
            OFFICIAL_ID, official_name or organization_name, None, official_role
        )
        self.reset()

    # -- store -------------------------------------------------------------

    def clear(self) -> None:
        self.webhook_url, self.webhook_secret = self._initial_webhook
        self.issues: dict[int, Issue] = {}
        self.request_types: dict[int, RequestType] = {}
        self._residents: dict[str, Person] = {}
        self._next_issue_id = FIRST_ISSUE_ID
        self._next_comment_id = FIRST_COMMENT_ID
        self._next_person_id = FIRST_PERSON_ID
        # ``/_sim/update_listed_issues``: each issue a list request returns is
        # updated once, right after it was served.
        self.update_listed_issues = False
        self._updated_by_listing: set[int] = set()
        self.official = self._first_official
        # ``/_sim/moderation``: the next N issues created through the API are held.
        self.moderate_next = 0
        self.extra_fields: set[str] = set()
        # Files uploaded with comments, by path under ``/files/``: (bytes, content type).
        self.files: dict[str, tuple[bytes, str]] = {}
        self._next_file_id = 1

    def close(self) -> None:
        self.webhooks.close()

    def now(self) -> datetime:
        """The current time, truncated to seconds like the real API's timestamps."""
        return self._clock().astimezone(self.tz).replace(microsecond=0)

    def format_time(self, value: datetime | None) -> str | None:
        return None if value is None else value.astimezone(self.tz).isoformat()

    def parse_time(self, text: str) -> datetime:
        """Parse a query-string time; raises ``ValueError`` when it is not ISO 8601."""
        value = datetime.fromisoformat(text.strip())
        return value if value.tzinfo else value.replace(tzinfo=self.tz)

    def add_request_type(self, request_type: RequestType) -> RequestType:
        with self.lock:
            self.request_types[request_type.id] = request_type
        return request_type

    def resident(self, name: str, email: str | None = None) -> Person:
        """The (stable) person record of a resident, keyed by email, else by name."""
        key = (email or name).lower()
        with self.lock:
            person = self._residents.get(key)
            if person is None:
                person = Person(self._next_person_id, name, email, RESIDENT_ROLE)
                self._next_person_id += 1
                self._residents[key] = person
            return person

    def get_issue(self, issue_id: int, *, public_api: bool = False) -> Issue:
        """The issue; 404 while held for moderation, and through the public
        (not organization-scoped) API when it is private (documented: only the
        organization API returns private issues)."""
        with self.lock:
            issue = self.issues.get(issue_id)
        if issue is None or issue.held or (public_api and issue.private_visibility):
            raise not_found()
        return issue

    def rename_official(self, name: str) -> Person:
        """An admin renames the token's user: its comments show the new name
        (a commenter is a user, shown as it is now), its id stays."""
        with self.lock:
            renamed = Person(self.official.id, name, self.official.email, self.official.role)
            for issue in self.issues.values():
                if issue.reporter.id == renamed.id:
                    issue.reporter = renamed
                for comment in issue.comments:
                    if comment.commenter.id == renamed.id:
                        comment.commenter = renamed
            self.official = renamed
        return renamed

    def approve_held(self) -> list[Issue]:
        """A moderator lets every held issue through: each appears, updated now."""
        with self.lock:
            held = [issue for issue in self.issues.values() if issue.held]
            for issue in held:
                issue.held = False
                issue.updated_at = max(issue.updated_at, self.now())
        return held

    def take_moderation(self) -> bool:
        """Whether the next API-created issue is held (counts it down)."""
        with self.lock:
            if self.moderate_next <= 0:
                return False
            self.moderate_next -= 1
            return True

    def store_file(self, name: str, content: bytes, content_type: str) -> str:
        """Keep an uploaded file; returns its path under ``/files/``."""
        with self.lock:
            path = f"comment_images/{self._next_file_id}-{name}"
            self._next_file_id += 1
            self.files[path] = (content, content_type)
        return path

    def set_request_type_private(self, request_type_id: int, private: bool) -> None:
        """An admin marks a request category Private (or public again): issues
        created in it afterwards are private."""
        with self.lock:
            self._valid_request_type(request_type_id).private = bool(private)

    def rename_question(self, request_type_id: int, key: str, text: str | None) -> None:
        """An admin renames a question (``text``) or removes it (None). Issues
        answered before keep the text they were answered under."""
        with self.lock:
            request_type = self._valid_request_type(request_type_id)
            question = next((q for q in request_type.questions if q.primary_key == key), None)
            if question is None:
                raise not_found()
            if text is None:
                request_type.questions.remove(question)
            else:
                question.question = text

    def create_issue(
        self,
        *,
        request_type_id: Any,
        lat: Any,
        lng: Any,
        reporter: Person,
        address: str | None = None,
        summary: str | None = None,
        description: str | None = None,
        answers: dict[str, Any] | None = None,
        image_url: str | None = None,
        private_visibility: bool = False,
        created_at: datetime | None = None,
        require_answers: bool = True,
        held: bool = False,
    ) -> Issue:
        """Validate like the CRM does (422 bodies) and store a new Open issue.

        ``require_answers=False`` skips the checks of the API's required fields
        (``address``, ``answers``, required questions; select values are still
        checked), so tests can report issues without knowing every question.
        ``held``: created while moderation was on, invisible until approved.
        """
        request_type = self._valid_request_type(request_type_id)
        point = self._valid_point(lat, lng)
        if require_answers and not (isinstance(address, str) and address.strip()):
            raise scf_error(422, "address", "Address can't be blank")  # documented
        clean_answers = self._valid_answers(request_type, answers or {}, require_answers)
        with self.lock:
            when = created_at or self.now()
            issue = Issue(
                id=self._next_issue_id,
                request_type_id=request_type.id,
                status="Open",
                summary=summary or request_type.title,
                description=description or "",
                lat=point[0],
                lng=point[1],
                address=address,
                reporter=reporter,
                created_at=when,
                updated_at=when,
                answers=clean_answers,
                question_texts={
                    q.primary_key: q.question
                    for q in request_type.questions
                    if q.primary_key in clean_answers
                },
                image_url=image_url,
                private_visibility=bool(private_visibility) or request_type.private,
                held=held,
            )
            self._next_issue_id += 1
            self.issues[issue.id] = issue
        return issue

    def add_comment(
        self,
        issue_id: int,
        text: Any,
        commenter: Person,
        *,
        image_url: str | None = None,
        created_at: datetime | None = None,
    ) -> Comment:
        with self.lock:
            issue = self.get_issue(issue_id)
            if not isinstance(text, str) or not text.strip():
                raise scf_error(422, "comment", "can't be blank")
            when = created_at or self.now()
            comment = Comment(self._next_comment_id, text, commenter, when, image_url)
            self._next_comment_id += 1
            issue.comments.append(comment)
            issue.updated_at = max(issue.updated_at, when)
        return comment

    def transition(
        self, issue_id: int, action: str, text: Any, *, image_url: str | None = None
    ) -> tuple[Issue, Comment]:
        """``acknowledge`` / ``close`` / ``open`` by the token's official, with its comment."""
        with self.lock:
            issue = self.get_issue(issue_id)
            if not isinstance(text, str) or not text.strip():
                raise scf_error(422, "comment", "can't be blank")
            if issue.status == "Archived":
                raise scf_error(422, "status", "Archived issues can't be changed")
            if action == "acknowledge" and issue.status == "Closed":
                raise scf_error(422, "status", "Closed issues can't be acknowledged")
            comment = self.add_comment(issue_id, text, self.official, image_url=image_url)
            self._set_status(issue, ACTION_STATUS[action], comment.created_at)
        return issue, comment

    def reopen(self, issue_id: int) -> Issue:
        """A resident reopens an issue (also allowed from Archived, unlike the API)."""
        with self.lock:
            issue = self.get_issue(issue_id)
            self._set_status(issue, "Open", self.now())
        return issue

    def archive(self, issue_id: int) -> Issue:
        with self.lock:
            issue = self.get_issue(issue_id)
            self._set_status(issue, "Archived", self.now())
        return issue

    def after_listing(self, listed: list[Issue]) -> None:
        """With ``update_listed_issues`` on: as the agency's workers acknowledge
        each issue they just read, update every issue this list request
        returned (each issue once) to one time later than any issue's, which
        moves them to the end of an ``updated_at`` listing while a client pages
        through it. A time ahead of the clock, so a test need not wait for it."""
        with self.lock:
            fresh = [i for i in listed if i.id not in self._updated_by_listing]
            if not self.update_listed_issues or not fresh:
                return
            newest = max(i.updated_at for i in self.issues.values())
            when = max(newest + timedelta(seconds=1), self.now())
            for issue in fresh:
                self._updated_by_listing.add(issue.id)
                issue.updated_at = when

    def find_issues(self, query: IssueQuery) -> list[Issue]:
        with self.lock:
            return [
                issue for issue in self.issues.values() if not issue.held and query.matches(issue)
            ]

    def _set_status(self, issue: Issue, status: str, when: datetime) -> None:
        if status == "Acknowledged" and issue.status == "Open":
            issue.acknowledged_at = when
        elif status == "Closed" and issue.status != "Closed":
            issue.closed_at = when
        elif status == "Open" and issue.status in ("Closed", "Archived"):
            issue.reopened_at = when
        issue.status = status
        issue.updated_at = max(issue.updated_at, when)

    def _valid_request_type(self, request_type_id: Any) -> RequestType:
        try:
            request_type = self.request_types.get(int(request_type_id))
        except (TypeError, ValueError):
            request_type = None
        if request_type is None:
            raise scf_error(422, "request_type", "is invalid")
        return request_type

    def _valid_point(self, lat: Any, lng: Any) -> tuple[float, float]:
        try:
            point = (float(lat), float(lng))
        except (TypeError, ValueError):
            raise scf_error(422, "point", "can't be blank") from None
        if not all(math.isfinite(v) for v in point):
            raise scf_error(422, "point", "is invalid")
        if self.boundary is not None and not _in_box(*point, self.boundary):
            raise scf_error(422, "point", f"is not within boundary of {self.organization_name}")
        return point

    @staticmethod
    def _valid_answers(
        request_type: RequestType, answers: dict[str, Any], require: bool
    ) -> dict[str, str]:
        clean: dict[str, str] = {}
        for question in request_type.questions:
            answer = answers.get(question.primary_key)
            if answer is None or str(answer).strip() == "":
                if require and question.response_required:
                    raise scf_error(422, "answers", f"{question.question} can't be blank")
                continue
            allowed = {v["key"] for v in question.select_values}
            if question.question_type == "select" and str(answer) not in allowed:
                raise scf_error(422, "answers", f"{question.question} is not included in the list")
            clean[question.primary_key] = str(answer)
        return clean

    # -- JSON ----------------------------------------------------------------

    def request_type_json(self, request_type: RequestType, api_root: str) -> dict[str, Any]:
        return {
            "id": request_type.id,
            "title": request_type.title,
            "organization": self.organization_name,
            "url": f"{api_root}/request_types/{request_type.id}",
            "questions": [q.to_json() for q in request_type.questions],
        }

    def comment_json(self, comment: Comment) -> dict[str, Any]:
        """The documented comment object: no ``id`` (unless a test asks for one)."""
        data: dict[str, Any] = {
            "comment": comment.comment,
            "commenter": comment.commenter.commenter_json(),
            "media": media_json(comment.image_url),
            "flag_url": f"{self.public_url}{API_PREFIX}/comments/{comment.id}/flag",
            "created_at": self.format_time(comment.created_at),
            "updated_at": self.format_time(comment.created_at),
        }
        if "comment_ids" in self.extra_fields:
            data = {"id": comment.id, **data}
        return data

    def questions_json(self, issue: Issue) -> list[dict[str, Any]]:
        """The documented ``questions`` of issue details: ``{question, answer}``,
        under the text each was answered with (no key unless a test asks)."""
        keyed = "question_keys" in self.extra_fields
        return [
            {
                "question": issue.question_texts.get(key, key),
                "answer": answer,
                **({"primary_key": key} if keyed else {}),
            }
            for key, answer in issue.answers.items()
        ]

    def issue_json(self, issue: Issue, api_root: str, *, details: bool = False) -> dict[str, Any]:
        request_type = self.request_types[issue.request_type_id]
        data: dict[str, Any] = {
            "id": issue.id,
            "status": issue.status,
            "summary": issue.summary,
            "description": issue.description,
            "lat": issue.lat,
            "lng": issue.lng,
            "address": issue.address,
            "created_at": self.format_time(issue.created_at),
            "updated_at": self.format_time(issue.updated_at),
            "acknowledged_at": self.format_time(issue.acknowledged_at),
            "closed_at": self.format_time(issue.closed_at),
            "reopened_at": self.format_time(issue.reopened_at),
            "private_visibility": issue.private_visibility,
            "reporter": issue.reporter.reporter_json(),
            "media": media_json(issue.image_url),
            "request_type": {
                "id": request_type.id,
                "title": request_type.title,
                "organization": self.organization_name,
                "url": f"{api_root}/request_types/{request_type.id}",
            },
            "html_url": f"{self.public_url}/issues/{issue.id}",
        }
        if details:
            data["comments"] = [self.comment_json(c) for c in issue.comments]
            data["questions"] = self.questions_json(issue)
            data["assignee"] = None
            data["integrations"] = []
        return data

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "organization_id": self.organization_id,
                "request_types": [
                    self.request_type_json(rt, API_PREFIX) for rt in self.request_types.values()
                ],
                "issues": [
                    self.issue_json(i, API_PREFIX, details=True) for i in self.issues.values()
                ],
                "webhooks": {
                    "url": self.webhook_url,
                    "delivered": self.webhooks.delivered,
                    "failed": self.webhooks.failed,
                },
            }

    def notify(self, event: str, issue: Issue, comment: Comment | None, api_root: str) -> None:
        """Queue a signed webhook for a resident action, when webhooks are configured."""
        if not (self.webhook_url and self.webhook_secret):
            return
        payload = {
            "event": event,
            "issue": self.issue_json(issue, api_root, details=True),
            "comment": None if comment is None else self.comment_json(comment),
        }
        self.webhooks.send(self.webhook_url, self.webhook_secret, payload)
