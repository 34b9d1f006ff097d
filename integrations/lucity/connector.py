"""CentralSquare EAM (formerly Lucity): Work Requests (the full two-way
integration) and Work Orders (a deliberately limited one).

Mapping only: HTTP and paging are the client's (``client.py``); the
retry-safety mechanics (note markers, adopting a created record, the create
payload, remote-id values) are shared ones (``integrations.base``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import requests

from geo.projection import projector_for

from ..base import (
    Check,
    Connector,
    NoteOut,
    OutboundRequest,
    Photo,
    RemoteCategory,
    RemoteComment,
    RemoteRecord,
    RemoteRequest,
    Requester,
    create_payload,
    has_hub_marker,
    remote_id_values,
    unwritten_notes,
    with_marker,
)
from ..errors import TransientError
from ..http import VendorFormatError
from .client import SYSTEM, LucityClient, sql_in, sql_literal
from .preflight import Preflight
from .settings import LucitySettings, LucityWorkOrderSettings, LucityWorkRequestSettings


def _status(raw: Mapping[str, Any]) -> int | None:
    try:
        return int(raw.get("StatusCode"))
    except (TypeError, ValueError):
        return None


class LucityConnector(Connector):
    """What both Lucity kinds share: the clients, projection, comments."""

    settings: LucitySettings
    system = SYSTEM
    # The Lucity record type this kind works on: "request" (Work Requests) or
    # "work_order". It names the kind's settings: paths (`request_comments`,
    # `work_order_comments`) and FILTER columns (`request_id`, `work_order_id`).
    record_type: ClassVar[str]
    # Whether Publicly Available documents are imported with the comments.
    imports_documents: ClassVar[bool] = False

    def __init__(
        self,
        settings: LucitySettings,
        *,
        session: requests.Session | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(settings, session=session, environ=environ)
        self.batch_size = min(settings.take, 100)
        self.client = LucityClient(settings, self.credentials(), session)

    # -- coordinates ---------------------------------------------------------
    def coordinates(self, lat: float | None, lng: float | None) -> tuple[dict[str, Any], str]:
        """X/Y in the agency's SRID (COORDSYS=LOCAL), else WGS84 (COORDSYS=LATLONG)."""
        if lat is None or lng is None:
            return {}, "LOCAL"
        if self.settings.srid is None:
            return {"XCoordinate": lng, "YCoordinate": lat}, "LATLONG"
        x, y = projector_for(self.settings.srid).to_xy(lat, lng)
        return {"XCoordinate": round(x, 3), "YCoordinate": round(y, 3)}, "LOCAL"

    def latlng(self, raw: Mapping[str, Any]) -> tuple[float | None, float | None]:
        x, y = raw.get("XCoordinate"), raw.get("YCoordinate")
        if x in (None, "", 0) or y in (None, "", 0):
            return None, None
        if self.settings.srid is None:
            return float(y), float(x)
        return projector_for(self.settings.srid).to_latlng(float(x), float(y))

    # -- records ---------------------------------------------------------------
    def _path(self, suffix: str, auto: Any = None) -> str:
        return self.client.path(f"{self.record_type}{suffix}", auto)

    def _id_column(self) -> str:
        return getattr(self.settings.columns, f"{self.record_type}_id")

    def _external_column(self) -> str:
        return getattr(self.settings.columns, f"{self.record_type}_external_id")

    def _table(self) -> str:
        return getattr(self.settings.columns, f"{self.record_type}_table")

    def where(self, condition: str) -> str:
        return f"{self._table()} WHERE {condition}"

    def is_closed(self, status: int | None) -> bool:
        raise NotImplementedError

    def to_record(self, raw: Mapping[str, Any]) -> RemoteRecord:
        auto = raw.get("AutoNumber")
        if auto in (None, ""):
            raise TransientError("a Lucity record has no AutoNumber", system=SYSTEM)
        status = _status(raw)
        number = raw.get("RequestNumber" if self.record_type == "request" else "WorkOrderNumber")
        external = raw.get(self.settings.external_id_property)
        return RemoteRecord(
            remote_id=str(auto),
            display_id=str(number) if number else None,
            status=str(status) if status is not None else None,
            closed=self.is_closed(status),
            external_id=str(external) if external not in (None, "") else None,
            fields=dict(raw),
        )

    def find_by_external_id(self, crm_issue_id: int) -> RemoteRecord | None:
        rows = self.client.query(
            self._path("s"),
            self.where(f"{self._external_column()} = {sql_literal(str(crm_issue_id))}"),
        )
        rows.sort(key=lambda r: int(r.get("AutoNumber") or 0))
        return self.to_record(rows[0]) if rows else None

    def records_by_external_ids(
        self, crm_issue_ids: Sequence[int]
    ) -> dict[str, list[RemoteRecord]]:
        if not crm_issue_ids:
            return {}
        rows = self.client.query(
            self._path("s"),
            self.where(sql_in(self._external_column(), [str(i) for i in crm_issue_ids])),
        )
        found: dict[str, list[RemoteRecord]] = {}
        for record in sorted((self.to_record(row) for row in rows), key=_by_number):
            if record.external_id is not None:
                found.setdefault(record.external_id, []).append(record)
        return found

    def fetch_records(self, remote_ids: Sequence[str]) -> dict[str, RemoteRecord]:
        if not remote_ids:
            return {}
        ids = remote_id_values(remote_ids)
        # One query per batch: a batch never holds more rows than ids.
        rows = self.client.query(
            self._path("s"), self.where(sql_in(self._id_column(), ids)), at_most=len(ids)
        )
        return {r.remote_id: r for r in (self.to_record(row) for row in rows)}

    def payload_for(self, request: OutboundRequest, mapped: Mapping[str, Any]) -> dict[str, Any]:
        """``mapped`` as a create body: custom fields over it, our external id applied last."""
        return create_payload(
            mapped,
            request.custom_fields,
            external_id_field=self.settings.external_id_property,
            crm_issue_id=request.crm_issue_id,
        )

    def created_record(self, request: OutboundRequest, send: Callable[[], Any]) -> RemoteRecord:
        """Create with ``send`` (the reply: the new record, or not), and adopt the
        record by external id when the reply has no AutoNumber."""

        def sent() -> RemoteRecord | None:
            created = send()
            if not isinstance(created, Mapping) or created.get("AutoNumber") in (None, ""):
                return None
            return self.to_record(created)

        return self.create_and_adopt(
            request.crm_issue_id,
            sent,
            reply_id="AutoNumber",
            external_field=self.settings.external_id_property,
        )

    # -- preflight ---------------------------------------------------------------
    def preflight_runner(self) -> Preflight:
        return Preflight(self)

    def preflight(self) -> list[Check]:
        """Read-only checks of the configured names (``preflight.py``): sign-in,
        the module's FILTER table and columns, the external-id property, the
        comment child path; never a write."""
        return self.preflight_runner().run()

    # -- comments ----------------------------------------------------------------
    def add_comments(self, remote_id: str, notes: Sequence[NoteOut]) -> None:
        """Each note a comment (commenter in RecordedBy, as the vendor guide has
        it), its image URL in the text; a marker makes a retry skip ones already
        there.

        The guide also lists a comment's image as a Document link, but no public
        source shows an endpoint that takes a link (the ``Documents`` child is
        not in the public record), so the link stays in the comment."""
        path = self._path("_comments", remote_id)
        existing = " ".join(str(c.get("Comment") or "") for c in self.client.query(path))
        for note in unwritten_notes(notes, existing):
            text = note.body + (f" Image: {note.image_url}" if note.image_url else "")
            self.client.post_json(
                self.client.internal,
                path,
                {
                    "Comment": with_marker(text, note),
                    "RecordedBy": note.author or self.settings.recorded_by_default,
                    self.settings.public_property: True,
                },
            )

    def fetch_comments(self, remote_ids: Sequence[str]) -> dict[str, list[RemoteComment]]:
        """Comments (and, for work requests, documents) with their Publicly Available flag.

        Lucity keeps them per record, so this is one call per record (per kind
        of child); it runs only for records whose comments are imported."""
        found: dict[str, list[RemoteComment]] = {}
        for remote_id in remote_ids:
            items = self._comments_of(str(remote_id))
            if self.imports_documents and self.settings.import_images:
                items.extend(self._documents_of(str(remote_id)))
            found[str(remote_id)] = items
        return found

    def _comments_of(self, remote_id: str) -> list[RemoteComment]:
        items = []
        for row in self.client.query(self._path("_comments", remote_id)):
            text = str(row.get("Comment") or "").strip()
            if not text or has_hub_marker(text):  # our own notes: never echo them back
                continue
            items.append(
                RemoteComment(
                    key=f"comment:{row.get('AutoNumber')}",
                    remote_id=remote_id,
                    body=text,
                    public=bool(row.get(self.settings.public_property)),
                    author=row.get("RecordedBy"),
                    created_at=row.get("RecordedDate"),
                )
            )
        return items

    def _documents_of(self, remote_id: str) -> list[RemoteComment]:
        """Publicly Available documents, each a comment carrying its URL as the
        image (``paths.request_documents``, ``DocumentUrl``, ``Description``:
        names not in the public record, configurable where they are paths)."""
        items = []
        for row in self.client.query(self._path("_documents", remote_id)):
            url = row.get("DocumentUrl")
            if not url:
                continue
            items.append(
                RemoteComment(
                    key=f"document:{row.get('AutoNumber')}",
                    remote_id=remote_id,
                    body=str(row.get("Description") or "A photo was added."),
                    public=bool(row.get(self.settings.public_property)),
                    author=row.get("RecordedBy"),
                    image_url=url,
                )
            )
        return items


