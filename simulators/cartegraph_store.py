"""The Cartegraph simulator's store: classes with fixed field sets, records,
sessions, and the auto-progress worker that plays the agency's crews.

Validation raises :class:`~simulators.server.SimulatedError` with the
documented error body (``Message`` + ``Errors[{GUID, FieldName, Message}]``).
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from simulators.cartegraph_filter import Comparison, FilterError, Node, evaluate, parse_filter
from simulators.server import SimulatedError, SimulatorState

REQUESTS_CLASS = "cgRequestsClass"
ISSUES_CLASS = "cgRequestIssuesClass"
DEFAULT_REQUESTERS_CLASS = "cgRequestersClass"


def child_class_name(parent: str, child: str) -> str:
    """The documented naming of child classes: ``{parent without "Class"}_{child}Class``
    (``cgSigns_cgInspectionsClass``, ``cgBridges_cgAttachmentsClass``)."""
    return f"{parent.removesuffix('Class')}_{child}Class"


ATTACHMENTS_CLASS = child_class_name(REQUESTS_CLASS, "cgAttachments")
INVALID_REQUEST = "The request is invalid."
FIRST_OID = 1001
FIRST_REQUEST_NUMBER = 100
PROGRESS_TICK_S = 0.05

REQUEST_FIELDS = (
    "Oid",
    "IDField",
    "StatusField",
    "IssueField",
    "RequesterField",
    "DescriptionField",
    "LocationDescriptionField",
    "CommentsField",
    "NotesField",
    "TasksField",
    "EntryDateField",
    "lat",
    "long",
    "AttachmentField",
    "LinkedField",
    "SeeClickFixIDField",
)
ISSUE_FIELDS = (
    "Oid",
    "IssueField",
    "InternalRequestCategoryField",
    "InactiveField",
    "ServiceAreaField",
)
REQUESTER_FIELDS = (
    "Oid",
    "EmailField",
    "FirstNameField",
    "LastNameField",
    "AddressNumberField",
    "UnitField",
    "StreetField",
    "CityField",
    "StateField",
    "ZipCodeField",
    "PrimaryPhoneField",
    "SecondaryPhoneField",
)
ATTACHMENT_FIELDS = ("Oid", "AttachmentField", "LinkedField", "DescriptionField")
# OpenGov EAM lets the sync import comments marked public. They are modelled
# as a child class named and read as children are documented
# (``/classes/cgRequestsClass/{Oid}/cgRequests_cgCommentsClass``); the comment
# fields are not in the public record. The simulator also answers the child
# class queried on its own, filtered by ``ParentOid`` (``comment_query:
# batch``), which no public source shows either.
COMMENTS_CLASS = child_class_name(REQUESTS_CLASS, "cgComments")
COMMENT_FIELDS = ("Oid", "ParentOid", "CommentField", "PublicField", "AuthorField", "DateField")


def cg_error(status: int, message: str, errors: Iterable[tuple[str, str]] = ()) -> SimulatedError:
    """The documented error body; each GUID is fresh, like the server's log ids."""
    return SimulatedError(
        status,
        {
            "Message": message,
            "Errors": [
                {"GUID": str(uuid.uuid4()), "FieldName": name, "Message": text}
                for name, text in errors
            ],
        },
    )


@dataclass(frozen=True)
class ClassDef:
    name: str
    fields: tuple[str, ...]
    defaults: dict[str, Any] = field(default_factory=dict)
    parent: str | None = None

    def check_fields(self, names: Iterable[str]) -> None:
        unknown = [n for n in names if n not in self.fields]
        if unknown:
            raise cg_error(
                400,
                INVALID_REQUEST,
                [(n, f"Field {n} does not exist on class {self.name}.") for n in unknown],
            )

    def filter_field(self, name: str) -> str:
        """Map a filter's ``[Status]`` to ``StatusField``; bare names (``Oid``, ``lat``)
        only when they do not already end in ``Field``, as filters never say it."""
        if f"{name}Field" in self.fields:
            return f"{name}Field"
        if name in self.fields and not name.endswith("Field"):
            return name
        raise FilterError(f"Field {name} does not exist on class {self.name}.", name)


