"""Benchmark: pushes per second against the vendor-latency bound.

Crosswalk as an agency runs it — PostgreSQL, Redis, N ``crosswalk worker``
processes configured only by the environment — pushing new CRM issues to the
Cartegraph simulator while every simulator (SeeClickFix, Cartegraph, ArcGIS)
answers each call after ``--latency-ms`` (20 ms). For 1, 2 and 4 workers it
queues ``--issues`` pushes at once and prints

* pushes/s (first push queued → last link acknowledged),
* vendor calls per push, by system (from the simulators' request logs),
* worker CPU per push (user + system time of the worker processes),
* the latency bound — workers ÷ (calls per push × latency): what the workers
  could reach if waiting for the vendors, one call after another, were all
  a push cost — and achieved ÷ bound. (Calls made side by side, such as the
  geocode and the requester lookup, let a push beat it.)

It is a benchmark, not a test: it asserts nothing, and exits 1 only when a
push failed or the bound in time passed (a bug, not a speed figure).

    .venv/bin/python bench/push_throughput.py                 # 300 issues per run, ~2 min
    .venv/bin/python bench/push_throughput.py --issues 60 --workers 1,2   # a quick look

Residents: each issue is reported by a new resident (``--residents`` = the
issue count), so every push looks its requester up and creates it; with
fewer residents some report again, and a requester the worker already found
costs no call. The issues sit at distinct points (no geocode cache hit).

Loopback only, bounded in count and time; the scratch database is dropped and
the claimed Redis database flushed on exit, and the workers are stopped.
Periodic work (CRM poll, remote poll, sweeper) is scheduled a day ahead so
that only pushes are measured; each worker still ticks its dispatcher.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import psycopg
import redis
import yaml
from rq import Worker

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.services import (  # noqa: E402
    ADMIN_DATABASE_URL,
    BASE_REDIS_URL,
    CROSSWALK,
    BenchError,
    Workers,
    check_loopback,
    claimed_redis,
    cpu_split,
    crosswalk_env,
    machine,
    machine_busy,
    run_crosswalk,
    scratch_database,
)
from integrations.seeclickfix import parse_issue  # noqa: E402
from simulators.cartegraph import DEFAULT_PREFIX as CARTEGRAPH_PREFIX  # noqa: E402
from simulators.launch import RunningSimulators, start_simulators  # noqa: E402
from simulators.seed import address_points  # noqa: E402
from simulators.server import RequestLog  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.config import database_url as normalise_url  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import PeriodicRun, SyncLink, SyncState, utcnow  # noqa: E402
from webapp.sync import ingest, schedule  # noqa: E402
from webapp.sync.push_job import enqueue_push  # noqa: E402

SCF_TOKEN = "bench-scf-token"
CG_USER, CG_PASSWORD = "crosswalk", "bench-password"
ORG_ID = 1234
POTHOLE_TYPE = 122  # the simulator's "Pothole" request type
SECRETS = {"SCF_TOKEN": SCF_TOKEN, "CG_USER": CG_USER, "CG_PASSWORD": CG_PASSWORD}
TARGET_SHARE = 0.8  # of the latency bound, with 4 workers (issue 11)
TARGET_CPU_MS = 25.0
# `crosswalk worker` under cProfile, one file per process (argv: out path with %p, args).
PROFILED = (
    "import cProfile, os, sys, time; from webapp.cli import main; "
    "out = sys.argv[1].replace('%p', str(os.getpid())); sys.argv = ['crosswalk', *sys.argv[2:]]; "
    "profile = cProfile.Profile(time.process_time); profile.enable()\n"
    "try: main()\n"
    "except SystemExit: pass\n"
    "finally: profile.disable(); profile.dump_stats(out)"
)


# -- options ------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--issues", type=int, default=300, help="pushes per run (300)")
    add("--workers", default="1,2,4", help="worker counts, one run each (1,2,4)")
    add("--latency-ms", type=float, default=20.0, help="simulator latency per call (20)")
    add("--residents", type=int, help="distinct residents reporting (default: one per issue)")
    add("--fork", action="store_true", help="crosswalk worker --fork (a work horse per job)")
    add("--timeout", type=float, default=300.0, help="seconds a run may take at most (300)")
    add("--database-url", help="a scratch PostgreSQL database (default: create one, drop it)")
    add("--admin-database-url", default=ADMIN_DATABASE_URL, help="where scratch databases are made")
    add("--redis-url", default=BASE_REDIS_URL, help="the Redis server; a free database is claimed")
    add("--log-dir", type=Path, help="keep the workers' logs here")
    add("--profile", type=Path, help="run the workers under cProfile, writing DIR/worker-N.prof")
    args = parser.parse_args(argv)
    try:
        args.worker_counts = [int(n) for n in args.workers.split(",") if n.strip()]
    except ValueError:
        parser.error("--workers: comma-separated numbers, e.g. 1,2,4")
    if not args.worker_counts or not all(1 <= n <= 16 for n in args.worker_counts):
        parser.error("--workers: each between 1 and 16")
    if not 1 <= args.issues <= 5000:
        parser.error("--issues must be between 1 and 5000")
    if args.residents is not None and args.residents < 1:
        parser.error("--residents must be at least 1")
    if not 0 <= args.latency_ms <= 1000 or not 1 <= args.timeout <= 3600:
        parser.error("--latency-ms 0-1000, --timeout 1-3600")
    try:
        check_loopback(args.database_url, args.admin_database_url, args.redis_url)
    except BenchError as exc:
        parser.error(str(exc))
    return args


# -- setup ------------------------------------------------------------------------------


def agency_config(sims: RunningSimulators) -> dict:
    """The agency file: the simulators, every periodic task as rare as allowed."""
    return {
        "agency": {
            "name": "City of New Haven (push bench)",
            "integration_user": sims.seeclickfix_state.official.name,
        },
        "crm": {
            "kind": "seeclickfix",
            "base_url": sims.scf_base_url,
            "organization_id": ORG_ID,
            "token_env": "SCF_TOKEN",
            "poll_interval": 86400,
        },
        "geocoder": {"url": sims.arcgis_url, "timeout": 5},
        "integrations": [
            {
                "name": "public-works",
                "kind": "cartegraph",
                "environment": "test",
                "endpoints": {"test": f"{sims.cartegraph.url}{CARTEGRAPH_PREFIX}"},
                "username_env": "CG_USER",
                "password_env": "CG_PASSWORD",
                "timeout": 10,
                "poll_interval": 86400,
                "sync_categories": False,
                "acknowledgment_message": "Your request has been received by Public Works.",
                "categories": [{"remote_id": "Pothole", "crm_request_type_id": POTHOLE_TYPE}],
            }
        ],
    }


def report_issues(sims: RunningSimulators, first: int, count: int, residents: int) -> list:
    """``count`` issues reported in the SeeClickFix simulator (no HTTP), as the
    CRM serves them; issue ``first + i`` by resident ``(first + i) % residents``,
    each at a point of its own: near one of the locator's address points, a
    metre or more from any other issue (no geocode cache hit)."""
    state = sims.seeclickfix_state
    points = list(address_points().values())
    crm_issues = []
    for i in range(first, first + count):
        n = i % residents
        person = state.resident(f"Resident {n}", f"resident{n}@bench.example")
        near = points[i % len(points)]
        issue = state.create_issue(
            request_type_id=POTHOLE_TYPE,
            lat=near.lat + (i // len(points)) * 1.2e-5,  # ~1.3 m a step, < 100 m in all
            lng=near.lng,
            reporter=person,
            address="165 Church St, New Haven",
            description=f"Push bench pothole {i}",
            require_answers=False,
        )
        crm_issues.append(parse_issue(state.issue_json(issue, sims.scf_base_url, details=True)))
    return crm_issues


def store_issues(crm_issues: list) -> list[int]:
    """The issues stored as ingest stores them, with nothing recorded as owed
    (``due_at`` NULL): the bench queues each run's pushes itself."""
    link_ids = []
    for crm in crm_issues:
        link_ids.extend(ingest.upsert_issue(crm, source="bench").links_to_push)
    db.session.execute(db.update(SyncLink).where(SyncLink.id.in_(link_ids)).values(due_at=None))
    db.session.commit()
    return link_ids


