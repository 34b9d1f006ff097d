"""Benchmark: signed CRM webhooks under load, as an agency serves them.

``gunicorn -w 4 wsgi:app`` on loopback, on PostgreSQL and Redis, configured
only by the environment (``crosswalk db upgrade`` and ``crosswalk config
load`` first). For each offered rate (50, 100, 200 deliveries/s by default)
a fresh server is started, warmed up, and sent ``issue.created`` deliveries
of new issues on a fixed schedule for ``--seconds`` (open loop: a slow
answer does not slow the sender down, and latency is counted from when a
delivery was due, so queueing shows). It prints, per rate:

* p50 / p99 / max latency and the rate served (202s per second of the run),
* server CPU per delivery (user + system time of the gunicorn master and
  workers, over the run),
* SQL statements per delivery (counted in each gunicorn worker by a
  SQLAlchemy listener, ``bench/gunicorn_counting.py``, warm-up included),
* rows vs 202s: the issues in the database against the deliveries answered
  202 (equal: nothing lost), and anything but a 202.

It asserts nothing (no timed test); it exits 1 only when a delivery answered
202 has no row (lost) or the server could not be started.

    .venv/bin/python bench/webhook_load.py                         # 3 × 10 s, ~1 min
    .venv/bin/python bench/webhook_load.py --rates 200 --seconds 30

Loopback only, bounded in rate and time; the scratch database is dropped, the
claimed Redis database flushed and the servers stopped on exit.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.chaos import descendants  # noqa: E402
from bench.services import (  # noqa: E402
    ADMIN_DATABASE_URL,
    BASE_REDIS_URL,
    BenchError,
    Workers,
    check_loopback,
    claimed_redis,
    cpu_seconds,
    crosswalk_env,
    machine,
    psycopg_url,
    run_crosswalk,
    scratch_database,
)
from simulators.seeclickfix_store import SeeClickFixState  # noqa: E402
from simulators.seed import configure_seeclickfix  # noqa: E402
from webapp.sync.webhook import sign  # noqa: E402

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
WEBHOOK_SECRET = "bench-webhook-secret"
SECRETS = {
    "SCF_TOKEN": "bench-scf-token",
    "SCF_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "CG_USER": "crosswalk",
    "CG_PASSWORD": "bench-password",
}
POTHOLE_TYPE = 122
FIRST_ISSUE = 20_000_000
NOWHERE = "http://127.0.0.1:9"  # the discard port: no vendor is called in this bench
TARGET_P99_MS = 50.0
TARGET_CPU_MS = 3.0
TARGET_STATEMENTS = 4.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--rates", default="50,100,200", help="offered deliveries/s, one run each (50,100,200)")
    add("--seconds", type=float, default=10.0, help="length of each run (10)")
    add("--workers", type=int, default=4, help="gunicorn workers (4)")
    add("--senders", type=int, default=48, help="concurrent sending threads (48)")
    add("--warmup", type=int, default=100, help="deliveries before each run, not counted (100)")
    add("--database-url", help="a scratch PostgreSQL database (default: create one, drop it)")
    add("--admin-database-url", default=ADMIN_DATABASE_URL, help="where scratch databases are made")
    add("--redis-url", default=BASE_REDIS_URL, help="the Redis server; a free database is claimed")
    add("--log-dir", type=Path, help="keep the servers' logs here")
    args = parser.parse_args(argv)
    try:
        args.rate_list = [float(r) for r in args.rates.split(",") if r.strip()]
    except ValueError:
        parser.error("--rates: comma-separated numbers, e.g. 50,100,200")
    if not args.rate_list or not all(1 <= r <= 1000 for r in args.rate_list):
        parser.error("--rates: each between 1 and 1000 deliveries/s")
    if not 1 <= args.seconds <= 120 or not 1 <= args.workers <= 16:
        parser.error("--seconds 1-120, --workers 1-16")
    if not 1 <= args.senders <= 256 or not 0 <= args.warmup <= 10_000:
        parser.error("--senders 1-256, --warmup 0-10000")
    try:
        check_loopback(args.database_url, args.admin_database_url, args.redis_url)
    except BenchError as exc:
        parser.error(str(exc))
    return args


# -- setup --------------------------------------------------------------------------


def agency_config() -> dict:
    """An agency taking webhooks; no vendor is called (no worker runs)."""
    return {
        "agency": {"name": "City of New Haven (webhook bench)"},
        "crm": {
            "kind": "seeclickfix",
            "base_url": f"{NOWHERE}/api/v2",
            "organization_id": 1234,
            "token_env": "SCF_TOKEN",
            "webhook_secret_env": "SCF_WEBHOOK_SECRET",
        },
        "geocoder": {"url": f"{NOWHERE}/arcgis/rest/services/World/GeocodeServer"},
        "integrations": [
            {
                "name": "public-works",
                "kind": "cartegraph",
                "environment": "test",
                "endpoints": {"test": f"{NOWHERE}/cartegraph/api/v1"},
                "username_env": "CG_USER",
                "password_env": "CG_PASSWORD",
                "acknowledgment_message": "Your request has been received by Public Works.",
                "categories": [{"remote_id": "Pothole", "crm_request_type_id": POTHOLE_TYPE}],
            }
        ],
    }


def issue_template() -> dict:
    """One new issue as SeeClickFix sends it in a webhook (the simulator's format)."""
    state = SeeClickFixState(seeder=configure_seeclickfix)
    try:
        resident = state.resident("Ada Lovelace", "ada@bench.example")
        issue = state.create_issue(
            request_type_id=POTHOLE_TYPE,
            lat=41.30736,
            lng=-72.92486,
            reporter=resident,
            address="165 Church St, New Haven",
            description="Deep pothole in the right lane, near the crosswalk.",
            require_answers=False,
        )
        return state.issue_json(issue, "https://seeclickfix.example/api/v2", details=True)
    finally:
        state.close()


@dataclass
class Delivery:
    due: float  # seconds after the run's start
    body: bytes
    headers: dict[str, str]


def deliveries(template: dict, first_id: int, count: int, rate: float) -> list[Delivery]:
    """``count`` signed ``issue.created`` deliveries of new issues, due at ``rate``."""
    timestamp = str(int(time.time()))
    found = []
    for n in range(count):
        issue = {**template, "id": first_id + n, "html_url": f"https://scf.example/{first_id + n}"}
        body = json.dumps({"event": "issue.created", "issue": issue}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Crosswalk-Timestamp": timestamp,
            "X-Crosswalk-Signature": sign(WEBHOOK_SECRET, timestamp, body),
        }
        found.append(Delivery(n / rate, body, headers))
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- sending ------------------------------------------------------------------------


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)  # seconds, from when it was due
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, latency: float, status: int) -> None:
        with self.lock:
            self.latencies.append(latency)
            self.statuses[status] = self.statuses.get(status, 0) + 1


