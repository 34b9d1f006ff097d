"""Make sure the PostgreSQL and Redis the test suite uses are reachable.

Local servers that are installed but stopped are started (with the same
commands the machine image uses); a missing server is reported with what to
install, and the script exits non-zero so `make test` stops with a clear reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
LOCAL = {"127.0.0.1", "localhost", "::1", ""}


def postgres_ok() -> str | None:
    import psycopg

    url = DATABASE_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


def redis_ok() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return str(exc)
    return None


def start_postgres() -> str | None:
    if shutil.which("pg_ctlcluster") and Path("/etc/postgresql").is_dir():
        for version in sorted(os.listdir("/etc/postgresql")):
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                check=False,
                capture_output=True,
            )
        return None
    if shutil.which("pg_ctl") and os.environ.get("PGDATA"):
        subprocess.run(["pg_ctl", "start", "-w", "-l", "/tmp/crosswalk-pg.log"], check=False)
        return None
    return (
        "PostgreSQL is not installed here. Install it (Debian: apt-get install postgresql) "
        "or point TEST_DATABASE_URL at a reachable server."
    )


def start_redis() -> str | None:
    if not shutil.which("redis-server"):
        return (
            "Redis is not installed here. Install it (Debian: apt-get install redis-server) "
            "or point TEST_REDIS_URL at a reachable server."
        )
    port = str(urlsplit(REDIS_URL).port or 6379)
    logdir = Path("/var/log/redis") if os.access("/var/log/redis", os.W_OK) else Path("/tmp")
    datadir = Path("/var/lib/redis") if os.access("/var/lib/redis", os.W_OK) else Path("/tmp")
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "-::1",
            "--port",
            port,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(datadir),
            "--logfile",
            str(logdir / "crosswalk-test.log"),
        ],
        check=False,
        capture_output=True,
    )
    return None


def ensure(name: str, url: str, check, start) -> bool:
    problem = check()
    if problem is None:
        print(f"{name}: reachable at {url}")
        return True
    host = urlsplit(url).hostname or ""
    if host not in LOCAL:
        print(f"{name}: cannot reach {url}: {problem}", file=sys.stderr)
        return False
    print(f"{name}: not answering at {url} ({problem}); starting the local server")
    missing = start()
    if missing:
        print(f"{name}: {missing}", file=sys.stderr)
        return False
    for _ in range(30):
        time.sleep(0.5)
        if check() is None:
            print(f"{name}: started")
            return True
    print(f"{name}: started but still not reachable at {url}: {check()}", file=sys.stderr)
    return False


def main() -> int:
    ok = ensure("PostgreSQL", DATABASE_URL, postgres_ok, start_postgres)
    ok = ensure("Redis", REDIS_URL, redis_ok, start_redis) and ok
    if not ok:
        print(
            "make test needs PostgreSQL and Redis (see README, 'Running the tests').",
            file=sys.stderr,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
