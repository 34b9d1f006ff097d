"""Chaos bench: Crosswalk run as an agency runs it, while things break.

PostgreSQL, Redis, N ``crosswalk worker`` processes (configured only by the
environment, the agency file loaded with ``crosswalk config load`` after
``crosswalk db upgrade``), the simulators in this process, and M resident
reports created in the SeeClickFix simulator — while

* workers and their RQ work horses are SIGKILLed at random (a worker's death
  takes its scheduler and horse with it, as a lost machine would; a horse's
  alone is the OOM killer), and killed workers are restarted so N keep running;
* about ``--fault-rate`` of the Cartegraph calls fail in the fault proxy
  (``simulators/fault_proxy.py``) the agency file points the integration at:
  errors before and after applying, hangs past the client timeout, replies
  dropped after applying, and creates applied late;
* the workers' Redis database is flushed once, half-way.

Then the faults stop, the bench waits (bounded) for the work to drain and
prints what came out: duplicates, lost issues, failed links, duplicate
acknowledgments and requesters, and how long draining took. It asserts
nothing; ``tests/chaos/test_chaos_short.py`` asserts the counts of a short run.

    .venv/bin/python bench/chaos.py --short             # ~100 issues, ~1 minute
    .venv/bin/python bench/chaos.py --issues 500 --workers 4 --duration 120

Everything is on loopback, bounded in count and time, and cleaned up on exit,
Ctrl-C or error: worker processes (found by a marker in their environment),
the scratch database (created and dropped, or ``--database-url``'s tables
emptied) and the Redis database (claimed with the test suite's lock key).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
import requests
import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from simulators.cartegraph import DEFAULT_PREFIX as CARTEGRAPH_PREFIX  # noqa: E402
from simulators.cartegraph_store import REQUESTS_CLASS  # noqa: E402
from simulators.fault_proxy import FaultProxy  # noqa: E402
from simulators.launch import RunningSimulators, start_simulators  # noqa: E402

SCF_TOKEN = "chaos-scf-token"
CG_USER, CG_PASSWORD = "crosswalk", "chaos-password"
ORG_ID = 1234
POTHOLE_TYPE = 122  # the simulator's "Pothole" request type
EXTERNAL_ID_FIELD = "SeeClickFixIDField"
INTEGRATION = "public-works"
# The suite's claim on a Redis database (tests/conftest.py): test sessions skip ours.
REDIS_LOCK_KEY = "crosswalk:test-session"
MARKER = "CROSSWALK_CHAOS_RUN"  # in every worker's environment, to find strays
CROSSWALK = str(Path(sys.executable).with_name("crosswalk"))
ADMIN_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BASE_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class BenchError(RuntimeError):
    """The bench could not set up or run (not a finding about Crosswalk)."""


# -- options ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChaosOptions:
    """One run. ``ChaosOptions.short()`` is the run of ``--short`` and of the test."""

    issues: int = 500
    workers: int = 4
    fault_rate: float = 0.3
    duration: float = 120.0  # seconds of faults, kills and the flush
    late_apply: tuple[float, float] = (35.0, 50.0)
    seed: int = 1
    drain_timeout: float = 300.0
    kill_every: float = 5.0  # mean seconds between SIGKILLs
    client_timeout: float = 3.0  # the integration's `timeout`: hangs outlast it
    # A share of the issues waits in the CRM when the workers start (the first
    # CRM poll takes them, so the pushes meet the faults); the rest is reported
    # over ``create_window`` of the duration. CRM polls are 10 s apart at best.
    backlog: float = 0.2
    create_window: float = 0.4
    flush_at: float = 0.5  # the Redis flush, as a share of the duration
    sweep_interval: float = 60.0  # webapp.sync.schedule.SWEEP_INTERVAL, for the report
    database_url: str | None = None  # scratch, EMPTIED; None: create one and drop it
    admin_database_url: str = ADMIN_DATABASE_URL
    redis_url: str = BASE_REDIS_URL  # the server; the database number is claimed
    crosswalk_root: Path | None = None  # run another checkout's engine (PYTHONPATH)
    log_dir: Path | None = None  # keep the workers' logs here
    # Engine timings scaled to the run (names from webapp/config.py); --env overrides.
    engine_env: dict[str, str] = field(
        default_factory=lambda: {
            "CROSSWALK_RETRY_INTERVALS": "5,15,30,60",
            "CROSSWALK_SWEEP_AFTER": "30",
            "CROSSWALK_LEASE_SECONDS": "30",
            "CROSSWALK_DISPATCH_INTERVAL": "2",
            "CROSSWALK_REDISPATCH_AFTER": "30",
            "CROSSWALK_CREATE_SETTLE_SECONDS": "60",
        }
    )

    @classmethod
    def short(cls, **overrides: Any) -> ChaosOptions:
        """~100 issues, 2 workers, 20 s of faults, drained within 30 s: ~1 minute."""
        base = cls(
            issues=100,
            workers=2,
            duration=20.0,
            late_apply=(4.0, 8.0),
            drain_timeout=30.0,
            kill_every=3.0,
            backlog=0.5,
            engine_env={
                "CROSSWALK_RETRY_INTERVALS": "1,3,6,10",
                "CROSSWALK_SWEEP_AFTER": "10",
                "CROSSWALK_LEASE_SECONDS": "10",
                "CROSSWALK_DISPATCH_INTERVAL": "1",
                "CROSSWALK_REDISPATCH_AFTER": "8",
                "CROSSWALK_CREATE_SETTLE_SECONDS": "10",
            },
        )
        return replace(base, **overrides)

    @property
    def hang_seconds(self) -> float:
        return self.client_timeout + 2.0


def parse_args(argv: list[str] | None = None) -> ChaosOptions:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--short", action="store_true", help="the short run (100 issues, ~1 minute)")
    add("--issues", type=int, help="CRM issues reported (500; short 100)")
    add("--workers", type=int, help="crosswalk worker processes (4; short 2)")
    add("--fault-rate", type=float, help="share of Cartegraph calls that fail (0.3)")
    add("--duration", type=float, help="seconds of faults and kills (120; short 20)")
    add("--late-apply", metavar="LOW-HIGH", help="seconds until a late create lands (35-50)")
    add("--seed", type=int, help="random seed of kills, pacing and faults (1)")
    add("--drain-timeout", type=float, help="seconds to wait for the drain (300; short 30)")
    add("--kill-every", type=float, help="mean seconds between SIGKILLs (5; short 3)")
    add("--client-timeout", type=float, help="the integration's HTTP timeout (3)")
    add("--sweep-interval", type=float, help="the sweeper's period, for the report (60)")
    add("--database-url", help="a scratch PostgreSQL database: its tables are EMPTIED")
    add("--admin-database-url", help=f"where scratch databases are made ({ADMIN_DATABASE_URL})")
    add("--redis-url", help=f"the Redis server; a free database is claimed ({BASE_REDIS_URL})")
    add("--crosswalk-root", type=Path, help="run the engine of another checkout")
    add("--log-dir", type=Path, help="keep the workers' logs in this directory")
    add("--env", action="append", default=[], metavar="KEY=VALUE", help="worker environment")
    args = parser.parse_args(argv)
    try:
        return options_from(args)
    except ValueError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits


def options_from(args: argparse.Namespace) -> ChaosOptions:
    base = ChaosOptions.short() if args.short else ChaosOptions()
    simple = {
        "issues": args.issues,
        "workers": args.workers,
        "fault_rate": args.fault_rate,
        "duration": args.duration,
        "seed": args.seed,
        "drain_timeout": args.drain_timeout,
        "kill_every": args.kill_every,
        "client_timeout": args.client_timeout,
        "sweep_interval": args.sweep_interval,
        "database_url": args.database_url,
        "admin_database_url": args.admin_database_url,
        "redis_url": args.redis_url,
        "crosswalk_root": args.crosswalk_root,
        "log_dir": args.log_dir,
    }
    changes: dict[str, Any] = {k: v for k, v in simple.items() if v is not None}
    if args.late_apply:
        changes["late_apply"] = seconds_range(args.late_apply)
    if args.env:
        changes["engine_env"] = {**base.engine_env, **dict(env_pair(e) for e in args.env)}
    options = replace(base, **changes)
    check(options)
    return options


def seconds_range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    try:
        pair = (float(low), float(high or low))
    except ValueError:
        raise ValueError(f"--late-apply {text!r}: expected LOW-HIGH seconds, e.g. 35-50") from None
    if not 0 <= pair[0] <= pair[1]:
        raise ValueError("--late-apply: need 0 <= LOW <= HIGH")
    return pair


def env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--env {text!r}: expected KEY=VALUE")
    return key, value


def check(options: ChaosOptions) -> None:
    """Bounds, so a typo cannot start a runaway run."""
    if not 1 <= options.issues <= 10_000:
        raise ValueError("--issues must be between 1 and 10000")
    if not 1 <= options.workers <= 16:
        raise ValueError("--workers must be between 1 and 16")
    if not 0 <= options.fault_rate <= 1:
        raise ValueError("--fault-rate must be between 0 and 1")
    if not 1 <= options.duration <= 3600 or not 1 <= options.drain_timeout <= 3600:
        raise ValueError("--duration and --drain-timeout must be between 1 and 3600 seconds")
    if options.kill_every <= 0 or options.client_timeout <= 0:
        raise ValueError("--kill-every and --client-timeout must be positive")
    for url in (options.database_url, options.admin_database_url, options.redis_url):
        if url and urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1", None):
            raise ValueError(f"{url}: loopback only")


# -- processes ------------------------------------------------------------------------


def proc_stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, process group) of a live process, from /proc (Linux)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[2])


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children first)."""
    parents = {p: s[0] for p in all_pids() if (s := proc_stat(p)) is not None}
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found.extend(children)
        frontier = children
    return found


