"""SeeClickFix API v2, organization-scoped (the CRM side of every sync)."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from ..base import Photo
from ..errors import TransientError
from ..http import VendorHTTP
from .issues import CrmIssue, parse_issue, parse_time

SYSTEM = "SeeClickFix"
ALL_STATUSES = "open,acknowledged,closed,archived"
# A poll stops with CrmListingError after this many list requests, so a CRM that
# pages forever (a next_page that never ends, the same page again and again)
# ends in a recorded error instead of running until the job's timeout. At 20
# issues a page that is about 5,000 issue versions; a longer backlog is read
# over several polls, because the poll's cursor keeps the progress made.
MAX_LIST_REQUESTS = 250


class CrmListingError(TransientError):
    """The issue listing cannot be followed safely: a reply without the
    documented envelope, a ``next_page`` that is not a later page number,
    issues out of ``updated_at`` order, or paging that does not end. The poll
    records it; the next poll starts again from its cursor."""

    def __init__(self, message: str) -> None:
        super().__init__(message, system=SYSTEM)


@dataclass(frozen=True)
class IssueCreated:
    """What ``POST /issues`` answered: ``201`` with the new issue (its id from
    the body or the ``Location`` header), or ``202 {"metadata":{"moderated":true}}``:
    held for moderation, no id yet (the issue appears when a moderator lets it
    through)."""

    id: int | None
    body: dict[str, Any]
    moderated: bool = False


# -- one page of ``GET /organizations/{id}/issues`` --------------------------------
@dataclass(frozen=True)
class ListedIssue:
    """One issue of a listing page: the parsed issue (or why it could not be
    parsed) and its keyset keys. ``updated_at`` is the time on the wire, not
    the parsed issue's (the parser sets a far-future time aside): the walk must
    follow the order the CRM sorted by."""

    id: int | None
    updated_at: datetime | None
    item: CrmIssue | ValueError


@dataclass(frozen=True)
class IssuePage:
    number: int
    issues: tuple[ListedIssue, ...]
    next_page: int | None

    @property
    def last(self) -> bool:
        """No page follows (an empty page ends the listing, whatever it claims)."""
        return self.next_page is None or not self.issues

    @property
    def newest(self) -> datetime | None:
        return max((i.updated_at for i in self.issues if i.updated_at is not None), default=None)


def parse_issue_page(body: Any, number: int) -> IssuePage:
    """Page ``number`` of an issue listing, checked against the documented
    envelope (``{"metadata":{"pagination":{..}},"issues":[..]}``)."""
    where = f"issue listing, page {number}"
    if not isinstance(body, dict) or not isinstance(body.get("issues"), list):
        raise CrmListingError(f"{where}: the reply has no 'issues' list")
    metadata = body.get("metadata")
    pagination = metadata.get("pagination") if isinstance(metadata, dict) else None
    if not isinstance(pagination, dict):
        raise CrmListingError(f"{where}: the reply has no 'metadata.pagination' object")
    issues = tuple(_listed(raw) for raw in body["issues"])
    times = [i.updated_at for i in issues if i.updated_at is not None]
    if any(later < earlier for earlier, later in zip(times, times[1:], strict=False)):
        # Keyset paging trusts this order; a CRM that ignores the sort would be skipped over.
        raise CrmListingError(f"{where}: issues are not in ascending updated_at order")
    return IssuePage(number, issues, _next_page(pagination.get("next_page"), number, where))


def _next_page(value: Any, number: int, where: str) -> int | None:
    if value is None:
        return None
    text = (
        str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    )
    if not text.isdecimal():
        raise CrmListingError(f"{where}: next_page is not a page number: {repr(value)[:60]}")
    following = int(text)
    if following <= number:
        raise CrmListingError(
            f"{where}: next_page {following} does not come after page {number}: "
            "the listing would loop"
        )
    return following


def _listed(raw: Any) -> ListedIssue:
    try:
        item: CrmIssue | ValueError = parse_issue(raw)
    except ValueError as exc:  # yielded, not raised: one bad issue never stops the others
        item = exc
    fields = raw if isinstance(raw, dict) else {}
    issue_id = item.id if isinstance(item, CrmIssue) else _wire_id(fields.get("id"))
    return ListedIssue(issue_id, _wire_time(fields.get("updated_at")), item)


def _wire_id(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdecimal() else None


def _wire_time(value: Any) -> datetime | None:
    try:
        return parse_time(value, "updated_at")
    except ValueError:
        return None


def wire_time(value: datetime) -> str:
    """A time for ``updated_at_after`` as the CRM documents them: UTC, ``Z``,
    whole seconds rounded down (the filter is inclusive, so rounding down reads
    a little more, never less)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the walk over every page ----------------------------------------------------
FetchPage = Callable[[datetime | None, int], IssuePage]
Yielded = CrmIssue | ValueError