class LucityWorkRequestConnector(LucityConnector):
    kind = "lucity-work-requests"
    settings_model = LucityWorkRequestSettings
    record_type = "request"
    imports_documents = True
    # The photo goes through the citizen media endpoint after the create: the
    # engine downloads it and calls ``attach_photo`` as a leg of its own.
    uploads_photos = True
    settings: LucityWorkRequestSettings

    def is_closed(self, status: int | None) -> bool:
        return status is not None and status >= self.settings.closed_status_at_least

    def closing_message_for(self, record: RemoteRecord) -> str | None:
        return self.settings.closing_messages.get(str(record.status))

    def build_request(self, request: OutboundRequest) -> tuple[dict[str, Any], str]:
        """The citizen create body (the sample's field names), and its COORDSYS.

        No image: the photo is uploaded on its own (``attach_photo``)."""
        requester = request.requester
        first, last = requestor_names(
            requester,
            request.reporter_name,
            default_first=self.settings.requester_first_name,
            default_last=self.settings.requester_last_name,
        )
        xy, coordsys = self.coordinates(request.lat, request.lng)
        mapped: dict[str, Any] = {
            "ProblemCode": request.category_remote_id,
            "CategoryCode": self.settings.category_code,
            "RequestorName1": first,
            "RequestorName2": last,
            "RequestorEmail": requester.email,
            "RequestorPhone": requester.phone,
            self.settings.description_property: request.description,
            **xy,
            **_address_fields(request),
        }
        return self.payload_for(request, mapped), coordsys

    def create_request(self, request: OutboundRequest) -> RemoteRecord:
        body, coordsys = self.build_request(request)
        return self.created_record(
            request,
            lambda: self.client.post_json(
                self.client.citizen, self.client.path("citizen_create"), body, COORDSYS=coordsys
            ),
        )

    def attach_photo(self, remote_id: str, photo: Photo) -> None:
        """The resident's photo, uploaded to the work request through the citizen
        media endpoint (multipart, ``FileToUpload``): Lucity keeps it as a
        Document of the request."""
        self.client.upload(self.client.path("citizen_media", remote_id), photo)

    def close_request(self, remote_id: str, note: NoteOut) -> None:
        """The note as a comment (marked, so written once), then ``crm_close_status_code``
        through the internal API's record PUT, unless a crew already closed it."""
        current = self.current_record(remote_id, purpose="closing")
        self.add_comments(remote_id, [note])
        if not current.closed:
            self.client.put_json(
                self._path("", remote_id), {"StatusCode": self.settings.crm_close_status_code}
            )

    def fetch_categories(self) -> list[RemoteCategory]:
        """The problem codes the server offers residents (``311Only=true``: the
        ones the agency associated with its 311 category code, per the guide).

        The documented lookup carries only ``CodeValue`` and ``TypeValue``: no
        inactive flag, no category code. A code staff disable or take out of
        the 311 category leaves the list, and the engine's category sync
        disables every category missing from it; so every category returned
        here is active."""
        path = self.client.path("problem_code_lookup")
        found: dict[str, RemoteCategory] = {}
        for row in self.client.lookup(path):
            category = _problem_code(row, path)
            found.setdefault(category.remote_id, category)
        return list(found.values())

    def fetch_new_requests(self, since: datetime) -> list[RemoteRequest]:
        local = since.astimezone(ZoneInfo(self.settings.timezone)).strftime("%Y-%m-%dT%H:%M:%S")
        columns = self.settings.columns
        condition = (
            f"{columns.request_entry_date} > {sql_literal(local)} AND "
            f"{columns.request_external_id} IS NULL"
        )
        found = []
        for raw in self.client.query(self._path("s"), self.where(condition)):
            lat, lng = self.latlng(raw)
            street = " ".join(str(raw[k]) for k in ("BuildingNumber", "Street") if raw.get(k))
            found.append(
                RemoteRequest(
                    record=self.to_record(raw),
                    category_remote_id=raw.get("ProblemCode"),
                    lat=lat,
                    lng=lng,
                    address=street or None,
                    description=str(raw.get(self.settings.description_property) or ""),
                    entered_at=raw.get("EntryDate"),
                )
            )
        return found

    def set_external_id(self, remote_id: str, crm_issue_id: int) -> None:
        self.client.put_json(
            self._path("", remote_id), {self.settings.external_id_property: str(crm_issue_id)}
        )

    def preflight(self) -> list[Check]:
        checks = super().preflight()
        return checks + [self.preflight_runner().problem_code_lookup()]


