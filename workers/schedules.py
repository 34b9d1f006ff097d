"""Periodic work on RQ's own scheduler, with idempotent job ids.

Each periodic task runs in time slots of its interval; the job for slot N has
the id ``periodic-<task>-<N>``. Every run first schedules the next slot, and
every worker start schedules the next slot of every task: because the id is
the same whoever computes it, two schedulers or workers never double the work.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from werkzeug.utils import import_string

from webapp.extensions import db
from webapp.models import Agency, Integration
from webapp.sync.runtime import feature_enabled

from .context import with_app_context

RUN_PERIODIC = "workers.schedules.run_periodic"
SWEEP_INTERVAL = 60


@dataclass(frozen=True)
class Periodic:
    name: str
    func: str
    args: tuple
    interval: int


def periodic_tasks() -> list[Periodic]:
    """What runs on a schedule, from the loaded configuration."""
    tasks = [Periodic("sweep", "workers.jobs.sweep_job", (), SWEEP_INTERVAL)]
    agency = db.session.execute(db.select(Agency).order_by(Agency.id)).scalars().first()
    if agency is None:
        return tasks
    tasks.append(
        Periodic(
            "crm-poll", "workers.jobs.poll_crm_job", (), int(agency.crm.get("poll_interval", 60))
        )
    )
    integrations = db.session.execute(
        db.select(Integration).where(Integration.enabled.is_(True)).order_by(Integration.id)
    ).scalars()
    for row in integrations:
        if feature_enabled(row, "sync_categories"):
            tasks.append(
                Periodic(
                    f"categories-{row.name}",
                    "workers.jobs.sync_categories_job",
                    (row.id,),
                    int(row.settings.get("category_sync_interval", 86400)),
                )
            )
        if agency.boundary_path and feature_enabled(row, "import_requests"):
            tasks.append(
                Periodic(
                    f"import-{row.name}",
                    "workers.jobs.import_requests_job",
                    (row.id,),
                    int(row.settings.get("import_interval", 300)),
                )
            )
        tasks.append(
            Periodic(
                f"poll-{row.name}",
                "workers.jobs.poll_integration_job",
                (row.id,),
                int(row.settings.get("poll_interval", 300)),
            )
        )
    return tasks


def next_slot(interval: int, now: float | None = None) -> int:
    return math.floor((time.time() if now is None else now) / interval) + 1


def ensure_schedules(now: float | None = None) -> list[str]:
    """Schedule the next slot of every periodic task; return the new job ids."""
    queue = current_app.task_queue
    created = []
    for task in periodic_tasks():
        slot = next_slot(task.interval, now)
        when = datetime.fromtimestamp(slot * task.interval, UTC)
        job_id = f"periodic-{task.name}-{slot}"
        _, new = queue.enqueue_unique(RUN_PERIODIC, task.name, job_id=job_id, at=when)
        if new:
            created.append(job_id)
    return created


@with_app_context
def run_periodic(name: str) -> str:
    # Chain the next run first, so a failure below never breaks the schedule.
    ensure_schedules()
    task = next((t for t in periodic_tasks() if t.name == name), None)
    if task is None:
        return f"{name}: no longer configured"
    return import_string(task.func)(*task.args)
