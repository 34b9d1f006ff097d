"""The in-process worker of a web process without ``REDIS_URL`` (a demo, a
small install): a worker thread and a scheduler thread on fakeredis."""

from __future__ import annotations

from flask import Flask

from .rq_workers import InProcessWorker, start_in_process_worker


def start_if_in_process(app: Flask) -> InProcessWorker | None:
    """Start the worker threads when the app's queue lives in this process
    (and ``CROSSWALK_INPROCESS_WORKER`` does not say no); else None."""
    if not (app.task_queue.in_process and app.config["CROSSWALK_INPROCESS_WORKER"]):
        return None
    return start_in_process_worker(app)