class LucityWorkOrderConnector(LucityConnector):
    """Exactly: create (with the photo's link), comments out, close and status
    messages by status code, comments in. Nothing else, by design (the vendor
    guide).

    The guide says "including image attachments", but the only documented
    upload is the citizen API's ``Requests.svc/{AutoNumber}/media/``, for work
    requests. The internal API's document upload is described in the REST help
    with a URL built from a module id that no public text gives, and no public
    source shows a ``Documents`` child on a work order. So a work order gets
    the photo as a link in its description text, where the crew reads it, and
    no upload leg (``uploads_photos`` stays off)."""

    kind = "lucity-work-orders"
    settings_model = LucityWorkOrderSettings
    record_type = "work_order"
    settings: LucityWorkOrderSettings

    def is_closed(self, status: int | None) -> bool:
        return status is not None and status in self.settings.close_at_status

    def closing_message_for(self, record: RemoteRecord) -> str | None:
        return self.settings.status_messages.get(str(record.status))

    def status_message_for(self, record: RemoteRecord) -> str | None:
        if record.closed:
            return None
        return self.settings.status_messages.get(str(record.status))

    def create_request(self, request: OutboundRequest) -> RemoteRecord:
        xy, coordsys = self.coordinates(request.lat, request.lng)
        description = request.description
        if request.image_url:
            description = f"{description}\nPhoto: {request.image_url}".strip()
        mapped: dict[str, Any] = {
            "ProblemCode": request.category_remote_id,
            self.settings.description_property: description,
            "Address": request.reported_address,  # no secondary geocoding, by design
            **xy,
        }
        body = self.payload_for(request, mapped)
        return self.created_record(
            request,
            lambda: self.client.post_json(
                self.client.internal, self._path("s"), body, COORDSYS=coordsys
            ),
        )


