"""Make sure the PostgreSQL, Redis and Chromium the test suite uses are there.

Local servers that are installed but stopped are started (with the same
commands the machine image uses); a missing server is reported with what to
install, and the script exits non-zero so `make test` stops with a clear reason.
Chromium (the browser tests drive Debian's package through Playwright, which
cannot download its own browsers here) is installed with apt-get when it is
missing and this user may do so; otherwise the install command is printed.
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
CHROMIUM = os.environ.get("CROSSWALK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_INSTALL = "apt-get update && apt-get install -y chromium"
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


def chromium_ok() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} not found"
    try:
        done = subprocess.run(
            [CHROMIUM, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{CHROMIUM} does not start: {exc}"
    if done.returncode != 0:
        return f"{CHROMIUM} --version failed: {(done.stderr or done.stdout).strip()[:200]}"
    return None


def install_chromium() -> str | None:
    """Debian's chromium package, when this user may install packages."""
    if not (shutil.which("apt-get") and os.geteuid() == 0):
        return f"Chromium is not installed. Install it with: {CHROMIUM_INSTALL}"
    print(f"Chromium: installing Debian's package ({CHROMIUM_INSTALL})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return f"`{' '.join(command)}` failed: {' / '.join(tail)}; run: {CHROMIUM_INSTALL}"
    return None


def ensure_chromium() -> bool:
    problem = chromium_ok()
    if problem is None:
        print(f"Chromium: {CHROMIUM}")
        return True
    print(f"Chromium: {problem}")
    failed = install_chromium()
    if failed or (problem := chromium_ok()) is not None:
        print(f"Chromium: {failed or problem}", file=sys.stderr)
        return False
    print(f"Chromium: installed at {CHROMIUM}")
    return True


def main() -> int:
    ok = ensure("PostgreSQL", DATABASE_URL, postgres_ok, start_postgres)
    ok = ensure("Redis", REDIS_URL, redis_ok, start_redis) and ok
    ok = ensure_chromium() and ok
    if not ok:
        print(
            "make test needs PostgreSQL, Redis and Chromium (see README, 'Running the tests').",
            file=sys.stderr,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