def send(port: int, delivery: Delivery) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/webhooks/seeclickfix", delivery.body, delivery.headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def offer(port: int, plan: list[Delivery], senders: int) -> tuple[Outcome, float]:
    """Send ``plan`` on schedule from ``senders`` threads: (outcome, seconds taken)."""
    outcome = Outcome()
    start = time.monotonic() + 0.2

    def sender(offset: int) -> None:
        for delivery in plan[offset::senders]:
            due = start + delivery.due
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            try:
                status = send(port, delivery)
            except OSError as exc:
                with outcome.lock:
                    outcome.errors.append(str(exc))
                continue
            outcome.add(time.monotonic() - due, status)

    threads = [threading.Thread(target=sender, args=(n,), daemon=True) for n in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return outcome, time.monotonic() - start


# -- one run --------------------------------------------------------------------------


@dataclass
class RunResult:
    rate: float
    offered: int
    seconds: float
    outcome: Outcome
    cpu_seconds: float
    statements: int
    requests: int
    rows: int

    @property
    def accepted(self) -> int:
        return self.outcome.statuses.get(202, 0)

    def percentile(self, share: float) -> float:
        values = sorted(self.outcome.latencies)
        if not values:
            return float("nan")
        return 1000 * values[min(len(values) - 1, math.ceil(share * len(values)) - 1)]


def serve(args: argparse.Namespace, env: dict, home: Path, log_dir: Path, port: int) -> Workers:
    command = [
        GUNICORN,
        "-w",
        str(args.workers),
        "-b",
        f"127.0.0.1:{port}",
        "-c",
        str(PROJECT_ROOT / "bench" / "gunicorn_counting.py"),
        "--chdir",
        str(PROJECT_ROOT),
        "wsgi:app",
    ]
    server = Workers(command, env, home, log_dir, 1)
    server.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not server.alive():
            raise BenchError(f"gunicorn exited while starting (logs: {log_dir})")
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return server
        time.sleep(0.2)
    server.stop()
    raise BenchError("gunicorn did not answer /healthz within 60 s")


def run_once(
    args: argparse.Namespace,
    rate: float,
    first_id: int,
    template: dict,
    *,
    env: dict,
    home: Path,
    log_dir: Path,
    database_url: str,
) -> RunResult:
    counts_dir = home / f"counts-{int(rate)}-{first_id}"
    counts_dir.mkdir()
    env = {**env, "CROSSWALK_BENCH_COUNTS": str(counts_dir)}
    port = free_port()
    server = serve(args, env, home, log_dir, port)
    count = int(rate * args.seconds)
    try:
        # Every worker imports, connects and reads the configuration once.
        warm = deliveries(template, first_id, args.warmup, max(rate, 50.0))
        offer(port, warm, args.senders)
        plan = deliveries(template, first_id + args.warmup, count, rate)
        processes = [server.pids[0], *descendants(server.pids[0])]
        cpu_before = cpu_seconds(processes)
        outcome, seconds = offer(port, plan, args.senders)
        cpu = cpu_seconds(processes) - cpu_before
    finally:
        server.stop()
    totals = {"statements": 0, "requests": 0}
    for path in counts_dir.glob("worker-*.json"):
        for key, value in json.loads(path.read_text()).items():
            totals[key] += value
    with psycopg.connect(psycopg_url(database_url)) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM issue WHERE id >= %s AND id < %s",
            (first_id + args.warmup, first_id + args.warmup + count),
        ).fetchone()[0]
    return RunResult(
        rate, count, seconds, outcome, cpu, totals["statements"], totals["requests"], rows
    )


