"""Background work the engine asks for: every kind of job, once.

A job is named by its kind and arguments; its id follows from them
(``push-12``, ``task-crm-poll``, ``tick-crm-poll-29411520``), so asking twice
for the same work while it waits or runs queues it once. The worker process
runs a job by looking its kind up here (``workers.jobs.perform``); the engine
never imports the worker layer.

Three kinds:

* ``push`` — run every leg a sync link still owes (retried on transient
  vendor errors; the last failure is recorded on the link).
* ``task`` — one periodic task (CRM poll, remote poll, category sync,
  importer, sweeper), whether its schedule fired or staff asked for it now:
  one id for both, so "run now" never doubles a run already queued.
* ``tick`` — a schedule slot firing: re-arm the schedule, queue the task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app

from integrations.errors import IntegrationConfigError, PermanentError

from ..queue import DEFAULT, PERIODIC


@dataclass(frozen=True)
class JobKind:
    name: str
    # The engine entry point the job runs; what it returns is the job's result.
    run: Callable[..., Any]
    # "push-{0}": the id from the job's arguments (RQ allows [A-Za-z0-9_-]).
    id_format: str
    description: str
    queue: str = DEFAULT
    # Transient failures are retried with CROSSWALK_RETRY_INTERVALS.
    retry: bool = False
    # Called with (*args, exc=, final=, retry_in=) when an attempt fails.
    on_failure: Callable[..., None] | None = None
    timeout: int = 600

    def job_id(self, *args: Any) -> str:
        return self.id_format.format(*args)

    def describe(self, *args: Any) -> str:
        return self.description.format(*args)


def retryable(exc: BaseException) -> bool:
    """Whether trying the same job again may succeed (a vendor's 5xx, a timeout,
    a 429) or cannot (the vendor refused the request, the configuration is
    wrong, the link is gone)."""
    from .push import LinkNotFoundError

    return not isinstance(exc, PermanentError | IntegrationConfigError | LinkNotFoundError)


def _push(link_id: int) -> str:
    from . import push

    return push.push_link(link_id).state


def _push_failed(link_id: int, *, exc: BaseException, final: bool, retry_in: float | None) -> None:
    from . import push

    push.record_failure(link_id, exc, final=final, retry_in=retry_in)


def _task(key: str) -> str:
    from . import schedule

    return schedule.run_task(key)


def _tick(key: str, slot: int) -> str:
    from . import schedule

    return schedule.tick(key, slot)


# The engine modules are imported when a job runs, not here: jobs.py is
# imported by the modules that enqueue (ingest, sweep, ...), which the job
# functions themselves import.
PUSH = JobKind(
    "push",
    _push,
    "push-{0}",
    "push sync link {0}",
    retry=True,
    on_failure=_push_failed,
)
TASK = JobKind("task", _task, "task-{0}", "periodic task {0}", queue=PERIODIC)
TICK = JobKind(
    "tick", _tick, "tick-{0}-{1}", "schedule slot {1} of {0}", queue=PERIODIC, timeout=60
)
KINDS = {kind.name: kind for kind in (PUSH, TASK, TICK)}


def kind_named(name: str) -> JobKind:
    try:
        return KINDS[name]
    except KeyError:
        raise LookupError(f"unknown job kind {name!r} (known: {', '.join(KINDS)})") from None


def enqueue_push(link_id: int) -> bool:
    """Queue the push of one sync link; False if one is already waiting."""
    _, created = current_app.task_queue.enqueue(PUSH, link_id)
    return created


def enqueue_task(key: str) -> bool:
    """Queue a run of the periodic task ``key``; False if one is waiting or running."""
    _, created = current_app.task_queue.enqueue(TASK, key)
    return created


def schedule_tick(key: str, slot: int, at: Any) -> str | None:
    """Schedule a slot of ``key`` at ``at``; its job id, or None if already there."""
    job, created = current_app.task_queue.enqueue(TICK, key, slot, at=at)
    return job.id if created else None
