"""Plumbing shared by every simulator.

* :class:`SimulatorServer` runs a WSGI app on a real loopback socket so the
  clients under test go through their full HTTP stack (timeouts, retries,
  connection handling) instead of a mocked transport.
* :class:`SimulatorState` is the base of each simulator's in-memory store and
  carries the control-plane objects (fault injector, request log).
* :func:`create_simulator_app` builds a Flask app with the ``/_sim/`` control
  plane already mounted, so the vendor endpoints stay free of test plumbing.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request
from werkzeug.serving import BaseWSGIServer, make_server

SIM_PREFIX = "/_sim"


class SimulatedError(Exception):
    """Raised by simulator code to answer with a vendor-shaped error body."""

    def __init__(self, status: int, payload: Any, headers: dict[str, str] | None = None):
        super().__init__(f"{status}: {payload!r}")
        self.status = status
        self.payload = payload
        self.headers = headers or {}

    def to_response(self) -> Response:
        response = jsonify(self.payload)
        response.status_code = self.status
        response.headers.update(self.headers)
        return response


@dataclass
class Fault:
    """One injected misbehaviour, as posted to ``POST /_sim/faults``.

    ``count`` is the number of matching requests it still applies to; ``None``
    means "until cleared" (a backend that is down for good).
    """

    status: int | None = None
    count: int | None = 1
    path_contains: str | None = None
    method: str | None = None
    retry_after: int | float | str | None = None
    body: Any = None
    content_type: str | None = None
    delay_ms: int = 0
    drop_after: bool = False

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        """Validate a control-plane body; raises ``ValueError`` with a readable reason."""
        if not isinstance(data, dict):
            raise ValueError("fault must be a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        fault = cls(**data)
        if fault.status is not None and not (isinstance(fault.status, int) and fault.status >= 100):
            raise ValueError("status must be an HTTP status code")
        if fault.count is not None and (not isinstance(fault.count, int) or fault.count < 1):
            raise ValueError("count must be a positive integer or null")
        if not isinstance(fault.delay_ms, int | float) or fault.delay_ms < 0:
            raise ValueError("delay_ms must be a non-negative number")
        if fault.status is None and not fault.delay_ms and not fault.drop_after:
            raise ValueError("a fault needs a status, a delay_ms or drop_after")
        if fault.method:
            fault.method = fault.method.upper()
        return fault

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method != method.upper():
            return False
        return not self.path_contains or self.path_contains in path

    def response(self, default_status: int) -> Response:
        """The reply sent instead of (or, for ``drop_after``, over) the real one."""
        body = self.body
        if isinstance(body, dict | list):
            payload = json.dumps(body)
            content_type = self.content_type or "application/json"
        else:
            payload = "" if body is None else str(body)
            content_type = self.content_type or "text/plain; charset=utf-8"
        response = Response(payload, status=self.status or default_status)
        response.headers["Content-Type"] = content_type
        if self.retry_after is not None:
            response.headers["Retry-After"] = str(self.retry_after)
        return response


class FaultInjector:
    """Thread-safe queue of faults plus a global latency, consulted on every vendor request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._latency_ms = 0.0

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """Consume one use of the first fault matching this request, if any."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    @property
    def latency_ms(self) -> float:
        with self._lock:
            return self._latency_ms

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        with self._lock:
            self._latency_ms = float(value)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"latency_ms": self._latency_ms, "faults": [asdict(f) for f in self._faults]}


class RequestLog:
    """Record of the vendor requests a simulator received, so tests can count calls.

    Bounded, so a demo left polling for days does not grow without limit.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(
        self, *, method: str | None = None, path_contains: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            entries = list(self._entries)
        return [
            e
            for e in entries
            if (method is None or e["method"] == method.upper())
            and (path_contains is None or path_contains in e["path"])
        ]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class SimulatorState:
    """Base class of each simulator's store.

    Subclasses implement :meth:`clear` (drop all data) and :meth:`snapshot`
    (a JSON-able dump). ``seeder`` is re-applied on every :meth:`reset` so a
    seeded demo returns to its initial data, not to an empty store.
    """

    def __init__(self, seeder: Callable[[Any], None] | None = None) -> None:
        # Re-entrant: seeders call the public mutators, which take the lock too.
        self.lock = threading.RLock()
        self.faults = FaultInjector()
        self.requests = RequestLog()
        self._seeder = seeder

    def clear(self) -> None:
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        raise NotImplementedError

    def reset(self) -> None:
        """Back to the initial data, with no faults, latency or request log."""
        with self.lock:
            self.clear()
            self.faults.clear()
            self.faults.latency_ms = 0
            self.requests.clear()
            if self._seeder is not None:
                self._seeder(self)

    def close(self) -> None:
        """Stop background threads; subclasses that start any override this."""


def _describe_request() -> dict[str, Any]:
    entry: dict[str, Any] = {
        "time": time.time(),
        "method": request.method,
        "path": request.path,
        "query_string": request.query_string.decode("latin-1"),
        "json": request.get_json(silent=True) if request.is_json else None,
        "user_agent": request.headers.get("User-Agent"),
        "content_type": request.headers.get("Content-Type"),
    }
    if request.form:
        entry["form"] = request.form.to_dict(flat=False)
    return entry


def _intercept(state: SimulatorState) -> Response | None:
    """``before_request``: log, add latency, and apply a matching fault."""
    if request.path.startswith(SIM_PREFIX + "/"):
        return None
    state.requests.record(_describe_request())
    latency = state.faults.latency_ms
    if latency:
        time.sleep(latency / 1000)
    fault = state.faults.take(request.method, request.path)
    if fault is None:
        return None
    if fault.delay_ms:
        time.sleep(fault.delay_ms / 1000)
    if fault.drop_after:
        g.sim_drop_fault = fault
        return None
    if fault.status is None:
        return None  # only a slow reply: let the real handler answer
    return fault.response(fault.status)


def _drop_reply(response: Response) -> Response:
    """``after_request``: the operation happened, but the client never sees its reply."""
    fault: Fault | None = g.pop("sim_drop_fault", None)
    if fault is None:
        return response
    if fault.body is None:
        # What a proxy in front of the vendor typically sends when the upstream vanished.
        fault = replace(
            fault,
            body="<html><body><h1>502 Bad Gateway</h1></body></html>",
            content_type=fault.content_type or "text/html",
        )
    return fault.response(502)


def _control_blueprint(state: SimulatorState) -> Blueprint:
    bp = Blueprint("sim_control", __name__, url_prefix=SIM_PREFIX)

    @bp.post("/reset")
    def reset() -> Response:
        state.reset()
        return jsonify({"reset": True})

    @bp.get("/state")
    def dump_state() -> Response:
        with state.lock:
            return jsonify(state.snapshot())

    @bp.post("/faults")
    def add_fault() -> tuple[Response, int]:
        try:
            fault = Fault.from_json(request.get_json(silent=True))
        except (TypeError, ValueError) as exc:
            return jsonify({"error": str(exc)}), 400
        state.faults.add(fault)
        return jsonify(state.faults.snapshot()), 201

    @bp.get("/faults")
    def list_faults() -> Response:
        return jsonify(state.faults.snapshot())

    @bp.delete("/faults")
    def clear_faults() -> Response:
        state.faults.clear()
        return jsonify(state.faults.snapshot())

    @bp.post("/latency")
    def set_latency() -> tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        ms = body.get("ms")
        if not isinstance(ms, int | float) or ms < 0:
            return jsonify({"error": "ms must be a non-negative number"}), 400
        state.faults.latency_ms = ms
        return jsonify(state.faults.snapshot()), 200

    @bp.get("/requests")
    def list_requests() -> Response:
        return jsonify(
            state.requests.entries(
                method=request.args.get("method"),
                path_contains=request.args.get("path_contains"),
            )
        )

    @bp.delete("/requests")
    def clear_requests() -> Response:
        state.requests.clear()
        return jsonify([])

    return bp


def create_simulator_app(import_name: str, state: SimulatorState) -> Flask:
    """A Flask app with the shared ``/_sim/`` control plane and fault hooks installed.

    The hooks are registered before any vendor blueprint, so a fault or the
    latency applies even to requests the vendor code would reject (401s).
    """
    app = Flask(import_name)
    app.json.sort_keys = False  # keep vendor field order as documented
    app.before_request(lambda: _intercept(state))
    app.after_request(_drop_reply)
    app.register_blueprint(_control_blueprint(state))
    app.register_error_handler(SimulatedError, SimulatedError.to_response)
    return app


class SimulatorServer:
    """A WSGI app served from a daemon thread on a real loopback socket."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SimulatorServer:
        if self._server is not None:
            return self
        self._server = make_server(self.host, self.port, self.app, threaded=True)
        self.port = self._server.server_port
        # A short poll interval keeps stop() fast in test teardown.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"simulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        if thread is not None:
            thread.join()
        server.server_close()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("server not started")
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
