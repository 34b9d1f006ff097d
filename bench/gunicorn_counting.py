"""gunicorn configuration for ``bench/webhook_load.py``: each worker counts the
SQL statements it sends (a SQLAlchemy ``before_cursor_execute`` listener)
and the requests it serves, and writes both to ``$CROSSWALK_BENCH_COUNTS``/
``worker-<pid>.json`` when it exits. With ``$CROSSWALK_BENCH_PROFILE`` set
(a directory), each worker also profiles its requests' CPU time (cProfile)
and writes ``worker-<pid>.prof`` there. Bench use only."""

from __future__ import annotations

import cProfile
import json
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

_counts = {"statements": 0, "requests": 0}


def _count_statement(*args: Any) -> None:
    _counts["statements"] += 1


_profile = (
    cProfile.Profile(time.process_time) if os.environ.get("CROSSWALK_BENCH_PROFILE") else None
)


def post_fork(server: Any, worker: Any) -> None:
    event.listen(Engine, "before_cursor_execute", _count_statement)


def pre_request(worker: Any, req: Any) -> None:
    if _profile is not None:
        _profile.enable()


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    if _profile is not None:
        _profile.disable()
    _counts["requests"] += 1


def worker_exit(server: Any, worker: Any) -> None:
    directory = os.environ.get("CROSSWALK_BENCH_COUNTS")
    if directory:
        Path(directory, f"worker-{os.getpid()}.json").write_text(json.dumps(_counts))
    if _profile is not None:
        _profile.dump_stats(
            Path(os.environ["CROSSWALK_BENCH_PROFILE"], f"worker-{os.getpid()}.prof")
        )
