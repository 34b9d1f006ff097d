"""What the queue holds, for the console's jobs page: every periodic task with
its next run and the state of its last queued run, and the jobs RQ lists as
queued, running, scheduled and failed (newest first, bounded).

Read from RQ's own registries rather than by mounting rq-dashboard: its
releases pin RQ versions of their own and bring a second web app with its own
sign-in story, while these are a handful of registry reads behind Crosswalk's
sign-in. Read-only; "run now" goes through ``schedule.run_task_now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from ..extensions import db
from ..models import PeriodicRun
from . import schedule

LIMIT = 50


@dataclass(frozen=True)
class JobRow:
    id: str
    description: str
    state: str  # queued | running | scheduled | finished | failed
    queue: str
    at: datetime | None  # enqueued, started, scheduled for, or ended
    detail: str = ""  # the run's summary, or the error's last line


@dataclass(frozen=True)
class TaskRow:
    key: str
    label: str
    interval: int
    next_run_at: datetime | None
    last_queued_at: datetime | None
    last_run: JobRow | None  # the state of the task's job, when RQ still has it

    @property
    def busy(self) -> bool:
        return self.last_run is not None and self.last_run.state in ("queued", "running")


@dataclass(frozen=True)
class Board:
    tasks: list[TaskRow]
    queued: list[JobRow]
    running: list[JobRow]
    scheduled: list[JobRow]
    failed: list[JobRow]

    @property
    def busy(self) -> bool:
        return bool(self.queued or self.running or any(t.busy for t in self.tasks))


def job_board() -> Board:
    queue = current_app.task_queue
    runs = {r.key: r for r in db.session.execute(db.select(PeriodicRun)).scalars()}
    periodic = schedule.periodic_tasks()
    last_runs = task_jobs([task.key for task in periodic])
    tasks = [
        TaskRow(
            task.key,
            task.label,
            task.interval,
            runs[task.key].next_run_at if task.key in runs else None,
            runs[task.key].last_queued_at if task.key in runs else None,
            last_run,
        )
        for task, last_run in zip(periodic, last_runs, strict=True)
    ]
    queued, running, scheduled, failed = [], [], [], []
    for rq_queue in queue.all_queues:
        queued += [_row(job, rq_queue.name) for job in rq_queue.get_jobs(0, LIMIT)]
        running += _rows(StartedJobRegistry(queue=rq_queue), rq_queue.name)
        scheduled += _rows(ScheduledJobRegistry(queue=rq_queue), rq_queue.name)
        failed += _rows(FailedJobRegistry(queue=rq_queue), rq_queue.name, newest_first=True)
    return Board(tasks, queued[:LIMIT], running[:LIMIT], scheduled[:LIMIT], failed[:LIMIT])


def task_jobs(keys: list[str]) -> list[JobRow | None]:
    """The state of each periodic task's job (``task-<key>``) where RQ still
    has it, read in one round trip."""
    job_ids = [schedule.TASK_JOB.job_id(key) for key in keys]
    jobs = Job.fetch_many(job_ids, connection=current_app.task_queue.connection)
    return [_row(job, job.origin) if job is not None else None for job in jobs]


def _rows(registry, queue_name: str, *, newest_first: bool = False) -> list[JobRow]:
    ids = registry.get_job_ids(0, LIMIT * 2)
    if newest_first:
        ids = list(reversed(ids))
    jobs = Job.fetch_many(ids[:LIMIT], connection=registry.connection)
    return [_row(job, queue_name, registry) for job in jobs if job is not None]


_STATES = {
    JobStatus.QUEUED: "queued",
    JobStatus.STARTED: "running",
    JobStatus.SCHEDULED: "scheduled",
    JobStatus.DEFERRED: "scheduled",
    JobStatus.FINISHED: "finished",
    JobStatus.FAILED: "failed",
    JobStatus.STOPPED: "failed",
    JobStatus.CANCELED: "failed",
}


def _row(job: Job, queue_name: str, registry=None) -> JobRow:
    status = job.get_status(refresh=False)
    state = _STATES.get(status, str(status))
    at = job.ended_at or job.started_at or job.enqueued_at
    if state == "scheduled" and isinstance(registry, ScheduledJobRegistry):
        at = registry.get_scheduled_time(job) or at
    detail = ""
    if state == "finished":
        detail = str(job.return_value() or "")
    elif state == "failed":
        detail = _last_line(job)
    return JobRow(job.id, job.description or job.id, state, queue_name, at, detail[:500])


def _last_line(job: Job) -> str:
    """The error's last line (the exception and its message), not the traceback."""
    result = job.latest_result()
    text = (result.exc_string if result is not None else None) or job.exc_info or ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "failed (no error recorded)"
