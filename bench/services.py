"""What the throughput benches share (some of it with the chaos bench, where
it was first written): a scratch PostgreSQL database, a claimed Redis
database, ``crosswalk`` installed as an operator installs it, worker
processes, and the CPU time processes used (from ``/proc``, Linux).

Loopback only: every URL is checked, and everything started is stopped and
removed on exit (the database dropped, the Redis database flushed).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.chaos import (  # noqa: E402
    CROSSWALK,
    MARKER,
    BenchError,
    claimed_redis,
    crosswalk_env,
    marked_processes,
    psycopg_url,
    run_crosswalk,
    scratch_database,
    sigkill,
    spawn_logged,
)

ADMIN_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BASE_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LOOPBACK = ("127.0.0.1", "localhost", "::1", None)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

__all__ = [
    "ADMIN_DATABASE_URL",
    "BASE_REDIS_URL",
    "BenchError",
    "CROSSWALK",
    "MARKER",
    "Workers",
    "check_loopback",
    "claimed_redis",
    "cpu_seconds",
    "cpu_split",
    "crosswalk_env",
    "machine",
    "psycopg_url",
    "run_crosswalk",
    "scratch_database",
]


def check_loopback(*urls: str | None) -> None:
    """Refuse any server that is not on this machine's loopback."""
    for url in urls:
        if url and urlsplit(url).hostname not in LOOPBACK:
            raise BenchError(f"{url}: loopback only")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds these processes have used so far (the dead count 0)."""
    return sum(cpu_split(pids))


def cpu_split(pids: list[int]) -> tuple[float, float]:
    """(user, system) CPU seconds these processes have used so far."""
    user = system = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        user, system = user + int(fields[11]), system + int(fields[12])
    return user / CLOCK_TICKS, system / CLOCK_TICKS


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (``/proc/stat``):
    two readings give the share of the machine's cores that were busy."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is counted in user already
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def machine() -> str:
    """One line on the machine the figures come from."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({model or 'unknown model'}); load average {load} at start"


@dataclass
class Workers:
    """``count`` processes of ``command``, each in its own session (a Ctrl-C
    in the terminal reaches the bench only), logging to ``log_dir``."""

    command: list[str]
    env: dict[str, str]
    cwd: Path
    log_dir: Path
    count: int

    def __post_init__(self) -> None:
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        for n in range(self.count):
            log_path = self.log_dir / f"{Path(self.command[0]).name}-{n + 1}.log"
            self.processes.append(spawn_logged(self.command, self.env, self.cwd, log_path))

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (a warm shutdown), then SIGKILL for whatever is left, strays included."""
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        sigkill(marked_processes(self.env[MARKER]))
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        self.processes = []
