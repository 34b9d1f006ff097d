"""Benchmark: one poll cycle, batched query against one request per issue.

With the Cartegraph simulator answering every request after ``--latency-ms``
(20 ms by default), time one full ``poll_integration`` cycle over ``--issues``
acknowledged issues (one filtered query per batch of up to 100 Oids), then the
older one-``GET``-per-issue polling over the same links with the same
bookkeeping (``apply_remote`` and one commit per link), and print both, the
ratios, and whether the targets are met: at least 20x fewer requests and 20x
less time.

It is a benchmark, not a test: it exits 0 whatever the figures, and 1 only when
the batched poll did not poll every issue (a bug, not a speed figure).

    .venv/bin/python bench/poll_cycle.py [--issues 5000] [--latency-ms 20]
        [--sample K] [--postgres | --database-url URL]

The simulators run in this process on loopback with the test suite's
credentials (comment import on, in batches, as in the suite's agency file).
The database is a temporary SQLite file; ``--postgres`` creates a scratch
PostgreSQL database on the test server (``TEST_DATABASE_URL``) and drops it
afterwards; ``--database-url`` names a scratch database whose tables are
EMPTIED.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import delete, insert, update

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.services import (  # noqa: E402
    ADMIN_DATABASE_URL,
    BenchError,
    check_loopback,
    scratch_database,
)
from integrations.base import RemoteRecord  # noqa: E402
from integrations.cartegraph.connector import CartegraphConnector  # noqa: E402
from simulators.launch import RunningSimulators, start_simulators  # noqa: E402
from simulators.server import RequestLog  # noqa: E402
from tests.conftest import (  # noqa: E402
    BOUNDARIES,
    CG_PASSWORD,
    CG_USER,
    ORG_ID,
    SCF_TOKEN,
    agency_yaml,
    make_app,
)
from webapp.agency_config import parse_agency_config  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import (  # noqa: E402
    Category,
    Event,
    Integration,
    Issue,
    RuleState,
    SyncLink,
    SyncState,
    utcnow,
)
from webapp.sync import vendors  # noqa: E402
from webapp.sync.configure import apply_config  # noqa: E402
from webapp.sync.remote_poll import (  # noqa: E402
    RemotePollReport,
    apply_remote,
    make_context,
    nothing_to_do,
    poll_integration,
)

REQUESTS_CLASS = "cgRequestsClass"
INTEGRATION = "public-works"
CATEGORY = "Pothole"
FIRST_CRM_ID = 500_000
TARGET_REQUESTS = 20.0
TARGET_TIME = 20.0


@dataclass
class Measure:
    """One timed polling run: Cartegraph requests made and wall time taken."""

    label: str
    issues: int
    requests: float
    seconds: float
    fetch_seconds: float
    fetch_requests: float  # the requests the fetching time was measured over
    note: str = ""


# -- setup ------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time one poll cycle: batched Cartegraph queries vs one request per issue."
    )
    parser.add_argument("--issues", type=int, default=5000, help="acknowledged issues (5000)")
    parser.add_argument(
        "--latency-ms", type=float, default=20.0, help="simulator latency per request (20)"
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=None,
        help="time only K per-issue fetches and extrapolate linearly (default: all)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--postgres",
        action="store_true",
        help="a scratch PostgreSQL database on TEST_DATABASE_URL's server, dropped afterwards",
    )
    where.add_argument(
        "--database-url",
        "--database",  # its earlier name
        dest="database_url",
        help="the URL of a scratch database, whose tables are EMPTIED (default: SQLite)",
    )
    args = parser.parse_args(argv)
    if args.database_url == "sqlite":
        args.database_url = None
    try:
        check_loopback(args.database_url)
    except BenchError as exc:
        parser.error(str(exc))
    if args.issues < 1:
        parser.error("--issues must be at least 1")
    if args.latency_ms < 0:
        parser.error("--latency-ms must not be negative")
    if args.sample is not None and not 1 <= args.sample <= args.issues:
        parser.error("--sample must be between 1 and --issues")
    return args


def quiet_logging() -> None:
    """One log line per event or per simulator request would dominate the timings."""
    for name in ("crosswalk", "werkzeug", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def build_app(database_url: str, sims: RunningSimulators) -> Flask:
    """The app as the suite builds it (migrated, emptied), with the agency config loaded."""
    app = make_app(database_url, None)
    quiet_logging()  # create_app configures logging: lower it afterwards
    with app.app_context():
        apply_config(parse_agency_config(agency_yaml(sims), base_dir=BOUNDARIES))
    return app


def create_remote_requests(sims: RunningSimulators, count: int) -> list[dict]:
    """``count`` open requests, created straight in the simulator's store (no HTTP)."""
    return sims.cartegraph_state.create(
        REQUESTS_CLASS,
        [
            {
                "IssueField": CATEGORY,
                "StatusField": "Open",
                "DescriptionField": f"Benchmark pothole {i}",
                "SeeClickFixIDField": str(FIRST_CRM_ID + i),
            }
            for i in range(count)
        ],
        via_api=False,
    )


