"""The job queue on the app: real Redis when ``REDIS_URL`` is set, else an
in-process Redis (fakeredis) worked by a thread inside this process.

Jobs are enqueued by dotted path (``workers.jobs.push_issue_job``) so the
sync engine never imports the worker layer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import fakeredis
import redis
from flask import Flask
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

log = logging.getLogger(__name__)

ACTIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


class TaskQueue:
    """Enqueue with deterministic ids: a job already waiting is not enqueued twice."""

    def __init__(self, connection: redis.Redis, name: str, *, in_process: bool) -> None:
        self.connection = connection
        self.in_process = in_process
        self.queue = Queue(name, connection=connection)

    @property
    def mode(self) -> str:
        return "in-process (fakeredis)" if self.in_process else "redis"

    def active_job(self, job_id: str) -> Job | None:
        try:
            job = Job.fetch(job_id, connection=self.connection)
        except NoSuchJobError:
            return None
        return job if job.get_status(refresh=False) in ACTIVE else None

    def enqueue_unique(
        self,
        func: str,
        *args: Any,
        job_id: str,
        retry_intervals: Sequence[int] | None = None,
        at: Any = None,
        timeout: int = 600,
    ) -> tuple[Job, bool]:
        """(job, created): ``created`` is False when the job was already waiting."""
        existing = self.active_job(job_id)
        if existing is not None:
            return existing, False
        options: dict[str, Any] = {
            "job_id": job_id,
            "job_timeout": timeout,
            "result_ttl": 3600,
            "failure_ttl": 7 * 86400,
        }
        if retry_intervals:
            options["retry"] = Retry(max=len(retry_intervals), interval=list(retry_intervals))
        if at is not None:
            return self.queue.enqueue_at(at, func, *args, **options), True
        return self.queue.enqueue(func, *args, **options), True

    def depth(self) -> int:
        return self.queue.count

    def scheduled_count(self) -> int:
        return self.queue.scheduled_job_registry.count

    def failed_count(self) -> int:
        return self.queue.failed_job_registry.count


def connect(url: str | None) -> tuple[redis.Redis, bool]:
    if url:
        return redis.Redis.from_url(url), False
    # One FakeServer per process: the web thread and the worker thread share it.
    return fakeredis.FakeRedis(server=fakeredis.FakeServer()), True


def init_app(app: Flask) -> None:
    connection, in_process = connect(app.config.get("REDIS_URL"))
    app.task_queue = TaskQueue(connection, app.config["CROSSWALK_QUEUE"], in_process=in_process)