def schedule_periodic_work_later() -> None:
    """Every periodic task a day ahead: the runs measure pushes only."""
    later = utcnow() + timedelta(days=1)
    for task in schedule.periodic_tasks():
        db.session.merge(PeriodicRun(key=task.key, next_run_at=later))
    db.session.commit()


# -- one run ------------------------------------------------------------------------------


@dataclass
class RunResult:
    workers: int
    pushes: int
    seconds: float
    cpu_seconds: float
    calls: dict[str, int]
    latency_ms: float
    system_seconds: float = 0.0  # of cpu_seconds, in the kernel (sockets: HTTP, SQL, Redis)
    simulator_seconds: float = 0.0  # CPU of this process: the simulators (and the bench's poll)
    machine_busy: float = 0.0  # share of all the machine's cores busy during the run
    failed: int = 0
    unfinished: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.pushes / self.seconds if self.seconds else 0.0

    @property
    def calls_per_push(self) -> float:
        return sum(self.calls.values()) / self.pushes if self.pushes else 0.0

    @property
    def cpu_ms_per_push(self) -> float:
        return 1000 * self.cpu_seconds / self.pushes if self.pushes else 0.0

    @property
    def system_ms_per_push(self) -> float:
        return 1000 * self.system_seconds / self.pushes if self.pushes else 0.0

    @property
    def simulator_ms_per_push(self) -> float:
        return 1000 * self.simulator_seconds / self.pushes if self.pushes else 0.0

    @property
    def bound(self) -> float:
        """Pushes/s if each worker only waited for its calls, one after another."""
        wait = self.calls_per_push * self.latency_ms / 1000
        return self.workers / wait if wait else float("inf")

    @property
    def share(self) -> float:
        return self.rate / self.bound if self.bound not in (0, float("inf")) else 0.0