def insert_acknowledged_links(records: list[dict]) -> int:
    """One CRM issue and one acknowledged sync link per remote request, in bulk.

    Returns the integration id.
    """
    integration = db.session.execute(
        db.select(Integration).where(Integration.name == INTEGRATION)
    ).scalar_one()
    category = db.session.execute(
        db.select(Category).where(
            Category.integration_id == integration.id, Category.remote_id == CATEGORY
        )
    ).scalar_one()
    acknowledged = utcnow() - timedelta(hours=1)
    db.session.execute(
        insert(Issue),
        [
            {
                "id": FIRST_CRM_ID + i,
                "status": "Acknowledged",
                "summary": "Pothole",
                "description": record["DescriptionField"],
                "request_type_id": category.crm_request_type_id,
                "acknowledged_at": acknowledged,
            }
            for i, record in enumerate(records)
        ],
    )
    db.session.execute(
        insert(SyncLink),
        [
            {
                "issue_id": FIRST_CRM_ID + i,
                "integration_id": integration.id,
                "category_id": category.id,
                "state": SyncState.ACKNOWLEDGED,
                "remote_id": str(record["Oid"]),
                "remote_display_id": record["IDField"],
                "remote_created_at": acknowledged,
                "crm_acknowledged_at": acknowledged,
            }
            for i, record in enumerate(records)
        ],
    )
    db.session.commit()
    return integration.id


def forget_poll_results(integration_id: int) -> None:
    """Put the links back as before the first poll, so both runs do the same bookkeeping."""
    db.session.execute(
        update(SyncLink)
        .where(SyncLink.integration_id == integration_id)
        .values(remote_status=None, remote_fields=None, last_polled_at=None, last_error=None)
    )
    db.session.execute(delete(Event))
    db.session.execute(delete(RuleState))
    db.session.commit()


@contextmanager
def counted(sims: RunningSimulators) -> Iterator[RequestLog]:
    """The Cartegraph request log, emptied on entry; read it after the block."""
    log = sims.cartegraph_state.requests
    log.clear()
    yield log


# -- the two runs -------------------------------------------------------------


def run_batched(
    sims: RunningSimulators, integration_id: int, issues: int
) -> tuple[Measure, RemotePollReport]:
    """One full poll cycle through the project's ``poll_integration``."""
    with counted(sims) as log:
        started = time.perf_counter()
        report = poll_integration(integration_id)
        seconds = time.perf_counter() - started
        requests = len(log.entries())
    with counted(sims) as log:
        fetch_seconds = time_batched_fetch(integration_id)
        fetch_requests = len(log.entries())
    measure = Measure("batched", issues, requests, seconds, fetch_seconds, fetch_requests)
    return measure, report