@dataclass
class AutoProgress:
    """Pretend crews work the requests: a task after ``task_after`` s, closed after
    ``close_after`` s; record *n* is shifted by ``(n % 5) * stagger`` s."""

    enabled: bool = False
    task_after: float = 20.0
    close_after: float = 60.0
    stagger: float | None = None  # None: a tenth of task_after
    enabled_at: float = 0.0

    @property
    def step(self) -> float:
        return self.task_after / 10 if self.stagger is None else self.stagger


@dataclass
class _Scheduled:
    created: float
    index: int
    tasked: bool = False


def iso_utc(value: datetime | None = None) -> str:
    """``EntryDateField`` format: whole seconds, UTC, ``Z`` suffix; default now."""
    value = (value or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return value.isoformat().replace("+00:00", "Z")


def _sort_key(value: Any) -> tuple[int, Any]:
    """Nulls first, then booleans, numbers, text (case-insensitive), as SQL Server sorts."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (2, value)
    return (3, str(value).casefold())


class CartegraphState(SimulatorState):
    """Records per class, sessions, and the optional auto-progress worker."""

    def __init__(
        self,
        *,
        username: str = "crosswalk",
        password: str = "demo-password",
        requesters_class: str = DEFAULT_REQUESTERS_CLASS,
        custom_fields: Sequence[str] = (),
        auto_progress: bool = False,
        task_after: float = 20.0,
        close_after: float = 60.0,
        stagger: float | None = None,
        session_ttl: int = 3600,
        seeder: Callable[[CartegraphState], None] | None = None,
    ) -> None:
        super().__init__(seeder)
        self.username = username
        self.password = password
        self.session_ttl = session_ttl
        self.requesters_class = requesters_class
        self.classes = {
            c.name: c
            for c in (
                ClassDef(
                    REQUESTS_CLASS,
                    REQUEST_FIELDS + tuple(custom_fields),
                    {
                        "StatusField": "Open",
                        "TasksField": 0,
                        "CommentsField": "",
                        "NotesField": "",
                        "LinkedField": False,
                    },
                ),
                ClassDef(
                    ISSUES_CLASS,
                    ISSUE_FIELDS,
                    {
                        "InternalRequestCategoryField": False,
                        "InactiveField": False,
                    },
                ),
                ClassDef(requesters_class, REQUESTER_FIELDS),
                ClassDef(
                    ATTACHMENTS_CLASS,
                    ATTACHMENT_FIELDS,
                    {"LinkedField": False},
                    parent=REQUESTS_CLASS,
                ),
                ClassDef(
                    COMMENTS_CLASS,
                    COMMENT_FIELDS,
                    {"PublicField": False},
                    parent=REQUESTS_CLASS,
                ),
            )
        }
        self._initial_progress = AutoProgress(auto_progress, task_after, close_after, stagger)
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.reset()

    # -- store -------------------------------------------------------------

    def clear(self) -> None:
        self.records: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in self.classes}
        self._parent_of: dict[int, int] = {}
        self._sessions: dict[str, float] = {}
        self._schedule: dict[int, _Scheduled] = {}
        self._scheduled_count = 0
        self._next_oid = FIRST_OID
        self._next_request_number = FIRST_REQUEST_NUMBER
        # A reset also undoes /_sim/auto_progress changes: back to the constructor's.
        self.auto_progress = replace(self._initial_progress, enabled_at=time.monotonic())
        if self.auto_progress.enabled:
            self._start_worker()

    def class_def(self, name: str) -> ClassDef:
        class_def = self.classes.get(name)
        if class_def is None:
            raise cg_error(404, f"Class {name} does not exist.")
        return class_def

    def _record(self, class_name: str, oid: int) -> dict[str, Any]:
        record = self.records[self.class_def(class_name).name].get(oid)
        if record is None:
            raise cg_error(404, f"No {class_name} record has Oid {oid}.")
        return record

    def get(self, class_name: str, oid: int) -> dict[str, Any]:
        with self.lock:
            return dict(self._record(class_name, oid))

    def create(
        self,
        class_name: str,
        values: Sequence[dict[str, Any]],
        *,
        parent_oid: int | None = None,
        via_api: bool = True,
    ) -> list[dict[str, Any]]:
        """Create records; ``via_api=False`` marks staff-entered ones, which
        auto-progress leaves alone (only requests sent by the sync move)."""
        class_def = self.class_def(class_name)
        for item in values:
            class_def.check_fields(item)
        created = []
        with self.lock:
            for item in values:
                record: dict[str, Any] = dict.fromkeys(class_def.fields)
                record.update(class_def.defaults)
                if class_name == REQUESTS_CLASS:
                    record["IDField"] = f"REQ-{self._next_request_number:06d}"
                    record["EntryDateField"] = iso_utc()
                    self._next_request_number += 1
                record.update(item)
                record["Oid"] = self._next_oid
                self._next_oid += 1
                self.records[class_name][record["Oid"]] = record
                if parent_oid is not None:
                    self._parent_of[record["Oid"]] = parent_oid
                    if "ParentOid" in class_def.fields:
                        record["ParentOid"] = parent_oid
                if "DateField" in class_def.fields and not record.get("DateField"):
                    record["DateField"] = iso_utc()
                if class_name == REQUESTS_CLASS and via_api:
                    self._schedule[record["Oid"]] = _Scheduled(
                        time.monotonic(), self._scheduled_count
                    )
                    self._scheduled_count += 1
                created.append(dict(record))
        return created

    def update(self, class_name: str, values: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Apply every update or none: all records are validated first."""
        class_def = self.class_def(class_name)
        with self.lock:
            targets = []
            for item in values:
                class_def.check_fields(item)
                try:
                    oid = int(item["Oid"])
                except (KeyError, TypeError, ValueError):
                    raise cg_error(
                        400, INVALID_REQUEST, [("Oid", "Each record to update must carry its Oid.")]
                    ) from None
                targets.append((self._record(class_name, oid), item))
            for record, item in targets:
                record.update({k: v for k, v in item.items() if k != "Oid"})
            return [dict(record) for record, _ in targets]

    def patch(self, class_name: str, oid: int, values: dict[str, Any]) -> dict[str, Any]:
        """Change a record as an agency user would (control plane)."""
        return self.update(class_name, [{**values, "Oid": oid}])[0]

    def delete(self, class_name: str, oid: int) -> None:
        with self.lock:
            self._record(class_name, oid)
            del self.records[class_name][oid]
            self._parent_of.pop(oid, None)
            self._schedule.pop(oid, None)
            # Children go with their parent; Oids are unique across classes.
            for child_oid in [o for o, p in self._parent_of.items() if p == oid]:
                del self._parent_of[child_oid]
                for rows in self.records.values():
                    rows.pop(child_oid, None)

    def query(
        self,
        class_name: str,
        *,
        filter_text: str | None = None,
        sort: str | None = None,
        parent_oid: int | None = None,
    ) -> list[dict[str, Any]]:
        class_def = self.class_def(class_name)
        node = self._parse_filter(class_def, filter_text) if filter_text else None
        sort_keys = self._parse_sort(class_def, sort or "Oid:asc")
        with self.lock:
            stored = self.records[class_name]
            oids = _oids_asked(node)
            # `[Oid] in (...)` reads those records, as a database's index would,
            # instead of testing every record (a batch poll of thousands).
            candidates = (
                (stored[oid] for oid in sorted(oids) if oid in stored)
                if oids is not None
                else stored.values()
            )
            rows = [
                dict(r)
                for r in candidates
                if (parent_oid is None or self._parent_of.get(r["Oid"]) == parent_oid)
                and (node is None or evaluate(node, r))
            ]
        for name, descending in reversed(sort_keys):
            rows.sort(key=lambda r, n=name: _sort_key(r.get(n)), reverse=descending)
        return rows

    @staticmethod
    def _parse_filter(class_def: ClassDef, text: str) -> Node:
        try:
            return parse_filter(text, class_def.filter_field)
        except FilterError as exc:
            raise cg_error(
                400, INVALID_REQUEST, [(exc.field_name or "filter", exc.message)]
            ) from None

    @staticmethod
    def _parse_sort(class_def: ClassDef, text: str) -> list[tuple[str, bool]]:
        """``IDField:asc,OtherField:dsc``: the documented suffixes are ``asc``
        and ``dsc``. ``desc`` is refused, so no client comes to depend on a
        spelling the documentation does not give."""
        keys = []
        for part in text.split(","):
            name, _, direction = part.strip().partition(":")
            direction = (direction or "asc").lower()
            if direction not in ("asc", "dsc"):
                raise cg_error(
                    400,
                    INVALID_REQUEST,
                    [("sort", f"Invalid sort direction {direction!r} (asc or dsc).")],
                )
            class_def.check_fields([name])
            keys.append((name, direction == "dsc"))
        return keys

    # -- sessions ----------------------------------------------------------

    def credentials_ok(self, username: str | None, password: str | None) -> bool:
        given = f"{username}:{password}".encode()
        return secrets.compare_digest(given, f"{self.username}:{self.password}".encode())

    def open_session(self) -> str:
        token = secrets.token_urlsafe(24)
        with self.lock:
            self._sessions[token] = time.monotonic() + self.session_ttl
        return token

    def session_valid(self, token: str) -> bool:
        with self.lock:
            expires = self._sessions.get(token)
            return expires is not None and expires > time.monotonic()

    def end_session(self, token: str | None) -> None:
        with self.lock:
            self._sessions.pop(token or "", None)

    def expire_sessions(self) -> None:
        """Drop every session, so clients must log on again (tests re-auth paths)."""
        with self.lock:
            self._sessions.clear()

    # -- auto-progress -----------------------------------------------------

    def configure_auto_progress(
        self,
        *,
        enabled: bool,
        task_after: float | None = None,
        close_after: float | None = None,
        stagger: float | None = None,
    ) -> AutoProgress:
        with self.lock:
            ap = self.auto_progress
            if enabled and not ap.enabled:
                ap.enabled_at = time.monotonic()  # earlier requests start moving now
            ap.enabled = enabled
            if task_after is not None:
                ap.task_after = float(task_after)
            if close_after is not None:
                ap.close_after = float(close_after)
            if stagger is not None:
                ap.stagger = float(stagger)
            if enabled:
                self._start_worker()
            return ap

    def _start_worker(self) -> None:
        if self._worker is None:
            self._stop.clear()
            self._worker = threading.Thread(
                target=self._progress_loop, name="cartegraph-auto-progress", daemon=True
            )
            self._worker.start()

    def _progress_loop(self) -> None:
        while not self._stop.wait(PROGRESS_TICK_S):
            self.progress_due_requests()

    def progress_due_requests(self) -> None:
        """Apply every task/close step that is due now (the worker calls this)."""
        with self.lock:
            ap = self.auto_progress
            if not ap.enabled:
                return
            now = time.monotonic()
            requests_by_oid = self.records[REQUESTS_CLASS]
            for oid, entry in list(self._schedule.items()):
                record = requests_by_oid.get(oid)
                if record is None or record.get("StatusField") == "Closed":
                    del self._schedule[oid]
                    continue
                elapsed = now - max(entry.created, ap.enabled_at)
                shift = (entry.index % 5) * ap.step
                if not entry.tasked and elapsed >= ap.task_after + shift:
                    record["TasksField"] = max(1, record.get("TasksField") or 0)
                    entry.tasked = True
                if elapsed >= ap.close_after + shift:
                    record["TasksField"] = max(1, record.get("TasksField") or 0)
                    record["StatusField"] = "Closed"
                    del self._schedule[oid]

    def close(self) -> None:
        self._stop.set()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.join()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "classes": {name: list(rows.values()) for name, rows in self.records.items()},
                "parents": {str(child): parent for child, parent in self._parent_of.items()},
                "sessions": len(self._sessions),
                "auto_progress": asdict(self.auto_progress),
                "scheduled": sorted(self._schedule),
            }


def _oids_asked(node: Node | None) -> set[int] | None:
    """The Oids of a filter that is exactly ``[Oid] in (...)`` of whole
    numbers, else None (the records are then tested one by one)."""
    if not isinstance(node, Comparison) or node.field != "Oid" or node.op != "in":
        return None
    values = node.value if isinstance(node.value, tuple) else ()
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    return set(values)
