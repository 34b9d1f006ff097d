"""OpenGov EAM / Cartegraph REST simulator, per vendor-apis.md §2.

A generic class store with the documented record envelope, filter grammar,
paging, error body and both auth schemes. Only the classes the sync uses are
known, each with a fixed field set, so a client that sends a misspelt field
gets the same 400 the real server gives.

Choices where the public docs are silent (clients must not rely on them):
* create answers 200 with the envelope holding the created records (with
  ``Oid``); Oids come from one counter shared by all classes;
* ``EntryDateField`` is UTC ISO 8601 with a ``Z``;
* string comparisons in filters ignore case (SQL Server collation).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request

from simulators.cartegraph_store import INVALID_REQUEST, CartegraphState, ClassDef, cg_error
from simulators.server import SimulatedError, create_simulator_app

__all__ = ["CartegraphState", "create_cartegraph_app"]

DEFAULT_PREFIX = "/cartegraph/api/v1"
SESSION_COOKIE = "CartegraphSession"
AUTH_REQUIRED = "Authentication Required for API Access."
DEFAULT_LIMIT = 1000


def _json_body() -> Any:
    data = request.get_json(silent=True)
    if data is None:
        raise cg_error(400, INVALID_REQUEST, [("", "The request body is not valid JSON.")])
    return data


def _envelope_records(class_name: str) -> list[dict[str, Any]]:
    body = _json_body()
    records = body.get(class_name) if isinstance(body, dict) else None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise cg_error(
            400,
            INVALID_REQUEST,
            [(class_name, f'Expected a body of the form {{"{class_name}": [{{...}}]}}.')],
        )
    return records


def _paging_arg(name: str, default: int, minimum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise cg_error(400, INVALID_REQUEST, [(name, f"{name} must be an integer >= {minimum}.")])
    return value


def _projected(class_def: ClassDef, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply ``fields=``; ``Oid`` always comes back so records stay addressable."""
    raw = request.args.get("fields")
    if not raw:
        return rows
    names = [n.strip() for n in raw.split(",") if n.strip()]
    class_def.check_fields(names)
    keep = ["Oid", *[n for n in names if n != "Oid"]]
    return [{n: row.get(n) for n in keep} for row in rows]


def _envelope(
    class_name: str, rows: list[dict[str, Any]], total: int, offset: int, limit: int
) -> Response:
    return jsonify(
        {
            class_name: rows,
            "_metadata": {"totalCount": total, "offset": offset, "limit": limit},
        }
    )


