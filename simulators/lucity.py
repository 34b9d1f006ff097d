"""CentralSquare EAM (Lucity) simulator, per vendor-apis.md §3 and §6 and the vendor guide.

Two APIs on one server, plus the shared ``/_sim/`` control plane.

Citizen REST API, ``/LucityCitizenRestAPI`` (no auth)::

    POST /Requests.svc/?format=json[&COORDSYS=LATLONG]   create a work request
    POST /Requests.svc/{AutoNumber}/media/               multipart ``FileToUpload`` → Document
    GET  /LookupList/Request.svc/{Property}/?format=json ProblemCode[&311Only=true],
                                                         CategoryCode, StatusCode
    GET  /Request/?format=json&Email=..[&RequestNumber=..]  track a requester's requests

Internal REST API, ``/LucityWebAPI`` (HTTP Basic)::

    GET  /Work/Requests.svc/?format=json&FILTER=..&ORDERBY=..&TAKE=..&SKIP=..
    GET  /Work/Requests.svc/$count?format=json&FILTER=..
    POST /Work/Requests.svc/?format=json[&COORDSYS=..]
    GET  /Work/Requests.svc/{AutoNumber}?format=json
    PUT  /Work/Requests.svc/{AutoNumber}?format=json[&NULLWRITES=TRUE][&COORDSYS=..]
    GET|POST /Work/Requests.svc/{AutoNumber}/Comments?format=json   (list: FILTER/ORDERBY/TAKE/SKIP)
    GET  /Work/Requests.svc/{AutoNumber}/Documents?format=json      (list, read only)
    the same for /Work/WorkOrders.svc/

Documented facts (vendor-apis.md §6, the Lucity REST help, the citizen
sample): the citizen paths above, the problem codes for 311 only through the
lookup ``[{"CodeValue", "TypeValue"}]`` (no ``Work/ProblemCodes.svc``: no
public source shows one), the photo upload as multipart ``FileToUpload``,
``format=json`` (default XML), JSON bodies with ``Content-Type:
application/json``, FILTER naming the table (``WKREQ WHERE RQ_STAT_CD <
950``), ORDERBY a property or field name with ASC/DESC (``StatusCode DESC``)
and, without it, **AutoNumber descending**, TAKE (default 10, admin max 50),
SKIP (a multiple of TAKE, else 400), ``$count``, ``COORDSYS``,
``NULLWRITES=TRUE``, the citizen field names, ``RequestNumber``/``AutoNumber``,
the request status codes, the public SQL columns ``RQ_ID``, ``RQ_NUMBER``,
``RQ_STAT_CD``, ``RQ_STAT_TY``, ``WKORDER.WO_ID``; ``Comment`` / ``RecordedBy``
and "Publicly Available" from the vendor guide.

Choices where the public material is silent (clients must not rely on them,
and keep every path and field name configurable):

* Paths of the internal API: ``/LucityWebAPI`` alias, ``Work/Requests.svc``,
  ``Work/WorkOrders.svc``, children ``/Comments`` and ``/Documents`` (the
  latter only listed: staff add documents through ``/_sim/``, citizens through
  the media endpoint); the uploaded-file URL ``/LucityCitizenRestAPI/media/{id}/{name}``.
* Query-parameter names and ``format``/``NULLWRITES``/``COORDSYS`` values are
  case-insensitive. ``FILTERID`` (saved filters) answers 400. The citizen
  lookups are not paged (the sample reads them in one call).
* Lists are bare JSON arrays; ``$count`` is a bare integer; creates answer
  200 with the whole record; errors are ``{"Message", "ExceptionMessage"}``
  (ASP.NET Web API style), 401 with ``WWW-Authenticate: Basic``; a POST/PUT
  without a JSON content type is 415. Without ``format=json`` every answer,
  errors included, is a small WCF-like XML document.
* ``TAKE`` above the configured maximum is clamped to it (the real server's
  behaviour is unknown; a client must not ask for more than the maximum).
* Dates are agency local time without offset, ``2026-03-04T09:15:00``.
* Field names of a work request (:data:`~simulators.lucity_store.REQUEST_FIELDS`):
  ``Comments`` holds the description; custom fields are ``User1``..``User20``,
  ``User1Code``..``User20Code``, ``WorkOrderUser1``..``WorkOrderUser20`` plus the
  configured ``custom_fields``, and appear in a record once set. ``User20`` is
  the external reference (the SeeClickFix id), FILTER column ``RQ_EXTERNAL_ID``;
  the entry date is ``RQ_ENTRY_DT``; the "Publicly Available" property is
  ``PubliclyAvailable``. Unknown fields are refused (400); read-only ones
  (``AutoNumber``, ``StatusDescription``...) are ignored so a GET-modify-PUT works.
* X/Y are stored as given; the coordinate system they came in (``LOCAL``
  unless ``COORDSYS`` said otherwise) is kept out of the wire record and shown
  in ``/_sim/state`` (``_meta.CoordinateSystem``). ``LATLONG`` means X is the
  longitude and Y the latitude, and is range-checked.
* Work orders (:data:`~simulators.lucity_store.WORK_ORDER_FIELDS`) have their
  own statuses (1 New, 100 Assigned, 200 In Progress, 941 On Hold,
  951 Canceled, 998 Complete, 999 Closed) and move their originating request
  (→ 2, 941, 951, 998), except a request staff already completed (999).
* Comments default to not publicly available; so do citizen uploads.
* FILTER columns: see :mod:`simulators.lucity_store` (``REQUEST_TABLE`` ...)
  and the grammar in :mod:`simulators.lucity_filter`.

Control plane (besides the shared reset/state/faults/latency/requests)::

    POST /_sim/config {"take_max": 50, "custom_fields": [...]}
    POST /_sim/problem_codes {"Code", "Description", "CategoryCode", "Inactive"}  (upsert)
    POST /_sim/requests {...fields, "COORDSYS"?, "minutes_ago"?}      staff-entered request
    POST /_sim/requests/{AutoNumber} {"StatusCode": 999, ...}         staff edit (nulls write)
    POST /_sim/requests/{AutoNumber}/comments|documents               staff-added child
    GET  /_sim/requests/{AutoNumber}/uploads                          files uploaded (base64)
    POST /_sim/requests/{AutoNumber}/work_order                       convert to a work order
    POST /_sim/work_orders, /_sim/work_orders/{AutoNumber}[/comments|/documents]
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from simulators.lucity_store import (
    CITIZEN_RECORDED_BY,
    COMMENTS,
    DEFAULT_TAKE,
    DOCUMENTS,
    NOT_FOUND,
    PROBLEM_CODE_FIELDS,
    REQUEST,
    WORK_ORDER,
    LucityError,
    LucityState,
    StoredFile,
    invalid,
    lucity_error,
)
from simulators.server import SIM_PREFIX, SimulatedError, create_simulator_app

__all__ = [
    "API_PREFIX",
    "CITIZEN_PREFIX",
    "LucityState",
    "configure_lucity",
    "create_lucity_app",
    "seed_lucity",
]

CITIZEN_PREFIX = "/LucityCitizenRestAPI"
API_PREFIX = "/LucityWebAPI"
WORK_REQUESTS_PATH = "/Work/Requests.svc"
WORK_ORDERS_PATH = "/Work/WorkOrders.svc"
COMMENTS_CHILD = "Comments"
DOCUMENTS_CHILD = "Documents"
MEDIA_PATH = "/media"  # where uploaded files are served (simulator's choice)
UPLOAD_FIELD = "FileToUpload"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
AUTH_DENIED = "Authorization has been denied for this request."
STAFF_RECORDED_BY = "Public Works Staff"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_ITEM_NAMES = {
    REQUEST: "WorkRequest",
    WORK_ORDER: "WorkOrder",
    COMMENTS: "Comment",
    DOCUMENTS: "Document",
}


# -- request helpers ----------------------------------------------------------


def _arg(name: str) -> str | None:
    """Query parameters are case-insensitive (``FILTER``, ``filter``, ``Filter``)."""
    wanted = name.lower()
    for key, value in request.args.items():
        if key.lower() == wanted:
            return value
    return None


def _wants_json() -> bool:
    return (_arg("format") or "").lower() == "json"


def _flag_arg(name: str) -> bool:
    return (_arg(name) or "").lower() in ("true", "1", "yes")


def _json_body() -> Any:
    if not request.is_json:
        media_type = request.mimetype or "(none)"
        raise lucity_error(
            415,
            f"The request entity's media type '{media_type}' is not supported for this resource.",
            "Send the body as JSON with Content-Type: application/json.",
        )
    data = request.get_json(silent=True)
    if data is None:
        raise invalid("The request body is not valid JSON.")
    return data


def _int_arg(name: str, default: int, minimum: int) -> int:
    raw = _arg(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise invalid(f"{name} must be an integer >= {minimum}.")
    return value


# -- rendering ----------------------------------------------------------------


def _xml_value(parent: ET.Element, name: str, value: Any) -> None:
    element = ET.SubElement(parent, name)
    if value is None:
        element.set(f"{{{XSI}}}nil", "true")
    elif isinstance(value, dict):
        for key, item in value.items():
            _xml_value(element, key, item)
    elif isinstance(value, list):
        for item in value:
            _xml_value(element, "Item", item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = str(value)


def to_xml(payload: Any, item_name: str) -> bytes:
    """A minimal WCF-like XML rendering: ``ArrayOf{Item}`` / ``{Item}`` / ``int``."""
    if isinstance(payload, list):
        root = ET.Element(f"ArrayOf{item_name}")
        for item in payload:
            _xml_value(root, item_name, item)
    elif isinstance(payload, dict):
        root = ET.Element(item_name)
        for key, value in payload.items():
            _xml_value(root, key, value)
    else:
        root = ET.Element("int" if isinstance(payload, int) else "string")
        root.text = str(payload)
    ET.register_namespace("i", XSI)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _render(payload: Any, item_name: str = "Record", status: int = 200) -> Response:
    if _wants_json() or request.path.startswith(SIM_PREFIX + "/"):
        response = jsonify(payload)
    else:
        response = Response(to_xml(payload, item_name), content_type="application/xml")
    response.status_code = status
    return response


def _error_response(exc: SimulatedError) -> Response:
    response = _render(exc.payload, "Error", exc.status)
    response.headers.update(exc.headers)
    return response


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 404:
        message = f"No HTTP resource was found that matches the request URI '{request.url}'."
    elif status == 405:
        message = f"The requested resource does not support http method '{request.method}'."
    else:
        message = exc.description or exc.name
    error = lucity_error(status, message, exc.description)
    valid_methods = getattr(exc, "valid_methods", None)
    if valid_methods:
        error.headers["Allow"] = ", ".join(valid_methods)
    return _error_response(error)


# -- internal REST API ----------------------------------------------------------


def _api_blueprint(state: LucityState, prefix: str) -> Blueprint:
    bp = Blueprint("lucity_api", __name__, url_prefix=prefix)

    @bp.before_request
    def authenticate() -> None:
        auth = request.authorization
        if (
            auth is not None
            and auth.type == "basic"
            and state.credentials_ok(auth.username, auth.password)
        ):
            return
        error = lucity_error(401, AUTH_DENIED)
        error.headers["WWW-Authenticate"] = 'Basic realm="Lucity"'
        raise error

    def recorded_by() -> str:
        auth = request.authorization
        return (auth.username if auth else None) or state.username

    def paging() -> tuple[int, int]:
        if _arg("FILTERID") is not None:
            raise invalid("Saved filters (FILTERID) are not available; use FILTER.")
        take = min(_int_arg("TAKE", DEFAULT_TAKE, 1), state.config.take_max)
        skip = _int_arg("SKIP", 0, 0)
        if skip % take:
            raise invalid(f"SKIP ({skip}) must be a multiple of TAKE ({take}).")
        return take, skip

    def listing(kind: str, child: str | None = None, parent: int | None = None) -> Response:
        take, skip = paging()
        rows = state.query(
            kind,
            filter_text=_arg("FILTER"),
            orderby=_arg("ORDERBY"),
            parent=(kind, parent) if parent is not None else None,
            child=child,
        )
        return _render(rows[skip : skip + take], XML_ITEM_NAMES[child or kind])

    def count(kind: str) -> Response:
        return _render(len(state.query(kind, filter_text=_arg("FILTER"))))

    def add(path: str, view: Callable[..., Response], methods: list[str]) -> None:
        endpoint = f"{view.__name__}_{path.strip('/').replace('/', '_').replace('.', '_')}"
        bp.add_url_rule(path, endpoint, view, methods=methods, strict_slashes=False)

    def register(kind: str, path: str) -> None:
        item = XML_ITEM_NAMES[kind]

        def list_records() -> Response:
            return listing(kind)

        def count_records() -> Response:
            return count(kind)

        def create_record() -> Response:
            body = _json_body()
            coordsys = _arg("COORDSYS")
            if kind == REQUEST:
                record = state.create_request(body, coordsys=coordsys, source="api")
            else:
                record = state.create_work_order(body, coordsys=coordsys, source="api")
            return _render(record, item)

        def show_record(auto_number: int) -> Response:
            return _render(state.get(kind, auto_number), item)

        def update_record(auto_number: int) -> Response:
            record = state.update(
                kind,
                auto_number,
                _json_body(),
                null_writes=_flag_arg("NULLWRITES"),
                coordsys=_arg("COORDSYS"),
            )
            return _render(record, item)

        def list_comments(auto_number: int) -> Response:
            return listing(kind, COMMENTS, auto_number)

        def add_comment(auto_number: int) -> Response:
            comment = state.add_comment(kind, auto_number, _json_body(), recorded_by=recorded_by())
            return _render(comment, XML_ITEM_NAMES[COMMENTS])

        def list_documents(auto_number: int) -> Response:
            return listing(kind, DOCUMENTS, auto_number)

        add(f"{path}/", list_records, ["GET"])
        add(f"{path}/", create_record, ["POST"])
        add(f"{path}/$count", count_records, ["GET"])
        add(f"{path}/<int:auto_number>", show_record, ["GET"])
        add(f"{path}/<int:auto_number>", update_record, ["PUT"])
        add(f"{path}/<int:auto_number>/{COMMENTS_CHILD}", list_comments, ["GET"])
        add(f"{path}/<int:auto_number>/{COMMENTS_CHILD}", add_comment, ["POST"])
        add(f"{path}/<int:auto_number>/{DOCUMENTS_CHILD}", list_documents, ["GET"])

    register(REQUEST, WORK_REQUESTS_PATH)
    register(WORK_ORDER, WORK_ORDERS_PATH)
    return bp


# -- citizen REST API -----------------------------------------------------------


def _citizen_blueprint(state: LucityState, prefix: str) -> Blueprint:
    bp = Blueprint("lucity_citizen", __name__, url_prefix=prefix)

    @bp.route("/Requests.svc/", methods=["POST"], strict_slashes=False)
    def create_request() -> Response:
        record = state.create_request(_json_body(), coordsys=_arg("COORDSYS"), source="citizen")
        return _render(record, XML_ITEM_NAMES[REQUEST])

    @bp.route("/Requests.svc/<int:auto_number>/media/", methods=["POST"], strict_slashes=False)
    def upload(auto_number: int) -> Response:
        if request.mimetype != "multipart/form-data":
            raise lucity_error(
                415,
                f"The request entity's media type '{request.mimetype or '(none)'}' "
                "is not supported for this resource.",
                f"Upload the file as multipart/form-data in the field {UPLOAD_FIELD}.",
            )
        if request.content_length and request.content_length > MAX_UPLOAD_BYTES:
            raise lucity_error(413, "The uploaded file is too large.")
        upload = request.files.get(UPLOAD_FIELD)
        if upload is None or not upload.filename:
            raise invalid(f"No file was sent in the multipart field {UPLOAD_FIELD}.")
        data = upload.read()
        content_type = upload.mimetype or "application/octet-stream"
        stored = StoredFile(upload.filename, content_type, data, UPLOAD_FIELD)
        base = request.host_url.rstrip("/") + prefix + MEDIA_PATH
        document = state.add_document(
            REQUEST,
            auto_number,
            {"Description": request.form.get("Description")},
            recorded_by=CITIZEN_RECORDED_BY,
            stored_file=stored,
            url_for=lambda doc_id, name: f"{base}/{doc_id}/{quote(name)}",
        )
        return _render(document, XML_ITEM_NAMES[DOCUMENTS])

    @bp.get(f"{MEDIA_PATH}/<int:document_id>/<path:file_name>")
    def media(document_id: int, file_name: str) -> Response:
        stored = state.stored_file(document_id)
        if stored is None or stored.file_name != file_name:
            raise lucity_error(404, NOT_FOUND, f"No file {file_name!r} for document {document_id}.")
        return Response(stored.data, content_type=stored.content_type)

    @bp.route("/LookupList/Request.svc/<prop>/", methods=["GET"], strict_slashes=False)
    def lookup(prop: str) -> Response:
        rows = state.lookup(prop, only_311=_flag_arg("311Only"))
        return _render(rows, "LookupItem")

    @bp.route("/Request/", methods=["GET"], strict_slashes=False)
    def track() -> Response:
        email = _arg("Email")
        if not email:
            raise invalid("Email is required.")
        return _render(state.track(email, _arg("RequestNumber")), XML_ITEM_NAMES[REQUEST])

    return bp


# -- control plane ----------------------------------------------------------------


def _control_blueprint(state: LucityState) -> Blueprint:
    """What agency staff do in Lucity, for tests and the demo."""
    bp = Blueprint("lucity_control", __name__, url_prefix=SIM_PREFIX)

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise invalid("The body must be a JSON object.")
        return dict(data)

    def staff_create(kind: str) -> tuple[Response, int]:
        values = body()
        coordsys = values.pop("COORDSYS", None)
        minutes_ago = values.pop("minutes_ago", None)
        entry_date = None
        if minutes_ago is not None:
            entry_date = state.now() - timedelta(minutes=float(minutes_ago))
        create = state.create_request if kind == REQUEST else state.create_work_order
        record = create(values, coordsys=coordsys, source="staff", entry_date=entry_date)
        return jsonify(record), 201

    def staff_patch(kind: str, auto_number: int) -> Response:
        values = body()
        coordsys = values.pop("COORDSYS", None)
        return jsonify(state.update(kind, auto_number, values, null_writes=True, coordsys=coordsys))

    def staff_comment(kind: str, auto_number: int) -> tuple[Response, int]:
        record = state.add_comment(kind, auto_number, body(), recorded_by=STAFF_RECORDED_BY)
        return jsonify(record), 201

    def staff_document(kind: str, auto_number: int) -> tuple[Response, int]:
        record = state.add_document(kind, auto_number, body(), recorded_by=STAFF_RECORDED_BY)
        return jsonify(record), 201

    for kind, path in ((REQUEST, "requests"), (WORK_ORDER, "work_orders")):
        bp.add_url_rule(
            f"/{path}", f"create_{kind}", functools.partial(staff_create, kind), methods=["POST"]
        )
        bp.add_url_rule(
            f"/{path}/<int:auto_number>",
            f"patch_{kind}",
            functools.partial(staff_patch, kind),
            methods=["POST"],
        )
        bp.add_url_rule(
            f"/{path}/<int:auto_number>/comments",
            f"comment_{kind}",
            functools.partial(staff_comment, kind),
            methods=["POST"],
        )
        bp.add_url_rule(
            f"/{path}/<int:auto_number>/documents",
            f"document_{kind}",
            functools.partial(staff_document, kind),
            methods=["POST"],
        )

    @bp.get("/requests/<int:auto_number>/uploads")
    def uploads(auto_number: int) -> Response:
        return jsonify(state.uploads(REQUEST, auto_number))

    @bp.post("/requests/<int:auto_number>/work_order")
    def convert(auto_number: int) -> tuple[Response, int]:
        return jsonify(state.work_order_from_request(auto_number, body())), 201

    @bp.post("/problem_codes")
    def problem_code() -> Response:
        values = body()
        code = values.get("Code")
        if not isinstance(code, str) or not code:
            raise invalid("Code is required.")
        unknown = set(values) - set(PROBLEM_CODE_FIELDS)
        if unknown:
            raise invalid(f"Unknown field(s): {', '.join(sorted(unknown))}.")
        return jsonify(
            state.upsert_problem_code(
                code,
                values.get("Description"),
                values.get("CategoryCode"),
                values.get("Inactive"),
            )
        )

    @bp.post("/config")
    def config() -> Response:
        values = body()
        unknown = set(values) - {"take_max", "custom_fields"}
        if unknown:
            raise invalid(f"Unknown config key(s): {', '.join(sorted(unknown))}.")
        settings = state.configure(
            take_max=values.get("take_max"), custom_fields=values.get("custom_fields")
        )
        return jsonify({"take_max": settings.take_max, "custom_fields": settings.custom_fields})

    return bp


def create_lucity_app(
    state: LucityState, citizen_prefix: str = CITIZEN_PREFIX, api_prefix: str = API_PREFIX
) -> Flask:
    """The Lucity simulator app: both REST APIs plus ``/_sim/``."""
    app = create_simulator_app(__name__, state)
    app.register_error_handler(LucityError, _error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_blueprint(_citizen_blueprint(state, citizen_prefix.rstrip("/")))
    app.register_blueprint(_api_blueprint(state, api_prefix.rstrip("/")))
    app.register_blueprint(_control_blueprint(state))
    return app


# -- seed -------------------------------------------------------------------------


@functools.cache
def _to_state_plane() -> Callable[[float, float], tuple[float, float]]:
    from pyproj import Transformer

    transformer = Transformer.from_crs(4326, 2234, always_xy=True)
    return lambda lng, lat: transformer.transform(lng, lat)


def state_plane_ct(lat: float, lng: float) -> tuple[float, float]:
    """WGS84 → EPSG:2234 (NAD83 / Connecticut, US survey feet), rounded to 0.01 ft."""
    x, y = _to_state_plane()(lng, lat)
    return round(x, 2), round(y, 2)


def _seed_data() -> dict[str, Any]:
    from simulators.seed import load_seed_data

    return load_seed_data()["lucity"]


def configure_lucity(state: LucityState) -> None:
    """Categories and problem codes: the agency's configuration, present even unseeded."""
    data = _seed_data()
    for category in data["categories"]:
        state.add_category(category["code"], category["description"])
    for code in data["problem_codes"]:
        state.upsert_problem_code(
            code["Code"], code["Description"], code["CategoryCode"], code["Inactive"]
        )


def seed_lucity(state: LucityState) -> None:
    """Problem codes plus three staff-entered work requests (one inside the city with
    State Plane X/Y, one without coordinates, one outside the boundary) and comments."""
    configure_lucity(state)
    now = state.now()
    for item in _seed_data()["requests"]:
        fields = dict(item["fields"])
        if "lat" in item:
            fields["XCoordinate"], fields["YCoordinate"] = state_plane_ct(item["lat"], item["lng"])
        entered = now - timedelta(minutes=item["minutes_ago"])
        record = state.create_request(fields, source="staff", entry_date=entered)
        for comment in item.get("comments", []):
            values = {k: v for k, v in comment.items() if k != "minutes_after"}
            values["RecordedDate"] = state.stamp(
                entered + timedelta(minutes=comment["minutes_after"])
            )
            state.add_comment(REQUEST, record["AutoNumber"], values, recorded_by=STAFF_RECORDED_BY)
