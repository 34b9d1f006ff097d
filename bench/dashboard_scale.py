"""Benchmark: the dashboard's pages at 100,000 issues on PostgreSQL.

Generates ``--issues`` CRM issues (default 100,000) with their sync links
(about 95 % routed, in every state, across two integrations; 5 % unrouted)
and about four timeline events each, in a scratch PostgreSQL database, with
``INSERT ... SELECT`` over ``generate_series`` (a few seconds), then renders
each dashboard page through the Flask test client, signed in, ``--repeat``
times, and prints per page the median and worst server time (the whole
request: queries and template), the SQL statements it sent and its slowest
one; then the ``EXPLAIN (ANALYZE, BUFFERS)`` plan of the slowest statement of
all (``--plans``: of every page's). The target is < 50 ms per page at 100,000
issues (and < 100 ms at 1,000,000).

It also walks the issue list deep and back (``?after=``/``?before=``) and
checks the pages join up — no issue shown twice or skipped — and exits 1 if
they do not (a bug, not a speed figure). No timing is asserted.

    .venv/bin/python bench/dashboard_scale.py                 # ~1 minute
    .venv/bin/python bench/dashboard_scale.py --issues 1000000 --repeat 5

Loopback only: the scratch database is created on ``TEST_DATABASE_URL``'s
server (or ``--admin-database-url``) and dropped on exit.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import event, text

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.services import (  # noqa: E402
    ADMIN_DATABASE_URL,
    BenchError,
    check_loopback,
    machine,
    scratch_database,
)
from tests.conftest import BOUNDARIES, agency_yaml  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.agency_config import parse_agency_config  # noqa: E402
from webapp.config import database_url as normalise_url  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import Integration, User  # noqa: E402
from webapp.sync.configure import apply_config  # noqa: E402

FIRST_ISSUE = 10_000_000
TARGET_MS = 50.0
TARGET_MS_AT_A_MILLION = 100.0
DEEP = 25_000  # the deep page starts after this many issues
NOWHERE = "http://127.0.0.1:9"  # no vendor is called: pages only read the database


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--issues", type=int, default=100_000, help="CRM issues to generate (100,000)")
    add("--repeat", type=int, default=15, help="timed renders of each page (15)")
    add("--plans", action="store_true", help="print every page's slowest plan, not just one")
    add("--admin-database-url", default=ADMIN_DATABASE_URL, help="where the scratch database goes")
    args = parser.parse_args(argv)
    if not 1_000 <= args.issues <= 1_000_000:
        parser.error("--issues must be between 1,000 and 1,000,000")
    if not 1 <= args.repeat <= 200:
        parser.error("--repeat must be between 1 and 200")
    try:
        check_loopback(args.admin_database_url)
    except BenchError as exc:
        parser.error(str(exc))
    return args


# -- the data ------------------------------------------------------------------------


def build_app(database_url: str) -> Flask:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": normalise_url(database_url, ""),
            "REDIS_URL": None,  # the overview reads an (empty) in-process queue
            "SECRET_KEY": "dashboard-bench",
            "CROSSWALK_INPROCESS_WORKER": False,
            "CROSSWALK_ENVIRON": {
                "SCF_TOKEN": "t",
                "SCF_WEBHOOK_SECRET": "s",
                "CG_USER": "u",
                "CG_PASSWORD": "p",
            },
        }
    )
    for name in ("crosswalk", "alembic", "werkzeug"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        urls = SimpleNamespace(
            scf_base_url=f"{NOWHERE}/api/v2",
            arcgis_url=f"{NOWHERE}/arcgis/rest/services/World/GeocodeServer",
            cartegraph_base_url=f"{NOWHERE}/cartegraph/api/v1",
            lucity_base_url=f"{NOWHERE}/lucity/citizen",
            lucity_internal_url=f"{NOWHERE}/lucity/api",
        )
        config = yaml.safe_load(agency_yaml(urls))
        config["integrations"].append(  # a second integration, to filter by
            {
                "name": "parks",
                "kind": "cartegraph",
                "environment": "test",
                "endpoints": {"test": f"{NOWHERE}/parks/api/v1"},
                "username_env": "CG_USER",
                "password_env": "CG_PASSWORD",
                "categories": [{"remote_id": "Tree Down", "crm_request_type_id": 124}],
            }
        )
        apply_config(parse_agency_config(yaml.safe_dump(config), base_dir=BOUNDARIES))
    return app


# Issue n (1-based) is reported 5 minutes before issue n-1; every 20th is not
# routed (request type 999); one in 5,000 has no report time. The rest have a
# link: by n % 100, 60 acknowledged, 20 closed, 12 archived, 4 pending,
# 2 failed, 2 acknowledged with a duplicate remote request; every 4th goes to
# the second integration. Events: received, then routed + acknowledged +
# a remote status (or skipped, for the unrouted).
GENERATE = [
    """
    INSERT INTO issue (id, status, summary, description, lat, lng, address, request_type_id,
        request_type_title, reporter_name, reporter_email, html_url, questions, crm_created_at,
        crm_updated_at, skip_reason, first_seen_at, updated_at)
    SELECT :first + n,
        CASE WHEN n % 100 >= 60 AND n % 100 < 92 THEN 'Closed' ELSE 'Acknowledged' END,
        'Pothole', 'Generated pothole number ' || n, 41.30 + (n % 1000) * 1e-5,
        -72.92 - (n % 997) * 1e-5, n || ' Chapel St, New Haven',
        CASE WHEN n % 20 = 0 THEN 999 ELSE 122 END,
        CASE WHEN n % 20 = 0 THEN 'Unmapped thing' ELSE 'Pothole' END,
        'Resident ' || (n % 5000), 'resident' || (n % 5000) || '@example.org',
        'https://seeclickfix.example/issues/' || (:first + n), '[]',
        CASE WHEN n % 5000 = 7 THEN NULL ELSE :now - make_interval(mins => 5 * n) END,
        :now - make_interval(mins => 5 * n - 1),
        CASE WHEN n % 20 = 0
             THEN 'request type 999 (Unmapped thing) is not mapped to any integration' END,
        :now - make_interval(mins => 5 * n), :now - make_interval(mins => 5 * n)
    FROM generate_series(1, :issues) AS n
    """,
    """
    INSERT INTO sync_link (issue_id, integration_id, category_id, state, origin, remote_id,
        remote_display_id, remote_status, attempts, failures_in_row, last_error,
        remote_created_at, crm_acknowledged_at, remote_duplicates, due_at, last_polled_at,
        last_synced_at, created_at, updated_at)
    SELECT :first + n, CASE WHEN n % 4 = 0 THEN :other ELSE :main END,
        CASE WHEN n % 4 = 0 THEN :other_category ELSE :main_category END,
        CASE WHEN n % 100 < 60 THEN 'acknowledged' WHEN n % 100 < 80 THEN 'closed'
             WHEN n % 100 < 92 THEN 'archived' WHEN n % 100 < 96 THEN 'pending'
             WHEN n % 100 < 98 THEN 'failed' ELSE 'acknowledged' END,
        'crm', CASE WHEN n % 100 BETWEEN 92 AND 97 THEN NULL ELSE (500000 + n)::text END,
        CASE WHEN n % 100 BETWEEN 92 AND 97 THEN NULL ELSE 'REQ-' || (500000 + n) END,
        CASE WHEN n % 100 BETWEEN 60 AND 91 THEN 'Closed' ELSE 'Open' END,
        CASE WHEN n % 100 IN (96, 97) THEN 4 ELSE 0 END, 0,
        CASE WHEN n % 100 IN (96, 97) THEN 'Cartegraph: HTTP 400: the request is invalid' END,
        :now - make_interval(mins => 5 * n - 2), :now - make_interval(mins => 5 * n - 3),
        CASE WHEN n % 100 >= 98 THEN json_build_array('REQ-9' || n) END,
        CASE WHEN n % 100 BETWEEN 92 AND 95 THEN :now END,
        :now - make_interval(mins => n % 60), :now - make_interval(mins => 5 * n - 3),
        :now - make_interval(mins => 5 * n), :now - make_interval(mins => 5 * n - 3)
    FROM generate_series(1, :issues) AS n WHERE n % 20 <> 0
    """,
    """
    INSERT INTO event (issue_id, integration_id, kind, level, detail, created_at)
    SELECT :first + n,
        CASE WHEN k = 0 OR n % 20 = 0 THEN NULL WHEN n % 4 = 0 THEN :other ELSE :main END,
        CASE WHEN k = 0 THEN 'received' WHEN n % 20 = 0 THEN 'skipped' WHEN k = 1 THEN 'routed'
             WHEN k = 2 THEN 'acknowledged' ELSE 'remote_status' END,
        'info',
        CASE WHEN k = 0 THEN 'new issue from the CRM poll' WHEN n % 20 = 0 THEN 'not mapped'
             WHEN k = 1 THEN 'to public-works as Pothole' WHEN k = 2 THEN 'A crew will inspect'
             ELSE 'Open → Closed' END,
        :now - make_interval(mins => 5 * n - k)
    FROM generate_series(1, :issues) AS n, generate_series(0, 3) AS k
    WHERE n % 20 <> 0 OR k < 2
    """,
    """
    INSERT INTO event (issue_id, integration_id, kind, level, detail, created_at)
    SELECT NULL, :main, 'config_warning', 'warning',
        'question 14' || k || ' has integration key FirstNameField but its answer is public',
        :now - make_interval(hours => k)
    FROM generate_series(1, 5) AS k
    """,
]


def generate(app: Flask, issues: int) -> dict[str, int]:
    """The rows, written by the database itself; their counts."""
    with app.app_context():
        integrations = db.session.execute(
            db.select(Integration).order_by(Integration.id).limit(2)
        ).scalars()
        ids = [(row.id, min(c.id for c in row.categories)) for row in integrations]
        (main, main_category), (other, other_category) = ids[0], ids[-1]
        params = {
            "first": FIRST_ISSUE,
            "issues": issues,
            "now": db.session.execute(text("SELECT now() AT TIME ZONE 'UTC'")).scalar_one(),
            "main": main,
            "other": other,
            "main_category": main_category,
            "other_category": other_category,
        }
        for statement in GENERATE:
            db.session.execute(text(statement), params)
        db.session.commit()
    # As autovacuum leaves a table in use: statistics, and the visibility map
    # that lets a count read an index alone.
    with app.app_context(), db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    with app.app_context():
        counts = {
            table: db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("issue", "sync_link", "event")
        }
        db.session.remove()
    return counts


def signed_in_client(app: Flask) -> Any:
    """A test client with a staff user's session (Flask-Login's keys)."""
    with app.app_context():
        user = User(email="bench@example.org", password_hash="bench-not-a-hash", role="staff")
        db.session.add(user)
        db.session.commit()
        user_id, marks = user.id, {}
        with contextlib.suppress(ImportError):  # the fingerprint of webapp.auth, if any
            from webapp.auth.login import FINGERPRINT, fingerprint

            with app.test_request_context():
                marks[FINGERPRINT] = fingerprint(user)
        db.session.remove()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(user_id)
        session["_fresh"] = True
        session.update(marks)
    return client


# -- timing ----------------------------------------------------------------------------


@dataclass
class Statement:
    seconds: float
    sql: str
    parameters: Any


@dataclass
class PageResult:
    name: str
    url: str
    times: list[float] = field(default_factory=list)
    statements: int = 0
    slowest: Statement | None = None

    @property
    def median_ms(self) -> float:
        return 1000 * statistics.median(self.times)

    @property
    def worst_ms(self) -> float:
        return 1000 * max(self.times)


class StatementClock:
    """Times every SQL statement the app sends (a SQLAlchemy listener)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.seen: list[Statement] = []
        self._started: dict[int, float] = {}
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self._started[id(cursor)] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        started = self._started.pop(id(cursor), time.perf_counter())
        self.seen.append(Statement(time.perf_counter() - started, statement, parameters))

    @contextlib.contextmanager
    def watching(self) -> Iterator[list[Statement]]:
        self.seen = []
        yield self.seen

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)


