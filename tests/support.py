"""Helpers the tests import (fixtures live in conftest.py)."""

from __future__ import annotations

from webapp.extensions import db
from webapp.models import Event, Integration, SyncLink
from webapp.sync import schedule
from workers.rq_workers import ThreadWorker, build_worker


def run_jobs(app, *, max_jobs: int | None = None) -> bool:
    """Work the queue in this process until it is empty (RQ burst mode)."""
    worker = build_worker(app, ThreadWorker)
    return worker.work(burst=True, max_jobs=max_jobs, logging_level="WARNING")


def queue_crm_poll() -> bool:
    """Queue a CRM poll as the schedule would (the caller runs the jobs)."""
    return schedule.run_task_now("crm-poll")


# -- reading the hub's state back (helpers every tier shares) --------------------
def link_of(issue_id: int) -> SyncLink | None:
    """The issue's sync link as stored now (the session's cache dropped first)."""
    db.session.expire_all()
    return db.session.execute(
        db.select(SyncLink).where(SyncLink.issue_id == issue_id)
    ).scalar_one_or_none()


def fresh_link(link_id: int) -> SyncLink | None:
    """The link as stored now (the session's cache dropped first)."""
    db.session.expire_all()
    return db.session.get(SyncLink, link_id)


def event_kinds(issue_id: int) -> list[str]:
    """The kinds on the issue's timeline, oldest first."""
    query = db.select(Event.kind).where(Event.issue_id == issue_id).order_by(Event.id)
    return list(db.session.execute(query).scalars())


def events_of_kind(kind: str, issue_id: int | None = None) -> list[Event]:
    """Every event of ``kind`` (on one issue's timeline, when given), oldest first."""
    query = db.select(Event).where(Event.kind == kind).order_by(Event.id)
    if issue_id is not None:
        query = query.where(Event.issue_id == issue_id)
    return list(db.session.execute(query).scalars())


def integration_id(name: str | None = None) -> int:
    """The id of the integration ``name`` (else of the first one configured)."""
    query = db.select(Integration.id).order_by(Integration.id)
    if name is not None:
        query = query.where(Integration.name == name)
    return db.session.execute(query).scalars().first()
