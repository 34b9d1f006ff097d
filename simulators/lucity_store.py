"""The Lucity simulator's store: problem codes, work requests, work orders and
their comment/document children, with the validation the real server applies.

Validation raises :class:`LucityError`, answered with the ASP.NET Web API
style body ``{"Message": "...", "ExceptionMessage": "..."}`` (the public
material does not document Lucity's error body; this is the simulator's pick).
Field names, status codes and the FILTER column maps are module constants so
the whole wire vocabulary lives in one place; see :mod:`simulators.lucity`.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from simulators.lucity_filter import (
    BOOL,
    DATE,
    NUMBER,
    Column,
    FilterError,
    Table,
    matches,
    parse_date,
    parse_filter,
    parse_orderby,
    sort_records,
)
from simulators.server import SimulatedError, SimulatorState

# -- status codes -----------------------------------------------------------

REQUEST_STATUSES = {
    1: "New Request",
    2: "Assigned to Work Order",
    941: "Work Order on Hold",
    950: "Closed - Not Complete",
    951: "Work Order Canceled",
    998: "WO Complete",
    999: "Complete",
}
WORK_ORDER_STATUSES = {
    1: "New Work Order",
    100: "Assigned",
    200: "In Progress",
    941: "On Hold",
    951: "Canceled",
    998: "Complete",
    999: "Closed",
}
# A work order's status moves its originating request as Lucity's workflow does.
WO_TO_REQUEST_STATUS = {1: 2, 100: 2, 200: 2, 941: 941, 951: 951, 998: 998, 999: 998}
NEW_STATUS = 1
FINAL_REQUEST_STATUS = 999  # a request staff completed is not moved by its work order

# -- identifiers ------------------------------------------------------------

FIRST_REQUEST_AUTONUMBER = 1001
FIRST_WORK_ORDER_AUTONUMBER = 3001
FIRST_COMMENT_AUTONUMBER = 7001
FIRST_DOCUMENT_AUTONUMBER = 9001
FIRST_REQUEST_SEQUENCE = 101  # RequestNumber "2026-000101"
FIRST_WORK_ORDER_SEQUENCE = 41  # WorkOrderNumber "WO-2026-00041"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"  # agency local time, no offset (SQL Server datetime)

# -- configuration defaults -------------------------------------------------

CITIZEN_CATEGORY = "SCF"  # problem codes offered to residents (``311Only=true``)
DEFAULT_TAKE = 10
DEFAULT_TAKE_MAX = 50
COORDINATE_SYSTEMS = ("LOCAL", "LATLONG", "MERCATOR")
DEFAULT_COORDSYS = "LOCAL"
DEFAULT_SRID = 2234  # NAD83 / Connecticut (ftUS)
EXTERNAL_ID_FIELD = "User20"  # where the sync keeps the SeeClickFix issue id
USER_FIELD_COUNT = 20
CITIZEN_RECORDED_BY = "Citizen Portal"

# -- fields -----------------------------------------------------------------

REQUEST_FIELDS = (
    "AutoNumber",
    "RequestNumber",
    "StatusCode",
    "StatusDescription",
    "ProblemCode",
    "ProblemDescription",
    "CategoryCode",
    "RequestorName1",
    "RequestorName2",
    "RequestorEmail",
    "RequestorPhone",
    "BuildingNumber",
    "Street",
    "LocationCity",
    "LocationZipCode",
    "XCoordinate",
    "YCoordinate",
    "Comments",
    "EntryDate",
    "ModifiedDate",
    "WorkOrderNumber",
)
REQUEST_READ_ONLY = frozenset(
    {
        "AutoNumber",
        "RequestNumber",
        "StatusDescription",
        "ProblemDescription",
        "EntryDate",
        "ModifiedDate",
        "WorkOrderNumber",
    }
)
WORK_ORDER_FIELDS = (
    "AutoNumber",
    "WorkOrderNumber",
    "StatusCode",
    "StatusDescription",
    "ProblemCode",
    "ProblemDescription",
    "Description",
    "Address",
    "XCoordinate",
    "YCoordinate",
    "RequestNumber",
    "EntryDate",
    "ModifiedDate",
)
WORK_ORDER_READ_ONLY = frozenset(
    {
        "AutoNumber",
        "WorkOrderNumber",
        "StatusDescription",
        "ProblemDescription",
        "RequestNumber",
        "EntryDate",
        "ModifiedDate",
    }
)
COMMENT_FIELDS = ("AutoNumber", "Comment", "RecordedBy", "RecordedDate", "PubliclyAvailable")
DOCUMENT_FIELDS = (
    "AutoNumber",
    "DocumentUrl",
    "FileName",
    "Description",
    "PubliclyAvailable",
    "RecordedBy",
    "RecordedDate",
)
# The simulator's own model of a problem code (staff screens, ``/_sim/``); on the
# wire only the citizen lookup shows codes, as ``CodeValue``/``TypeValue``.
PROBLEM_CODE_FIELDS = ("Code", "Description", "CategoryCode", "Inactive")
COORDINATE_FIELDS = frozenset({"XCoordinate", "YCoordinate"})
_REQUEST_USER_RE = re.compile(r"(?:WorkOrder)?User([1-9]\d?)(?:Code)?")
_WORK_ORDER_USER_RE = re.compile(r"User([1-9]\d?)(?:Code)?")

# -- FILTER column maps -----------------------------------------------------


def _user_columns(prefix: str) -> tuple[Column, ...]:
    numbers = range(1, USER_FIELD_COUNT + 1)
    return tuple(Column(f"{prefix}_USER{n}", f"User{n}") for n in numbers) + tuple(
        Column(f"{prefix}_USER{n}_CD", f"User{n}Code") for n in numbers
    )


REQUEST_TABLE = Table(
    "WKREQ",
    (
        Column("RQ_ID", "AutoNumber", NUMBER),
        Column("RQ_NUMBER", "RequestNumber"),
        Column("RQ_STAT_CD", "StatusCode", NUMBER),
        Column("RQ_STAT_TY", "StatusDescription"),
        Column("RQ_PROB_CD", "ProblemCode"),
        Column("RQ_PROB_TY", "ProblemDescription"),
        Column("RQ_CAT_CD", "CategoryCode"),
        Column("RQ_NAME1", "RequestorName1"),
        Column("RQ_NAME2", "RequestorName2"),
        Column("RQ_EMAIL", "RequestorEmail"),
        Column("RQ_PHONE", "RequestorPhone"),
        Column("RQ_BLDG_NUM", "BuildingNumber"),
        Column("RQ_STREET", "Street"),
        Column("RQ_CITY", "LocationCity"),
        Column("RQ_ZIP", "LocationZipCode"),
        Column("RQ_X", "XCoordinate", NUMBER),
        Column("RQ_Y", "YCoordinate", NUMBER),
        Column("RQ_COMMENTS", "Comments"),
        Column("RQ_ENTRY_DT", "EntryDate", DATE),
        Column("RQ_MOD_DT", "ModifiedDate", DATE),
        Column("RQ_WO_NUM", "WorkOrderNumber"),
        Column("RQ_EXTERNAL_ID", EXTERNAL_ID_FIELD),
        *_user_columns("RQ"),
    ),
)
WORK_ORDER_TABLE = Table(
    "WKORDER",
    (
        Column("WO_ID", "AutoNumber", NUMBER),
        Column("WO_NUM", "WorkOrderNumber"),
        Column("WO_STAT_CD", "StatusCode", NUMBER),
        Column("WO_STAT_TY", "StatusDescription"),
        Column("WO_PROB_CD", "ProblemCode"),
        Column("WO_PROB_TY", "ProblemDescription"),
        Column("WO_DESC", "Description"),
        Column("WO_ADDRESS", "Address"),
        Column("WO_X", "XCoordinate", NUMBER),
        Column("WO_Y", "YCoordinate", NUMBER),
        Column("WO_RQ_NUM", "RequestNumber"),
        Column("WO_ENTRY_DT", "EntryDate", DATE),
        Column("WO_MOD_DT", "ModifiedDate", DATE),
        Column("WO_EXTERNAL_ID", EXTERNAL_ID_FIELD),
        *_user_columns("WO"),
    ),
)
COMMENT_TABLE = Table(
    "WKCOMMENT",
    (
        Column("CM_ID", "AutoNumber", NUMBER),
        Column("CM_TEXT", "Comment"),
        Column("CM_BY", "RecordedBy"),
        Column("CM_DATE", "RecordedDate", DATE),
        Column("CM_PUBLIC", "PubliclyAvailable", BOOL),
    ),
)
DOCUMENT_TABLE = Table(
    "WKDOC",
    (
        Column("DC_ID", "AutoNumber", NUMBER),
        Column("DC_URL", "DocumentUrl"),
        Column("DC_FILE", "FileName"),
        Column("DC_DESC", "Description"),
        Column("DC_PUBLIC", "PubliclyAvailable", BOOL),
        Column("DC_BY", "RecordedBy"),
        Column("DC_DATE", "RecordedDate", DATE),
    ),
)

REQUEST, WORK_ORDER = "request", "work_order"
# Without ORDERBY, lists come newest first (REST help, "Query Parameters": "This
# is the Autonumber property by default (descending order)").
DEFAULT_ORDER = [("AutoNumber", True)]
COMMENTS, DOCUMENTS = "comments", "documents"

INVALID_REQUEST = "The request is invalid."
NOT_FOUND = "No record was found that matches the request."


class LucityError(SimulatedError):
    """A vendor error; :mod:`simulators.lucity` renders it as JSON or XML."""


def lucity_error(status: int, message: str, detail: str | None = None) -> LucityError:
    return LucityError(status, {"Message": message, "ExceptionMessage": detail or message})


def invalid(detail: str) -> LucityError:
    return lucity_error(400, INVALID_REQUEST, detail)


@dataclass
class LucityConfig:
    """What ``POST /_sim/config`` changes; a reset restores the constructor's values."""

    take_max: int = DEFAULT_TAKE_MAX
    custom_fields: tuple[str, ...] = ()


