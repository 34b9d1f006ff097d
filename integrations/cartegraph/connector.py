"""OpenGov Enterprise Asset Management (formerly Cartegraph): requests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests

from ..base import (
    REQUESTER_KEYS,
    Connector,
    NoteOut,
    OutboundRequest,
    RemoteCategory,
    RemoteComment,
    RemoteRecord,
    RemoteRequest,
    Requester,
)
from ..errors import PermanentError, TransientError
from ..http import VendorHTTP
from . import filters
from .settings import CartegraphSettings

SYSTEM = "Cartegraph"


class CartegraphConnector(Connector):
    kind = "cartegraph"
    settings_model = CartegraphSettings
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
        creds = self.credentials()
        auth = (creds.username, creds.password or "") if creds.username else None
        self.http = VendorHTTP(
            SYSTEM, settings.endpoint, auth=auth, session=session, timeout=settings.timeout
        )

    # -- records -----------------------------------------------------------
    @property
    def request_class(self) -> str:
        return self.settings.request_class

    def _records(self, body: Any, class_name: str | None = None) -> list[dict[str, Any]]:
        """The records of a ``{"<Class>": [...], "_metadata": ...}`` envelope."""
        class_name = class_name or self.request_class
        if not isinstance(body, Mapping):
            raise TransientError(
                f"expected a {class_name} envelope, got {type(body).__name__}", system=SYSTEM
            )
        records = body.get(class_name)
        if records is None:
            return []
        if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
            raise TransientError(
                f"{class_name} in the reply is not a list of records", system=SYSTEM
            )
        return [dict(r) for r in records]

    def _query(
        self, filter_expr: str | None, *, limit: int = 1000, class_name: str | None = None
    ) -> list[dict[str, Any]]:
        """Every record matching ``filter_expr`` (all when None), following offset paging."""
        class_name = class_name or self.request_class
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            params: dict[str, Any] = {"limit": limit, "offset": offset}
            if filter_expr:
                params["filter"] = filter_expr
            body = self.http.get(f"classes/{class_name}", params=params)
            page = self._records(body, class_name)
            found.extend(page)
            total = (body.get("_metadata") or {}).get("totalCount")
            offset += limit
            if not page or not isinstance(total, int) or offset >= total:
                return found

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
        matches = self._query(filters.equals(self.settings.external_id_field, str(crm_issue_id)))
        if not matches:
            return None
        # Oldest first: if duplicates ever exist, always adopt the same one.
        matches.sort(key=lambda r: _sort_key(r.get("Oid")))
        return self.to_record(matches[0])

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

    def ensure_requester(self, requester: Requester) -> str:
        """Find the requester by email, else create one; return its reference."""
        class_name = self.settings.requester_class
        if class_name is None:
            return requester.email or requester.display_name or "SeeClickFix User"
        if requester.email:
            found = self._query(
                filters.equals("EmailField", requester.email), class_name=class_name
            )
            if found:
                found.sort(key=lambda r: _sort_key(r.get("Oid")))
                return self._reference(found[0])
        body = self.http.post(
            f"classes/{class_name}", json={class_name: [self.requester_record(requester)]}
        )
        created = [r for r in self._records(body, class_name) if r.get("Oid") not in (None, "")]
        if created:
            return self._reference(created[0])
        if requester.email:  # the create reply is undocumented: look it up
            found = self._query(
                filters.equals("EmailField", requester.email), class_name=class_name
            )
            if found:
                return self._reference(found[0])
        raise PermanentError("the requester create reply had no Oid", system=SYSTEM)

    def build_record(
        self, request: OutboundRequest, requester_ref: str | None = None
    ) -> dict[str, Any]:
        settings = self.settings
        record: dict[str, Any] = {
            "IssueField": request.category_remote_id,
            "RequesterField": requester_ref
            or request.requester.email
            or f"{settings.requester_first_name} {settings.requester_last_name}",
            "DescriptionField": request.description,
            "LocationDescriptionField": request.address or "",
            settings.external_id_field: str(request.crm_issue_id),
        }
        if request.lat is not None and request.lng is not None:
            record["lat"] = request.lat
            record["long"] = request.lng
        if request.image_url:
            record["AttachmentField"] = request.image_url
            record["LinkedField"] = True
        # Custom fields may replace a default (e.g. the reported address in
        # LocationDescriptionField), never the external id retries depend on.
        record.update(request.custom_fields)
        record[settings.external_id_field] = str(request.crm_issue_id)
        return record

    def create_request(self, request: OutboundRequest) -> RemoteRecord:
        requester_ref = self.ensure_requester(request.requester)
        body = self.http.post(
            f"classes/{self.request_class}",
            json={self.request_class: [self.build_record(request, requester_ref)]},
        )
        # The create reply's shape is not documented: use the record it
        # returns when it has an Oid, else find it by our external id.
        try:
            created = [r for r in self._records(body) if r.get("Oid") not in (None, "")]
        except TransientError:
            created = []
        if created:
            return self.to_record(created[0])
        found = self.find_by_external_id(request.crm_issue_id)
        if found is None:
            raise PermanentError(
                "the create reply had no Oid and no request carries "
                f"{self.settings.external_id_field}={request.crm_issue_id}",
                system=SYSTEM,
            )
        return found

    # -- importer ---------------------------------------------------------
    def fetch_new_requests(self, since: datetime) -> list[RemoteRequest]:
        """Requests with an entry date after ``since`` and no external id (ours
        carry the CRM issue id), oldest first."""
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        expr = (
            f"({filters.field_ref('EntryDateField')} is greater than {filters.literal(stamp)})"
            f" AND ({filters.field_ref(self.settings.external_id_field)} is null)"
        )
        found = []
        for raw in self._query(expr):
            if raw.get(self.settings.external_id_field) not in (None, ""):
                continue
            found.append(
                RemoteRequest(
                    record=self.to_record(raw),
                    category_remote_id=raw.get("IssueField") or None,
                    lat=_number(raw.get("lat")),
                    lng=_number(raw.get("long")),
                    address=raw.get("LocationDescriptionField") or None,
                    description=str(raw.get("DescriptionField") or ""),
                    entered_at=raw.get("EntryDateField"),
                )
            )
        found.sort(key=lambda r: (str(r.entered_at or ""), _sort_key(r.record.remote_id)))
        return found

    def set_external_id(self, remote_id: str, crm_issue_id: int) -> None:
        oid = int(remote_id) if str(remote_id).isdigit() else remote_id
        self.http.put(
            f"classes/{self.request_class}",
            json={
                self.request_class: [
                    {"Oid": oid, self.settings.external_id_field: str(crm_issue_id)}
                ]
            },
        )

    # -- comments ---------------------------------------------------------
    @staticmethod
    def note_marker(note: NoteOut) -> str:
        return f"[#{note.key}]"

    def format_note(self, note: NoteOut) -> str:
        when = note.created_at.strftime("%Y-%m-%d %H:%M") if note.created_at else ""
        who = ", ".join(p for p in (note.author, when) if p)
        text = f"{who}: {note.body}" if who else note.body
        if note.image_url:
            text = f"{text} Image: {note.image_url}"
        return f"{text} {self.note_marker(note)}"

    def add_comments(self, remote_id: str, notes: Sequence[NoteOut]) -> None:
        """Append to CommentsField/NotesField, never overwriting earlier text.

        Each note carries a marker with its key, so a retry after a lost reply
        finds it already there instead of writing it twice.
        """
        if not notes:
            return
        field = self.settings.comments_field
        current = self.fetch_records([remote_id]).get(str(remote_id))
        if current is None:
            raise PermanentError(f"request {remote_id} not found for comments", system=SYSTEM)
        text = str(current.fields.get(field) or "")
        new = [self.format_note(n) for n in notes if self.note_marker(n) not in text]
        if not new:
            return
        combined = "\n".join([text.rstrip("\n"), *new] if text.strip() else new)
        oid = int(remote_id) if str(remote_id).isdigit() else remote_id
        self.http.put(
            f"classes/{self.request_class}",
            json={self.request_class: [{"Oid": oid, field: combined}]},
        )

    def fetch_comments(self, remote_ids: Sequence[str]) -> dict[str, list[RemoteComment]]:
        """Comments of a batch of requests in one filtered query on the comment class."""
        s = self.settings
        if not remote_ids:
            return {}
        oids = [int(i) if str(i).isdigit() else str(i) for i in remote_ids]
        raw = self._query(filters.is_in(s.comment_parent_field, oids), class_name=s.comment_class)
        found: dict[str, list[RemoteComment]] = {str(i): [] for i in remote_ids}
        for record in sorted(raw, key=lambda r: _sort_key(r.get("Oid"))):
            parent = str(record.get(s.comment_parent_field))
            body = record.get(s.comment_text_field)
            if parent not in found or not isinstance(body, str) or not body.strip():
                continue
            author = record.get(s.comment_author_field) if s.comment_author_field else None
            date = record.get(s.comment_date_field) if s.comment_date_field else None
            found[parent].append(
                RemoteComment(
                    key=f"{s.comment_class}:{record.get('Oid')}",
                    remote_id=parent,
                    body=body.strip(),
                    public=_truthy(record.get(s.comment_public_field)),
                    author=str(author) if author else None,
                    created_at=str(date) if date else None,
                )
            )
        return found

    def fetch_categories(self) -> list[RemoteCategory]:
        """Request Issues (``cgRequestIssuesClass``), every page; no limit on how many."""
        area_field = self.settings.service_area_field
        categories = []
        for raw in self._query(None, class_name=self.settings.category_class):
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

    def fetch_records(self, remote_ids: Sequence[str]) -> dict[str, RemoteRecord]:
        if not remote_ids:
            return {}
        oids = [int(i) if str(i).isdigit() else str(i) for i in remote_ids]
        raw = self._query(filters.is_in("Oid", oids), limit=max(len(oids), 1))
        records = (self.to_record(r) for r in raw)
        return {r.remote_id: r for r in records}


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