def marked_processes(token: str) -> list[int]:
    """Our workers and their forks, wherever they were reparented: the
    processes whose environment carries this run's marker."""
    wanted = f"{MARKER}={token}".encode()
    found = []
    for pid in all_pids():
        with contextlib.suppress(OSError):
            if wanted in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                found.append(pid)
    return found


def sigkill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@dataclass
class ChaosCounts:
    worker_kills: int = 0
    horse_kills: int = 0
    horse_misses: int = 0  # no work horse was running when one was to be killed
    restarts: int = 0
    crashes: int = 0  # workers that exited without being killed
    ready_seconds: float = 0.0  # from starting the workers to their first CRM poll
    calls_during_faults: dict[str, int] = field(default_factory=dict)  # proxy fates then
    flushed_at: float | None = None  # seconds into the faults


def spawn_logged(
    command: list[str], env: dict[str, str], cwd: Path, log_path: Path
) -> subprocess.Popen:
    """``command`` in a session of its own (a Ctrl-C in the terminal reaches
    the bench only, and a SIGKILL of the worker no process of the bench), its
    output appended to ``log_path``. (Every bench's, through ``bench.services``.)"""
    with log_path.open("ab") as log:  # the child has its own copy of the descriptor
        return subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


class WorkerPool:
    """N ``crosswalk worker`` processes, each in its own session (a Ctrl-C in
    the terminal reaches the bench only; the bench kills them itself)."""

    def __init__(self, env: dict[str, str], cwd: Path, log_dir: Path, size: int) -> None:
        self.env, self.cwd, self.log_dir, self.size = env, cwd, log_dir, size
        self.token = env[MARKER]
        self.workers: list[subprocess.Popen] = []
        self.counts = ChaosCounts()
        self._started = 0
        self._killed: set[int] = set()

    def start_one(self) -> None:
        self._started += 1
        log_path = self.log_dir / f"worker-{self._started:03d}.log"
        self.workers.append(spawn_logged([CROSSWALK, "worker"], self.env, self.cwd, log_path))

    def fill(self) -> None:
        """Restart workers that died: killed by the bench, or on their own."""
        for worker in self.workers:
            if worker.poll() is not None and worker.pid not in self._killed:
                self.counts.crashes += 1
        self.workers = [w for w in self.workers if w.poll() is None]
        while len(self.workers) < self.size:
            if self._started >= self.size:
                self.counts.restarts += 1
            self.start_one()

    def kill_worker(self, rng: random.Random) -> None:
        """A lost machine: the worker, its scheduler and its horse, at once."""
        alive = [w for w in self.workers if w.poll() is None]
        if not alive:
            return
        victim = rng.choice(alive)
        # Frozen first, so it cannot fork a horse between the look and the kill.
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim.pid, signal.SIGSTOP)
        sigkill([*descendants(victim.pid), victim.pid])
        self._killed.add(victim.pid)
        victim.wait()
        self.counts.worker_kills += 1

    def kill_horse(self, rng: random.Random) -> None:
        """The OOM killer: one running work horse (RQ forks one per job and
        puts it in a process group of its own: that is how it is told apart
        from the worker's scheduler process)."""
        horses = []
        for worker in self.workers:
            for pid in descendants(worker.pid):
                stat = proc_stat(pid)
                if stat and stat[0] == worker.pid and stat[1] == pid:
                    horses.append(pid)
        if not horses:
            self.counts.horse_misses += 1
            return
        sigkill([rng.choice(horses)])
        self.counts.horse_kills += 1

    def stop(self) -> None:
        """SIGKILL everything this run started, strays included."""
        for worker in self.workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGSTOP)
        sigkill(marked_processes(self.token))
        for worker in self.workers:
            worker.wait(timeout=10)
        sigkill(marked_processes(self.token))  # anything forked during the first pass


