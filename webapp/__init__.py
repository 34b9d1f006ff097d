"""Crosswalk web application factory.

``create_app`` builds the app and nothing more: each module's ``init_app``
wires itself in. Starting an in-process worker (no ``REDIS_URL``) is the
business of the entry points that serve (``wsgi.py``, ``crosswalk demo``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask

from . import auth, queue, views
from .config import ensure_secret_key, from_environment
from .extensions import db, migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def instance_path() -> str:
    """The instance folder (SQLite database, demo files): ``CROSSWALK_INSTANCE``."""
    return os.environ.get("CROSSWALK_INSTANCE") or str(PROJECT_ROOT / "instance")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=instance_path(), static_folder=str(PROJECT_ROOT / "static"))
    app.config.update(from_environment(app.instance_path))
    if config:
        app.config.update(config)
    ensure_secret_key(app.config)
    os.makedirs(app.instance_path, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    queue.init_app(app)
    views.init_app(app)
    auth.init_app(app)  # after the views: it exempts the webhook blueprint from CSRF
    return app