def _api_blueprint(state: CartegraphState, prefix: str) -> Blueprint:
    bp = Blueprint("cartegraph_api", __name__, url_prefix=prefix)

    @bp.before_request
    def authenticate() -> None:
        if request.endpoint in ("cartegraph_api.log_on", "cartegraph_api.sign_out"):
            return
        auth = request.authorization
        if (
            auth is not None
            and auth.type == "basic"
            and state.credentials_ok(auth.username, auth.password)
        ):
            return
        token = request.cookies.get(SESSION_COOKIE)
        if token and state.session_valid(token):
            return
        raise SimulatedError(401, {"Message": AUTH_REQUIRED})

    @bp.post("/authenticate")
    def log_on() -> Response:
        body = _json_body()
        if not isinstance(body, dict) or not state.credentials_ok(
            body.get("userName"), body.get("password")
        ):
            raise cg_error(401, "Invalid user name or password.")
        response = jsonify({"LogOnStatus": 0, "Expires": state.session_ttl})
        response.set_cookie(SESSION_COOKIE, state.open_session(), httponly=True)
        return response

    @bp.post("/authenticate/signout")
    def sign_out() -> Response:
        state.end_session(request.cookies.get(SESSION_COOKIE))
        response = jsonify({})
        response.delete_cookie(SESSION_COOKIE)
        return response

    def list_records(class_name: str, parent_oid: int | None = None) -> Response:
        class_def = state.class_def(class_name)
        limit = _paging_arg("limit", DEFAULT_LIMIT, 1)
        offset = _paging_arg("offset", 0, 0)
        rows = state.query(
            class_name,
            filter_text=request.args.get("filter"),
            sort=request.args.get("sort"),
            parent_oid=parent_oid,
        )
        page = _projected(class_def, rows[offset : offset + limit])
        return _envelope(class_name, page, len(rows), offset, limit)

    @bp.get("/classes/<class_name>")
    def list_class(class_name: str) -> Response:
        return list_records(class_name)

    @bp.post("/classes/<class_name>")
    def create_records(class_name: str) -> Response:
        if state.class_def(class_name).parent is not None:
            raise cg_error(
                400,
                INVALID_REQUEST,
                [(class_name, "Create child records under their parent record.")],
            )
        created = state.create(class_name, _envelope_records(class_name))
        return _envelope(class_name, created, len(created), 0, DEFAULT_LIMIT)

    @bp.put("/classes/<class_name>")
    def update_records(class_name: str) -> Response:
        updated = state.update(class_name, _envelope_records(class_name))
        return _envelope(class_name, updated, len(updated), 0, DEFAULT_LIMIT)

    @bp.get("/classes/<class_name>/<int:oid>")
    def show_record(class_name: str, oid: int) -> Response:
        rows = _projected(state.class_def(class_name), [state.get(class_name, oid)])
        return _envelope(class_name, rows, 1, 0, DEFAULT_LIMIT)

    @bp.delete("/classes/<class_name>/<int:oid>")
    def delete_record(class_name: str, oid: int) -> Response:
        state.delete(class_name, oid)
        return jsonify({"DeletedRecordCount": 1})

    def child_class(class_name: str, oid: int, child: str) -> str:
        if state.class_def(child).parent != class_name:
            raise cg_error(404, f"Class {child} is not a child of {class_name}.")
        state.get(class_name, oid)
        return child

    @bp.get("/classes/<class_name>/<int:oid>/<child>")
    def list_children(class_name: str, oid: int, child: str) -> Response:
        return list_records(child_class(class_name, oid, child), parent_oid=oid)

    @bp.post("/classes/<class_name>/<int:oid>/<child>")
    def create_children(class_name: str, oid: int, child: str) -> Response:
        child = child_class(class_name, oid, child)
        created = state.create(child, _envelope_records(child), parent_oid=oid)
        return _envelope(child, created, len(created), 0, DEFAULT_LIMIT)

    return bp


def _control_blueprint(state: CartegraphState) -> Blueprint:
    """What agency staff and crews do in Cartegraph, for tests and the demo."""
    bp = Blueprint("cartegraph_control", __name__, url_prefix="/_sim")

    @bp.post("/auto_progress")
    def auto_progress() -> Response:
        body = request.get_json(silent=True) or {}
        ap = state.configure_auto_progress(
            enabled=bool(body.get("enabled", True)),
            task_after=body.get("task_after"),
            close_after=body.get("close_after"),
            stagger=body.get("stagger"),
        )
        return jsonify(asdict(ap))

    @bp.post("/records/<class_name>")
    def staff_create(class_name: str) -> tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        return jsonify(state.create(class_name, [body], via_api=False)[0]), 201

    @bp.post("/records/<class_name>/<int:oid>")
    def staff_patch(class_name: str, oid: int) -> Response:
        return jsonify(state.patch(class_name, oid, request.get_json(silent=True) or {}))

    @bp.post("/sessions/expire")
    def expire_sessions() -> Response:
        state.expire_sessions()
        return jsonify({"sessions": 0})

    return bp


def create_cartegraph_app(state: CartegraphState, prefix: str = DEFAULT_PREFIX) -> Flask:
    """The Cartegraph simulator app: the REST API under ``prefix`` plus ``/_sim/``."""
    app = create_simulator_app(__name__, state)
    app.register_blueprint(_api_blueprint(state, prefix.rstrip("/")))
    app.register_blueprint(_control_blueprint(state))
    return app