# -- scratch resources ------------------------------------------------------------------


def psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextlib.contextmanager
def scratch_database(admin_url: str, prefix: str, given: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database, dropped on exit (WITH FORCE: killed workers
    leave sessions behind); ``given`` is used as it is and left in place.
    (Every bench's, through ``bench.services``.)"""
    if given:
        yield given
        return
    admin = psycopg_url(admin_url)
    name = f"{prefix}_{secrets.token_hex(5)}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise BenchError(f"PostgreSQL at {admin}: {exc}") from None
    try:
        yield urlunsplit(urlsplit(admin)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_tables(database_url: str) -> None:
    """A given scratch database starts empty (the migrations' own table kept)."""
    with psycopg.connect(psycopg_url(database_url), autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename <> 'alembic_version'"
            )
        ]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def redis_db_url(base: str, number: int) -> str:
    return urlunsplit(urlsplit(base)._replace(path=f"/{number}"))


@contextlib.contextmanager
def claimed_redis(base_url: str) -> Iterator[str]:
    """An empty Redis database (1-15) of our own, claimed as the test suite
    claims one, and flushed on exit."""
    for number in range(1, 16):
        url = redis_db_url(base_url, number)
        connection = redis.Redis.from_url(url, socket_connect_timeout=3)
        try:
            if connection.dbsize() == 0 and connection.set(
                REDIS_LOCK_KEY, f"chaos-bench {os.getpid()}", nx=True, ex=6 * 3600
            ):
                break
        except redis.RedisError as exc:
            raise BenchError(f"Redis at {base_url}: {exc}") from None
        connection.close()
    else:
        raise BenchError("every Redis database 1-15 is in use")
    try:
        yield url
    finally:
        connection.flushdb()  # the claim goes with it
        connection.close()


def flush_redis(url: str) -> None:
    """FLUSHDB, keeping the claim: one transaction, so no test session can take
    the database in between."""
    connection = redis.Redis.from_url(url)
    with connection.pipeline(transaction=True) as pipe:
        pipe.flushdb()
        pipe.set(REDIS_LOCK_KEY, f"chaos-bench {os.getpid()}", ex=6 * 3600)
        pipe.execute()
    connection.close()


# -- Crosswalk as an agency runs it ------------------------------------------------------------


def agency_config(sims: RunningSimulators, cartegraph_url: str, options: ChaosOptions) -> dict:
    """The agency file: the Cartegraph endpoint (the fault proxy's URL) and the
    CRM poll as frequent as the schema allows, so a short run sees several."""
    return {
        # The integration user is the CRM official the token acts as, so
        # Crosswalk knows its own comments when the poll reads them back.
        "agency": {
            "name": "City of New Haven (chaos bench)",
            "integration_user": sims.seeclickfix_state.official.name,
        },
        "crm": {
            "kind": "seeclickfix",
            "base_url": sims.scf_base_url,
            "organization_id": ORG_ID,
            "token_env": "SCF_TOKEN",
            "poll_interval": 10,
        },
        "geocoder": {"url": sims.arcgis_url, "timeout": 2},
        "integrations": [
            {
                "name": INTEGRATION,
                "kind": "cartegraph",
                "environment": "test",
                "endpoints": {"test": f"{cartegraph_url}{CARTEGRAPH_PREFIX}"},
                "username_env": "CG_USER",
                "password_env": "CG_PASSWORD",
                "timeout": options.client_timeout,
                "poll_interval": 30,
                "acknowledgment_message": "Your request has been received by Public Works.",
                "categories": [
                    {
                        "remote_id": "Pothole",
                        "crm_request_type_id": POTHOLE_TYPE,
                        "acknowledgment_message": "A crew will inspect this pothole.",
                    }
                ],
            }
        ],
    }


def acknowledgment_messages(config: dict) -> set[str]:
    """Every acknowledgment the agency file can make Crosswalk post."""
    found = set()
    for integration in config.get("integrations", []):
        entries = [integration, *integration.get("categories", [])]
        found |= {
            e["acknowledgment_message"].strip() for e in entries if e.get("acknowledgment_message")
        }
    return found


def crosswalk_env(
    database_url: str, redis_url: str | None, home: Path, secrets_env: dict[str, str]
) -> dict[str, str]:
    """The environment of a ``crosswalk`` process: only the environment
    configures it, as in production. Coverage is kept out: a process SIGKILLed
    while saving its data leaves a torn file that breaks ``coverage combine``
    in ``make test``. (Every bench's, through ``bench.services``.)"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    env.update(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_hex(16),
            "CROSSWALK_INSTANCE": str(home / "instance"),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            MARKER: secrets.token_hex(8),
            **secrets_env,
        }
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def worker_env(options: ChaosOptions, database_url: str, redis_url: str, home: Path) -> dict:
    secrets_env = {"SCF_TOKEN": SCF_TOKEN, "CG_USER": CG_USER, "CG_PASSWORD": CG_PASSWORD}
    env = crosswalk_env(database_url, redis_url, home, {**secrets_env, **options.engine_env})
    if options.crosswalk_root is not None:
        root = str(options.crosswalk_root.resolve())
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


def run_crosswalk(env: dict[str, str], cwd: Path, *args: str, timeout: float = 300) -> str:
    """One ``crosswalk`` command; its output, or BenchError with its last lines.
    (Every bench's, through ``bench.services``.)"""
    result = subprocess.run(
        [CROSSWALK, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise BenchError(f"crosswalk {' '.join(args)} failed: " + " / ".join(tail))
    return result.stdout.strip()


def install_crosswalk(env: dict, home: Path, config: dict, *, empty: bool) -> None:
    """``crosswalk db upgrade`` and ``crosswalk config load``, as an operator would."""
    run_crosswalk(env, home, "db", "upgrade", timeout=180)
    if empty:
        empty_tables(env["DATABASE_URL"])
    path = home / "agency.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    run_crosswalk(env, home, "config", "load", str(path), timeout=180)


def engine_label(options: ChaosOptions) -> str:
    """Which engine ran: the checkout, its commit, and whether it had changes."""
    root = (options.crosswalk_root or PROJECT_ROOT).resolve()
    git = ["git", "--no-optional-locks", "-C", str(root)]
    try:
        commit = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        status = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        commit, status = "", ""
    if not commit:
        return f"{root} (not a git checkout)"
    changed = len(status.splitlines())
    return f"{root} at {commit}" + (f" + {changed} changed file(s)" if changed else "")


# -- residents -------------------------------------------------------------------------------


class Residents:
    """Reports M issues in the SeeClickFix simulator, each by a different
    resident (so a duplicate requester is the engine's doing): a backlog before
    the workers start, the rest at a steady pace while the faults run."""

    def __init__(self, sims: RunningSimulators, count: int, backlog: int, window: float) -> None:
        self.url = f"{sims.seeclickfix.url}/_sim/issues"
        self.count, self.backlog, self.window = count, backlog, window
        self.issue_ids: list[int] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="residents", daemon=True)

    def report_backlog(self) -> None:
        with requests.Session() as session:
            session.trust_env = False
            for i in range(self.backlog):
                self._report(session, i)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        pace = self.window / max(1, self.count - self.backlog)
        started = time.monotonic()
        with requests.Session() as session:
            session.trust_env = False
            for n, i in enumerate(range(self.backlog, self.count)):
                if self._stop.wait(max(0.0, started + n * pace - time.monotonic())):
                    return
                self._report(session, i)

    def _report(self, session: requests.Session, i: int) -> None:
        body = {
            "lat": 41.3083 + (i % 50) * 1e-5,
            "lng": -72.9279,
            "address": "165 Church St, New Haven",
            "request_type_id": POTHOLE_TYPE,
            "summary": "Pothole",
            "description": f"Chaos bench pothole {i}",
            "reporter": {"name": f"Resident {i}", "email": f"resident{i}@chaos.example"},
        }
        try:
            reply = session.post(self.url, json=body, timeout=10)
            reply.raise_for_status()
            self.issue_ids.append(reply.json()["id"])
        except requests.RequestException as exc:
            self.errors.append(str(exc))


# -- counting --------------------------------------------------------------------------


@dataclass
class Tally:
    """What the vendors' stores show for the reported issues."""

    issues: int = 0
    remote_records: int = 0
    duplicates: int = 0  # remote records beyond one per issue
    duplicated_issues: list[int] = field(default_factory=list)
    no_remote: list[int] = field(default_factory=list)
    not_acknowledged: list[int] = field(default_factory=list)
    duplicate_acks: int = 0  # acknowledgment comments beyond one per issue
    double_acked_issues: list[int] = field(default_factory=list)
    requesters: int = 0
    duplicate_requesters: int = 0  # requester records beyond one per email

    @property
    def lost(self) -> int:
        return len(set(self.no_remote) | set(self.not_acknowledged))

    @property
    def settled(self) -> bool:
        return not self.no_remote and not self.not_acknowledged


def tally(sims: RunningSimulators, issue_ids: list[int], ack_messages: set[str]) -> Tally:
    result = Tally(issues=len(issue_ids))
    count_remote(result, sims, issue_ids)
    count_acknowledgments(result, sims, issue_ids, ack_messages)
    requesters = sims.cartegraph_state.query(sims.cartegraph_state.requesters_class)
    emails = Counter(r.get("EmailField") for r in requesters if r.get("EmailField"))
    result.requesters = len(requesters)
    result.duplicate_requesters = sum(n - 1 for n in emails.values())
    return result


def count_remote(result: Tally, sims: RunningSimulators, issue_ids: list[int]) -> None:
    wanted = {str(i) for i in issue_ids}
    records = sims.cartegraph_state.query(REQUESTS_CLASS)
    per_issue = Counter(str(r.get(EXTERNAL_ID_FIELD)) for r in records)
    result.remote_records = sum(n for key, n in per_issue.items() if key in wanted)
    result.duplicates = sum(n - 1 for key, n in per_issue.items() if key in wanted and n > 1)
    result.duplicated_issues = sorted(i for i in issue_ids if per_issue[str(i)] > 1)
    result.no_remote = sorted(i for i in issue_ids if per_issue[str(i)] == 0)


def count_acknowledgments(
    result: Tally, sims: RunningSimulators, issue_ids: list[int], messages: set[str]
) -> None:
    state = sims.seeclickfix_state
    with state.lock:
        issues = [state.issues[i] for i in issue_ids]
        acks = {
            issue.id: sum(c.comment.strip() in messages for c in issue.comments) for issue in issues
        }
        statuses = {issue.id: issue.status for issue in issues}
    result.not_acknowledged = sorted(
        i for i in issue_ids if acks[i] == 0 or statuses[i] not in ("Acknowledged", "Closed")
    )
    result.duplicate_acks = sum(n - 1 for n in acks.values() if n > 1)
    result.double_acked_issues = sorted(i for i, n in acks.items() if n > 1)


def link_states(database_url: str) -> dict[str, int]:
    """Sync links by state, read from the database (the engine's own record)."""
    with psycopg.connect(psycopg_url(database_url), connect_timeout=5) as conn:
        rows = conn.execute("SELECT state, count(*) FROM sync_link GROUP BY state").fetchall()
    return {state: count for state, count in rows}


# -- the run ---------------------------------------------------------------------------------


@dataclass
class ChaosReport:
    options: ChaosOptions
    engine: str
    tally: Tally
    links: dict[str, int]
    chaos: ChaosCounts
    proxy: dict[str, Any]
    drain_seconds: float | None  # after the faults stopped; None: not within the bound
    wall_seconds: float
    report_errors: list[str]

    @property
    def drained(self) -> bool:
        return self.drain_seconds is not None

    @property
    def failed_links(self) -> int:
        return self.links.get("failed", 0)


@dataclass
class Running:
    """Everything a run started, for the phases to share."""

    options: ChaosOptions
    sims: RunningSimulators
    proxy: FaultProxy
    pool: WorkerPool
    redis_url: str
    database_url: str
    ack_messages: set[str]
    rng: random.Random


def run(options: ChaosOptions) -> ChaosReport:
    """One chaos run, cleaned up whatever happens (exceptions, Ctrl-C)."""
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        running = start_everything(stack, options)
        residents = Residents(
            running.sims,
            options.issues,
            round(options.issues * options.backlog),
            options.duration * options.create_window,
        )
        stack.callback(residents.stop)
        drain_seconds = chaos_phase_then_drain(running, residents)
        return ChaosReport(
            options=options,
            engine=engine_label(options),
            tally=tally(running.sims, residents.issue_ids, running.ack_messages),
            links=link_states(running.database_url),
            chaos=running.pool.counts,
            proxy=running.proxy.stats(),
            drain_seconds=drain_seconds,
            wall_seconds=time.monotonic() - started,
            report_errors=residents.errors,
        )
    raise AssertionError("unreachable")  # ExitStack does not swallow exceptions


def start_everything(stack: contextlib.ExitStack, options: ChaosOptions) -> Running:
    """Database, Redis, simulators, proxy, Crosswalk installed: each undone by
    ``stack`` in reverse order (the workers die before their database)."""
    home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="crosswalk-chaos-")))
    database_url = stack.enter_context(
        scratch_database(options.admin_database_url, "crosswalk_chaos", options.database_url)
    )
    created = not options.database_url
    redis_url = stack.enter_context(claimed_redis(options.redis_url))
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
    proxy = stack.enter_context(FaultProxy(sims.cartegraph.url))
    config = agency_config(sims, proxy.url, options)
    env = worker_env(options, database_url, redis_url, home)
    install_crosswalk(env, home, config, empty=not created)
    log_dir = options.log_dir or home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    pool = WorkerPool(env, home, log_dir, options.workers)
    stack.callback(pool.stop)
    ack_messages = acknowledgment_messages(config)
    rng = random.Random(options.seed)
    return Running(options, sims, proxy, pool, redis_url, database_url, ack_messages, rng)


def wait_until_ready(running: Running, timeout: float = 60.0) -> float:
    """Seconds until the workers have polled the CRM once (the simulator logged
    the issue listing): the backlog is in, the pushes start, and the chaos
    window begins — a short run is not spent booting Python or waiting for
    the first schedule slot."""
    started = time.monotonic()
    log = running.sims.seeclickfix_state.requests
    listing = f"/organizations/{ORG_ID}/issues"
    while not log.entries(method="GET", path_contains=listing):
        if time.monotonic() - started > timeout:
            raise BenchError(
                f"no worker polled the CRM within {timeout:g} s (--log-dir keeps the workers' logs)"
            )
        running.pool.fill()
        time.sleep(0.2)
    return time.monotonic() - started


def chaos_phase_then_drain(running: Running, residents: Residents) -> float | None:
    options = running.options
    residents.report_backlog()
    running.pool.fill()
    running.pool.counts.ready_seconds = wait_until_ready(running)
    running.proxy.configure(
        enabled=True,
        rate=options.fault_rate,
        seed=options.seed,
        late_apply=list(options.late_apply),
        hang_seconds=options.hang_seconds,
    )
    residents.start()
    unleash_chaos(running)
    running.proxy.faults_off()
    running.pool.counts.calls_during_faults = running.proxy.log.counts()
    stopped = time.monotonic()
    residents.join(timeout=10)  # reporting ended with its window, inside the duration
    return wait_for_drain(running, residents.issue_ids, stopped)


def unleash_chaos(running: Running) -> None:
    """Kills at random (exponential gaps), one Redis flush, restarts: until
    the duration is over."""
    options, pool, rng = running.options, running.pool, running.rng
    started = time.monotonic()
    end = started + options.duration
    next_kill = started + rng.expovariate(1 / options.kill_every)
    flush_at = started + options.duration * options.flush_at
    while (now := time.monotonic()) < end:
        if pool.counts.flushed_at is None and now >= flush_at:
            flush_redis(running.redis_url)
            pool.counts.flushed_at = now - started
        if now >= next_kill:
            (pool.kill_worker if rng.random() < 0.5 else pool.kill_horse)(rng)
            next_kill += rng.expovariate(1 / options.kill_every)
        time.sleep(0.1)
        pool.fill()


def wait_for_drain(running: Running, issue_ids: list[int], stopped: float) -> float | None:
    """Seconds from the faults' end until every issue has its remote record and
    its acknowledgment, and no late create is still on its way; None if the
    bound passed first. Workers that die on their own are restarted, as an
    agency's supervisor would."""
    deadline = stopped + running.options.drain_timeout
    while time.monotonic() < deadline:
        running.pool.fill()
        if (
            running.proxy.late.pending() == 0
            and tally(running.sims, issue_ids, running.ack_messages).settled
        ):
            return time.monotonic() - stopped
        time.sleep(0.5)
    return None


# -- the report --------------------------------------------------------------------------------


def ids(values: list[int], limit: int = 8) -> str:
    if not values:
        return ""
    shown = ", ".join(str(v) for v in values[:limit])
    return f"  [{shown}{', ...' if len(values) > limit else ''}]"


def print_report(report: ChaosReport) -> None:
    o, t, c = report.options, report.tally, report.chaos
    print()
    print(
        f"Crosswalk chaos bench: {t.issues} issues, {o.workers} workers, fault rate "
        f"{o.fault_rate:.2f}, {o.duration:g} s of faults, late apply "
        f"{o.late_apply[0]:g}-{o.late_apply[1]:g} s, seed {o.seed}"
    )
    print(f"engine: {report.engine}")
    print_faults(c.calls_during_faults, report.proxy)
    flushed = f"{c.flushed_at:.1f} s in" if c.flushed_at is not None else "never"
    print(
        f"chaos:  {c.worker_kills} worker SIGKILLs, {c.horse_kills} work-horse SIGKILLs "
        f"({c.horse_misses} found no horse), {c.restarts} restarts, {c.crashes} crashes, "
        f"Redis FLUSHDB {flushed}; first CRM poll {c.ready_seconds:.1f} s after the start"
    )
    print()
    for name, value, note in result_rows(report):
        print(f"  {name:27}{value:>7}   {note}")
    if report.report_errors:
        print(f"  (the simulator refused {len(report.report_errors)} reports)")
    print()
    print_drain(report)


def result_rows(report: ChaosReport) -> list[tuple[str, int, str]]:
    """(figure, count, detail), the counts a correct engine keeps at 0 last."""
    t = report.tally
    per_issue = t.remote_records / t.issues if t.issues else 0.0
    states = ", ".join(f"{k} {v}" for k, v in sorted(report.links.items()))
    return [
        ("issues reported", t.issues, ""),
        ("remote records", t.remote_records, f"{per_issue:.2f} per issue"),
        ("sync links", sum(report.links.values()), states),
        ("failed links", report.failed_links, ""),
        ("duplicate requesters", t.duplicate_requesters, f"of {t.requesters} requester records"),
        (
            "duplicates",
            t.duplicates,
            f"in {len(t.duplicated_issues)} issues{ids(t.duplicated_issues)}",
        ),
        (
            "lost",
            t.lost,
            f"no remote record {len(t.no_remote)}{ids(t.no_remote)}; "
            f"not acknowledged {len(t.not_acknowledged)}{ids(t.not_acknowledged)}",
        ),
        (
            "duplicate acknowledgments",
            t.duplicate_acks,
            f"in {len(t.double_acked_issues)} issues{ids(t.double_acked_issues)}",
        ),
    ]


def print_faults(during: dict[str, int], stats: dict[str, Any]) -> None:
    """Calls while the faults were on (the fault rate applies to those) and after."""
    fates = {k: v for k, v in during.items() if not k.startswith("late_")}
    total = sum(fates.values())
    faulted = total - fates.get("passed", 0) - fates.get("upstream_failed", 0)
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(fates.items()) if k != "passed")
    share = faulted / total if total else 0.0
    final = stats["fates"]
    after = sum(v for k, v in final.items() if not k.startswith("late_")) - total
    pending = stats["late_pending"]
    print(
        f"faults: {total} Cartegraph calls during the faults, {faulted} faulted ({share:.1%}): "
        f"{kinds}; {after} calls after; late creates applied {final.get('late_applied', 0)}"
        + (f", {pending} still on their way at the end" if pending else "")
    )


def print_drain(report: ChaosReport) -> None:
    o = report.options
    if report.drain_seconds is None:
        print(f"drain:  NOT drained within {o.drain_timeout:g} s after the faults stopped")
    else:
        print(
            f"drain:  {report.drain_seconds:.1f} s after the faults stopped "
            f"({report.drain_seconds / o.sweep_interval:.2f} sweep intervals of "
            f"{o.sweep_interval:g} s; bound {o.drain_timeout:g} s)"
        )
    print(f"wall time: {report.wall_seconds:.1f} s")


# -- main -----------------------------------------------------------------------------------


def quiet_logging() -> None:
    """The simulators log every request at INFO: the figures would drown."""
    for name in ("werkzeug", "crosswalk", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    quiet_logging()

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # the same clean-up as Ctrl-C

    signal.signal(signal.SIGTERM, terminate)
    print(
        f"chaos run: {options.issues} issues, {options.workers} workers, "
        f"{options.duration:g} s of faults (drain bound {options.drain_timeout:g} s)…",
        flush=True,
    )
    try:
        report = run(options)
    except KeyboardInterrupt:
        print("interrupted: everything started was stopped and removed", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
