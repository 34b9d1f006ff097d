"""The `crosswalk` command as an operator runs it: a subprocess, from another
directory, configured only by environment variables."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from subprocess import DEVNULL

import pytest
import redis
from sqlalchemy import create_engine, inspect, text

from tests.conftest import SECRETS, agency_yaml, make_app, write_agency_file
from webapp.config import database_url as normalise

CROSSWALK = str(Path(sys.executable).with_name("crosswalk"))


@pytest.fixture
def env(database_url, tmp_path):
    make_app(database_url, None)  # migrated and empty
    return {
        **os.environ,
        **SECRETS,
        "DATABASE_URL": database_url,
        "CROSSWALK_INSTANCE": str(tmp_path / "instance"),
        "CROSSWALK_RETRY_INTERVALS": "0",
    }


def crosswalk(*args, env, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CROSSWALK, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def count(database_url: str, sql: str) -> int:
    engine = create_engine(normalise(database_url, ""))
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


def test_db_upgrade_works_from_any_directory(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = {**os.environ, "DATABASE_URL": url, "CROSSWALK_INSTANCE": str(tmp_path)}
    result = crosswalk("db", "upgrade", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    engine = create_engine(url)
    assert {"issue", "sync_link", "event", "integration"} <= set(inspect(engine).get_table_names())
    engine.dispose()


@pytest.mark.both_databases
def test_config_load_refuses_a_bad_file_and_changes_nothing(env, database_url, sim, tmp_path):
    good = agency_yaml(sim.sims)
    bad = good.replace(sim.sims.cartegraph_base_url, "not-a-url")
    path = write_agency_file(tmp_path, sim.sims, bad)
    line = bad.splitlines().index("      test: not-a-url") + 1
    result = crosswalk("config", "load", str(path), env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert (
        f"integrations[0].endpoints.test: not a URL (line {line})" in result.stderr.splitlines()[0]
    )
    assert count(database_url, "select count(*) from agency") == 0
    assert count(database_url, "select count(*) from integration") == 0


def test_config_load_is_idempotent(env, database_url, sim, tmp_path):
    path = write_agency_file(tmp_path, sim.sims)
    first = crosswalk("config", "load", str(path), env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout
    second = crosswalk("config", "load", str(path), env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "configuration unchanged" in second.stdout
    assert count(database_url, "select count(*) from integration") == 1
    assert count(database_url, "select count(*) from category") == 2


def test_sync_inline_round_trip(env, database_url, sim, tmp_path):
    path = write_agency_file(tmp_path, sim.sims)
    assert crosswalk("config", "load", str(path), env=env, cwd=tmp_path).returncode == 0
    issue_id = sim.create_issue()["id"]
    env = {**env, "REDIS_URL": ""}  # no Redis: --inline is implied and said so
    crm = crosswalk("sync", "crm", "--inline", env=env, cwd=tmp_path)
    assert crm.returncode == 0, crm.stderr
    assert "1 new" in crm.stdout
    push = crosswalk("sync", "push", "--issue", str(issue_id), "--inline", env=env, cwd=tmp_path)
    assert push.returncode == 0, push.stderr
    assert "acknowledged" in push.stdout
    [record] = sim.cg_records()
    sim.cg_patch(record["Oid"], StatusField="Closed")
    poll = crosswalk(
        "sync", "poll", "--integration", "public-works", "--inline", env=env, cwd=tmp_path
    )
    assert poll.returncode == 0, poll.stderr
    assert "closed 1" in poll.stdout
    assert sim.scf_issue(issue_id)["status"] == "Closed"


def test_sync_crm_one_issue_without_redis_runs_its_push_here(env, sim, tmp_path):
    path = write_agency_file(tmp_path, sim.sims)
    assert crosswalk("config", "load", str(path), env=env, cwd=tmp_path).returncode == 0
    issue_id = sim.create_issue()["id"]
    result = crosswalk(
        "sync", "crm", "--issue", str(issue_id), env={**env, "REDIS_URL": ""}, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert f"issue {issue_id}: new, 1 push(es) queued." in result.stdout
    assert "Running 1 queued job(s) here." in result.stderr
    assert sim.scf_issue(issue_id)["status"] == "Acknowledged"


def test_sync_reports_unknown_integration(env, sim, tmp_path):
    path = write_agency_file(tmp_path, sim.sims)
    crosswalk("config", "load", str(path), env=env, cwd=tmp_path)
    result = crosswalk("sync", "poll", "--integration", "nope", "--inline", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "no integration named 'nope'" in result.stderr


def test_worker_needs_redis(env, tmp_path):
    result = crosswalk("worker", "--burst", env={**env, "REDIS_URL": ""}, cwd=tmp_path)
    assert result.returncode == 1
    assert "REDIS_URL" in result.stderr


@pytest.mark.both_databases
def test_separate_worker_process_does_the_work(env, database_url, redis_url, sim, tmp_path):
    """Production shape: the CLI enqueues on real Redis, a `crosswalk worker` does it."""
    path = write_agency_file(tmp_path, sim.sims)
    env = {**env, "REDIS_URL": redis_url}
    assert crosswalk("config", "load", str(path), env=env, cwd=tmp_path).returncode == 0
    issue_id = sim.create_issue()["id"]
    queued = crosswalk("sync", "crm", env=env, cwd=tmp_path)
    assert queued.returncode == 0, queued.stderr
    assert "queued" in queued.stdout
    assert count(database_url, "select count(*) from issue") == 0  # not done yet: queued
    worker = crosswalk("worker", "--burst", env=env, cwd=tmp_path)
    assert worker.returncode == 0, worker.stderr
    assert count(database_url, "select count(*) from sync_link where state = 'acknowledged'") == 1
    assert sim.scf_issue(issue_id)["status"] == "Acknowledged"


def test_workers_alone_poll_push_and_recover_after_a_redis_flush(
    env, database_url, redis_url, sim, tmp_path
):
    """Production shape with nothing queued by hand: each `crosswalk worker`
    dispatches what the database says is due (the CRM poll first, then the
    pushes), and work lost with Redis comes back without a restart."""
    path = write_agency_file(tmp_path, sim.sims)
    env = {
        **env,
        "REDIS_URL": redis_url,
        "CROSSWALK_DISPATCH_INTERVAL": "1",
        "CROSSWALK_REDISPATCH_AFTER": "1",
    }
    assert crosswalk("config", "load", str(path), env=env, cwd=tmp_path).returncode == 0
    first = sim.create_issue()["id"]
    workers = [
        subprocess.Popen(
            [CROSSWALK, "worker"], env=env, cwd=tmp_path, stdout=DEVNULL, stderr=DEVNULL
        )
        for _ in range(2)
    ]
    try:
        assert until(lambda: sim.scf_issue(first)["status"] == "Acknowledged", 30)
        redis.Redis.from_url(redis_url).flushdb()  # every queued job and RQ's state gone
        second = sim.create_issue(summary="After the flush")["id"]
        # The next CRM poll is a minute away: bring it forward as staff would.
        engine = create_engine(normalise(database_url, ""))
        with engine.begin() as conn:
            conn.execute(text("update periodic_run set next_run_at = last_queued_at"))
        engine.dispose()
        assert until(lambda: sim.scf_issue(second)["status"] == "Acknowledged", 30)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=20)
    assert count(database_url, "select count(*) from sync_link where state = 'acknowledged'") == 2
    records = sim.cg_records()
    assert sorted(r["SeeClickFixIDField"] for r in records) == sorted([str(first), str(second)])


def until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_sync_categories_and_import_inline(env, sim, tmp_path):
    path = write_agency_file(tmp_path, sim.sims)
    assert crosswalk("config", "load", str(path), env=env, cwd=tmp_path).returncode == 0
    env = {**env, "REDIS_URL": ""}
    cats = crosswalk("sync", "categories", "--inline", env=env, cwd=tmp_path)
    assert cats.returncode == 0, cats.stderr
    assert "public-works: 6 remote categories" in cats.stdout
    assert "added: " in cats.stdout
    sim.cg_staff_create(
        "cgRequestsClass",
        IssueField="Streetlight Out",
        lat=41.3083,
        long=-72.9279,
        DescriptionField="Dark corner",
    )
    imported = crosswalk("sync", "import", "--inline", env=env, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "1 imported" in imported.stdout
