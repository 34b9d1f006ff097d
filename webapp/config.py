"""Settings from the environment (twelve-factor): nothing here is a secret default
that production would silently keep."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any


class MissingSecretKey(RuntimeError):
    """The web app was started without ``SECRET_KEY``."""


SECRET_KEY_MISSING = (
    "SECRET_KEY is not set. Crosswalk signs sign-in sessions and form tokens with it: "
    "set the SECRET_KEY environment variable to a long random value, the same for every "
    "web process (python3 -c 'import secrets; print(secrets.token_hex(32))'). "
    "`crosswalk demo` keeps its own in the instance folder."
)


def ensure_secret_key(config: dict[str, Any]) -> None:
    """Refuse to build a serving app without ``SECRET_KEY``.

    A random fallback would sign everyone out at each restart and make every
    gunicorn worker reject the others' sessions, so production must set one.
    Tests get a random key; commands that never serve a request (``crosswalk
    db upgrade``, ``worker``, ``users add``) pass ``CROSSWALK_REQUIRE_SECRET_KEY``
    False and work without one (a request served by such an app is refused
    with the same message, see ``webapp.auth``)."""
    if config.get("SECRET_KEY"):
        return
    if config.get("TESTING"):
        config["SECRET_KEY"] = os.urandom(32).hex()
    elif config.get("CROSSWALK_REQUIRE_SECRET_KEY", True):
        raise MissingSecretKey(SECRET_KEY_MISSING)


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
        # Required to serve (ensure_secret_key): no random fallback.
        "SECRET_KEY": env.get("SECRET_KEY") or None,
        # Served over HTTPS (directly or behind a proxy that terminates TLS): the
        # session and remember cookies get the Secure flag, and HSTS is sent.
        "CROSSWALK_HTTPS": env.get("CROSSWALK_HTTPS", "0").lower() in ("1", "true", "yes"),
        # Reverse proxies in front of the app whose X-Forwarded-For/-Proto to
        # trust (0: none). Sign-in limits per address need the client's address.
        "CROSSWALK_PROXIES": int(env.get("CROSSWALK_PROXIES", "0")),
        # A signed-in session ends after this many hours without a request.
        "PERMANENT_SESSION_LIFETIME": timedelta(
            hours=float(env.get("CROSSWALK_SESSION_HOURS", "12"))
        ),
        # Failed sign-ins allowed per account and per client address (limits syntax).
        "CROSSWALK_SIGNIN_LIMIT_ACCOUNT": env.get(
            "CROSSWALK_SIGNIN_LIMIT_ACCOUNT", "5 per 15 minutes"
        ),
        "CROSSWALK_SIGNIN_LIMIT_ADDRESS": env.get(
            "CROSSWALK_SIGNIN_LIMIT_ADDRESS", "20 per 15 minutes"
        ),
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
        # A push holds its link's lease this long, renewed while it works: a
        # killed job's link is free again within this time.
        "CROSSWALK_LEASE_SECONDS": float(env.get("CROSSWALK_LEASE_SECONDS", "60")),
        # Seconds between dispatcher ticks in each worker (due pushes, periodic tasks).
        "CROSSWALK_DISPATCH_INTERVAL": float(env.get("CROSSWALK_DISPATCH_INTERVAL", "5")),
        # A job queued this long ago and not yet started is queued again (it was
        # lost with Redis, or its worker died).
        "CROSSWALK_REDISPATCH_AFTER": float(env.get("CROSSWALK_REDISPATCH_AFTER", "60")),
        # After a create whose answer was lost, wait this long before looking the
        # request up: a vendor may apply a create late.
        "CROSSWALK_CREATE_SETTLE_SECONDS": float(env.get("CROSSWALK_CREATE_SETTLE_SECONDS", "60")),
        "CROSSWALK_WEBHOOK_TOLERANCE": int(env.get("CROSSWALK_WEBHOOK_TOLERANCE", "300")),
        # Largest webhook body accepted (bytes), judged before the body is read.
        # An issue with its comments is a few kilobytes; 1 MiB leaves room.
        "CROSSWALK_WEBHOOK_MAX_BYTES": int(env.get("CROSSWALK_WEBHOOK_MAX_BYTES", str(1 << 20))),
        "CROSSWALK_HTTP_TIMEOUT": float(env.get("CROSSWALK_HTTP_TIMEOUT", "30")),
    }
