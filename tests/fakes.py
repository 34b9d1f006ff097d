"""In-memory stand-ins for the vendors, for the fast engine tier.

The end-to-end tier talks to the simulators over loopback HTTP; the engine
tier (``tests/engine``) needs none of that: a ``FakeConnector`` registered as
the kind ``fake`` keeps its records in a ``FakeRemote``, a ``FakeCrm`` stands
in for the SeeClickFix client, and a ``FakeGeocoder`` for ArcGIS. Each keeps a
call log and can be told to fail, so engine tests can assert what was sent
and what happens when a vendor errs.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field

from geo.geocode import Address, GeocodeError
from integrations.base import (
    Connector,
    NoteOut,
    OutboundRequest,
    Photo,
    RemoteCategory,
    RemoteComment,
    RemoteRecord,
    RemoteRequest,
)
from integrations.seeclickfix import CrmIssue, IssueCreated, parse_issue
from integrations.seeclickfix.client import (
    MAX_LIST_REQUESTS,
    IssuePage,
    KeysetWalk,
    parse_issue_page,
    wire_time,
)
from integrations.settings import FEATURE_SWITCHES, IntegrationSettings

# What SeeClickFix shows as a photo-less issue's (or comment's) picture.
PLACEHOLDER_IMAGE = "http://seeclickfix.com/files/default_image.png"


class Faults:
    """``fail("create_request", exc)`` makes the next call of that method raise
    before it does anything; ``lose_reply("create_request", exc)`` makes it do
    its work and then raise (the vendor applied it, the reply was lost)."""

    def __init__(self) -> None:
        self.pending: dict[str, list[BaseException]] = {}
        self.lost: dict[str, list[BaseException]] = {}
        self.calls: list[tuple[str, tuple]] = []

    def fail(self, method: str, exc: BaseException, times: int = 1) -> None:
        self.pending.setdefault(method, []).extend([exc] * times)

    def lose_reply(self, method: str, exc: BaseException, times: int = 1) -> None:
        self.lost.setdefault(method, []).extend([exc] * times)

    def called(self, method: str, *args: Any) -> None:
        self.calls.append((method, args))
        queue = self.pending.get(method)
        if queue:
            raise queue.pop(0)

    def answered(self, method: str) -> None:
        """End of a call that took effect: raise a lost reply, if one is due."""
        queue = self.lost.get(method)
        if queue:
            raise queue.pop(0)

    def args_of(self, method: str) -> list[tuple]:
        """The arguments of every call of ``method``, in order."""
        return [args for name, args in self.calls if name == method]

    def count(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)


# --------------------------------------------------------------------- remote
class FakeSettings(IntegrationSettings):
    label: ClassVar[str] = "Fake EAM"
    supported_features: ClassVar[frozenset[str]] = frozenset(FEATURE_SWITCHES)
    features_off_by_default: ClassVar[frozenset[str]] = frozenset(
        {"import_comments", "close_remote_on_crm_close"}
    )

    kind: Literal["fake"]
    closed_statuses: list[str] = Field(default_factory=lambda: ["Closed"])
    batch_size: int = 100


@dataclass
class FakeRemote(Faults):
    """The remote system's state: requests, their comments, the categories."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    comments: dict[str, list[RemoteComment]] = field(default_factory=dict)
    notes: dict[str, list[NoteOut]] = field(default_factory=dict)
    categories: list[RemoteCategory] = field(default_factory=list)
    closing_messages: dict[str, str] = field(default_factory=dict)
    photos: dict[str, list[Photo]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Faults.__init__(self)
        self._ids = itertools.count(1001)

    def add_record(self, **fields: Any) -> str:
        remote_id = str(next(self._ids))
        self.records[remote_id] = {"Status": "Open", "ExternalId": None, **fields}
        return remote_id

    def set(self, remote_id: str, **fields: Any) -> None:
        self.records[remote_id].update(fields)

    def by_external_id(self, crm_issue_id: int) -> list[str]:
        return [k for k, r in self.records.items() if r.get("ExternalId") == str(crm_issue_id)]


class FakeConnector(Connector):
    """A kind whose remote system is a ``FakeRemote`` (set by the fixture)."""

    kind = "fake"
    settings_model = FakeSettings
    remote: ClassVar[FakeRemote]
    settings: FakeSettings

    def __init__(self, settings: FakeSettings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.batch_size = settings.batch_size

    def to_record(self, remote_id: str) -> RemoteRecord:
        raw = self.remote.records[remote_id]
        return RemoteRecord(
            remote_id=remote_id,
            display_id=f"R-{remote_id}",
            status=raw.get("Status"),
            closed=raw.get("Status") in self.settings.closed_statuses,
            external_id=raw.get("ExternalId"),
            fields=dict(raw),
        )

    def find_by_external_id(self, crm_issue_id: int) -> RemoteRecord | None:
        self.remote.called("find_by_external_id", crm_issue_id)
        found = sorted(self.remote.by_external_id(crm_issue_id), key=int)
        return self.to_record(found[0]) if found else None

    def create_request(self, request: OutboundRequest) -> RemoteRecord:
        self.remote.called("create_request", request)
        remote_id = self.remote.add_record(
            ExternalId=str(request.crm_issue_id),
            Category=request.category_remote_id,
            Description=request.description,
            Address=request.address,
            Requester=request.requester.email,
            **request.custom_fields,
        )
        self.remote.answered("create_request")
        return self.to_record(remote_id)

    def records_by_external_ids(
        self, crm_issue_ids: Sequence[int]
    ) -> dict[str, list[RemoteRecord]]:
        self.remote.called("records_by_external_ids", tuple(crm_issue_ids))
        found: dict[str, list[RemoteRecord]] = {}
        for crm_issue_id in crm_issue_ids:
            ids = sorted(self.remote.by_external_id(crm_issue_id), key=int)
            if ids:
                found[str(crm_issue_id)] = [self.to_record(i) for i in ids]
        return found

    def fetch_records(self, remote_ids: Sequence[str]) -> dict[str, RemoteRecord]:
        self.remote.called("fetch_records", tuple(remote_ids))
        return {i: self.to_record(i) for i in remote_ids if i in self.remote.records}

    def closing_message_for(self, record: RemoteRecord) -> str | None:
        return self.remote.closing_messages.get(str(record.status))

    def add_comments(self, remote_id: str, notes: Sequence[NoteOut]) -> None:
        self.remote.called("add_comments", remote_id, tuple(notes))
        written = self.remote.notes.setdefault(remote_id, [])
        keys = {n.key for n in written}
        written.extend(n for n in notes if n.key not in keys)
        self.remote.answered("add_comments")

    def close_request(self, remote_id: str, note: NoteOut) -> None:
        self.remote.called("close_request", remote_id, note)
        self.add_comments(remote_id, [note])
        self.remote.set(remote_id, Status=self.settings.closed_statuses[0])
        self.remote.answered("close_request")

    def fetch_comments(self, remote_ids: Sequence[str]) -> dict[str, list[RemoteComment]]:
        self.remote.called("fetch_comments", tuple(remote_ids))
        return {i: list(self.remote.comments.get(i, [])) for i in remote_ids}

    def fetch_new_requests(self, since: datetime) -> list[RemoteRequest]:
        self.remote.called("fetch_new_requests", since)
        found = []
        for remote_id, raw in self.remote.records.items():
            if raw.get("ExternalId") is None and raw.get("Staff"):
                found.append(
                    RemoteRequest(
                        record=self.to_record(remote_id),
                        category_remote_id=raw.get("Category"),
                        lat=raw.get("lat"),
                        lng=raw.get("lng"),
                        address=raw.get("Address"),
                        description=str(raw.get("Description") or ""),
                    )
                )
        return found

    def set_external_id(self, remote_id: str, crm_issue_id: int) -> None:
        self.remote.called("set_external_id", remote_id, crm_issue_id)
        self.remote.set(remote_id, ExternalId=str(crm_issue_id))

    def fetch_categories(self) -> list[RemoteCategory]:
        self.remote.called("fetch_categories")
        return list(self.remote.categories)

    def attach_photo(self, remote_id: str, photo: Photo) -> None:
        self.remote.called("attach_photo", remote_id, photo)
        self.remote.photos.setdefault(remote_id, []).append(photo)


# ------------------------------------------------------------------------ CRM
class FakeCrm(Faults):
    """The SeeClickFix client's methods the engine calls, on issues in memory
    (raw API JSON in the documented shapes, parsed by the real parser):
    comments without ``id`` (``comment_ids = True`` adds them, as some server
    might), commenters with their ``id``, the placeholder as a photo-less
    issue's media, writes answered with the documented reply."""

    OFFICIAL_ID = 700001  # the user the token belongs to (Crosswalk)

    def __init__(self, integration_user: str = "City of New Haven") -> None:
        super().__init__()
        self.integration_user = integration_user
        self.issues: dict[int, dict[str, Any]] = {}
        self.request_types: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(5001)
        self._comment_ids = itertools.count(90001)
        self.comment_ids = False
        self._people: dict[str, int] = {}
        self._person_ids = itertools.count(800001)
        # Creates held for moderation: the next ``moderate_next`` creates answer
        # 202 and stay out of sight (``held``) until ``approve_held``.
        self.moderate_next = 0
        # Request types an admin marked Private: their issues are private.
        self.private_request_types: set[int] = set()
        self.held: dict[int, dict[str, Any]] = {}
        # The CRM's clock starts an hour before ours (whole seconds, as the CRM
        # writes them): never in our future, which the engine would distrust.
        self._clock = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        # (count, exc): the issue listing raises ``exc`` after ``count`` issues.
        self.listing_fault: tuple[int, BaseException] | None = None
        # The listing, as the client reads it page by page: its page size and
        # request cap, a hook called before each page is served (with
        # ``updated_after`` and the page number: where a test lets workers
        # update issues between the poll's requests), and one that rewrites
        # each reply's raw envelope (a CRM that misbehaves).
        self.per_page = 20
        self.max_requests = MAX_LIST_REQUESTS
        self.before_page: Callable[[datetime | None, int], None] | None = None
        self.tamper_page: Callable[[dict[str, Any], int], Any] | None = None

    def tick(self) -> str:
        """A strictly later update time (the CRM's clock)."""
        self._clock += timedelta(seconds=1)
        return self._clock.isoformat().replace("+00:00", "Z")

    def add_issue(self, request_type_id: int = 122, **fields: Any) -> int:
        issue_id = next(self._ids)
        now = self.tick()
        self.issues[issue_id] = {
            "id": issue_id,
            "status": "Open",
            "summary": "Pothole",
            "description": "Deep pothole in the right lane",
            "lat": 41.3083,
            "lng": -72.9279,
            "address": "165 Church St, New Haven",
            "request_type": {"id": request_type_id, "title": f"Type {request_type_id}"},
            "reporter": {"name": "Ada Resident", "email": "ada@example.com"},
            "media": {"image_full": None, "representative_image_url": PLACEHOLDER_IMAGE},
            "created_at": now,
            "updated_at": now,
            "comments": [],
            "questions": [],
            "private_visibility": request_type_id in self.private_request_types,
            **fields,
        }
        return issue_id

    def advance(self, seconds: float) -> None:
        """Let the CRM's clock run on (beyond the poll's overlap, say)."""
        self._clock += timedelta(seconds=seconds)

    def update(self, issue_id: int, **fields: Any) -> None:
        self.issues[issue_id].update(fields, updated_at=self.tick())

    def bulk_update(self, issue_ids: Sequence[int], **fields: Any) -> None:
        """Staff change many issues at once: they all share one ``updated_at``."""
        now = self.tick()
        for issue_id in issue_ids:
            self.issues[issue_id].update(fields, updated_at=now)

    def staff_close(self, issue_id: int) -> None:
        """Agency staff close the issue in the CRM (not the integration user)."""
        self.update(issue_id, status="Closed")
        self.issues[issue_id]["closed_at"] = self.issues[issue_id]["updated_at"]

    def reopen(self, issue_id: int) -> None:
        """The resident reopens a closed issue."""
        self.update(issue_id, status="Open")
        self.issues[issue_id]["reopened_at"] = self.issues[issue_id]["updated_at"]

    def resident_comment(self, issue_id: int, text: str, name: str = "Ada Resident") -> None:
        self._comment(issue_id, text, self._person(name))

    def rename_integration_user(self, name: str) -> None:
        """An admin renames the token's user: its comments show the new name
        (a commenter is a user, shown as it is now), its id stays."""
        self.integration_user = name
        for issue in self.issues.values():
            for comment in issue["comments"]:
                if comment["commenter"]["id"] == self.OFFICIAL_ID:
                    comment["commenter"]["name"] = name

    def _official(self) -> dict[str, Any]:
        return {"id": self.OFFICIAL_ID, "name": self.integration_user, "role": "Verified Official"}

    def _person(self, name: str) -> dict[str, Any]:
        person_id = self._people.setdefault(name, next(self._person_ids))
        return {"id": person_id, "name": name, "role": "Registered User"}

    def _comment(
        self, issue_id: int, text: str, commenter: dict[str, Any], image_url: str | None = None
    ) -> dict[str, Any]:
        """Add a comment in the documented shape; return the documented reply."""
        issue = self.issues[issue_id]
        when = self.tick()
        media = {"image_full": image_url, "representative_image_url": PLACEHOLDER_IMAGE}
        comment: dict[str, Any] = {
            "comment": text,
            "commenter": dict(commenter),
            "media": media,
            "created_at": when,
            "updated_at": when,
        }
        if self.comment_ids:
            comment = {"id": next(self._comment_ids), **comment}
        issue["comments"].append(comment)
        issue["updated_at"] = self.tick()
        return {"moderated": False, "comment": text, "commenter": dict(commenter), "media": media}

    def parsed(self, issue_id: int) -> CrmIssue:
        return parse_issue(self.issues[issue_id])

    def comments_of(self, issue_id: int) -> list[str]:
        return [c["comment"] for c in self.issues[issue_id]["comments"]]

    # -- the client's interface ------------------------------------------------
    def fail_listing_after(self, count: int, exc: BaseException) -> None:
        """The next listing yields ``count`` issues, then raises ``exc`` (a bad page)."""
        self.listing_fault = (count, exc)

    def iter_updated_issues(self, updated_after: datetime | None) -> Iterator[CrmIssue | Exception]:
        """The real client's walk (``KeysetWalk``) over ``issues_page``: oldest
        first, and a malformed issue is yielded as its parse error."""
        self.called("iter_updated_issues", updated_after)
        fault, self.listing_fault = self.listing_fault, None
        walk = KeysetWalk(self.issues_page, updated_after, max_requests=self.max_requests)
        for yielded, item in enumerate(walk):
            if fault is not None and yielded == fault[0]:
                raise fault[1]
            yield item
        if fault is not None:  # fewer issues than ``count``: the last page errs
            raise fault[1]

    def issues_page(self, updated_after: datetime | None, page: int) -> IssuePage:
        """One page of the listing, read by the real envelope parser."""
        self.called("issues_page", updated_after, page)
        if self.before_page is not None:
            self.before_page(updated_after, page)
        body = self._listing(updated_after, page)
        if self.tamper_page is not None:
            body = self.tamper_page(body, page)
        return parse_issue_page(body, page)

    def _listing(self, updated_after: datetime | None, page: int) -> dict[str, Any]:
        """The documented envelope: ``updated_at_after`` inclusive (sent in
        whole seconds, as the client sends it), ``updated_at`` then id ascending."""
        since = None
        if updated_after is not None:  # as the client sends it
            since = datetime.fromisoformat(wire_time(updated_after).replace("Z", "+00:00"))
        rows = sorted(
            (r for r in self.issues.values() if since is None or self._time(r) >= since),
            key=lambda r: (self._time(r), r["id"]),
        )
        first = (page - 1) * self.per_page
        next_page = page + 1 if first + self.per_page < len(rows) else None
        pagination = {"page": page, "per_page": self.per_page, "next_page": next_page}
        return {
            "errors": None,
            "metadata": {"pagination": pagination},
            "issues": [dict(r) for r in rows[first : first + self.per_page]],
        }

    @staticmethod
    def _time(row: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(row["updated_at"].replace("Z", "+00:00"))

    def get_issue(self, issue_id: int) -> CrmIssue:
        self.called("get_issue", issue_id)
        return self.parsed(issue_id)

    def get_request_type(self, request_type_id: int) -> dict[str, Any]:
        self.called("get_request_type", request_type_id)
        return self.request_types.get(
            request_type_id,
            {"id": request_type_id, "title": f"Type {request_type_id}", "questions": []},
        )

    def create_issue(self, fields: dict[str, Any]) -> IssueCreated:
        """Created (the new issue as the body), or held for moderation (202:
        no id; the issue appears on ``approve_held``)."""
        self.called("create_issue", fields)
        answers = fields.get("answers") or {}
        issue_id = self.add_issue(
            request_type_id=fields["request_type_id"],
            lat=fields.get("lat"),
            lng=fields.get("lng"),
            address=fields.get("address"),
            description=answers.get("description") or "",
            reporter=self._official(),
        )
        self.answered("create_issue")
        if self.moderate_next > 0:
            self.moderate_next -= 1
            self.held[issue_id] = self.issues.pop(issue_id)
            return IssueCreated(None, {"metadata": {"moderated": True}}, moderated=True)
        return IssueCreated(issue_id, dict(self.issues[issue_id]))

    def approve_held(self) -> list[int]:
        """A moderator lets the held issues through: they appear, updated now."""
        approved = sorted(self.held)
        for issue_id in approved:
            self.issues[issue_id] = self.held.pop(issue_id)
            self.issues[issue_id]["updated_at"] = self.tick()
        return approved

    def acknowledge(self, issue_id: int, comment: str) -> dict[str, Any]:
        self.called("acknowledge", issue_id, comment)
        reply = self._transition(issue_id, "Acknowledged", comment)
        self.answered("acknowledge")
        return reply

    def close(self, issue_id: int, comment: str) -> dict[str, Any]:
        self.called("close", issue_id, comment)
        reply = self._transition(issue_id, "Closed", comment)
        self.answered("close")
        return reply

    def add_comment(
        self, issue_id: int, comment: str, image: Photo | None = None
    ) -> dict[str, Any]:
        self.called("add_comment", issue_id, comment)
        image_url = f"https://crm.test/files/comment_images/{image.filename}" if image else None
        reply = self._comment(issue_id, comment, self._official(), image_url)
        self.answered("add_comment")
        return reply

    def _transition(self, issue_id: int, status: str, comment: str) -> dict[str, Any]:
        reply = self._comment(issue_id, comment, self._official())
        self.update(issue_id, status=status)
        if status == "Closed":
            self.issues[issue_id]["closed_at"] = self.issues[issue_id]["updated_at"]
        return {**reply, "issue": {"status": status}}


class FakeGeocoder(Faults):
    server_url = "https://geocoder.test/GeocodeServer"

    def __init__(self, label: str = "165 Church St, New Haven, CT 06510") -> None:
        super().__init__()
        self.label = label

    def reverse(self, lat: float, lng: float) -> Address:
        self.called("reverse", lat, lng)
        if not self.label:
            raise GeocodeError("no address found at this location")
        return Address(
            self.label,
            {"Address": "165 Church St", "AddNum": "165", "City": "New Haven", "Postal": "06510"},
        )
