"""CentralSquare EAM (formerly Lucity): Work Requests (the full two-way
integration) and Work Orders (a deliberately limited one)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import requests

from geo.projection import projector_for

from ..base import (
    Connector,
    NoteOut,
    OutboundRequest,
    RemoteCategory,
    RemoteComment,
    RemoteRecord,
    RemoteRequest,
)
from ..errors import PermanentError, TransientError
from .client import SYSTEM, LucityClient, sql_in, sql_literal
from .settings import LucitySettings, LucityWorkOrderSettings, LucityWorkRequestSettings


def _status(raw: Mapping[str, Any]) -> int | None:
    try:
        return int(raw.get("StatusCode"))
    except (TypeError, ValueError):
        return None


def _marker(note: NoteOut) -> str:
    return f"[#{note.key}]"


class LucityConnector(Connector):
    """What both Lucity kinds share: the clients, projection, comments."""

    settings: LucitySettings
    # Which record family this kind works on ("request" or "work_order").
    family: ClassVar[str]

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
        return self.client.path(f"{self.family}{suffix}", auto)

    def _id_column(self) -> str:
        return getattr(self.settings.columns, f"{self.family}_id")

    def _external_column(self) -> str:
        return getattr(self.settings.columns, f"{self.family}_external_id")

    def _table(self) -> str:
        return getattr(self.settings.columns, f"{self.family}_table")

    def where(self, condition: str) -> str:
        return f"{self._table()} WHERE {condition}"

    def is_closed(self, status: int | None) -> bool:
        raise NotImplementedError

    def to_record(self, raw: Mapping[str, Any]) -> RemoteRecord:
        auto = raw.get("AutoNumber")
        if auto in (None, ""):
            raise TransientError("a Lucity record has no AutoNumber", system=SYSTEM)
        status = _status(raw)
        number = raw.get("RequestNumber" if self.family == "request" else "WorkOrderNumber")
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

    def fetch_records(self, remote_ids: Sequence[str]) -> dict[str, RemoteRecord]:
        if not remote_ids:
            return {}
        ids = [int(i) for i in remote_ids]
        rows = self.client.query(self._path("s"), self.where(sql_in(self._id_column(), ids)))
        return {r.remote_id: r for r in (self.to_record(row) for row in rows)}

    def created_record(self, created: Any, request: OutboundRequest) -> RemoteRecord:
        """The record a create returned (else found by external id), with its image."""
        if not isinstance(created, Mapping) or created.get("AutoNumber") in (None, ""):
            found = self.find_by_external_id(request.crm_issue_id)
            if found is None:
                raise PermanentError("the create reply had no AutoNumber", system=SYSTEM)
            created = found.fields
        record = self.to_record(created)
        if request.image_url:
            self._attach_image(record.remote_id, request.image_url, "Photo from the resident")
        return record

    def _attach_image(self, auto: str, url: str, description: str) -> None:
        """An image becomes a Document (link) on the record."""
        self.client.post_json(
            self.client.internal,
            self._path("_documents", auto),
            {"DocumentUrl": url, "Description": description, "PubliclyAvailable": True},
        )

    # -- comments ----------------------------------------------------------------
    def add_comments(self, remote_id: str, notes: Sequence[NoteOut]) -> None:
        """Each note a comment (commenter in RecordedBy), its image URL in the text
        and as a Document link; a marker makes a retry skip ones already there."""
        path = self._path("_comments", remote_id)
        existing = " ".join(str(c.get("Comment") or "") for c in self.client.query(path))
        for note in notes:
            if _marker(note) in existing:
                continue
            text = note.body + (f" Image: {note.image_url}" if note.image_url else "")
            self.client.post_json(
                self.client.internal,
                path,
                {
                    "Comment": f"{text} {_marker(note)}",
                    "RecordedBy": note.author or self.settings.recorded_by_default,
                    "PubliclyAvailable": True,
                },
            )
            if note.image_url:
                self._attach_image(remote_id, note.image_url, f"Image from {note.author or 'CRM'}")

    def fetch_comments(self, remote_ids: Sequence[str]) -> dict[str, list[RemoteComment]]:
        """Publicly Available comments (and, for work requests, documents).

        Lucity keeps them per record, so this is one call per record (per kind
        of child); it runs only for records whose comments are imported."""
        found: dict[str, list[RemoteComment]] = {}
        for remote_id in remote_ids:
            items = []
            for row in self.client.query(self._path("_comments", remote_id)):
                text = str(row.get("Comment") or "").strip()
                if not text or "[#" in text:  # our own notes carry a marker: never echo
                    continue
                items.append(
                    RemoteComment(
                        key=f"comment:{row.get('AutoNumber')}",
                        remote_id=str(remote_id),
                        body=text,
                        public=bool(row.get("PubliclyAvailable")),
                        author=row.get("RecordedBy"),
                        created_at=row.get("RecordedDate"),
                    )
                )
            if self.imports_documents and self.settings.import_images:
                for row in self.client.query(self._path("_documents", remote_id)):
                    url = row.get("DocumentUrl")
                    if not url:
                        continue
                    items.append(
                        RemoteComment(
                            key=f"document:{row.get('AutoNumber')}",
                            remote_id=str(remote_id),
                            body=str(row.get("Description") or "A photo was added.") + f" {url}",
                            public=bool(row.get("PubliclyAvailable")),
                            author=row.get("RecordedBy"),
                            image_url=url,
                        )
                    )
            found[str(remote_id)] = items
        return found

    imports_documents: ClassVar[bool] = False


class LucityWorkRequestConnector(LucityConnector):
    kind = "lucity-work-requests"
    settings_model = LucityWorkRequestSettings
    family = "request"
    imports_documents = True
    settings: LucityWorkRequestSettings

    def is_closed(self, status: int | None) -> bool:
        return status is not None and status >= self.settings.closed_status_at_least

    def closing_message_for(self, record: RemoteRecord) -> str | None:
        return self.settings.closing_messages.get(str(record.status))

    def build_request(self, request: OutboundRequest) -> tuple[dict[str, Any], str]:
        requester = request.requester
        xy, coordsys = self.coordinates(request.lat, request.lng)
        body: dict[str, Any] = {
            "ProblemCode": request.category_remote_id,
            "CategoryCode": self.settings.category_code,
            "RequestorName1": requester.first_name,
            "RequestorName2": requester.last_name,
            "RequestorEmail": requester.email,
            "RequestorPhone": requester.phone,
            "Comments": request.description,
            **xy,
            **_address_fields(request),
        }
        body = {k: v for k, v in body.items() if v not in (None, "")}
        body.update(request.custom_fields)
        body[self.settings.external_id_property] = str(request.crm_issue_id)
        return body, coordsys

    def create_request(self, request: OutboundRequest) -> RemoteRecord:
        body, coordsys = self.build_request(request)
        created = self.client.post_json(
            self.client.citizen, self.client.path("citizen_create"), body, COORDSYS=coordsys
        )
        return self.created_record(created, request)

    def fetch_categories(self) -> list[RemoteCategory]:
        rows = self.client.query(self.client.path("problem_codes"))
        return [
            RemoteCategory(
                key=str(row["Code"]),
                remote_id=str(row["Code"]),
                name=str(row.get("Description") or row["Code"]),
                active=not row.get("Inactive"),
            )
            for row in rows
            if row.get("Code") and row.get("CategoryCode") == self.settings.category_code
        ]

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
                    description=str(raw.get("Comments") or ""),
                    entered_at=raw.get("EntryDate"),
                )
            )
        return found

    def set_external_id(self, remote_id: str, crm_issue_id: int) -> None:
        self.client.put_json(
            self._path("", remote_id), {self.settings.external_id_property: str(crm_issue_id)}
        )


class LucityWorkOrderConnector(LucityConnector):
    """Exactly: create (with images), comments out, close and status messages by
    status code, comments in. Nothing else, by design (the vendor guide)."""

    kind = "lucity-work-orders"
    settings_model = LucityWorkOrderSettings
    family = "work_order"
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
        body: dict[str, Any] = {
            "ProblemCode": request.category_remote_id,
            "Description": request.description,
            "Address": request.reported_address,  # no secondary geocoding, by design
            **xy,
        }
        body = {k: v for k, v in body.items() if v not in (None, "")}
        body.update(request.custom_fields)
        body[self.settings.external_id_property] = str(request.crm_issue_id)
        created = self.client.post_json(
            self.client.internal, self._path("s"), body, COORDSYS=coordsys
        )
        return self.created_record(created, request)


def _address_fields(request: OutboundRequest) -> dict[str, Any]:
    parts = request.address_parts or {}
    return {
        "BuildingNumber": parts.get("number"),
        "Street": parts.get("street") or request.address,
        "LocationCity": parts.get("city"),
        "LocationZipCode": parts.get("zip"),
    }