class KeysetWalk:
    """Every issue updated at or after ``since``, oldest first, each one once
    (again only if it changed while the walk read).

    Keyset on ``updated_at``: every request asks for page 1 from the newest
    ``updated_at`` read so far (``updated_at_after`` is inclusive). An update
    during the walk (a worker acknowledging an issue just read) moves that
    issue to the end of the order; with offsets, the issues behind it would
    shift onto a page already read and be skipped, but a page 1 from a time
    has no offset to shift. So at every step every issue older than the
    newest one yielded has been yielded (or has moved on, to be read at its
    new time): the poll's cursor, which follows the newest issue stored, can
    never pass one unread. The boundary issues read again are dropped by id
    unless they changed (``_changed``). When a whole page shares one
    ``updated_at`` the keyset cannot advance: that instant is paged by number
    (``_instant``).

    ``fetch(since, page)`` reads one page; after ``max_requests`` calls the
    walk stops with ``CrmListingError``.
    """

    def __init__(self, fetch: FetchPage, since: datetime | None, *, max_requests: int) -> None:
        self._fetch = fetch
        self._since = since
        self._max_requests = max_requests
        self._requests = 0
        self._seen: dict[int, ListedIssue] = {}  # id -> the copy yielded last

    def __iter__(self) -> Iterator[Yielded]:
        page = self._get(self._since, 1)
        while True:
            yield from self._fresh(page.issues)
            if page.last:
                return
            if _later(page.newest, self._since):
                self._since = page.newest
            else:  # the whole page is one instant, and more follow
                after = yield from self._instant(page)
                if after is None:
                    return
                self._since = after
            page = self._get(self._since, 1)

    def _instant(self, first: IssuePage) -> Generator[Yielded, None, datetime | None]:
        """Every issue of the instant ``self._since`` (more than a page share
        it); returns the earliest later update to go on from, or None when the
        listing ended within the instant.

        The instant is paged by number (page=2,3…) until a page reaches a later
        update. Offsets can shift: an issue of the instant updated meanwhile
        leaves it, and everything behind it moves up a page under the walk,
        issues of the instant and the ones after it alike. So passes repeat
        until two in a row find the same issues of the instant. An issue that
        left after it was read is missing from the next pass: two equal passes
        mean nothing left during the first, so nothing shifted under it, and
        its last page shows what came right after the instant. The walk goes
        on from there by keyset, and only the instant's own issues are taken
        from these pages.
        """
        instant = self._since
        found, end = yield from self._pass(instant, first)
        while True:
            again, last = yield from self._pass(instant, self._get(instant, 1))
            if again == found:
                return min(
                    (i.updated_at for i in end.issues if not _within(i, instant)), default=None
                )
            found, end = again, last

    def _pass(
        self, instant: datetime | None, page: IssuePage
    ) -> Generator[Yielded, None, tuple[frozenset[int], IssuePage]]:
        """Pages 1, 2… of the instant: the ids found in it, and the last page."""
        found: set[int] = set()
        while True:
            within = [i for i in page.issues if _within(i, instant)]
            yield from self._fresh(within)
            found.update(i.id for i in within if i.id is not None)
            left = len(within) < len(page.issues)  # reached a later update
            if page.next_page is None or not page.issues or left:
                return frozenset(found), page
            page = self._get(instant, page.next_page)

    def _fresh(self, issues: Iterable[ListedIssue]) -> Iterator[Yielded]:
        """The issues not yielded yet, or changed since."""
        for listed in issues:
            if listed.id is not None:
                if not self._changed(listed):
                    continue
                self._seen[listed.id] = listed
            yield listed.item

    def _changed(self, listed: ListedIssue) -> bool:
        """Not yielded yet, or newer than the copy yielded: a later time, or the
        same time with other content (times are whole seconds, so a change in
        the second of the copy read keeps its ``updated_at``)."""
        before = self._seen.get(listed.id) if listed.id is not None else None
        if before is None or _later(listed.updated_at, before.updated_at):
            return True
        return listed.updated_at == before.updated_at and _content(listed) != _content(before)

    def _get(self, since: datetime | None, number: int) -> IssuePage:
        if self._requests >= self._max_requests:
            start = wire_time(since) if since else "the beginning"
            raise CrmListingError(
                f"issue listing stopped after {self._max_requests} requests without reaching "
                f"its end (next: page {number} from {start}): the CRM keeps paging"
            )
        self._requests += 1
        return self._fetch(since, number)


def _content(listed: ListedIssue) -> CrmIssue | str:
    """What a copy says: the parsed issue (its fields compare), or the parse error."""
    return listed.item if isinstance(listed.item, CrmIssue) else str(listed.item)


def _later(value: datetime | None, than: datetime | None) -> bool:
    return value is not None and (than is None or value > than)


def _within(listed: ListedIssue, instant: datetime | None) -> bool:
    """At or before the instant (or of unknown time): not yet past it."""
    return not _later(listed.updated_at, instant)


