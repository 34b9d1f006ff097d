"""Background work: what a job kind is, and queueing one.

A job is named by its kind and arguments; its id follows from them
(``push-12``, ``task-crm-poll``), so asking twice for the same work while it
waits or runs queues it once. Each kind is declared beside the work it runs
(``push_job.PUSH_JOB``, ``push_job.PUSH_RETRY_JOB``, ``schedule.TASK_JOB``)
and listed once in ``engine.JOB_KINDS``, where the worker process looks it up
by name (``workers.jobs.perform``). This module imports no engine module, so
every module can queue work without an import cycle.

RQ only delivers jobs: what is owed, and when, is in the database
(``SyncLink.due_at``, ``PeriodicRun``), and the dispatcher queues it again if
a job is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app

from integrations.errors import IntegrationConfigError, PermanentError

# The RQ queues (see webapp.queue): periodic work never waits behind pushes.
PERIODIC = "periodic"
DEFAULT = "default"


@dataclass(frozen=True)
class JobKind:
    name: str
    # The engine function the job runs; what it returns is the job's result.
    run: Callable[..., Any]
    # "push-{0}": the id from the job's arguments (RQ allows [A-Za-z0-9_-]).
    id_format: str
    description: str
    queue: str = DEFAULT
    timeout: int = 600
    # Seconds RQ keeps a finished job and what it returned (the jobs page shows
    # a periodic run's summary); 0: deleted when it finishes, which saves the
    # worker a result write per job and the next enqueue of the id a read.
    result_ttl: int = 3600

    def job_id(self, *args: Any) -> str:
        return self.id_format.format(*args)

    def describe(self, *args: Any) -> str:
        return self.description.format(*args)


class NotRetryable(Exception):
    """Mixin for engine errors that retrying the same job cannot fix."""


def retryable(exc: BaseException) -> bool:
    """Whether trying the same job again may succeed (a vendor's 5xx, a timeout,
    a 429) or cannot (the vendor refused the request, the configuration is
    wrong, the link is gone)."""
    return not isinstance(exc, PermanentError | IntegrationConfigError | NotRetryable)


def enqueue(
    kind: JobKind, *args: Any, at: Any = None, started_is_stale: bool = False
) -> tuple[str, bool]:
    """Queue ``kind`` with ``args`` (at a time, if given): (job id, created).
    ``created`` is False when the same job was already waiting or running
    (``started_is_stale``: a started one does not count; see TaskQueue)."""
    job, created = current_app.task_queue.enqueue(
        kind, *args, at=at, started_is_stale=started_is_stale
    )
    return job.id, created