def time_page(client: Any, clock: StatementClock, name: str, url: str, repeat: int) -> PageResult:
    result = PageResult(name, url)
    for _ in range(3):  # warm: compiled statements, templates, the buffer cache
        response = client.get(url)
        if response.status_code != 200:
            raise BenchError(f"{url}: HTTP {response.status_code} (signed in?)")
    for _ in range(repeat):
        with clock.watching() as seen:
            started = time.perf_counter()
            client.get(url)
            result.times.append(time.perf_counter() - started)
        result.statements = len(seen)
        slowest = max(seen, key=lambda s: s.seconds, default=None)
        if slowest is not None and (
            result.slowest is None or slowest.seconds > result.slowest.seconds
        ):
            result.slowest = slowest
    return result


def explain(app: Flask, statement: Statement) -> str:
    with app.app_context():
        connection = db.session.connection()
        rows = connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, statement.parameters
        ).all()
        db.session.rollback()
    return "\n".join(row[0] for row in rows)


# -- the pages ---------------------------------------------------------------------------------


def landmarks(app: Flask, issues: int) -> dict[str, Any]:
    """What the page URLs need: an issue deep in the list (after a quarter of
    them, at most ``DEEP``), one with a timeline, the second integration."""
    listing = "SELECT id FROM issue ORDER BY crm_created_at DESC NULLS LAST, id DESC"
    deep = min(DEEP, issues // 4)
    with app.app_context():
        found = {
            "depth": deep,
            "deep": db.session.execute(text(f"{listing} OFFSET {deep} LIMIT 1")).scalar_one(),
            "detail": db.session.execute(
                text("SELECT issue_id FROM sync_link WHERE state = 'acknowledged' LIMIT 1")
            ).scalar_one(),
            "second": db.session.execute(
                text("SELECT name FROM integration ORDER BY id DESC LIMIT 1")
            ).scalar_one(),
        }
        db.session.remove()
    return found


def pages(marks: dict[str, Any]) -> list[tuple[str, str]]:
    deep, second = marks["deep"], marks["second"]
    return [
        ("overview", "/"),
        ("issues, first page", "/issues"),
        (f"issues, deep (after {marks['depth']:,})", f"/issues?after={deep}"),
        ("issues, back from deep", f"/issues?before={deep}"),
        ("issue detail", f"/issues/{marks['detail']}"),
        ("filter: acknowledged", "/issues?state=acknowledged"),
        ("filter: failed", "/issues?state=failed"),
        ("filter: pending + integration", "/issues?state=pending&integration=public-works"),
        ("filter: skipped", "/issues?state=skipped"),
        (f"filter: integration {second}", f"/issues?integration={second}"),
        ("filter: closed, deep", f"/issues?state=closed&after={deep}"),
    ]


def walk_is_consistent(app: Flask, steps: int = 40) -> str | None:
    """Page forward ``steps`` pages and back again: the same issues, none twice."""
    from webapp.sync import dashboard_queries

    with app.test_request_context():
        seen, forward, after = set(), [], None
        for _ in range(steps):
            page = dashboard_queries.issue_page(state=None, integration=None, after=after)
            shown = [row[0].id for row in page.items]
            if seen & set(shown):
                return f"an issue shown twice going older (after {after})"
            seen |= set(shown)
            forward.append(shown)
            if page.older is None:
                break
            after = page.older
        before = forward[-1][0]
        for expected in reversed(forward[:-1]):
            page = dashboard_queries.issue_page(state=None, integration=None, before=before)
            shown = [row[0].id for row in page.items]
            if list(dict.fromkeys(shown)) != list(dict.fromkeys(expected)):
                return f"going newer from {before} shows other issues than going older did"
            before = shown[0]
        db.session.remove()
    return None


# -- main -----------------------------------------------------------------------------------


def print_results(results: list[PageResult], args: argparse.Namespace, counts: dict, info: str):
    print()
    print(
        f"dashboard at {counts['issue']:,} issues, {counts['sync_link']:,} links, "
        f"{counts['event']:,} events (PostgreSQL); server time per page, {args.repeat} renders"
    )
    print(f"machine: {info}")
    print()
    print(f"{'page':34}{'median ms':>10}{'worst ms':>10}{'SQL':>5}{'slowest SQL ms':>16}")
    for r in results:
        slowest = 1000 * r.slowest.seconds if r.slowest else 0.0
        print(
            f"{r.name:34}{r.median_ms:>10.1f}{r.worst_ms:>10.1f}{r.statements:>5}{slowest:>16.1f}"
        )
    target = TARGET_MS if counts["issue"] <= 100_000 else TARGET_MS_AT_A_MILLION
    worst = max(results, key=lambda r: r.median_ms)
    verdict = "met" if worst.median_ms < target else "NOT met"
    print()
    print(f"slowest page: {worst.name}, {worst.median_ms:.1f} ms median")
    print(f"  target < {target:g} ms per page: {verdict}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = machine()
    print(f"dashboard bench: {args.issues:,} issues…", flush=True)
    try:
        with scratch_database(args.admin_database_url, "crosswalk_dashboard") as database_url:
            app = build_app(database_url)
            started = time.perf_counter()
            counts = generate(app, args.issues)
            print(f"generated in {time.perf_counter() - started:.1f} s: {counts}", flush=True)
            client = signed_in_client(app)
            marks = landmarks(app, counts["issue"])
            with app.app_context():
                clock = StatementClock(db.engine)
            try:
                results = [
                    time_page(client, clock, name, url, args.repeat) for name, url in pages(marks)
                ]
            finally:
                clock.close()
            problem = walk_is_consistent(app)
            print_results(results, args, counts, info)
            chosen = results if args.plans else [max(results, key=lambda r: r.median_ms)]
            for result in chosen:
                if result.slowest is None:
                    continue
                print()
                print(f"slowest statement of {result.name} ({result.url}):")
                print(result.slowest.sql)
                print(explain(app, result.slowest))
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if problem:
        print(f"error: paging is inconsistent: {problem}", file=sys.stderr)
        return 1
    print()
    print("paging: 40 pages older and back again show the same issues, none twice")
    return 0


if __name__ == "__main__":
    sys.exit(main())