@dataclass
class StoredFile:
    """A file uploaded through the citizen media endpoint, as it arrived."""

    file_name: str
    content_type: str
    data: bytes
    field: str = "FileToUpload"  # the multipart field it came in


def _text(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # Json.NET turns a number into a string property
    raise invalid(f"Error converting value {value!r} to type 'System.String' for '{name}'.")


def _number(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise invalid(f"Error converting value {value!r} to type 'System.Double' for '{name}'.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise invalid(
            f"Error converting value {value!r} to type 'System.Double' for '{name}'."
        ) from None


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise invalid(f"Error converting value {value!r} to type 'System.Boolean' for '{name}'.")
    return value


def _scalar(name: str, value: Any) -> Any:
    if isinstance(value, dict | list):
        raise invalid(f"Field '{name}' takes a single value.")
    return value


class LucityState(SimulatorState):
    """Problem codes, work requests, work orders, comments, documents and uploads."""

    def __init__(
        self,
        *,
        username: str = "crosswalk",
        password: str = "demo-password",
        take_max: int = DEFAULT_TAKE_MAX,
        custom_fields: Sequence[str] = (),
        citizen_category: str = CITIZEN_CATEGORY,
        srid: int = DEFAULT_SRID,
        timezone: str = "America/New_York",
        clock: Callable[[], datetime] | None = None,
        seeder: Callable[[LucityState], None] | None = None,
    ) -> None:
        super().__init__(seeder)
        self.username = username
        self.password = password
        self.citizen_category = citizen_category
        self.srid = srid
        self.tz = ZoneInfo(timezone)
        self._clock = clock or (lambda: datetime.now(self.tz))
        self._initial_config = LucityConfig(int(take_max), tuple(custom_fields))
        self.reset()

    # -- basics ------------------------------------------------------------

    def clear(self) -> None:
        self.config = replace(self._initial_config)
        self.categories: dict[str, str] = {}
        self.problem_codes: dict[str, dict[str, Any]] = {}
        self.requests_by_id: dict[int, dict[str, Any]] = {}
        self.work_orders: dict[int, dict[str, Any]] = {}
        # (kind, parent AutoNumber) -> child records, for COMMENTS and DOCUMENTS
        self.children: dict[str, dict[tuple[str, int], list[dict[str, Any]]]] = {
            COMMENTS: {},
            DOCUMENTS: {},
        }
        self.meta: dict[tuple[str, int], dict[str, Any]] = {}
        self.files: dict[int, StoredFile] = {}
        self._next = {
            REQUEST: FIRST_REQUEST_AUTONUMBER,
            WORK_ORDER: FIRST_WORK_ORDER_AUTONUMBER,
            COMMENTS: FIRST_COMMENT_AUTONUMBER,
            DOCUMENTS: FIRST_DOCUMENT_AUTONUMBER,
        }
        self._request_sequence = FIRST_REQUEST_SEQUENCE
        self._work_order_sequence = FIRST_WORK_ORDER_SEQUENCE

    def now(self) -> datetime:
        """Agency local time, naive, whole seconds (as a SQL Server datetime holds it)."""
        return self._clock().astimezone(self.tz).replace(microsecond=0, tzinfo=None)

    def stamp(self, value: datetime | None = None) -> str:
        return (value or self.now()).strftime(DATE_FORMAT)

    def _take_id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] += 1
        return value

    def credentials_ok(self, username: str | None, password: str | None) -> bool:
        given = f"{username}:{password}".encode()
        return secrets.compare_digest(given, f"{self.username}:{self.password}".encode())

    def configure(self, *, take_max: Any = None, custom_fields: Any = None) -> LucityConfig:
        with self.lock:
            if take_max is not None:
                if not isinstance(take_max, int) or isinstance(take_max, bool) or take_max < 1:
                    raise invalid("take_max must be a positive integer.")
                self.config.take_max = take_max
            if custom_fields is not None:
                if not isinstance(custom_fields, list) or not all(
                    isinstance(f, str) and f for f in custom_fields
                ):
                    raise invalid("custom_fields must be a list of field names.")
                self.config.custom_fields = tuple(custom_fields)
            return replace(self.config)

    # -- reference data ----------------------------------------------------

    def add_category(self, code: str, description: str) -> None:
        with self.lock:
            self.categories[code] = description

    def upsert_problem_code(
        self,
        code: str,
        description: str | None = None,
        category_code: str | None = None,
        inactive: bool | None = None,
    ) -> dict[str, Any]:
        """Add a problem code or change one (agency staff renaming/disabling it)."""
        with self.lock:
            record = self.problem_codes.get(code) or {
                "Code": code,
                "Description": code,
                "CategoryCode": None,
                "Inactive": False,
            }
            if description is not None:
                record["Description"] = description
            if category_code is not None:
                if category_code not in self.categories:
                    raise invalid(f"Category code '{category_code}' does not exist.")
                record["CategoryCode"] = category_code
            if inactive is not None:
                record["Inactive"] = bool(inactive)
            self.problem_codes[code] = record
            return dict(record)

    def lookup(self, prop: str, *, only_311: bool = False) -> list[dict[str, Any]]:
        """``LookupList/Request.svc/{Property}/`` rows (``CodeValue``/``TypeValue``)."""
        with self.lock:
            if prop.lower() == "problemcode":
                rows = [
                    (p["Code"], p["Description"])
                    for p in self.problem_codes.values()
                    if not p["Inactive"]
                    and (not only_311 or p["CategoryCode"] == self.citizen_category)
                ]
            elif prop.lower() == "categorycode":
                rows = list(self.categories.items())
            elif prop.lower() == "statuscode":
                rows = [(str(code), text) for code, text in REQUEST_STATUSES.items()]
            else:
                raise lucity_error(404, NOT_FOUND, f"No lookup list for property '{prop}'.")
        return [{"CodeValue": code, "TypeValue": text} for code, text in rows]

    def _problem(self, code: Any) -> dict[str, Any]:
        problem = self.problem_codes.get(code) if isinstance(code, str) else None
        if problem is None:
            raise invalid(f"Problem code '{code}' does not exist.")
        if problem["Inactive"]:
            raise invalid(f"Problem code '{code}' is inactive.")
        return problem

    # -- validation --------------------------------------------------------

    def _is_custom(self, kind: str, name: str) -> bool:
        if name in self.config.custom_fields:
            return True
        pattern = _REQUEST_USER_RE if kind == REQUEST else _WORK_ORDER_USER_RE
        match = pattern.fullmatch(name)
        return match is not None and 1 <= int(match.group(1)) <= USER_FIELD_COUNT

    def _clean(
        self,
        kind: str,
        values: Any,
        *,
        allow_status: bool,
        null_writes: bool = True,
        current: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Check a create/update body; read-only fields are ignored, unknown ones refused.

        A ``ProblemCode`` must be active unless it is the record's ``current`` one, so a
        read-modify-write of a record whose code was since disabled still works."""
        if not isinstance(values, Mapping):
            raise invalid("The request body must be a JSON object.")
        fields = REQUEST_FIELDS if kind == REQUEST else WORK_ORDER_FIELDS
        read_only = REQUEST_READ_ONLY if kind == REQUEST else WORK_ORDER_READ_ONLY
        statuses = REQUEST_STATUSES if kind == REQUEST else WORK_ORDER_STATUSES
        unknown = [n for n in values if n not in fields and not self._is_custom(kind, n)]
        if unknown:
            raise invalid(f"Unknown field(s): {', '.join(sorted(unknown))}.")
        clean: dict[str, Any] = {}
        for name, value in values.items():
            if name in read_only or (value is None and not null_writes):
                continue
            if name in COORDINATE_FIELDS:
                clean[name] = _number(name, value)
            elif name == "StatusCode":
                if not allow_status:
                    raise invalid("StatusCode cannot be set when creating through this API.")
                if value not in statuses or isinstance(value, bool):
                    raise invalid(f"Status code {value!r} does not exist.")
                clean[name] = int(value)
            elif name == "ProblemCode":
                if value is None:
                    raise invalid("ProblemCode is required.")
                if current is None or current.get("ProblemCode") != value:
                    self._problem(value)
                clean[name] = value
            elif name == "CategoryCode" and value is not None:
                if value not in self.categories:
                    raise invalid(f"Category code '{value}' does not exist.")
                clean[name] = value
            elif name in fields:
                clean[name] = _text(name, value)
            else:
                clean[name] = _scalar(name, value)
        return clean

    @staticmethod
    def _coordsys(value: str | None) -> str:
        coordsys = (value or DEFAULT_COORDSYS).upper()
        if coordsys not in COORDINATE_SYSTEMS:
            raise invalid(
                f"COORDSYS '{value}' is not supported; use one of {', '.join(COORDINATE_SYSTEMS)}."
            )
        return coordsys

    @staticmethod
    def _check_latlong(clean: Mapping[str, Any]) -> None:
        x, y = clean.get("XCoordinate"), clean.get("YCoordinate")
        if (x is not None and not -180 <= x <= 180) or (y is not None and not -90 <= y <= 90):
            raise invalid(
                "With COORDSYS=LATLONG, XCoordinate is a longitude, YCoordinate a latitude."
            )

    # -- work requests -----------------------------------------------------

    def create_request(
        self,
        values: Any,
        *,
        coordsys: str | None = None,
        source: str = "api",
        entry_date: datetime | None = None,
    ) -> dict[str, Any]:
        """A new work request (status 1). ``source`` is ``citizen``, ``api`` or ``staff``."""
        coordsys = self._coordsys(coordsys)
        with self.lock:
            clean = self._clean(REQUEST, values, allow_status=source == "staff")
            if "ProblemCode" not in clean:
                raise invalid("ProblemCode is required.")
            if coordsys == "LATLONG":
                self._check_latlong(clean)
            problem = self._problem(clean["ProblemCode"])
            entered = self.stamp(entry_date)
            record: dict[str, Any] = dict.fromkeys(REQUEST_FIELDS)
            record.update(
                AutoNumber=self._take_id(REQUEST),
                RequestNumber=f"{(entry_date or self.now()).year}-{self._request_sequence:06d}",
                StatusCode=NEW_STATUS,
                CategoryCode=problem["CategoryCode"],
                EntryDate=entered,
                ModifiedDate=entered,
            )
            self._request_sequence += 1
            record.update(clean)
            self._describe(REQUEST, record)
            self.requests_by_id[record["AutoNumber"]] = record
            self.meta[(REQUEST, record["AutoNumber"])] = {
                "CoordinateSystem": coordsys,
                "Source": source,
            }
            return dict(record)

    def _describe(self, kind: str, record: dict[str, Any]) -> None:
        statuses = REQUEST_STATUSES if kind == REQUEST else WORK_ORDER_STATUSES
        record["StatusDescription"] = statuses[record["StatusCode"]]
        record["ProblemDescription"] = self.problem_codes[record["ProblemCode"]]["Description"]

    def _records(self, kind: str) -> dict[int, dict[str, Any]]:
        return self.requests_by_id if kind == REQUEST else self.work_orders

    def _get(self, kind: str, auto_number: int) -> dict[str, Any]:
        record = self._records(kind).get(auto_number)
        if record is None:
            what = "work request" if kind == REQUEST else "work order"
            raise lucity_error(404, NOT_FOUND, f"No {what} has AutoNumber {auto_number}.")
        return record

    def get(self, kind: str, auto_number: int) -> dict[str, Any]:
        with self.lock:
            return dict(self._get(kind, auto_number))

    def update(
        self,
        kind: str,
        auto_number: int,
        values: Any,
        *,
        null_writes: bool = False,
        coordsys: str | None = None,
    ) -> dict[str, Any]:
        """PUT semantics: only the fields sent change; without ``null_writes`` a null
        in the body leaves the stored value alone (Lucity's ``NULLWRITES``)."""
        coordsys = self._coordsys(coordsys)
        with self.lock:
            record = self._get(kind, auto_number)
            clean = self._clean(
                kind, values, allow_status=True, null_writes=null_writes, current=record
            )
            if coordsys == "LATLONG":
                self._check_latlong(clean)
            changed = {
                k: v for k, v in clean.items() if record.get(k, None) != v or k not in record
            }
            if not changed:
                return dict(record)
            old_status = record["StatusCode"]
            record.update(changed)
            self._describe(kind, record)
            record["ModifiedDate"] = self.stamp()
            if COORDINATE_FIELDS & set(changed):  # new X/Y are in this call's COORDSYS
                self.meta[(kind, auto_number)]["CoordinateSystem"] = coordsys
            if kind == WORK_ORDER and record["StatusCode"] != old_status:
                self._propagate_status(record)
            return dict(record)

    def _propagate_status(self, work_order: dict[str, Any]) -> None:
        number = work_order.get("RequestNumber")
        target = WO_TO_REQUEST_STATUS.get(work_order["StatusCode"])
        for request in self.requests_by_id.values():
            if (
                number
                and request["RequestNumber"] == number
                and target is not None
                and request["StatusCode"] not in (target, FINAL_REQUEST_STATUS)
            ):
                request["StatusCode"] = target
                self._describe(REQUEST, request)
                request["ModifiedDate"] = self.stamp()

    def query(
        self,
        kind: str,
        *,
        filter_text: str | None = None,
        orderby: str | None = None,
        parent: tuple[str, int] | None = None,
        child: str | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of a table (or of one parent's children), filtered and sorted."""
        table = self.table(kind, child)
        try:
            node = parse_filter(filter_text or "", table)
            keys = parse_orderby(orderby, table) if orderby else DEFAULT_ORDER
        except FilterError as exc:
            raise invalid(str(exc)) from None
        with self.lock:
            if child is not None and parent is not None:
                self._get(*parent)
                source: Iterable[dict[str, Any]] = self.children[child].get(parent, [])
            else:
                source = self._records(kind).values()
            rows = [dict(r) for r in source if matches(node, r)]
        return sort_records(rows, keys, table)

    @staticmethod
    def table(kind: str, child: str | None = None) -> Table:
        if child == COMMENTS:
            return COMMENT_TABLE
        if child == DOCUMENTS:
            return DOCUMENT_TABLE
        return REQUEST_TABLE if kind == REQUEST else WORK_ORDER_TABLE

    def track(self, email: str, request_number: str | None = None) -> list[dict[str, Any]]:
        """The citizen API's ``Request/`` lookup: a requester's own requests."""
        with self.lock:
            found = []
            for record in self.requests_by_id.values():
                if (record.get("RequestorEmail") or "").casefold() != email.casefold():
                    continue
                if request_number is not None and record["RequestNumber"] != request_number:
                    continue
                comments = self.children[COMMENTS].get((REQUEST, record["AutoNumber"]), [])
                found.append(
                    {
                        "RequestNumber": record["RequestNumber"],
                        "StatusCode": record["StatusCode"],
                        "StatusDescription": record["StatusDescription"],
                        "ProblemCode": record["ProblemCode"],
                        "ProblemDescription": record["ProblemDescription"],
                        "BuildingNumber": record["BuildingNumber"],
                        "Street": record["Street"],
                        "Comments": record["Comments"],
                        "EntryDate": record["EntryDate"],
                        "ModifiedDate": record["ModifiedDate"],
                        "PublicComments": [
                            {"Comment": c["Comment"], "RecordedDate": c["RecordedDate"]}
                            for c in comments
                            if c["PubliclyAvailable"]
                        ],
                    }
                )
            return found

    # -- work orders -------------------------------------------------------

    def create_work_order(
        self,
        values: Any,
        *,
        coordsys: str | None = None,
        source: str = "api",
        entry_date: datetime | None = None,
        request_number: str | None = None,
    ) -> dict[str, Any]:
        coordsys = self._coordsys(coordsys)
        with self.lock:
            clean = self._clean(WORK_ORDER, values, allow_status=True)
            if "ProblemCode" not in clean:
                raise invalid("ProblemCode is required.")
            if coordsys == "LATLONG":
                self._check_latlong(clean)
            entered = self.stamp(entry_date)
            record: dict[str, Any] = dict.fromkeys(WORK_ORDER_FIELDS)
            record.update(
                AutoNumber=self._take_id(WORK_ORDER),
                WorkOrderNumber=(
                    f"WO-{(entry_date or self.now()).year}-{self._work_order_sequence:05d}"
                ),
                StatusCode=NEW_STATUS,
                RequestNumber=request_number,
                EntryDate=entered,
                ModifiedDate=entered,
            )
            self._work_order_sequence += 1
            record.update(clean)
            self._describe(WORK_ORDER, record)
            self.work_orders[record["AutoNumber"]] = record
            self.meta[(WORK_ORDER, record["AutoNumber"])] = {
                "CoordinateSystem": coordsys,
                "Source": source,
            }
            return dict(record)

    def work_order_from_request(
        self, auto_number: int, overrides: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Staff convert a work request into a work order (request → status 2)."""
        with self.lock:
            request = self._get(REQUEST, auto_number)
            if request["WorkOrderNumber"]:
                raise invalid(f"Request {request['RequestNumber']} already has a work order.")
            address = (
                " ".join(p for p in (request["BuildingNumber"], request["Street"]) if p) or None
            )
            values: dict[str, Any] = {
                "ProblemCode": request["ProblemCode"],
                "Description": request["Comments"],
                "Address": address,
                "XCoordinate": request["XCoordinate"],
                "YCoordinate": request["YCoordinate"],
            }
            for name, value in request.items():
                if name.startswith("WorkOrderUser"):
                    values[name.removeprefix("WorkOrder")] = value
            if request.get(EXTERNAL_ID_FIELD) is not None:
                values.setdefault(EXTERNAL_ID_FIELD, request[EXTERNAL_ID_FIELD])
            values.update(overrides or {})
            meta = self.meta[(REQUEST, auto_number)]
            work_order = self.create_work_order(
                values,
                coordsys=meta["CoordinateSystem"],
                source="staff",
                request_number=request["RequestNumber"],
            )
            request["WorkOrderNumber"] = work_order["WorkOrderNumber"]
            request["StatusCode"] = WO_TO_REQUEST_STATUS.get(work_order["StatusCode"], 2)
            self._describe(REQUEST, request)
            request["ModifiedDate"] = self.stamp()
            return work_order

    # -- comments and documents ---------------------------------------------

    def add_comment(
        self, kind: str, auto_number: int, values: Any, *, recorded_by: str
    ) -> dict[str, Any]:
        if not isinstance(values, Mapping):
            raise invalid("The request body must be a JSON object.")
        self._only(values, COMMENT_FIELDS)
        comment = values.get("Comment")
        if not isinstance(comment, str) or not comment.strip():
            raise invalid("Comment is required.")
        with self.lock:
            self._get(kind, auto_number)
            record = {
                "AutoNumber": self._take_id(COMMENTS),
                "Comment": comment,
                "RecordedBy": _text("RecordedBy", values.get("RecordedBy")) or recorded_by,
                "RecordedDate": self._date(values.get("RecordedDate")),
                "PubliclyAvailable": _flag(
                    "PubliclyAvailable", values.get("PubliclyAvailable", False)
                ),
            }
            self.children[COMMENTS].setdefault((kind, auto_number), []).append(record)
            return dict(record)

    def add_document(
        self,
        kind: str,
        auto_number: int,
        values: Any,
        *,
        recorded_by: str,
        stored_file: StoredFile | None = None,
        url_for: Callable[[int, str], str] | None = None,
    ) -> dict[str, Any]:
        """A Document Link (``DocumentUrl``); or, with ``stored_file``, an uploaded file
        served at ``url_for(AutoNumber, FileName)``."""
        if not isinstance(values, Mapping):
            raise invalid("The request body must be a JSON object.")
        self._only(values, DOCUMENT_FIELDS)
        url = values.get("DocumentUrl")
        if stored_file is not None and url_for is None:
            raise ValueError("an uploaded file needs url_for")
        if stored_file is None and (
            not isinstance(url, str) or not url.startswith(("http://", "https://"))
        ):
            raise invalid("DocumentUrl must be an absolute http(s) URL.")
        with self.lock:
            self._get(kind, auto_number)
            file_name = values.get("FileName") or (
                stored_file.file_name if stored_file else url.rstrip("/").rsplit("/", 1)[-1]
            )
            record = {
                "AutoNumber": self._take_id(DOCUMENTS),
                "DocumentUrl": url,
                "FileName": _text("FileName", file_name),
                "Description": _text("Description", values.get("Description")),
                "PubliclyAvailable": _flag(
                    "PubliclyAvailable", values.get("PubliclyAvailable", False)
                ),
                "RecordedBy": _text("RecordedBy", values.get("RecordedBy")) or recorded_by,
                "RecordedDate": self._date(values.get("RecordedDate")),
            }
            if stored_file is not None and url_for is not None:
                self.files[record["AutoNumber"]] = stored_file
                record["DocumentUrl"] = url_for(record["AutoNumber"], record["FileName"])
            self.children[DOCUMENTS].setdefault((kind, auto_number), []).append(record)
            return dict(record)

    def stored_file(self, document_id: int) -> StoredFile | None:
        with self.lock:
            return self.files.get(document_id)

    def uploads(self, kind: str, auto_number: int) -> list[dict[str, Any]]:
        """The files uploaded to a record, oldest first, with their bytes (base64)."""
        with self.lock:
            self._get(kind, auto_number)
            documents = self.children[DOCUMENTS].get((kind, auto_number), [])
            found = []
            for document in documents:
                stored = self.files.get(document["AutoNumber"])
                if stored is None:
                    continue  # a document link, not an upload
                found.append(
                    {
                        "DocumentAutoNumber": document["AutoNumber"],
                        "Field": stored.field,
                        "FileName": stored.file_name,
                        "ContentType": stored.content_type,
                        "Size": len(stored.data),
                        "Content": base64.b64encode(stored.data).decode("ascii"),
                    }
                )
            return found

    @staticmethod
    def _only(values: Mapping[str, Any], fields: Sequence[str]) -> None:
        unknown = [n for n in values if n not in fields or n == "AutoNumber"]
        if unknown:
            raise invalid(f"Unknown field(s): {', '.join(sorted(unknown))}.")

    def _date(self, value: Any) -> str:
        if value is None:
            return self.stamp()
        try:
            return self.stamp(parse_date(value))
        except FilterError as exc:
            raise invalid(str(exc)) from None

    # -- snapshot ----------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self.lock:

            def rows(kind: str) -> list[dict[str, Any]]:
                return [
                    {**r, "_meta": self.meta[(kind, r["AutoNumber"])]}
                    for r in self._records(kind).values()
                ]

            def children(which: str) -> dict[str, list[dict[str, Any]]]:
                return {f"{k}/{n}": list(v) for (k, n), v in self.children[which].items()}

            return {
                "config": asdict(self.config),
                "srid": self.srid,
                "categories": dict(self.categories),
                "problem_codes": list(self.problem_codes.values()),
                "requests": rows(REQUEST),
                "work_orders": rows(WORK_ORDER),
                "comments": children(COMMENTS),
                "documents": children(DOCUMENTS),
            }
