"""The job queue on the app: real Redis when ``REDIS_URL`` is set, else an
in-process Redis (fakeredis) that a worker thread (``workers``) works.

Two RQ queues: periodic work (the CRM poll, remote polls, the sweeper...) has
its own queue, listed first by every worker, so it never waits behind a
backlog of pushes.

Every job runs one RQ function, ``workers.jobs.perform``, named here by its
dotted path: the worker layer depends on the web app, never the reverse, so
the app cannot import it. *What* a job does is the engine's job registry
(``webapp.sync.jobs``); the queue only delivers it, with a deterministic id
so the same work is never queued twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import fakeredis
import redis
from flask import Flask
from rq import Queue, Retry, SimpleWorker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

if TYPE_CHECKING:
    from .sync.jobs import JobKind

log = logging.getLogger(__name__)

# The one RQ function every job runs (see the module docstring).
JOB_FUNCTION = "workers.jobs.perform"
ACTIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


class TaskQueue:
    """Enqueue with deterministic ids: a job already waiting is not enqueued twice."""

    def __init__(
        self,
        connection: redis.Redis,
        name: str,
        *,
        in_process: bool,
        retry_intervals: Sequence[int] = (),
    ) -> None:
        self.connection = connection
        self.in_process = in_process
        self.retry_intervals = list(retry_intervals)
        # Keyed by JobKind.queue ("periodic", "default").
        self.queues = {
            "periodic": Queue(f"{name}-periodic", connection=connection),
            "default": Queue(name, connection=connection),
        }

    @property
    def queue(self) -> Queue:
        """The queue of pushes (the default queue)."""
        return self.queues["default"]

    @property
    def all_queues(self) -> list[Queue]:
        """Every queue, in the order a worker should take jobs from them."""
        return [self.queues["periodic"], self.queues["default"]]

    @property
    def mode(self) -> str:
        return "in-process (fakeredis)" if self.in_process else "redis"

    def active_job(self, job_id: str) -> Job | None:
        try:
            job = Job.fetch(job_id, connection=self.connection)
        except NoSuchJobError:
            return None
        return job if job.get_status(refresh=False) in ACTIVE else None

    def enqueue(self, kind: JobKind, *args: Any, at: Any = None) -> tuple[Job, bool]:
        """Queue ``kind`` with ``args`` (at a time, if given); (job, created):
        ``created`` is False when the same job was already waiting or running."""
        job_id = kind.job_id(*args)
        existing = self.active_job(job_id)
        if existing is not None:
            return existing, False
        options: dict[str, Any] = {
            "job_id": job_id,
            "job_timeout": kind.timeout,
            "result_ttl": 3600,
            "failure_ttl": 7 * 86400,
            "description": kind.describe(*args),
        }
        if kind.retry and self.retry_intervals:
            options["retry"] = Retry(
                max=len(self.retry_intervals), interval=list(self.retry_intervals)
            )
        queue = self.queues[kind.queue]
        if at is not None:
            return queue.enqueue_at(at, JOB_FUNCTION, kind.name, *args, **options), True
        return queue.enqueue(JOB_FUNCTION, kind.name, *args, **options), True

    def depth(self) -> int:
        return sum(q.count for q in self.all_queues)

    def scheduled_count(self) -> int:
        return sum(q.scheduled_job_registry.count for q in self.all_queues)

    def failed_count(self) -> int:
        return sum(q.failed_job_registry.count for q in self.all_queues)

    def drain(self) -> int:
        """Work every queued job here, now (the in-process queue of a CLI run,
        which would otherwise die with the process). Returns how many ran.

        Runs in the caller's app context, with RQ's own SimpleWorker: the
        worker processes of ``workers`` are for long-running service."""
        count = self.depth()
        if count:
            worker = SimpleWorker(self.all_queues, connection=self.connection)
            worker.work(burst=True, logging_level="WARNING")
        return count


def connect(url: str | None) -> tuple[redis.Redis, bool]:
    if url:
        return redis.Redis.from_url(url), False
    # One FakeServer per process: the web thread and the worker thread share it.
    return fakeredis.FakeRedis(server=fakeredis.FakeServer()), True


def init_app(app: Flask) -> None:
    connection, in_process = connect(app.config.get("REDIS_URL"))
    app.task_queue = TaskQueue(
        connection,
        app.config["CROSSWALK_QUEUE"],
        in_process=in_process,
        retry_intervals=app.config["CROSSWALK_RETRY_INTERVALS"],
    )
