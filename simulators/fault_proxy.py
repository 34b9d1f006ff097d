"""A fault-injecting HTTP reverse proxy, to put in front of any simulator.

The simulators' own ``/_sim/faults`` answer *instead of* the vendor or drop a
reply they produced. A chaos run needs more shapes of failure, drawn at
random at a steady rate, and some that only a box in the middle can make:

``error_before``
    a 5xx without forwarding: the vendor never saw the call.
``error_after``
    forward, then answer a 5xx anyway: the vendor *applied* the call.
``hang``
    hold the request past the client's timeout, never forward, then close.
``drop``
    forward, then close the connection without a reply: applied, reply lost.
``late``
    answer a 504 at once and forward the request seconds later (a queued
    create that a load balancer gave up on): applied *after* the client
    decided it failed — only for the methods in ``late_methods`` (POST).

``/_proxy/faults`` sets the rate, the mix of kinds, the seed, the late-apply
range (GET reads, POST changes, DELETE turns faults off); ``/_proxy/requests``
lists every request with its fate; ``/_proxy/stats`` counts fates. Everything
else is forwarded to the upstream base URL. Loopback use only: no TLS, no
chunked request bodies.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import itertools
import json
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from http.cookiejar import DefaultCookiePolicy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

CONTROL_PREFIX = "/_proxy"
FAULT_KINDS = ("error_before", "error_after", "hang", "drop", "late")
PASSED = "passed"  # forwarded, the upstream's reply returned unchanged
UPSTREAM_FAILED = "upstream_failed"  # no fault, but the upstream could not be reached
# Headers that belong to one connection, not to the message (RFC 9110 §7.6.1),
# plus those this proxy recomputes.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
        # send_response() writes its own; the upstream's would be doubled.
        "server",
        "date",
    }
)
ERROR_PAGE = b"<html><body><h1>%d Service Unavailable</h1><p>fault proxy</p></body></html>"
UPSTREAM_TIMEOUT = 60.0


# -- settings -------------------------------------------------------------------


@dataclass(frozen=True)
class FaultSettings:
    """What ``POST /_proxy/faults`` sets; omitted keys keep their value."""

    enabled: bool = False
    rate: float = 0.0  # share of matching requests that get a fault
    mix: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FAULT_KINDS, 1.0))
    seed: int | None = None
    late_apply: tuple[float, float] = (35.0, 50.0)  # seconds until a late request is forwarded
    late_methods: tuple[str, ...] = ("POST",)
    hang_seconds: float = 10.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    methods: tuple[str, ...] = ()  # only these methods get faults; empty: every method
    path_contains: str | None = None  # only paths containing this get faults

    def updated(self, changes: Any) -> FaultSettings:
        """A copy with ``changes`` (a JSON object) applied; ``ValueError`` says why not."""
        if not isinstance(changes, dict):
            raise ValueError("the body must be a JSON object")
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown keys: {sorted(unknown)}")
        merged = replace(self, **_normalised(changes))
        merged.check()
        return merged

    def check(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if set(self.mix) - set(FAULT_KINDS) or any(w < 0 for w in self.mix.values()):
            raise ValueError(f"mix: non-negative weights of {', '.join(FAULT_KINDS)}")
        low, high = self.late_apply
        if not 0 <= low <= high:
            raise ValueError("late_apply must be [low, high] seconds with 0 <= low <= high")
        if self.hang_seconds < 0:
            raise ValueError("hang_seconds must not be negative")
        if not self.error_statuses or any(not 500 <= s <= 599 for s in self.error_statuses):
            raise ValueError("error_statuses must be 5xx codes")

    def applies_to(self, method: str, path: str) -> bool:
        if self.methods and method not in self.methods:
            return False
        return not self.path_contains or self.path_contains in path

    def kinds_for(self, method: str) -> list[str]:
        """Fault kinds with weight that this method can get (late: changes only)."""
        return [
            kind
            for kind in FAULT_KINDS
            if self.mix.get(kind, 0) > 0 and (kind != "late" or method in self.late_methods)
        ]

    def to_json(self) -> dict[str, Any]:
        """As the control plane shows it (tuples as JSON lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _normalised(changes: dict[str, Any]) -> dict[str, Any]:
    """JSON values as the dataclass holds them (lists to tuples, upper-case methods)."""
    out = dict(changes)
    try:
        if "rate" in out:
            out["rate"] = float(out["rate"])
        if "mix" in out:
            out["mix"] = {str(k): float(v) for k, v in dict(out["mix"]).items()}
        if "late_apply" in out:
            low, high = out["late_apply"]
            out["late_apply"] = (float(low), float(high))
        for key in ("late_methods", "methods"):
            if key in out:
                out[key] = tuple(str(m).upper() for m in out[key])
        if "error_statuses" in out:
            out["error_statuses"] = tuple(int(s) for s in out["error_statuses"])
        if "hang_seconds" in out:
            out["hang_seconds"] = float(out["hang_seconds"])
        if "seed" in out and out["seed"] is not None:
            out["seed"] = int(out["seed"])
        if "enabled" in out:
            out["enabled"] = bool(out["enabled"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bad value: {exc}") from None
    return out


class FaultPlan:
    """The settings and the seeded random stream that draws each request's fate."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._lock = threading.Lock()
        self._settings = settings or FaultSettings()
        self._rng = random.Random(self._settings.seed)

    @property
    def settings(self) -> FaultSettings:
        with self._lock:
            return self._settings

    def update(self, changes: dict[str, Any]) -> FaultSettings:
        with self._lock:
            self._settings = self._settings.updated(changes)
            if "seed" in changes:
                # A new seed restarts the stream, so a run can be replayed from here.
                self._rng = random.Random(self._settings.seed)
            return self._settings

    def draw(self, method: str, path: str) -> str | None:
        """This request's fault kind, or None to forward it untouched."""
        with self._lock:
            s = self._settings
            if not s.enabled or not s.applies_to(method, path):
                return None
            if self._rng.random() >= s.rate:
                return None
            kinds = s.kinds_for(method)
            if not kinds:
                return None
            return self._rng.choices(kinds, weights=[s.mix[k] for k in kinds])[0]

    def uniform(self, low: float, high: float) -> float:
        with self._lock:
            return self._rng.uniform(low, high)

    def error_status(self) -> int:
        with self._lock:
            return self._rng.choice(self._settings.error_statuses)


# -- the request log ----------------------------------------------------------------


class ProxyLog:
    """Every proxied request with its fate (bounded), and fate totals (not bounded)."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._counts: Counter[str] = Counter()
        self._ids = itertools.count(1)

    def start(self, method: str, target: str, fate: str) -> dict[str, Any]:
        parts = urlsplit(target)
        entry = {
            "id": next(self._ids),
            "time": time.time(),
            "method": method,
            "path": parts.path,
            "query_string": parts.query,
            "fate": fate,
            "status": None,  # what the client got; None: no reply at all
            "upstream_status": None,  # what the upstream answered; None: not forwarded
            "applied_at": None,  # when a late request reached the upstream
            "duration_ms": None,
        }
        with self._lock:
            self._entries.append(entry)
            self._counts[fate] += 1
        return entry

    def finish(self, entry: dict[str, Any], **values: Any) -> None:
        with self._lock:
            entry.update(values)

    def count(self, what: str) -> None:
        with self._lock:
            self._counts[what] += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def entries(self, *, fate: str | None = None, method: str | None = None) -> list[dict]:
        with self._lock:
            entries = [dict(e) for e in self._entries]
        return [
            e
            for e in entries
            if (fate is None or e["fate"] == fate)
            and (method is None or e["method"] == method.upper())
        ]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._counts.clear()


# -- late applies ---------------------------------------------------------------


class LateQueue:
    """Requests to forward at a later time, on one thread (not one timer each)."""

    def __init__(self, on_discard: Callable[[], None]) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._running = 0
        self._stopped = False
        self._on_discard = on_discard
        self._thread = threading.Thread(target=self._loop, name="fault-proxy-late", daemon=True)
        self._thread.start()

    def at(self, when: float, job: Callable[[], None]) -> None:
        """Run ``job`` at monotonic time ``when``."""
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._order), job))
            self._cond.notify()

    def pending(self) -> int:
        """Late requests not yet answered by the upstream (waiting or being sent)."""
        with self._cond:
            return len(self._heap) + self._running

    def stop(self) -> None:
        """Discard what is still waiting: a stopped proxy applies nothing more."""
        with self._cond:
            self._stopped = True
            for _ in self._heap:
                self._on_discard()
            self._heap.clear()
            self._cond.notify()
        self._thread.join(timeout=UPSTREAM_TIMEOUT)

    def _next_due(self) -> Callable[[], None] | None:
        with self._cond:
            while not self._stopped:
                if self._heap and self._heap[0][0] <= time.monotonic():
                    self._running += 1
                    return heapq.heappop(self._heap)[2]
                timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                self._cond.wait(timeout)
            return None

    def _loop(self) -> None:
        while (job := self._next_due()) is not None:
            try:
                job()
            finally:
                with self._cond:
                    self._running -= 1


# -- the proxy --------------------------------------------------------------------


@dataclass
class Incoming:
    """One request as the proxy read it, enough to forward it now or later."""

    method: str
    target: str  # path and query string, as received
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class FaultProxy:
    """A threaded reverse proxy to ``upstream`` (scheme://host:port) with faults.

    Use ``configure(...)`` / ``stats()`` / ``log`` in the same process, or the
    ``/_proxy/`` control plane over HTTP."""

    def __init__(
        self,
        upstream: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        settings: FaultSettings | None = None,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.plan = FaultPlan(settings)
        self.log = ProxyLog()
        self._stopping = threading.Event()
        # Bound first: a port in use raises before any thread is started.
        self._server = _ProxyServer((host, port), _Handler, self)
        self.host, self.port = host, self._server.server_port
        self._session = _upstream_session()
        self.late = LateQueue(on_discard=lambda: self.log.count("late_discarded"))
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FaultProxy:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"fault-proxy-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake held requests, discard late requests not yet sent."""
        self._stopping.set()
        self.late.stop()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        self._session.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- control, in process -------------------------------------------------
    def configure(self, **changes: Any) -> FaultSettings:
        return self.plan.update(changes)

    def faults_off(self) -> FaultSettings:
        """No new faults; late requests already accepted are still applied on time."""
        return self.plan.update({"enabled": False})

    def stats(self) -> dict[str, Any]:
        return {"fates": self.log.counts(), "late_pending": self.late.pending()}

    # -- serving ----------------------------------------------------------------
    def handle(self, incoming: Incoming) -> Reply | None:
        """The reply for one request; None closes the connection without one."""
        kind = self.plan.draw(incoming.method, incoming.path)
        entry = self.log.start(incoming.method, incoming.target, kind or PASSED)
        started = time.monotonic()
        reply = self._apply(kind, incoming, entry)
        self.log.finish(
            entry,
            status=None if reply is None else reply.status,
            duration_ms=round(1000 * (time.monotonic() - started), 1),
        )
        return reply

    def _apply(self, kind: str | None, incoming: Incoming, entry: dict) -> Reply | None:
        if kind is None:
            reply = self.forward(incoming)
            if reply.status == 599:
                self.log.finish(entry, fate=UPSTREAM_FAILED)
                return replace(reply, status=502)
            self.log.finish(entry, upstream_status=reply.status)
            return reply
        if kind == "error_before":
            return self._error()
        if kind == "hang":
            self._stopping.wait(self.plan.settings.hang_seconds)
            return None
        if kind == "late":
            self._accept_late(incoming, entry)
            return self._error(504)
        forwarded = self.forward(incoming)  # error_after and drop: applied upstream
        self.log.finish(entry, upstream_status=forwarded.status)
        return self._error() if kind == "error_after" else None

    def _error(self, status: int | None = None) -> Reply:
        status = status or self.plan.error_status()
        return Reply(status, [("Content-Type", "text/html")], ERROR_PAGE % status)

    def _accept_late(self, incoming: Incoming, entry: dict) -> None:
        low, high = self.plan.settings.late_apply
        delay = self.plan.uniform(low, high)

        def apply_now() -> None:
            reply = self.forward(incoming)
            self.log.finish(entry, upstream_status=reply.status, applied_at=time.time())
            self.log.count("late_applied")

        self.late.at(time.monotonic() + delay, apply_now)

    def forward(self, incoming: Incoming) -> Reply:
        """Send the request upstream; status 599 when the upstream cannot be reached."""
        headers = {k: v for k, v in incoming.headers if k.lower() not in HOP_BY_HOP}
        try:
            response = self._session.request(
                incoming.method,
                self.upstream + incoming.target,
                headers=headers,
                data=incoming.body or None,
                allow_redirects=False,
                timeout=UPSTREAM_TIMEOUT,
            )
        except requests.RequestException as exc:
            return Reply(599, [("Content-Type", "text/plain")], str(exc).encode())
        kept = [(k, v) for k, v in _raw_header_items(response) if k.lower() not in HOP_BY_HOP]
        return Reply(response.status_code, kept, response.content)

    # -- the control plane ----------------------------------------------------------
    def control(self, method: str, target: str, body: bytes) -> Reply:
        parts = urlsplit(target)
        route = parts.path.removeprefix(CONTROL_PREFIX).rstrip("/")
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        try:
            status, payload = self._route(method, route, query, body)
        except ValueError as exc:
            status, payload = 400, {"error": str(exc)}
        return Reply(status, [("Content-Type", "application/json")], json.dumps(payload).encode())

    def _route(self, method: str, route: str, query: dict, body: bytes) -> tuple[int, Any]:
        if route == "/faults" and method == "GET":
            return 200, self.plan.settings.to_json()
        if route == "/faults" and method == "POST":
            return 200, self.plan.update(_json_object(body)).to_json()
        if route == "/faults" and method == "DELETE":
            return 200, self.faults_off().to_json()
        if route == "/requests" and method == "GET":
            return 200, self.log.entries(fate=query.get("fate"), method=query.get("method"))
        if route == "/requests" and method == "DELETE":
            self.log.clear()
            return 200, []
        if route == "/stats" and method == "GET":
            return 200, self.stats()
        return 404, {"error": f"no control route {method} {CONTROL_PREFIX}{route}"}


def _json_object(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except ValueError:
        raise ValueError("the body is not valid JSON") from None


def _upstream_session() -> requests.Session:
    """One pooled session for every thread: no cookies (each client keeps its
    own), no proxies from the environment (loopback only)."""
    session = requests.Session()
    session.trust_env = False
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=64)
    session.mount("http://", adapter)
    return session


def _raw_header_items(response: requests.Response) -> Iterable[tuple[str, str]]:
    """Upstream headers with repeats kept (two Set-Cookie stay two)."""
    raw = getattr(response.raw, "headers", None)
    return raw.items() if raw is not None else response.headers.items()


# -- HTTP plumbing ----------------------------------------------------------------


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True  # a held ("hang") request must not block shutdown

    def __init__(self, address: tuple[str, int], handler: type, proxy: FaultProxy) -> None:
        self.proxy = proxy
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps clients' connections alive, as in front of a real vendor.
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one write (flushed per request by http.server):
    # separate small writes meet Nagle and delayed ACKs, 40 ms per reply.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the proxy's own log has every request."""

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            return
        proxy = self.server.proxy
        if urlsplit(self.path).path.startswith(CONTROL_PREFIX + "/"):
            self._send(proxy.control(self.command, self.path, body))
            return
        incoming = Incoming(self.command, self.path, list(self.headers.items()), body)
        reply = proxy.handle(incoming)
        if reply is None:
            self.close_connection = True  # nothing written: the client sees EOF
            return
        self._send(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._send(Reply(411, [("Content-Type", "text/plain")], b"Length Required"))
            self.close_connection = True
            return None
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
        except OSError:
            # The client gave up (its timeout) before the reply: nothing to do.
            self.close_connection = True


def main(argv: list[str] | None = None) -> None:
    """``python -m simulators.fault_proxy --upstream URL``: serve until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m simulators.fault_proxy", description=__doc__)
    parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:8102")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8110)
    args = parser.parse_args(argv)
    with FaultProxy(args.upstream, args.host, args.port) as proxy:
        print(f"Fault proxy {proxy.url} -> {proxy.upstream}; control: {proxy.url}{CONTROL_PREFIX}/")
        print("Faults are off until POST /_proxy/faults. Ctrl-C to stop.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
