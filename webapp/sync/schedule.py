"""The periodic work, declared as data, and how it runs.

``TASK_KINDS`` says what runs on a schedule: the CRM poll and the sweeper
once, and per enabled integration its remote poll, category sync and
importer when its settings switch them on, each at the interval its
validated settings give. ``periodic_tasks()`` turns that and the loaded
configuration into tasks with stable keys (``crm-poll``,
``remote-poll-public-works``).

When a task is due is recorded in the database (``periodic_run``), and the
dispatcher (``dispatcher.tick``, run by every worker) queues it as the job
``task-<key>``; "run now" (staff in the console, ``crosswalk sync ...``)
queues the same job, so a run already queued or running absorbs the second
request.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app

from integrations.settings import IntegrationSettings

from ..extensions import db
from ..models import Agency, Integration
from . import category_sync, crm_poll, importer, jobs, leases, remote_poll, sweep, vendors

SWEEP_INTERVAL = 60


class TaskNotAvailable(LookupError):
    """The task asked for is not configured (off, unsupported, or unknown)."""


@dataclass(frozen=True)
class TaskKind:
    """One kind of periodic work."""

    name: str  # the key's prefix: "remote-poll"
    label: str  # what staff read: "remote poll"
    per_integration: bool
    # Runs one task; returns a report with a one-line summary().
    run: Callable[..., Any]
    # The interval in seconds, from the validated settings it depends on.
    interval: Callable[[Agency | None, IntegrationSettings | None], int]
    # Whether the configuration switches it on (with why not, for messages).
    enabled: Callable[[Agency | None, IntegrationSettings | None], bool] = lambda a, s: True
    off_reason: str = ""


TASK_KINDS: tuple[TaskKind, ...] = (
    TaskKind(
        "sweep",
        "sweeper",
        per_integration=False,
        run=lambda: sweep.sweep_pending(timedelta(seconds=_sweep_after())),
        interval=lambda agency, settings: SWEEP_INTERVAL,
    ),
    TaskKind(
        "crm-poll",
        "CRM poll",
        per_integration=False,
        run=crm_poll.poll_crm,
        interval=lambda agency, settings: vendors.crm_settings(agency).poll_interval,
        enabled=lambda agency, settings: agency is not None,
        off_reason="no agency configuration is loaded",
    ),
    TaskKind(
        "remote-poll",
        "remote poll",
        per_integration=True,
        run=remote_poll.poll_integration,
        interval=lambda agency, settings: settings.poll_interval,
    ),
    TaskKind(
        "categories",
        "category sync",
        per_integration=True,
        run=category_sync.sync_categories_and_questions,
        interval=lambda agency, settings: settings.category_sync_interval,
        enabled=lambda agency, settings: settings.sync_categories,
        off_reason="category sync is off or not supported by its kind",
    ),
    TaskKind(
        "import",
        "importer",
        per_integration=True,
        run=importer.import_requests,
        interval=lambda agency, settings: settings.import_interval,
        enabled=lambda agency, settings: (
            bool(agency and agency.boundary_path) and settings.import_requests
        ),
        off_reason="import_requests is off, not supported by its kind, or no boundary is set",
    ),
)
KINDS = {kind.name: kind for kind in TASK_KINDS}


def _sweep_after() -> int:
    return current_app.config["CROSSWALK_SWEEP_AFTER"]


@dataclass(frozen=True)
class PeriodicTask:
    kind: TaskKind
    interval: int
    integration_id: int | None = None
    integration_name: str | None = None

    @property
    def key(self) -> str:
        if self.integration_name is None:
            return self.kind.name
        return f"{self.kind.name}-{self.integration_name}"

    @property
    def label(self) -> str:
        if self.integration_name is None:
            return self.kind.label
        return f"{self.integration_name}: {self.kind.label}"

    def run(self) -> Any:
        """Run the task here and now; its report."""
        if self.integration_id is None:
            return self.kind.run()
        return self.kind.run(self.integration_id)


def _enabled_integrations() -> list[tuple[Integration, IntegrationSettings]]:
    rows = db.session.execute(
        db.select(Integration).where(Integration.enabled.is_(True)).order_by(Integration.id)
    ).scalars()
    return [(row, vendors.settings_of(row)) for row in rows]


def periodic_tasks() -> list[PeriodicTask]:
    """Every task the loaded configuration switches on."""
    agency = vendors.find_agency()
    integrations = _enabled_integrations() if agency is not None else []
    tasks = []
    for kind in TASK_KINDS:
        if not kind.per_integration:
            if kind.enabled(agency, None):
                tasks.append(PeriodicTask(kind, int(kind.interval(agency, None))))
            continue
        for row, settings in integrations:
            if kind.enabled(agency, settings):
                interval = int(kind.interval(agency, settings))
                tasks.append(PeriodicTask(kind, interval, row.id, row.name))
    return tasks


def find_tasks(kind_name: str, integration_name: str | None = None) -> list[PeriodicTask]:
    """The tasks of one kind (of one integration when named), or a clear error
    when a named integration does not run it."""
    kind = KINDS.get(kind_name)
    if kind is None:
        raise TaskNotAvailable(f"unknown task {kind_name!r} (known: {', '.join(KINDS)})")
    found = [t for t in periodic_tasks() if t.kind is kind]
    if integration_name is None or not kind.per_integration:
        return found  # the CRM poll and the sweeper serve every integration at once
    row = db.session.execute(
        db.select(Integration).where(Integration.name == integration_name)
    ).scalar_one_or_none()
    if row is None:
        raise TaskNotAvailable(f"no integration named {integration_name!r}")
    if not row.enabled:
        raise TaskNotAvailable(f"{integration_name}: the integration is disabled")
    found = [t for t in found if t.integration_name == integration_name]
    if not found:
        raise TaskNotAvailable(f"{integration_name}: {kind.off_reason or 'not configured'}")
    return found


def task_by_key(key: str) -> PeriodicTask | None:
    return next((t for t in periodic_tasks() if t.key == key), None)


def summary_of(report: Any) -> str:
    return report.summary() if hasattr(report, "summary") else str(report)


def lease_name(key: str) -> str:
    return f"task:{key}"


def run_task(key: str) -> str:
    """Run the task ``key`` here (the ``task`` job), holding its lease so that
    two runs never overlap; its one-line summary."""
    task = task_by_key(key)
    if task is None:
        return f"{key}: no longer configured"
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    seconds = current_app.config["CROSSWALK_LEASE_SECONDS"]
    name = lease_name(key)
    if not leases.take(name, owner, seconds):
        return f"{key}: already running on another worker"
    try:
        with leases.Keeper(leases.renewer(name, owner, seconds), seconds, name):
            return summary_of(task.run())
    finally:
        db.session.rollback()  # a failed run leaves its transaction: the release needs a fresh one
        leases.release(name, owner)


def run_task_now(key: str, *, lease_is_free: bool = False) -> bool:
    """Queue a run of ``key`` now; False when one is already queued or running.

    ``lease_is_free``: the caller saw the task's lease free, so a run RQ still
    calls started is dead (its worker was killed) and a new one is queued."""
    return jobs.enqueue(TASK_JOB, key, started_is_stale=lease_is_free)[1]


# One periodic task, whether the dispatcher found it due or staff asked for it
# now: one id for both, so "run now" never doubles a run already queued.
TASK_JOB = jobs.JobKind("task", run_task, "task-{0}", "periodic task {0}", queue=jobs.PERIODIC)
