"""Helpers the tests import (fixtures live in conftest.py)."""

from __future__ import annotations

from webapp.sync import schedule
from workers.rq_workers import ThreadWorker, build_worker


def run_jobs(app, *, max_jobs: int | None = None) -> bool:
    """Work the queue in this process until it is empty (RQ burst mode)."""
    worker = build_worker(app, ThreadWorker)
    return worker.work(burst=True, max_jobs=max_jobs, logging_level="WARNING")


def queue_crm_poll() -> bool:
    """Queue a CRM poll as the schedule would (the caller runs the jobs)."""
    return schedule.run_task_now("crm-poll")
