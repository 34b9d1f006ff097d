"""OpenGov Enterprise Asset Management (formerly Cartegraph): requests.

Mapping only: between the engine's records and Cartegraph's classes and
fields. HTTP, the envelope and paging are the client's (``client.py``); the
retry-safety mechanics (note markers, adopting a created record, the create
payload, remote-id values) are shared ones (``integrations.base``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests

from ..base import (
    REQUESTER_KEYS,
    Check,
    Connector,
    NoteOut,
    OutboundRequest,
    RemoteCategory,
    RemoteComment,
    RemoteRecord,
    RemoteRequest,
    Requester,
    create_payload,
    remote_id_value,
    remote_id_values,
    unwritten_notes,
    with_marker,
)
from ..errors import PermanentError, TransientError
from ..http import VendorHTTP
from ..memo import ExpiringCache
from . import filter_syntax as fs
from .client import SYSTEM, CartegraphClient
from .dates import ENTRY_DATE_FIELD, entry_time
from .preflight import CartegraphPreflight
from .settings import CartegraphSettings

# Requests read per page by the importer: a run usually finds a handful of new
# ones, so the first page of the newest ones is usually the only one.
IMPORT_PAGE_SIZE = 100
# Requesters remembered by email, per connector (one per worker process and
# integration), so a resident who reports again costs no call: at most this
# many, each for at most this long (a requester merged or renamed in
# Cartegraph is looked up again within the hour).
KNOWN_REQUESTERS = 10_000
KNOWN_REQUESTER_SECONDS = 3600.0
# An email just looked up and not found (``find_requester``, run ahead of the
# create) is created without a second lookup, if the create follows this soon
# (and only by the next create: a retry looks up again).
ABSENT_REQUESTER_SECONDS = 10.0


class CartegraphConnector(Connector):
    kind = "cartegraph"
    settings_model = CartegraphSettings
    system = SYSTEM
    settings: CartegraphSettings

    def __init__(
        self,
        settings: CartegraphSettings,
        *,
        session: requests.Session | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(settings, session=session, environ=environ)
        self.batch_size = settings.batch_size
        self.client = CartegraphClient(settings, self.credentials(), session)
        # email → requester reference, only as Cartegraph answered it (found or created).
        self.known_requesters: ExpiringCache[str, str] = ExpiringCache(
            KNOWN_REQUESTERS, KNOWN_REQUESTER_SECONDS
        )
        # emails Cartegraph just said it has no requester for (used once).
        self.absent_requesters: ExpiringCache[str, bool] = ExpiringCache(
            KNOWN_REQUESTERS, ABSENT_REQUESTER_SECONDS
        )

    @property
    def http(self) -> VendorHTTP:
        """The client's HTTP session (the poll benchmark reads single records with it)."""
        return self.client.http

    # -- records -----------------------------------------------------------
    @property
    def request_class(self) -> str:
        return self.settings.request_class

    def _requests(self, filter_expr: str | None, *, limit: int = 1000) -> list[dict[str, Any]]:
        return self.client.query(self.request_class, filter_expr, limit=limit)

    def _update(self, remote_id: str, fields: Mapping[str, Any]) -> None:
        self.client.update(self.request_class, [{"Oid": remote_id_value(remote_id), **fields}])

    def to_record(self, raw: Mapping[str, Any]) -> RemoteRecord:
        oid = raw.get("Oid")
        if oid in (None, ""):
            raise TransientError(f"a {self.request_class} record has no Oid", system=SYSTEM)
        status = raw.get("StatusField")
        external = raw.get(self.settings.external_id_field)
        return RemoteRecord(
            remote_id=str(oid),
            display_id=str(raw["IDField"]) if raw.get("IDField") not in (None, "") else None,
            status=str(status) if status is not None else None,
            closed=status in self.settings.closed_statuses,
            external_id=str(external) if external not in (None, "") else None,
            fields=dict(raw),
        )

    # -- Connector interface ----------------------------------------------
    def find_by_external_id(self, crm_issue_id: int) -> RemoteRecord | None:
        matches = self._requests(fs.equals(self.settings.external_id_field, str(crm_issue_id)))
        if not matches:
            return None
        # Oldest first: if duplicates ever exist, always adopt the same one.
        matches.sort(key=lambda r: _sort_key(r.get("Oid")))
        return self.to_record(matches[0])

    def records_by_external_ids(
        self, crm_issue_ids: Sequence[int]
    ) -> dict[str, list[RemoteRecord]]:
        if not crm_issue_ids:
            return {}
        field = self.settings.external_id_field
        raw = self._requests(fs.is_in(field, [str(i) for i in crm_issue_ids]))
        found: dict[str, list[RemoteRecord]] = {}
        for record in sorted(raw, key=lambda r: _sort_key(r.get("Oid"))):
            if record.get(field) not in (None, ""):
                found.setdefault(str(record[field]), []).append(self.to_record(record))
        return found

    def fetch_records(self, remote_ids: Sequence[str]) -> dict[str, RemoteRecord]:
        if not remote_ids:
            return {}
        oids = remote_id_values(remote_ids)
        raw = self._requests(fs.is_in("Oid", oids), limit=max(len(oids), 1))
        records = (self.to_record(r) for r in raw)
        return {r.remote_id: r for r in records}

    # -- requesters -------------------------------------------------------
    def requester_record(self, requester: Requester) -> dict[str, Any]:
        """Requester fields as Cartegraph names them (only the ones we know)."""
        values = {"EmailField": requester.email}
        for key, attribute in REQUESTER_KEYS.items():
            values[key] = getattr(requester, attribute)
        return {k: v for k, v in values.items() if v not in (None, "")}

    def _reference(self, record: Mapping[str, Any]) -> str:
        how = self.settings.requester_reference
        if how == "oid":
            return str(record["Oid"])
        if how == "email" and record.get("EmailField"):
            return str(record["EmailField"])
        name = " ".join(
            str(record[k]) for k in ("FirstNameField", "LastNameField") if record.get(k)
        )
        return name or str(record.get("EmailField") or record["Oid"])

    def _requester_by_email(self, class_name: str, email: str) -> dict[str, Any] | None:
        found = self.client.query(class_name, fs.equals("EmailField", email))
        found.sort(key=lambda r: _sort_key(r.get("Oid")))
        return found[0] if found else None

    def ensure_requester(self, requester: Requester) -> str:
        """What RequesterField carries: the fixed value (``requester.mode:
        fixed``), else the requester found by email or created.

        A requester found or created before (by this connector, within the
        hour) costs no call: its reference is remembered by email, and only
        once Cartegraph has answered with the record."""
        if self.settings.requester.mode == "fixed":
            return self.settings.requester.fixed_value
        class_name = self.settings.requester_class
        if class_name is None:
            return requester.email or requester.display_name or "SeeClickFix User"
        email = requester.email
        if email and (reference := self.known_requesters.get(email)) is not None:
            return reference
        if email and self.absent_requesters.pop(email):
            pass  # looked up a moment ago (find_requester): none yet
        elif email and (known := self._look_up(class_name, email)) is not None:
            return known
        created = self.client.create(class_name, [self.requester_record(requester)])
        if created:
            return self._remember_requester(email, created[0])
        # The create reply is undocumented: look the new requester up.
        if email and (known := self._look_up(class_name, email)) is not None:
            return known
        raise PermanentError("the requester create reply had no Oid", system=SYSTEM)

    def _look_up(self, class_name: str, email: str) -> str | None:
        known = self._requester_by_email(class_name, email)
        return self._remember_requester(email, known) if known is not None else None

    def looks_up_requester(self, requester: Requester) -> bool:
        return (
            self.settings.requester.mode != "fixed"
            and self.settings.requester_class is not None
            and bool(requester.email)
            and self.known_requesters.get(requester.email) is None
        )

    def find_requester(self, requester: Requester) -> str | None:
        """The reference of the requester Cartegraph has for this email (one
        read), remembered; None when there is none (or no email, or no class)."""
        class_name = self.settings.requester_class
        if self.settings.requester.mode == "fixed" or class_name is None or not requester.email:
            return None
        if (reference := self.known_requesters.get(requester.email)) is not None:
            return reference
        found = self._look_up(class_name, requester.email)
        if found is None:
            self.absent_requesters.put(requester.email, True)
        return found

    def _remember_requester(self, email: str | None, record: Mapping[str, Any]) -> str:
        reference = self._reference(record)
        if email:
            self.known_requesters.put(email, reference)
        return reference

    # -- create -------------------------------------------------------------
    def build_record(
        self, request: OutboundRequest, requester_ref: str | None = None
    ) -> dict[str, Any]:
        """The new request's fields (custom fields may replace a default, e.g. the
        reported address in LocationDescriptionField, never the external id)."""
        settings = self.settings
        # Empty values are dropped by create_payload: coordinates only in pairs,
        # the attachment fields only with an image.
        located = request.lat is not None and request.lng is not None
        mapped: dict[str, Any] = {
            "IssueField": request.category_remote_id,
            "RequesterField": requester_ref
            or request.requester.email
            or f"{settings.requester_first_name} {settings.requester_last_name}",
            "DescriptionField": request.description,
            "LocationDescriptionField": request.address,
            "lat": request.lat if located else None,
            "long": request.lng if located else None,
            "AttachmentField": request.image_url,
            "LinkedField": True if request.image_url else None,
        }
        return create_payload(
            mapped,
            request.custom_fields,
            external_id_field=settings.external_id_field,
            crm_issue_id=request.crm_issue_id,
        )

    def create_request(self, request: OutboundRequest) -> RemoteRecord:
        requester_ref = self.ensure_requester(request.requester)

        def send() -> RemoteRecord | None:
            created = self.client.create(
                self.request_class, [self.build_record(request, requester_ref)]
            )
            return self.to_record(created[0]) if created else None

        return self.create_and_adopt(
            request.crm_issue_id,
            send,
            reply_id="Oid",
            external_field=self.settings.external_id_field,
        )

    # -- importer ---------------------------------------------------------
    def fetch_new_requests(self, since: datetime) -> list[RemoteRequest]:
        """Requests entered after ``since`` and without an external id (ours
        carry the CRM issue id), oldest first.

        Only documented query features: no public example filters with ``is
        greater than`` or ``is null``, so the requests are read newest first
        with the documented sort (``EntryDateField:dsc``) until a page reaches
        one entered at or before ``since``, and ours are skipped here."""
        found: dict[str, RemoteRequest] = {}
        after = since.astimezone(UTC)
        pages = self.client.pages(
            f"classes/{self.request_class}",
            self.request_class,
            sort=f"{ENTRY_DATE_FIELD}:dsc",
            limit=IMPORT_PAGE_SIZE,
        )
        for page in pages:
            reached_since = False
            for raw in page:
                entered = entry_time(raw.get(ENTRY_DATE_FIELD))
                if entered is None:
                    continue  # no entry date: nothing says it is new
                if entered <= after:
                    reached_since = True
                elif raw.get(self.settings.external_id_field) in (None, ""):
                    candidate = self._candidate(raw)
                    found[candidate.record.remote_id] = candidate  # a page shift may repeat one
            if reached_since:
                break
        return sorted(
            found.values(), key=lambda r: (str(r.entered_at or ""), _sort_key(r.record.remote_id))
        )

    def _candidate(self, raw: Mapping[str, Any]) -> RemoteRequest:
        return RemoteRequest(
            record=self.to_record(raw),
            category_remote_id=raw.get("IssueField") or None,
            lat=_number(raw.get("lat")),
            lng=_number(raw.get("long")),
            address=raw.get("LocationDescriptionField") or None,
            description=str(raw.get("DescriptionField") or ""),
            entered_at=raw.get(ENTRY_DATE_FIELD),
        )

    def set_external_id(self, remote_id: str, crm_issue_id: int) -> None:
        self._update(remote_id, {self.settings.external_id_field: str(crm_issue_id)})

    # -- comments and closing ------------------------------------------------
    def format_note(self, note: NoteOut) -> str:
        """One line of the comments field: who, when, the text, the image, the marker."""
        when = note.created_at.strftime("%Y-%m-%d %H:%M") if note.created_at else ""
        who = ", ".join(p for p in (note.author, when) if p)
        text = f"{who}: {note.body}" if who else note.body
        if note.image_url:
            text = f"{text} Image: {note.image_url}"
        return with_marker(text, note)

    def _comments_with(self, current: RemoteRecord, notes: Sequence[NoteOut]) -> str | None:
        """The comments field with the notes not yet in it appended; None when all are."""
        text = str(current.fields.get(self.settings.comments_field) or "")
        new = [self.format_note(n) for n in unwritten_notes(notes, text)]
        if not new:
            return None
        return "\n".join([text.rstrip("\n"), *new] if text.strip() else new)

    def add_comments(self, remote_id: str, notes: Sequence[NoteOut]) -> None:
        """Append to CommentsField/NotesField, never overwriting earlier text.

        Comments travel in a field, so the whole field is written back: a
        note whose marker is already in it is not appended again."""
        if not notes:
            return
        combined = self._comments_with(self.current_record(remote_id, purpose="comments"), notes)
        if combined is not None:
            self._update(remote_id, {self.settings.comments_field: combined})

    def close_request(self, remote_id: str, note: NoteOut) -> None:
        """Set ``crm_close_status`` and append the note, in one update.

        A request a crew already closed keeps its status; on a retry the note
        is found by its marker, so an update that already happened is not
        sent again."""
        current = self.current_record(remote_id, purpose="closing")
        changes: dict[str, Any] = {}
        if (combined := self._comments_with(current, [note])) is not None:
            changes[self.settings.comments_field] = combined
        if not current.closed:
            changes["StatusField"] = self.settings.crm_close_status
        if changes:
            self._update(remote_id, changes)

    def fetch_comments(self, remote_ids: Sequence[str]) -> dict[str, list[RemoteComment]]:
        """Comments of these requests: one read of the documented child path per
        request (``comment_query: per_request``), or one filtered query on the
        comment class for the whole batch (``batch``)."""
        if not remote_ids:
            return {}
        if self.settings.comment_query == "batch":
            return self._comments_in_one_query(remote_ids)
        found: dict[str, list[RemoteComment]] = {}
        for remote_id in remote_ids:
            raw = self.client.children(
                self.request_class, remote_id_value(remote_id), self.settings.comment_child_class
            )
            found[str(remote_id)] = self._comments_of(str(remote_id), raw)
        return found

    def _comments_in_one_query(self, remote_ids: Sequence[str]) -> dict[str, list[RemoteComment]]:
        s = self.settings
        raw = self.client.query(
            s.comment_child_class,
            fs.is_in(s.comment_parent_field, remote_id_values(remote_ids)),
        )
        by_parent: dict[str, list[dict[str, Any]]] = {str(i): [] for i in remote_ids}
        for record in raw:
            parent = str(record.get(s.comment_parent_field))
            if parent in by_parent:
                by_parent[parent].append(record)
        return {parent: self._comments_of(parent, rows) for parent, rows in by_parent.items()}

    def _comments_of(self, parent: str, raw: Sequence[Mapping[str, Any]]) -> list[RemoteComment]:
        """The readable comments of one request, oldest first."""
        comments = []
        for record in sorted(raw, key=lambda r: _sort_key(r.get("Oid"))):
            body = record.get(self.settings.comment_text_field)
            if isinstance(body, str) and body.strip():
                comments.append(self._comment(parent, record, body))
        return comments

    def _comment(self, parent: str, record: Mapping[str, Any], body: str) -> RemoteComment:
        s = self.settings
        author = record.get(s.comment_author_field) if s.comment_author_field else None
        date = record.get(s.comment_date_field) if s.comment_date_field else None
        return RemoteComment(
            key=f"{s.comment_child_class}:{record.get('Oid')}",
            remote_id=parent,
            body=body.strip(),
            public=_truthy(record.get(s.comment_public_field)),
            author=str(author) if author else None,
            created_at=str(date) if date else None,
        )

    # -- preflight --------------------------------------------------------------
    def preflight(self) -> list[Check]:
        """Every configured class, field and filter column read once against
        the live server (``limit=1``; see ``preflight.py``). Never writes."""
        return CartegraphPreflight(self.settings, self.client).run()

    # -- categories -----------------------------------------------------------
    def fetch_categories(self) -> list[RemoteCategory]:
        """Request Issues (``cgRequestIssuesClass``), every page; no limit on how many."""
        area_field = self.settings.service_area_field
        categories = []
        for raw in self.client.query(self.settings.category_class):
            name = raw.get("IssueField")
            if raw.get("Oid") in (None, "") or not isinstance(name, str) or not name.strip():
                continue  # a category without a name cannot be offered or sent
            group = raw.get(area_field) if area_field else None
            categories.append(
                RemoteCategory(
                    key=str(raw["Oid"]),
                    remote_id=name,
                    name=name,
                    group=str(group) if group not in (None, "") else None,
                    internal=_truthy(raw.get("InternalRequestCategoryField")),
                    active=not _truthy(raw.get("InactiveField")),
                )
            )
        return categories


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN is no coordinate


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "y")
    return bool(value)


def _sort_key(oid: Any) -> tuple[int, Any]:
    try:
        return (0, int(oid))
    except (TypeError, ValueError):
        return (1, str(oid))
