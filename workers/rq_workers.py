"""RQ worker classes: the worker process and the in-process worker thread.

``crosswalk worker`` runs jobs in its own process (``CrosswalkWorker``, or a
forked work horse per job with ``--fork``); without ``REDIS_URL`` the web
process runs a worker in a thread against fakeredis (RQ installs signal
handlers, which threads cannot do, so the thread variant switches them off).

Every long-running worker ticks the dispatcher (``engine.dispatch``) between
jobs, every ``CROSSWALK_DISPATCH_INTERVAL`` seconds: RQ calls ``heartbeat``
each time its blocking dequeue times out, and the dequeue timeout is set to
the dispatch interval. So the periodic schedule and the re-queueing of owed
work need no separate scheduler process: any live worker re-arms them, one
at a time under a database lease, after a Redis flush or a dead worker. A
burst worker (tests, ``--burst``, the CLI's drain) works the queue and stops,
without dispatching.

Every worker takes jobs from the periodic queue before the push queue
(``TaskQueue.all_queues``), so a backlog of pushes never delays the polls.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass

from flask import Flask
from rq import SimpleWorker, Worker
from rq.exceptions import StopRequested
from rq.timeouts import TimerDeathPenalty

from webapp.extensions import db
from webapp.queue import JOB_MONITORING_INTERVAL
from webapp.sync import engine

log = logging.getLogger(__name__)


class CrosswalkMixin:
    """Runs every job inside the Flask app's context, and ticks the dispatcher."""

    flask_app: Flask
    parent_pid: int
    dispatching: bool = False
    _next_dispatch: float = 0.0

    def perform_job(self, job, queue):
        with self.flask_app.app_context():
            if os.getpid() != self.parent_pid:
                # A forked work horse must not reuse the parent's DB connections.
                db.engine.dispose(close=False)
            return super().perform_job(job, queue)

    def work(self, burst: bool = False, *args, **kwargs):
        self.dispatching = not burst
        return super().work(burst, *args, **kwargs)

    def heartbeat(self, timeout=None, pipeline=None):
        super().heartbeat(timeout, pipeline)
        if self.dispatching and pipeline is None and os.getpid() == self.parent_pid:
            self.dispatch_if_due()

    def dispatch_if_due(self) -> None:
        """A dispatcher tick when the interval has passed; never breaks the worker."""
        now = time.monotonic()
        if now < self._next_dispatch:
            return
        self._next_dispatch = now + self.flask_app.config["CROSSWALK_DISPATCH_INTERVAL"]
        try:
            with self.flask_app.app_context():
                try:
                    tick = engine.dispatch(self.dispatcher_name)
                    if tick.held and (tick.tasks or tick.pushes):
                        log.info("dispatcher: %s", tick.summary())
                finally:
                    db.session.remove()
        except Exception:
            log.exception("dispatcher tick failed; the next tick tries again")

    @property
    def dispatcher_name(self) -> str:
        return f"{socket.gethostname()}:{self.parent_pid}:{self.name}"


class CrosswalkWorker(CrosswalkMixin, SimpleWorker):
    """``crosswalk worker``: runs each job in this process, no fork per job.

    A fork, a fresh database connection and fresh vendor sessions cost more
    CPU than most jobs; the isolation a forked work horse gives is not what
    keeps work safe here — the database leases are (a killed worker's leases
    run out and the dispatcher queues the work again). The job timeout is
    RQ's SIGALRM death penalty: this worker runs in the main thread."""


class ForkingWorker(CrosswalkMixin, Worker):
    """``crosswalk worker --fork``: a forked work horse per job (RQ's default),
    for an agency that prefers process isolation to throughput."""


class ThreadWorker(CrosswalkMixin, SimpleWorker):
    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:  # signals belong to the main thread
        pass


def build_worker(app: Flask, worker_class: type = CrosswalkWorker, **kwargs) -> Worker:
    queue = app.task_queue
    # RQ's blocking dequeue times out after worker_ttl - 15 s and then calls
    # heartbeat(): that is when the dispatcher ticks.
    interval = app.config["CROSSWALK_DISPATCH_INTERVAL"]
    kwargs.setdefault("worker_ttl", int(max(1, interval)) + 15)
    # Heartbeats for the running job often enough that a dead worker's job is
    # recognised within half a minute (webapp.queue.is_dead).
    kwargs.setdefault("job_monitoring_interval", JOB_MONITORING_INTERVAL)
    worker = worker_class(queue.all_queues, connection=queue.connection, **kwargs)
    worker.flask_app = app
    worker.parent_pid = os.getpid()
    return worker


@dataclass
class InProcessWorker:
    worker: ThreadWorker
    threads: list[threading.Thread]

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop after its current job and wait up to
        ``timeout`` (a daemon thread: the process may exit anyway).

        RQ's ``request_stop`` is a signal handler: on an idle worker it raises
        ``StopRequested`` in the caller (meant to end the main thread's loop),
        so the flag the worker thread's loop checks is set here directly."""
        self.worker._stop_requested = True
        with contextlib.suppress(StopRequested):
            self.worker.request_stop(None, None)
        for thread in self.threads:
            thread.join(timeout)


def start_in_process_worker(app: Flask) -> InProcessWorker:
    """Start a worker thread (which also dispatches) for this app's queue."""
    worker = build_worker(app, ThreadWorker)

    def work() -> None:
        worker.dispatch_if_due()  # at once: the first polls need not wait a tick
        worker.work(burst=False, with_scheduler=False, logging_level="WARNING")

    thread = threading.Thread(target=work, name="crosswalk-worker", daemon=True)
    thread.start()
    log.warning("In-process worker thread started (no REDIS_URL).")
    return InProcessWorker(worker, [thread])