class SeeClickFixClient:
    def __init__(
        self,
        base_url: str,
        organization_id: int,
        token: str,
        *,
        session: requests.Session | None = None,
        per_page: int = 20,
        timeout: float = 30.0,
        max_requests: int = MAX_LIST_REQUESTS,
    ) -> None:
        self.organization_id = organization_id
        self.max_requests = max_requests
        # details=true caps per_page at 20 (vendor-apis.md §1).
        self.per_page = min(per_page, 20)
        self.http = VendorHTTP(
            SYSTEM,
            base_url,
            headers={"Authorization": f"Bearer {token}"},
            session=session,
            timeout=timeout,
        )

    def iter_updated_issues(
        self, updated_after: datetime | None
    ) -> Iterator[CrmIssue | ValueError]:
        """Every issue updated at or after ``updated_after``, oldest first, each
        one once (again only if it changed meanwhile), every page (``KeysetWalk``).

        Yields a malformed issue's parse error instead of raising it, so one
        bad issue never stops the cycle for the others; a listing that cannot
        be followed raises ``CrmListingError``.
        """
        return iter(KeysetWalk(self.issues_page, updated_after, max_requests=self.max_requests))

    def issues_page(self, updated_after: datetime | None, page: int) -> IssuePage:
        """One page of the issues updated at or after ``updated_after``,
        ``updated_at`` ascending (the documented filter is inclusive)."""
        params: dict[str, Any] = {
            "status": ALL_STATUSES,
            "sort": "updated_at",
            "sort_direction": "ASC",
            "details": "true",
            "per_page": self.per_page,
            "page": page,
        }
        if updated_after is not None:
            params["updated_at_after"] = wire_time(updated_after)
        body = self.http.get(f"organizations/{self.organization_id}/issues", params=params)
        return parse_issue_page(body, page)

    def get_issue(self, issue_id: int) -> CrmIssue:
        """One issue with details, through the organization-scoped API: the only
        one that returns private issues (vendor-apis.md §1, §6)."""
        path = f"organizations/{self.organization_id}/issues/{issue_id}"
        return parse_issue(self.http.get(path, params={"details": "true"}))

    def get_request_type(self, request_type_id: int) -> dict[str, Any]:
        """A request type with its secondary questions (``questions[]``)."""
        body = self.http.get(f"request_types/{request_type_id}")
        if not isinstance(body, dict) or "id" not in body:
            raise TransientError(f"request type {request_type_id}: reply has no id", system=SYSTEM)
        questions = body.get("questions")
        body["questions"] = questions if isinstance(questions, list) else []
        return body

    def create_issue(self, fields: dict[str, Any]) -> IssueCreated:
        """``POST /issues``: created (201, the id in the body or ``Location``),
        or held for moderation (202). A 422 raises ``PermanentError`` with the
        CRM's field errors."""
        response = self.http.request("POST", "issues", json=fields, expect_json=False)
        body = self.http.decode_json(response, "POST", self.http.url("issues")) or {}
        if not isinstance(body, dict):
            raise TransientError("the create reply is not a JSON object", system=SYSTEM)
        if response.status_code == 202 or _moderated(body):
            return IssueCreated(None, body, moderated=True)
        issue_id = _created_id(body, response.headers.get("Location", ""))
        if issue_id is None:
            raise TransientError(
                "the created issue's id is in neither body nor Location", system=SYSTEM
            )
        return IssueCreated(issue_id, body)

    # Every write below answers with the documented reply
    # ``{"moderated":false,"comment":..,"commenter":{"id":..,"name":..},...}``,
    # returned as it came: its ``commenter.id`` tells who Crosswalk is in the
    # CRM (``webapp.sync.crm_identity.remember``).
    def _transition(self, issue_id: int, action: str, comment: str) -> dict[str, Any]:
        return self.http.post(f"issues/{issue_id}/{action}", json={"comment": comment}) or {}

    def acknowledge(self, issue_id: int, comment: str) -> dict[str, Any]:
        return self._transition(issue_id, "acknowledge", comment)

    def close(self, issue_id: int, comment: str) -> dict[str, Any]:
        return self._transition(issue_id, "close", comment)

    def reopen(self, issue_id: int, comment: str) -> dict[str, Any]:
        return self._transition(issue_id, "open", comment)

    def add_comment(
        self, issue_id: int, comment: str, image: Photo | None = None
    ) -> dict[str, Any]:
        """``POST /issues/{id}/comments``; with ``image``, as multipart/form-data
        (the documented way to send images) with the file in the field ``image``."""
        path = f"issues/{issue_id}/comments"
        if image is None:
            return self.http.post(path, json={"comment": comment}) or {}
        upload = {"image": (image.filename, image.content, image.content_type)}
        return self.http.post(path, data={"comment": comment}, files=upload) or {}


def _moderated(body: dict[str, Any]) -> bool:
    metadata = body.get("metadata")
    return isinstance(metadata, dict) and metadata.get("moderated") is True


def _created_id(body: dict[str, Any], location: str) -> int | None:
    """The new issue's id: the body's, else the last segment of ``Location``."""
    value = body.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    tail = location.rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdecimal() else None
