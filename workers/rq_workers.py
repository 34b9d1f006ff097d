"""RQ worker classes: the worker process and the in-process worker thread.

``crosswalk worker`` runs a forking RQ ``Worker`` with RQ's scheduler (one
scheduler holds the lock per queue, so running several workers is safe).
Without ``REDIS_URL`` the web process runs a ``SimpleWorker`` and RQ's
scheduler loop in threads against fakeredis; RQ installs signal handlers and
forks its scheduler by default, which threads cannot do and which would not
share an in-memory Redis, so the thread variants below switch those off.

Every worker takes jobs from the periodic queue before the push queue
(``TaskQueue.all_queues``), so a backlog of pushes never delays the polls.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass

from flask import Flask
from rq import SimpleWorker, Worker
from rq.exceptions import StopRequested
from rq.scheduler import RQScheduler
from rq.timeouts import TimerDeathPenalty

from webapp.extensions import db
from webapp.sync import engine

log = logging.getLogger(__name__)


class AppContextMixin:
    """Runs every job inside the Flask app's context."""

    flask_app: Flask
    parent_pid: int

    def perform_job(self, job, queue):
        with self.flask_app.app_context():
            if os.getpid() != self.parent_pid:
                # A forked work horse must not reuse the parent's DB connections.
                db.engine.dispose(close=False)
            return super().perform_job(job, queue)


class CrosswalkWorker(AppContextMixin, Worker):
    pass


class ThreadWorker(AppContextMixin, SimpleWorker):
    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:  # signals belong to the main thread
        pass


class ThreadScheduler(RQScheduler):
    def _install_signal_handlers(self) -> None:
        pass


def build_worker(app: Flask, worker_class: type = CrosswalkWorker, **kwargs) -> Worker:
    queue = app.task_queue
    worker = worker_class(queue.all_queues, connection=queue.connection, **kwargs)
    worker.flask_app = app
    worker.parent_pid = os.getpid()
    return worker


@dataclass
class InProcessWorker:
    worker: ThreadWorker
    scheduler: ThreadScheduler
    threads: list[threading.Thread]

    def stop(self, timeout: float = 5.0) -> None:
        """Ask both threads to stop after their current job and wait up to
        ``timeout`` (they are daemon threads: the process may exit anyway).

        RQ's ``request_stop`` is a signal handler: on an idle worker it raises
        ``StopRequested`` in the caller (meant to end the main thread's loop),
        so the flag the worker thread's loop checks is set here directly."""
        self.worker._stop_requested = True
        with contextlib.suppress(StopRequested):
            self.worker.request_stop(None, None)
        self.scheduler.request_stop()
        for thread in self.threads:
            thread.join(timeout)


def start_in_process_worker(app: Flask) -> InProcessWorker:
    """Start a worker thread and a scheduler thread for this app's queue."""
    queue = app.task_queue
    worker = build_worker(app, ThreadWorker)
    scheduler = ThreadScheduler(queue.all_queues, connection=queue.connection, interval=1)
    scheduler._connection = queue.connection  # keep the in-memory server, do not reconnect

    def work() -> None:
        with app.app_context():
            try:
                engine.ensure_schedules()
            except Exception:
                log.exception("could not register the periodic jobs")
        worker.work(burst=False, with_scheduler=False, logging_level="WARNING")

    def run_scheduler() -> None:
        scheduler.acquire_locks()
        scheduler.work()

    threads = [
        threading.Thread(target=work, name="crosswalk-worker", daemon=True),
        threading.Thread(target=run_scheduler, name="crosswalk-scheduler", daemon=True),
    ]
    for thread in threads:
        thread.start()
    log.warning("In-process worker and scheduler threads started (no REDIS_URL).")
    return InProcessWorker(worker, scheduler, threads)