def acknowledged(integration_id: int, column: Any) -> list[Any]:
    """``column`` of the links a poll cycle reads, in its order."""
    return list(
        db.session.execute(
            db.select(column)
            .where(
                SyncLink.integration_id == integration_id,
                SyncLink.state == SyncState.ACKNOWLEDGED,
                SyncLink.remote_id.is_not(None),
            )
            .order_by(SyncLink.id)
        )
        .scalars()
        .all()
    )


def time_batched_fetch(integration_id: int) -> float:
    """Seconds the batched queries alone take (``fetch_records`` per batch, as the
    poll calls it, without any database bookkeeping): where the poll's time goes."""
    integration = db.session.get(Integration, integration_id)
    remote_ids = acknowledged(integration_id, SyncLink.remote_id)
    connector = vendors.connector(integration)
    size = max(1, connector.batch_size)
    started = time.perf_counter()
    for start in range(0, len(remote_ids), size):
        connector.fetch_records(remote_ids[start : start + size])
    return time.perf_counter() - started


def run_per_issue(
    sims: RunningSimulators, integration_id: int, issues: int, sample: int | None
) -> Measure:
    """The older path: one ``GET classes/cgRequestsClass/{Oid}`` per link, each
    followed by the same bookkeeping as the batched poll (skip an unchanged
    record, else ``apply_remote`` and a commit). With ``sample``, only the first
    ``sample`` links, extrapolated."""
    integration = db.session.get(Integration, integration_id)
    ctx = make_context(integration)
    connector = ctx.connector
    link_ids = acknowledged(integration_id, SyncLink.id)
    timed = link_ids[:sample] if sample else link_ids
    fetch_seconds = 0.0
    with counted(sims) as log:
        started = time.perf_counter()
        for start in range(0, len(timed), connector.batch_size):
            chunk = timed[start : start + connector.batch_size]
            links = db.session.execute(
                db.select(SyncLink).where(SyncLink.id.in_(chunk)).order_by(SyncLink.id)
            ).scalars()
            for link in links.all():
                fetch_started = time.perf_counter()
                record = fetch_one(connector, link.remote_id)
                fetch_seconds += time.perf_counter() - fetch_started
                if nothing_to_do(ctx, link, record, None):
                    link.last_polled_at = utcnow()
                else:
                    apply_remote(ctx, link, record)
                db.session.commit()
        seconds = time.perf_counter() - started
        requests = len(log.entries())
    note = "fetch + bookkeeping + commit per issue"
    if len(timed) < issues:
        scale = issues / len(timed)
        seconds, requests, fetch_seconds = (v * scale for v in (seconds, requests, fetch_seconds))
        note += f"; EXTRAPOLATED from {len(timed)} of {issues} issues"
    return Measure("per-issue", issues, requests, seconds, fetch_seconds, requests, note)


def fetch_one(connector: CartegraphConnector, remote_id: str) -> RemoteRecord | None:
    """One ``GET classes/<class>/<Oid>``: the per-issue read the batched query replaced."""
    body = connector.http.get(f"classes/{connector.request_class}/{remote_id}")
    rows = body.get(connector.request_class) or []
    return connector.to_record(rows[0]) if rows else None


# -- report ---------------------------------------------------------------------


def ratio(slow: float, fast: float) -> float:
    return slow / fast if fast else float("inf")


def per_request(measure: Measure) -> str:
    """Milliseconds of fetching per request (over the requests the fetching time
    was measured on): latency plus the simulator's own work."""
    if not measure.fetch_requests:
        return "-"
    return f"{1000 * measure.fetch_seconds / measure.fetch_requests:.1f} ms"


