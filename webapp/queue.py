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
import math
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import fakeredis
import redis
from flask import Flask
from rq import Queue, SimpleWorker
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

if TYPE_CHECKING:
    from .sync.jobs import JobKind

log = logging.getLogger(__name__)

# The one RQ function every job runs (see the module docstring).
JOB_FUNCTION = "workers.jobs.perform"
ACTIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
# Seconds between the heartbeats a worker sends for the job it runs (RQ's
# default is 30); three missed mean the worker is dead.
JOB_MONITORING_INTERVAL = 10
# How often a process lists its queues in Redis's set of queues (see
# TaskQueue._enqueue_unique); RQ's CLI and dashboards find queues there.
QUEUE_RELIST_SECONDS = 60.0


class TaskQueue:
    """Enqueue with deterministic ids: a job already waiting is not enqueued twice."""

    def __init__(
        self,
        connection: redis.Redis,
        name: str,
        *,
        in_process: bool,
    ) -> None:
        self.connection = connection
        self.in_process = in_process
        # Keyed by JobKind.queue ("periodic", "default").
        self.queues = {
            "periodic": Queue(f"{name}-periodic", connection=connection),
            "default": Queue(name, connection=connection),
        }
        self._listed_at: dict[str, float] = {}  # queue name → when its SADD was sent

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

    def active_job(self, job_id: str, *, started_is_stale: bool = False) -> Job | None:
        """The job ``job_id`` if it waits or runs; None when it is done, gone,
        or started by a worker that died (see :func:`is_dead`) — or, with
        ``started_is_stale``, started at all (the caller knows from the
        database that no job works on it now)."""
        job = self._fetch(job_id)
        return job if job is not None and _active(job, started_is_stale) else None

    def _fetch(self, job_id: str) -> Job | None:
        try:
            return Job.fetch(job_id, connection=self.connection)
        except NoSuchJobError:
            return None

    def enqueue(
        self, kind: JobKind, *args: Any, at: Any = None, started_is_stale: bool = False
    ) -> tuple[Job, bool]:
        """Queue ``kind`` with ``args`` (at a time, if given); (job, created):
        ``created`` is False when the same job was already waiting or running.

        ``started_is_stale``: a started job of the same id does not count (the
        dispatcher knows from a link's free lease that no job works on it)."""
        job_id = kind.job_id(*args)
        queue = self.queues[kind.queue]
        options: dict[str, Any] = {
            "job_timeout": kind.timeout,
            "result_ttl": kind.result_ttl,
            "failure_ttl": 7 * 86400,
            "description": kind.describe(*args),
        }
        if at is None:
            try:
                # The usual case — no job of this id yet (a new issue's push) —
                # in one atomic step: RQ's Lua script saves and queues the job
                # only if its id is free, so no read comes first. (RQ's
                # enqueue_at ignores ``unique``: a scheduled job reads first.)
                job = self._enqueue_unique(queue, job_id, kind, args, options)
                return job, True
            except DuplicateJobError:
                pass  # a job of this id exists: waiting, running, or done
        existing = self._fetch(job_id)  # one read answers both questions below
        if existing is not None and _active(existing, started_is_stale):
            return existing, False
        if existing is not None and existing.get_status(refresh=False) == JobStatus.STARTED:
            # RQ still lists it as started (it notices a dead worker only at its
            # ten-minute maintenance, and would then mark a job of the same id
            # failed): the work goes on under an id of its own.
            job_id = f"{job_id}-r{uuid.uuid4().hex[:8]}"
        return self._enqueue_as(queue, job_id, kind, args, at, options), True

    def _enqueue_unique(
        self, queue: Queue, job_id: str, kind: JobKind, args: tuple, options: dict[str, Any]
    ) -> Job:
        """RQ's unique enqueue, without a round trip per job to list the queue
        among Redis's queues (RQ adds it to ``rq:queues`` on every enqueue).

        RQ puts that ``SADD`` on the pipeline it is given, and runs its unique
        enqueue script on the connection whatever the pipeline: so the
        pipeline is sent only when the queue was last listed a minute ago or
        more (which also lists it again after a Redis flush), and dropped
        otherwise."""
        with self.connection.pipeline() as registration:
            job = self._enqueue_as(
                queue, job_id, kind, args, None, {**options, "pipeline": registration}, unique=True
            )
            now = time.monotonic()
            if now - self._listed_at.get(queue.name, -math.inf) >= QUEUE_RELIST_SECONDS:
                registration.execute()
                self._listed_at[queue.name] = now
        return job

    @staticmethod
    def _enqueue_as(
        queue: Queue,
        job_id: str,
        kind: JobKind,
        args: tuple,
        at: Any,
        options: dict[str, Any],
        *,
        unique: bool = False,
    ) -> Job:
        """Queue (or schedule, ``at``) the job as ``job_id``; ``unique``: raise
        DuplicateJobError instead of replacing a job of that id."""
        options = {**options, "job_id": job_id}
        if at is not None:
            return queue.enqueue_at(at, JOB_FUNCTION, kind.name, *args, **options)
        return queue.enqueue(JOB_FUNCTION, kind.name, *args, unique=unique, **options)

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


def _active(job: Job, started_is_stale: bool) -> bool:
    """Whether ``job`` waits or runs (a started one counts unless its worker
    died, or the caller knows it is stale)."""
    status = job.get_status(refresh=False)
    if status not in ACTIVE:
        return False
    return not (status == JobStatus.STARTED and (started_is_stale or is_dead(job)))


def is_dead(job: Job) -> bool:
    """A started job whose worker stopped sending heartbeats: the worker was
    killed (a killed work horse alone is noticed by its worker at once)."""
    beat = job.last_heartbeat or job.started_at
    if beat is None:
        return False
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=UTC)
    return datetime.now(UTC) - beat > timedelta(seconds=3 * JOB_MONITORING_INTERVAL)


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
    )
