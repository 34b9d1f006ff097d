"""The interface between the sync engine and a work-management system.

Designed with both vendors in view: Cartegraph identifies a request by
``Oid`` and shows ``IDField``; Lucity by ``AutoNumber`` and ``RequestNumber``.
Cartegraph reports status as text (``Open``/``Closed``), Lucity as numeric
codes with a closed threshold. The engine sees only ``RemoteRecord`` with
``remote_id``, ``display_id``, ``status`` and ``closed``, and asks for
records in batches whose size the connector chooses.

The mechanics that make the sync safe to retry (note markers, adopting a
created record by its external id, the create payload, remote-id values)
live in ``integrations.mechanics`` and are re-exported here: vendor packages
keep to mapping.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import requests

from .errors import IntegrationConfigError, NotSupportedError, PermanentError
from .mechanics import (  # noqa: F401 (re-exported for vendor packages)
    create_payload,
    create_then_adopt,
    has_hub_marker,
    note_marker,
    remote_id_value,
    remote_id_values,
    unwritten_notes,
    with_marker,
)
from .settings import REQUESTER_KEYS, IntegrationSettings  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class Requester:
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    secondary_phone: str | None = None
    address_number: str | None = None
    unit: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip_code: str | None = None

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or (self.email or "")


@dataclass(frozen=True)
class OutboundRequest:
    """Everything a connector may map onto a new remote request."""

    crm_issue_id: int
    category_remote_id: str
    summary: str
    description: str  # the resident's text plus "question: answer" lines
    lat: float | None
    lng: float | None
    reported_address: str | None
    verified_address: str | None
    image_url: str | None
    requester: Requester
    answers: Mapping[str, str] = field(default_factory=dict)
    # Resolved per-category custom fields (remote field → typed value).
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    # The verified address in parts (number, street, city, zip) when known.
    address_parts: Mapping[str, str] = field(default_factory=dict)
    # The CRM reporter's display name, for vendors that record a requester's
    # name (Lucity's RequestorName1/2) when no private question gave one.
    reporter_name: str | None = None

    @property
    def address(self) -> str | None:
        """The ArcGIS-verified address, else what the resident reported."""
        return self.verified_address or self.reported_address


@dataclass(frozen=True)
class RemoteRecord:
    """A remote request as the engine needs it; ``fields`` keeps the raw record."""

    remote_id: str
    display_id: str | None
    status: str | None
    closed: bool
    external_id: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NoteOut:
    """A comment to append to a remote request (from the CRM, or the hub's own note)."""

    key: str  # unique per issue; written with the note so a retry never doubles it
    body: str
    author: str | None = None
    created_at: datetime | None = None
    image_url: str | None = None


@dataclass(frozen=True)
class RemoteComment:
    """A comment on a remote request (import it when public)."""

    key: str
    remote_id: str  # the request it belongs to
    body: str
    public: bool
    author: str | None = None
    created_at: str | None = None
    image_url: str | None = None


@dataclass(frozen=True)
class RemoteCategory:
    """A remote request category (Cartegraph Request Issue, Lucity Problem Code)."""

    key: str  # stable identity (survives renames)
    remote_id: str  # the value sent on requests
    name: str
    group: str | None = None  # service area
    internal: bool = False
    active: bool = True


@dataclass(frozen=True)
class RemoteRequest:
    """A request entered directly in the remote system (a candidate for import)."""

    record: RemoteRecord
    category_remote_id: str | None
    lat: float | None
    lng: float | None
    address: str | None
    description: str
    entered_at: str | None = None


@dataclass(frozen=True)
class Photo:
    """A photo downloaded from the CRM, to upload where a vendor takes files."""

    content: bytes
    content_type: str  # image/jpeg, image/png, ...
    filename: str


@dataclass(frozen=True)
class Check:
    """One preflight check against a live server (``crosswalk check``): what was
    tried, whether it worked, the vendor's words, and the setting to change
    when it did not. Preflight checks only read: they never write to a vendor."""

    system: str  # "public-works (OpenGov EAM)", "SeeClickFix", "ArcGIS"
    name: str  # "request class cgRequestsClass", "filter column RQ_EXTERNAL_ID"
    ok: bool
    detail: str  # the vendor's words, or what was found
    setting: str | None = None  # e.g. "integrations[public-works].external_id_field"


@dataclass(frozen=True)
class Credentials:
    username: str | None
    password: str | None


def read_secret(env_name: str | None, *, what: str, environ: Mapping[str, str]) -> str | None:
    """The value of the environment variable ``env_name`` names, or a clear error."""
    if not env_name:
        return None
    value = environ.get(env_name)
    if value is None or value == "":
        raise IntegrationConfigError(f"environment variable {env_name} ({what}) is not set")
    return value


class Connector(ABC):
    """One work-management system, as one integration of one agency sees it."""

    kind: ClassVar[str]
    # The kind's keys, label and feature capabilities (see IntegrationSettings).
    settings_model: ClassVar[type[IntegrationSettings]] = IntegrationSettings
    # How many remote ids one status query may carry.
    batch_size: ClassVar[int] = 100
    # The vendor's name in errors ("Cartegraph: HTTP 400: ...").
    system: ClassVar[str] = ""

    def __init__(
        self,
        settings: IntegrationSettings,
        *,
        session: requests.Session | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.environ = os.environ if environ is None else environ
        self.session = session

    @property
    def label(self) -> str:
        """The kind's name in messages, as its settings model declares it."""
        return self.settings.label or self.kind

    def credentials(self) -> Credentials:
        name = self.settings.name
        return Credentials(
            username=read_secret(
                self.settings.username_env, what=f"username of {name}", environ=self.environ
            ),
            password=read_secret(
                self.settings.password_env, what=f"password of {name}", environ=self.environ
            ),
        )

    @abstractmethod
    def find_by_external_id(self, crm_issue_id: int) -> RemoteRecord | None:
        """The remote request Crosswalk created for this CRM issue, if any.

        Called before every create so that a retry after a lost reply adopts
        the record instead of creating a second one.
        """

    @abstractmethod
    def create_request(self, request: OutboundRequest) -> RemoteRecord:
        """Create the remote request and return it (with its id)."""

    def looks_up_requester(self, requester: Requester) -> bool:
        """Whether ``create_request`` would first read the remote system for
        this requester (a requester record found by email), so the engine can
        make that read beside the geocode with :meth:`find_requester`."""
        return False

    def find_requester(self, requester: Requester) -> str | None:
        """The requester's reference as the remote system has it, found by one
        read and remembered, so the create that follows makes no lookup; None
        when there is none. Reads only, and touches nothing but this
        connector's own session: the engine may run it in a thread beside the
        geocode."""
        return None

    def create_and_adopt(
        self,
        crm_issue_id: int,
        send: Callable[[], RemoteRecord | None],
        *,
        reply_id: str,
        external_field: str,
    ) -> RemoteRecord:
        """Create with ``send`` (None: the reply named no record), else adopt the
        record carrying ``crm_issue_id`` in ``external_field``.

        ``reply_id`` names the id the reply lacked, for the error when no
        record can be found either (see :func:`create_then_adopt`)."""
        return create_then_adopt(
            send,
            lambda: self.find_by_external_id(crm_issue_id),
            failure=(
                f"the create reply had no {reply_id} and no request carries "
                f"{external_field}={crm_issue_id}"
            ),
            system=self.system,
        )

    def records_by_external_ids(
        self, crm_issue_ids: Sequence[int]
    ) -> dict[str, list[RemoteRecord]]:
        """Every remote request carrying one of these CRM issue ids in its
        external-id field, by that id, in one query per batch.

        Normally one each; more means a create the vendor applied after
        Crosswalk gave up on it (the remote poll reports such duplicates)."""
        raise NotSupportedError(f"{self.label} integrations cannot list requests by external id")

    @abstractmethod
    def fetch_records(self, remote_ids: Sequence[str]) -> dict[str, RemoteRecord]:
        """Current state of up to ``batch_size`` remote requests, in one query."""

    def current_record(self, remote_id: str, *, purpose: str) -> RemoteRecord:
        """The request's state now, for a write that depends on it (appending to
        its comments, closing it); a request that is gone is a PermanentError."""
        current = self.fetch_records([remote_id]).get(str(remote_id))
        if current is None:
            raise PermanentError(f"request {remote_id} not found for {purpose}", system=self.system)
        return current

    def closing_message_for(self, record: RemoteRecord) -> str | None:
        """A closing message chosen by the remote status that closed it, if any."""
        return None

    def status_message_for(self, record: RemoteRecord) -> str | None:
        """A comment for the CRM when the remote record reaches this status, if any."""
        return None

    def add_comments(self, remote_id: str, notes: Sequence[NoteOut]) -> None:
        """Append notes to the remote request, oldest first, skipping ones already there."""
        raise NotSupportedError(f"{self.label} integrations do not take comments")

    def close_request(self, remote_id: str, note: NoteOut) -> None:
        """Close the remote request because staff closed the CRM issue, leaving ``note``.

        For ``close_remote_on_crm_close``. The note carries its marker, so a
        retry after a lost reply never writes it twice; a request already
        closed keeps the status the crew gave it."""
        raise NotSupportedError(f"{self.label} integrations do not close remote requests")

    def fetch_comments(self, remote_ids: Sequence[str]) -> dict[str, list[RemoteComment]]:
        """Comments on these remote requests (one query per batch where possible)."""
        raise NotSupportedError(f"{self.label} integrations do not expose comments")

    def fetch_new_requests(self, since: datetime) -> list[RemoteRequest]:
        """Requests entered after ``since`` that did not come from Crosswalk."""
        raise NotSupportedError(f"{self.label} integrations do not import requests")

    def set_external_id(self, remote_id: str, crm_issue_id: int) -> None:
        """Write the CRM issue id onto an imported request (links it both ways)."""
        raise NotSupportedError(f"{self.label} integrations do not import requests")

    def fetch_categories(self) -> list[RemoteCategory]:
        """Every request category the remote system offers (all pages)."""
        raise NotSupportedError(f"{self.label} integrations do not sync categories")

    # Whether the photo goes in a call of its own after the create (the photo
    # leg, retried on its own), rather than as a link in the create itself.
    uploads_photos: ClassVar[bool] = False

    def attach_photo(self, remote_id: str, photo: Photo) -> None:
        """Upload the resident's photo to the remote request (``uploads_photos``)."""
        raise NotSupportedError(f"{self.label} integrations do not take photo uploads")

    def preflight(self) -> list[Check]:
        """Read-only checks of every configured name against the live server:
        authentication, one record of each configured class or module read
        with each configured field and filter column, the category source.
        Never writes. Each kind implements its own."""
        raise NotSupportedError(f"{self.label} integrations have no preflight yet")

    def close(self) -> None:  # noqa: B027 - optional hook, most connectors hold nothing
        """Release sessions (sign out where the vendor has sessions)."""