def print_results(
    batched: Measure, per_issue: Measure, report: RemotePollReport, args: argparse.Namespace
) -> None:
    """The table, the poll report, and the ratios against their targets."""
    latency = f"{args.latency_ms:g} ms"
    rows = [
        ("issues", f"{batched.issues:,}", f"{per_issue.issues:,}"),
        ("latency per request", latency, latency),
        ("Cartegraph requests", f"{batched.requests:,.0f}", f"{per_issue.requests:,.0f}"),
        ("poll cycle wall time", f"{batched.seconds:.2f} s", f"{per_issue.seconds:.2f} s"),
        ("  of it, fetching", f"{batched.fetch_seconds:.2f} s", f"{per_issue.fetch_seconds:.2f} s"),
        ("fetch time per request", per_request(batched), per_request(per_issue)),
    ]
    print()
    print(f"database: {args.database_label}")
    print(f"{'':24}{'batched':>14}{'per-issue':>14}")
    for name, left, right in rows:
        print(f"{name:24}{left:>14}{right:>14}")
    print()
    print("batched run: webapp.sync.remote_poll.poll_integration, one full cycle: per batch,")
    print("  the records, their comments and the duplicate check; its fetching time is a")
    print(f"  separate pass of the same fetch_records calls ({batched.fetch_requests:,.0f}")
    print("  requests), no bookkeeping")
    print(f"per-issue run: {per_issue.note}")
    print(
        f"poll report: polled={report.polled} batches={report.batches} closed={report.closed} "
        f"failed={report.failed} archived={report.archived}"
    )
    print()
    checks = (
        ("requests", ratio(per_issue.requests, batched.requests), TARGET_REQUESTS),
        ("time", ratio(per_issue.seconds, batched.seconds), TARGET_TIME),
    )
    for what, value, target in checks:
        verdict = "met" if value >= target else "NOT met"
        print(f"{what + ' ratio':22}{value:8.1f}x   target >= {target:g}x: {verdict}")
    fetch_ratio = ratio(per_issue.fetch_seconds, batched.fetch_seconds)
    print(f"{'fetching time ratio':22}{fetch_ratio:8.1f}x   (fetching alone, for information)")


# -- main -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_logging()
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="crosswalk-bench-"))
        if args.postgres:
            database_url = stack.enter_context(
                scratch_database(ADMIN_DATABASE_URL, "crosswalk_poll")
            )
            args.database_label = "PostgreSQL (scratch database, dropped afterwards)"
        elif args.database_url:
            database_url = args.database_url
            args.database_label = args.database_url
        else:
            database_url = f"sqlite:///{Path(tmp) / 'crosswalk.db'}"
            args.database_label = "temporary SQLite file"
        sims = start_simulators(
            "127.0.0.1",
            seed=False,
            scf_token=SCF_TOKEN,
            organization_id=ORG_ID,
            cg_username=CG_USER,
            cg_password=CG_PASSWORD,
        )
        try:
            app = build_app(database_url, sims)
            # The default log keeps 10,000 entries: make room to count a large run.
            sims.cartegraph_state.requests = RequestLog(max_entries=max(10_000, 2 * args.issues))
            with app.app_context():
                print(f"creating {args.issues} remote requests and acknowledged links…")
                records = create_remote_requests(sims, args.issues)
                integration_id = insert_acknowledged_links(records)
                sims.cartegraph_state.faults.latency_ms = args.latency_ms

                print("batched poll cycle…")
                batched, report = run_batched(sims, integration_id, args.issues)
                if report.polled != args.issues:
                    print(
                        f"error: the batched poll polled {report.polled} of {args.issues} "
                        f"issues ({report.failed} failed; {report.errors[:3]})",
                        file=sys.stderr,
                    )
                    return 1

                forget_poll_results(integration_id)
                count = args.sample or args.issues
                print(f"per-issue polling of {count} issues…")
                per_issue = run_per_issue(sims, integration_id, args.issues, args.sample)
                print_results(batched, per_issue, report, args)
                db.session.remove()
                db.engine.dispose()
        finally:
            sims.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