def sim_logs(sims: RunningSimulators) -> dict[str, RequestLog]:
    return {
        "SeeClickFix": sims.seeclickfix_state.requests,
        "Cartegraph": sims.cartegraph_state.requests,
        "ArcGIS": sims.arcgis_state.requests,
    }


def wait_for_workers(connection: redis.Redis, workers: Workers, timeout: float = 60.0) -> None:
    """Until every worker has registered with RQ (imports done, queues open)."""
    deadline = time.monotonic() + timeout
    while len(Worker.all(connection=connection)) < workers.count:
        if not workers.alive():
            raise BenchError("a worker exited while starting (see --log-dir)")
        if time.monotonic() > deadline:
            raise BenchError(f"the workers did not start within {timeout:g} s")
        time.sleep(0.1)
    time.sleep(1.0)  # the first dispatcher tick, which runs before the first job


def settled(conn: psycopg.Connection, link_ids: list[int]) -> tuple[int, int, int]:
    """(acknowledged, failed, still owed) among ``link_ids``."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE state = %s), count(*) FILTER (WHERE state = %s),"
        " count(*) FILTER (WHERE state = %s) FROM sync_link WHERE id = ANY(%s)",
        (SyncState.ACKNOWLEDGED, SyncState.FAILED, SyncState.PENDING, link_ids),
    ).fetchone()
    return row[0], row[1], row[2]


def run_once(
    args: argparse.Namespace,
    count: int,
    link_ids: list[int],
    *,
    app,
    sims: RunningSimulators,
    env: dict[str, str],
    home: Path,
    log_dir: Path,
    database_url: str,
    redis_url: str,
) -> RunResult:
    command = [CROSSWALK, "worker", *(["--fork"] if args.fork else [])]
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        out = args.profile / f"worker-{count}-%p.prof"
        command = [sys.executable, "-c", PROFILED, str(out), *command[1:]]
    workers = Workers(command, env, home, log_dir, count)
    connection = redis.Redis.from_url(redis_url)
    try:
        workers.start()
        wait_for_workers(connection, workers)
        logs = sim_logs(sims)
        for log in logs.values():
            log.clear()
        with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
            cpu_before = cpu_split(workers.pids)
            own_before, busy_before = time.process_time(), machine_busy()
            started = time.monotonic()
            with app.app_context():
                for link_id in link_ids:
                    enqueue_push(link_id)
            done = failed = 0
            deadline = started + args.timeout
            while time.monotonic() < deadline:
                done, failed, _ = settled(conn, link_ids)
                if done + failed == len(link_ids):
                    break
                time.sleep(0.05)
            seconds = time.monotonic() - started
            cpu_after = cpu_split(workers.pids)
            own_seconds = time.process_time() - own_before
            busy_after = machine_busy()
            user, system = (
                after - before for after, before in zip(cpu_after, cpu_before, strict=True)
            )
        calls = {name: len(log.entries()) for name, log in logs.items()}
        return RunResult(
            workers=count,
            pushes=done,
            seconds=seconds,
            cpu_seconds=user + system,
            system_seconds=system,
            simulator_seconds=own_seconds,
            machine_busy=_busy_share(busy_before, busy_after),
            calls=calls,
            latency_ms=args.latency_ms,
            failed=failed,
            unfinished=len(link_ids) - done - failed,
        )
    finally:
        workers.stop()
        connection.close()


def _busy_share(before: tuple[float, float], after: tuple[float, float]) -> float:
    busy, total = after[0] - before[0], after[1] - before[1]
    return busy / total if total > 0 else 0.0


# -- report -----------------------------------------------------------------------------------


def print_results(results: list[RunResult], args: argparse.Namespace, started: str) -> None:
    print()
    residents = args.residents or "one per issue"
    print(
        f"push throughput: {args.issues} pushes per run, {args.latency_ms:g} ms per vendor call, "
        f"residents: {residents}, worker: crosswalk worker{' --fork' if args.fork else ''}"
    )
    print(f"machine: {started}")
    print("PostgreSQL + Redis on loopback; simulators in the bench process")
    print(
        "CPU ms/push: the workers' (kernel: of it, in the kernel); sims ms/push: the bench "
        "process's (the simulators); machine busy: of all the machine's cores, during the run"
    )
    print()
    header = (
        f"{'workers':>7} {'pushes/s':>9} {'calls/push':>11} {'CPU ms/push':>12} "
        f"{'(kernel)':>9} {'sims ms/push':>13} {'machine busy':>13} "
        f"{'bound/s':>8} {'achieved/bound':>15}   calls by system"
    )
    print(header)
    for r in results:
        by_system = ", ".join(f"{k} {v / r.pushes:.2f}" for k, v in r.calls.items() if r.pushes)
        print(
            f"{r.workers:>7} {r.rate:>9.1f} {r.calls_per_push:>11.2f} {r.cpu_ms_per_push:>12.1f} "
            f"{r.system_ms_per_push:>9.1f} {r.simulator_ms_per_push:>13.1f} "
            f"{r.machine_busy:>12.0%} {r.bound:>8.1f} {r.share:>15.2f}   {by_system}"
        )
        if r.failed or r.unfinished:
            print(f"        ({r.failed} failed, {r.unfinished} not finished within the bound)")
    print()
    four = next((r for r in results if r.workers == 4), None)
    if four is not None:
        verdict = "met" if four.share >= TARGET_SHARE else "NOT met"
        print(f"4 workers: {four.share:.2f} of the bound; target >= {TARGET_SHARE}: {verdict}")
    cpu = statistics.median(r.cpu_ms_per_push for r in results) if results else 0.0
    verdict = "met" if cpu <= TARGET_CPU_MS else "NOT met"
    target = f"target <= {TARGET_CPU_MS:g}: {verdict}"
    print(f"worker CPU per push (median of runs): {cpu:.1f} ms; {target}")


# -- main ---------------------------------------------------------------------------------------


def quiet_logging() -> None:
    for name in ("werkzeug", "crosswalk", "urllib3", "alembic", "rq"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = machine()
    total = args.issues * len(args.worker_counts)
    residents = args.residents or total
    print(f"push bench: {args.issues} pushes × workers {args.worker_counts}…", flush=True)
    results: list[RunResult] = []
    try:
        with contextlib.ExitStack() as stack:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="crosswalk-push-")))
            log_dir = args.log_dir or home / "logs"
            log_dir.mkdir(parents=True, exist_ok=True)
            database_url = stack.enter_context(
                scratch_database(args.admin_database_url, "crosswalk_push", args.database_url)
            )
            redis_url = stack.enter_context(claimed_redis(args.redis_url))
            sims = stack.enter_context(
                start_simulators(
                    "127.0.0.1",
                    seed=False,
                    scf_token=SCF_TOKEN,
                    organization_id=ORG_ID,
                    cg_username=CG_USER,
                    cg_password=CG_PASSWORD,
                    lucity=False,
                )
            )
            quiet_logging()
            env = crosswalk_env(database_url, redis_url, home, SECRETS)
            run_crosswalk(env, home, "db", "upgrade")
            config = home / "agency.yaml"
            config.write_text(yaml.safe_dump(agency_config(sims), sort_keys=False))
            run_crosswalk(env, home, "config", "load", str(config))

            app = create_app(
                {
                    "SQLALCHEMY_DATABASE_URI": normalise_url(database_url, ""),
                    "REDIS_URL": redis_url,
                    "SECRET_KEY": env["SECRET_KEY"],
                    "CROSSWALK_ENVIRON": SECRETS,
                }
            )
            quiet_logging()  # create_app configures logging: lower it afterwards
            for state in (sims.seeclickfix_state, sims.cartegraph_state, sims.arcgis_state):
                state.requests = RequestLog(max_entries=max(10_000, 20 * args.issues))
            print(f"reporting {total} issues and storing them…", flush=True)
            batches = []
            with app.app_context():
                schedule_periodic_work_later()
                for n in range(len(args.worker_counts)):
                    crm = report_issues(sims, n * args.issues, args.issues, residents)
                    batches.append(store_issues(crm))
                db.session.remove()
            for state in (sims.seeclickfix_state, sims.cartegraph_state, sims.arcgis_state):
                state.faults.latency_ms = args.latency_ms
            for count, link_ids in zip(args.worker_counts, batches, strict=True):
                print(f"{count} worker(s)…", flush=True)
                results.append(
                    run_once(
                        args,
                        count,
                        link_ids,
                        app=app,
                        sims=sims,
                        env=env,
                        home=home,
                        log_dir=log_dir,
                        database_url=database_url,
                        redis_url=redis_url,
                    )
                )
            with app.app_context():
                db.engine.dispose()
    except KeyboardInterrupt:
        print("interrupted: everything started was stopped and removed", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print_results(results, args, started)
    return 1 if any(r.failed or r.unfinished for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
