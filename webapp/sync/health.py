"""``/healthz``: can this web process do its work? A load balancer or an
uptime check reads it, so it answers quickly and says what is wrong.

Checks the database (reachable, and migrated to the revision this code
expects: a web app on an old schema fails on its first write, not at
start-up) and, when ``REDIS_URL`` is configured, Redis. The in-process queue
of the demo has nothing to reach.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db


@dataclass
class Health:
    checks: dict[str, str] = field(default_factory=dict)  # name → "ok" or what is wrong

    @property
    def ok(self) -> bool:
        return all(value == "ok" for value in self.checks.values())


def expected_revision() -> str | None:
    """The newest migration this code ships (Alembic's head)."""
    return _head_of(str(Path(current_app.extensions["migrate"].directory)))


@functools.cache
def _head_of(directory: str) -> str | None:
    """Read once per process: the migration files do not change under a
    running app, and /healthz is polled every few seconds."""
    config = Config()
    config.set_main_option("script_location", directory)
    return ScriptDirectory.from_config(config).get_current_head()


def check() -> Health:
    health = Health()
    health.checks["database"] = _database()
    if not current_app.task_queue.in_process:
        health.checks["redis"] = _redis()
    return health


def _database() -> str:
    try:
        row = db.session.execute(text("SELECT version_num FROM alembic_version")).first()
    except SQLAlchemyError as exc:
        db.session.rollback()
        if "alembic_version" in str(exc.orig if hasattr(exc, "orig") else exc).lower():
            return "no Crosswalk tables: run `crosswalk db upgrade`"
        return f"unreachable ({exc.__class__.__name__})"
    current = row[0] if row else None
    expected = expected_revision()
    if current != expected:
        return (
            f"schema at revision {current or 'none'}, this code expects {expected}: "
            "run `crosswalk db upgrade`"
        )
    return "ok"


def _redis() -> str:
    try:
        current_app.task_queue.connection.ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach Redis is the answer
        return f"unreachable ({exc.__class__.__name__})"
    return "ok"