def requestor_names(
    requester: Requester,
    reporter_name: str | None,
    *,
    default_first: str | None,
    default_last: str | None,
) -> tuple[str | None, str | None]:
    """``RequestorName1``/``RequestorName2``: the resident's name where the CRM has it.

    Names from private secondary questions come first (the engine puts them in
    ``requester``; a part no question gave holds the configured default). When
    neither part came from a question, the CRM reporter's own name is used,
    split at its last space; only without one does the integration's default
    ("SeeClickFix User") remain."""
    first, last = requester.first_name, requester.last_name
    from_questions = (first, last) != (default_first, default_last)
    name = " ".join((reporter_name or "").split())
    if from_questions or not name:
        return first, last
    given, _, family = name.rpartition(" ")
    return (given, family) if given else (family, None)


def _problem_code(row: Mapping[str, Any], path: str) -> RemoteCategory:
    """One lookup row as a category; a row without a code is a format error,
    not a row to skip: skipping would disable that category in the CRM."""
    code = row.get("CodeValue")
    if isinstance(code, bool) or not isinstance(code, str | int) or str(code).strip() == "":
        raise VendorFormatError(
            f"{path}: a lookup row has no CodeValue: {dict(row)!r:.120}", system=SYSTEM
        )
    code = str(code).strip()
    name = row.get("TypeValue")
    return RemoteCategory(
        key=code, remote_id=code, name=str(name).strip() if name not in (None, "") else code
    )


def _address_fields(request: OutboundRequest) -> dict[str, Any]:
    parts = request.address_parts or {}
    return {
        "BuildingNumber": parts.get("number"),
        "Street": parts.get("street") or request.address,
        "LocationCity": parts.get("city"),
        "LocationZipCode": parts.get("zip"),
    }


def _by_number(record: RemoteRecord) -> tuple[int, str]:
    """Oldest first: AutoNumbers grow with each new record."""
    text = str(record.remote_id)
    return (int(text), text) if text.isdigit() else (0, text)
