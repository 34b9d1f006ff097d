"""Settings from the environment (twelve-factor): nothing here is a secret default
that production would silently keep."""

from __future__ import annotations

import os


def database_url(raw: str | None, instance_path: str) -> str:
    """``DATABASE_URL`` normalised for SQLAlchemy + psycopg 3; SQLite by default."""
    if not raw:
        return f"sqlite:///{os.path.join(instance_path, 'crosswalk.db')}"
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://") :]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://") :]
    return raw


def _retry_intervals(raw: str | None) -> list[int]:
    if not raw:
        return [30, 120, 600, 1800]
    return [int(part) for part in raw.split(",") if part.strip()]


def from_environment(instance_path: str) -> dict:
    env = os.environ
    return {
        "SECRET_KEY": env.get("SECRET_KEY") or os.urandom(32).hex(),
        "SQLALCHEMY_DATABASE_URI": database_url(env.get("DATABASE_URL"), instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": env.get("REDIS_URL") or None,
        "CROSSWALK_QUEUE": env.get("CROSSWALK_QUEUE", "crosswalk"),
        # Seconds between push retries (RQ Retry); the last failure marks the issue failed.
        "CROSSWALK_RETRY_INTERVALS": _retry_intervals(env.get("CROSSWALK_RETRY_INTERVALS")),
        # Start a worker thread inside the web process when there is no REDIS_URL.
        "CROSSWALK_INPROCESS_WORKER": env.get("CROSSWALK_INPROCESS_WORKER", "1") != "0",
        # A pending issue older than this is re-enqueued by the sweeper.
        "CROSSWALK_SWEEP_AFTER": int(env.get("CROSSWALK_SWEEP_AFTER", "120")),
        "CROSSWALK_WEBHOOK_TOLERANCE": int(env.get("CROSSWALK_WEBHOOK_TOLERANCE", "300")),
        "CROSSWALK_HTTP_TIMEOUT": float(env.get("CROSSWALK_HTTP_TIMEOUT", "30")),
    }
