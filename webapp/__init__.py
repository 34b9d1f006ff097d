"""Crosswalk web application factory."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask

from . import queue, views
from .config import from_environment
from .extensions import db, migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def create_app(config: dict[str, Any] | None = None, *, start_worker: bool = False) -> Flask:
    """Build the app. ``start_worker`` starts the in-process worker thread when
    there is no ``REDIS_URL`` (the web process of ``make demo`` or a small install)."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("CROSSWALK_INSTANCE") or str(PROJECT_ROOT / "instance"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(from_environment(app.instance_path))
    if config:
        app.config.update(config)
    os.makedirs(app.instance_path, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    queue.init_app(app)
    views.init_app(app)

    app.in_process_worker = None
    if start_worker and app.task_queue.in_process and app.config["CROSSWALK_INPROCESS_WORKER"]:
        from workers.runner import start_in_process_worker

        app.in_process_worker = start_in_process_worker(app)
    return app
