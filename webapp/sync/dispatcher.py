"""The dispatcher: queues the work the database says is due.

Every worker process ticks it (``workers.rq_workers``, between jobs, every
``CROSSWALK_DISPATCH_INTERVAL`` seconds); one at a time does the work, under
the named lease ``dispatcher``, which another worker takes over when the
holder dies. A tick

1. queues each periodic task whose ``next_run_at`` has come (the schedule is
   the ``periodic_run`` table), and
2. queues a push for each link whose ``due_at`` has come, whose lease is
   free, and that no job was queued for in the last
   ``CROSSWALK_REDISPATCH_AFTER`` seconds.

RQ only delivers: a Redis flush or a dead worker loses queued jobs, not
work — the next tick after the redispatch time queues it again, and a job
that was not lost is found waiting (same id) and not doubled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app

from ..extensions import db
from ..models import PeriodicRun, utcnow
from . import leases, lifecycle, schedule
from .push_job import enqueue_push

log = logging.getLogger(__name__)

LEASE_NAME = "dispatcher"
# Links queued per tick at the most (a backlog drains over several ticks
# rather than in one long transaction).
BATCH = 500


@dataclass
class Tick:
    """What one tick did (``held`` False: another worker dispatches now)."""

    held: bool = False
    tasks: list[str] = field(default_factory=list)
    pushes: int = 0

    def summary(self) -> str:
        if not self.held:
            return "another worker dispatches"
        return f"queued {len(self.tasks)} task(s), {self.pushes} push(es)"


def take_lease(name: str, owner: str, seconds: float) -> bool:
    """The named lease (see ``leases.take``); kept here for the dispatcher's callers."""
    return leases.take(name, owner, seconds)


def queue_due_tasks(now: datetime) -> list[str]:
    """Queue every periodic task whose time has come; its next run is one
    interval later (a task seen for the first time runs now)."""
    queued = []
    for task in schedule.periodic_tasks():
        run = db.session.get(PeriodicRun, task.key)
        if run is None:
            run = PeriodicRun(key=task.key, next_run_at=now)
            db.session.add(run)
        if run.next_run_at > now:
            continue
        # Absorbed if a run is waiting or running; a run RQ still calls started
        # while the task's lease is free died with its worker: queued anew.
        schedule.run_task_now(task.key, lease_is_free=leases.is_free(schedule.lease_name(task.key)))
        run.last_queued_at = now
        run.next_run_at = now + timedelta(seconds=task.interval)
        queued.append(task.key)
    db.session.commit()
    return queued


def queue_due_pushes(now: datetime) -> int:
    """Queue a push for every link that is due, free, and not queued lately;
    how many jobs were queued (one still waiting absorbs the request)."""
    redispatch = timedelta(seconds=current_app.config["CROSSWALK_REDISPATCH_AFTER"])
    link_ids = lifecycle.due_links(now, now - redispatch, BATCH)
    queued = sum(enqueue_push(link_id, lease_is_free=True) for link_id in link_ids)
    lifecycle.mark_dispatched(link_ids, now)
    db.session.commit()
    return queued


def tick(owner: str) -> Tick:
    """One dispatcher tick for the worker ``owner``."""
    interval = current_app.config["CROSSWALK_DISPATCH_INTERVAL"]
    # Held for three ticks: a live holder renews it every tick; a dead one's
    # runs out and the next worker to tick takes over.
    if not take_lease(LEASE_NAME, owner, 3 * interval):
        return Tick()
    now = utcnow()
    return Tick(True, queue_due_tasks(now), queue_due_pushes(now))