# -- report -----------------------------------------------------------------------------


def print_results(results: list[RunResult], args: argparse.Namespace, started: str) -> None:
    print()
    print(
        f"webhook load: gunicorn -w {args.workers} (sync workers) on loopback, PostgreSQL + "
        f"Redis, {args.seconds:g} s per rate, new issue per delivery"
    )
    print(f"machine: {started}")
    print()
    print(
        f"{'offered/s':>9} {'served/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'CPU ms/dlv':>11} {'SQL/dlv':>8} {'202s':>6} {'rows':>6}  other answers"
    )
    for r in results:
        others = {k: v for k, v in r.outcome.statuses.items() if k != 202}
        errors = f", {len(r.outcome.errors)} connection errors" if r.outcome.errors else ""
        cpu = 1000 * r.cpu_seconds / r.accepted if r.accepted else float("nan")
        statements = r.statements / r.requests if r.requests else float("nan")
        latencies = r.outcome.latencies
        worst = 1000 * max(latencies) if latencies else float("nan")
        print(
            f"{r.rate:>9g} {r.accepted / r.seconds:>9.1f} {r.percentile(0.5):>7.1f} "
            f"{r.percentile(0.99):>7.1f} {worst:>7.1f} {cpu:>11.2f} {statements:>8.2f} "
            f"{r.accepted:>6} {r.rows:>6}  {others or 'none'}{errors}"
        )
    print()
    print("latency: from when each delivery was due to its answer (open loop)")
    print("SQL/dlv: statements sent by the gunicorn workers per request, warm-up included")
    lost = sum(max(0, r.accepted - r.rows) for r in results)
    print(f"lost (202 without a row): {lost}")
    top = max(results, key=lambda r: r.rate, default=None)
    if top is not None:
        p99 = top.percentile(0.99)
        cpu = statistics.fmean([1000 * r.cpu_seconds / r.accepted for r in results if r.accepted])
        statements = max(r.statements / r.requests for r in results if r.requests)
        checks = (
            (f"p99 at {top.rate:g}/s", p99, TARGET_P99_MS, "ms"),
            ("server CPU per delivery (mean)", cpu, TARGET_CPU_MS, "ms"),
            ("SQL statements per delivery (max)", statements, TARGET_STATEMENTS, ""),
        )
        for name, value, target, unit in checks:
            verdict = "met" if value <= target else "NOT met"
            print(f"{name:36}{value:8.2f}{unit:3} target <= {target:g}{unit}: {verdict}")


# -- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = machine()
    print(f"webhook bench: rates {args.rate_list} × {args.seconds:g} s…", flush=True)
    results: list[RunResult] = []
    try:
        with contextlib.ExitStack() as stack:
            home = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="crosswalk-webhook-"))
            )
            log_dir = args.log_dir or home / "logs"
            log_dir.mkdir(parents=True, exist_ok=True)
            database_url = stack.enter_context(
                scratch_database(args.admin_database_url, "crosswalk_webhook", args.database_url)
            )
            redis_url = stack.enter_context(claimed_redis(args.redis_url))
            env = crosswalk_env(database_url, redis_url, home, SECRETS)
            run_crosswalk(env, home, "db", "upgrade")
            config = home / "agency.yaml"
            config.write_text(yaml.safe_dump(agency_config(), sort_keys=False))
            run_crosswalk(env, home, "config", "load", str(config))
            template = issue_template()
            first = FIRST_ISSUE
            for rate in args.rate_list:
                print(f"{rate:g} deliveries/s…", flush=True)
                results.append(
                    run_once(
                        args,
                        rate,
                        first,
                        template,
                        env=env,
                        home=home,
                        log_dir=log_dir,
                        database_url=database_url,
                    )
                )
                first += args.warmup + int(rate * args.seconds) + 1000
    except KeyboardInterrupt:
        print("interrupted: everything started was stopped and removed", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print_results(results, args, started)
    return 1 if any(r.accepted > r.rows for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
