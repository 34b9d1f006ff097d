"""The push job: claim the link's lease, run the legs it owes (``push``), and
write down how it went — the database, not the queue, decides what is owed
next and when.

- A lease (``lifecycle.claim``) makes one job at a time work on a link; a
  keeper thread renews it while the job runs, so a job killed mid-run leaves
  a lease that runs out within ``CROSSWALK_LEASE_SECONDS`` and the
  dispatcher queues the link again.
- A failure is retried on the database's clock: ``due_at`` moves out by the
  next of ``CROSSWALK_RETRY_INTERVALS`` (or the vendor's ``Retry-After``,
  when longer); after the last one the link is failed with the reason.
- After a create whose answer was lost, the next attempt waits
  ``CROSSWALK_CREATE_SETTLE_SECONDS`` before its lookup by external id, so a
  create the vendor applies late is adopted instead of sent twice.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from integrations.errors import RateLimitedError

from ..extensions import db
from ..models import SyncLink, SyncState, utcnow
from . import events, jobs, leases, lifecycle, vendors
from .push import WITH_WHAT_A_PUSH_READS, CreateSettling, push_link

log = logging.getLogger(__name__)


def lease_owner() -> str:
    """Who holds a lease: this process, and this job within it."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Failure:
    final: bool
    retry_at: datetime | None
    summary: str


def retry_delay(failures: int, exc: BaseException) -> float | None:
    """Seconds until the next attempt after ``failures`` failures in a row, or
    None when there is none (the error cannot be fixed by retrying, or the
    intervals are used up). A 429's ``Retry-After`` stretches the interval so
    the vendor is not called before it asked."""
    intervals = current_app.config["CROSSWALK_RETRY_INTERVALS"]
    if not jobs.retryable(exc) or failures > len(intervals):
        return None
    delay = float(intervals[failures - 1])
    if isinstance(exc, RateLimitedError) and exc.retry_after and exc.retry_after > delay:
        delay = float(math.ceil(exc.retry_after))
    return delay


def record_failure(link_id: int, exc: BaseException) -> Failure:
    """Write down a failed attempt, and when (if ever) the next one is due."""
    db.session.rollback()
    link = db.session.get(SyncLink, link_id)
    if link is None:
        return Failure(True, None, f"failed: {exc}")
    link.attempts = (link.attempts or 0) + 1
    link.failures_in_row = (link.failures_in_row or 0) + 1
    link.last_error = str(exc) or exc.__class__.__name__
    link.last_error_at = utcnow()
    delay = retry_delay(link.failures_in_row, exc)
    if link.state == SyncState.ACKNOWLEDGED:
        failure = _acknowledged_link_failed(link, delay)
    elif delay is None:
        lifecycle.move(
            link,
            SyncState.FAILED,
            "push_failed",
            f"attempt {link.attempts} failed, giving up: {link.last_error}",
            level="error",
        )
        link.due_at = None
        failure = Failure(True, None, f"failed: {link.last_error}")
    else:
        link.due_at = utcnow() + timedelta(seconds=delay)
        events.record_for(
            link,
            "push_retry",
            f"attempt {link.attempts} failed: {link.last_error}; retrying in {delay:.0f} s",
            level="warning",
        )
        failure = Failure(False, link.due_at, f"retry at {link.due_at:%H:%M:%S}: {exc}")
    db.session.commit()
    return failure


def _acknowledged_link_failed(link: SyncLink, delay: float | None) -> Failure:
    """Only a comment or remote-close leg can fail on an acknowledged link:
    the request stays synced, and what is left is tried again — at the last
    retry interval once the intervals are used up, since it is still owed."""
    if lifecycle.in_doubt(link, lifecycle.CLOSE_REMOTE):
        kind, what = "remote_close_failed", "close the remote request"
    elif lifecycle.in_doubt(link, lifecycle.ATTACH_PHOTO):
        kind, what = "photo_failed", "attach the photo"
    else:
        kind, what = "comments_failed", "send comments to the remote request"
    final = delay is None
    if final:
        # Still owed, so tried again — but slowly: at the longest retry interval,
        # and never sooner than the sweeper's delay (never in a tight loop).
        config = current_app.config
        delay = float(max([*config["CROSSWALK_RETRY_INTERVALS"], config["CROSSWALK_SWEEP_AFTER"]]))
        events.record_for(link, kind, f"could not {what}: {link.last_error}", level="error")
    else:
        events.record_for(
            link,
            "push_retry",
            f"could not {what}: {link.last_error}; retrying in {delay:.0f} s",
            level="warning",
        )
    link.due_at = utcnow() + timedelta(seconds=delay)
    return Failure(final, link.due_at, f"retry at {link.due_at:%H:%M:%S}: {link.last_error}")


def _settling(link_id: int, wait: CreateSettling) -> str:
    """The last create may still land: look it up when the settle time is over."""
    db.session.rollback()
    link = db.session.get(SyncLink, link_id)
    if link.due_at is None or link.due_at < wait.until:
        link.due_at = wait.until
        events.record_for(
            link,
            "create_settling",
            f"the last create's answer was lost; looking it up at {wait.until:%H:%M:%S} UTC, "
            "in case the vendor applies it late",
        )
    db.session.commit()
    return f"waiting until {wait.until:%H:%M:%S} for a create that may still land"


def run_push(link_id: int) -> str:
    """The push job: one link, under its lease; a one-line outcome."""
    owner = lease_owner()
    seconds = current_app.config["CROSSWALK_LEASE_SECONDS"]
    if not lifecycle.claim(link_id, owner, seconds):
        if db.session.get(SyncLink, link_id) is None:
            return f"failed: sync link {link_id} does not exist"  # deleted: nothing is owed
        return "another job holds this link's lease; it does the work"
    retry_now = released = False
    try:
        # Read after the claim's commit: current (push_link finds it loaded).
        link = db.session.get(SyncLink, link_id, options=WITH_WHAT_A_PUSH_READS)
        if link.due_at is not None and link.due_at > utcnow():
            return f"not due until {link.due_at:%H:%M:%S} (backing off)"
        with leases.Keeper(lifecycle.lease_renewer(link_id, owner, seconds), seconds, str(link_id)):
            try:
                with _kept_after_commits():
                    link = push_link(link_id)
            except CreateSettling as wait:
                return _settling(link_id, wait)
            except Exception as exc:
                failure = record_failure(link_id, exc)
                retry_now = not failure.final and failure.retry_at <= utcnow()
                return failure.summary
        state = link.state  # read before the commit expires it
        _succeeded(link, owner)
        released = True
        return state
    finally:
        if not released:
            lifecycle.release(link_id, owner)
        if retry_now:  # after the release, or the retry would find the lease taken
            jobs.enqueue(PUSH_RETRY_JOB, link_id, uuid.uuid4().hex[:8])


@contextlib.contextmanager
def _kept_after_commits() -> Iterator[None]:
    """The session keeps what it read across the legs' commits, instead of
    reading the link, its issue and its integration again after each one.

    Under the link's lease no other job writes the link; what others may
    write meanwhile (a new comment, staff closing the CRM issue) is read
    fresh where it matters: ``_succeeded`` reads the issue again, and the
    notes owed are always queried. A failure rolls back, which forgets all."""
    session = db.session()
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = True


def _succeeded(link: SyncLink, owner: str) -> None:
    """What is owed next, and the lease given back, in one commit."""
    db.session.expire(link.issue)  # staff may have closed it in the CRM during the push
    link.failures_in_row = 0
    lifecycle.settle_due(
        link,
        vendors.settings_of(link.integration).close_remote_on_crm_close,
        vendors.uploads_photos(link.integration),
    )
    lifecycle.release(link.id, owner, commit=False)
    db.session.commit()


# Run every leg a link owes, under its lease.
# What a push did is in the database (the link's state, its timeline), so RQ
# keeps no result of it.
PUSH_JOB = jobs.JobKind("push", run_push, "push-{0}", "push sync link {0}", result_ttl=0)
# A retry due at once, queued by the failed attempt itself (a distinct id: the
# failed attempt's own job is still running when it queues its retry).
PUSH_RETRY_JOB = jobs.JobKind(
    "push-retry",
    lambda link_id, token: run_push(link_id),
    "push-{0}-retry-{1}",
    "retry the push of sync link {0}",
    result_ttl=0,
)


def enqueue_push(link_id: int, *, lease_is_free: bool = False) -> bool:
    """Queue the push of one sync link; False if one is already waiting.

    ``lease_is_free``: the caller saw the link's lease free, so a job of the
    same id that RQ still calls started is not working on it — its worker
    died — and a new one is queued at once, not when RQ notices."""
    return jobs.enqueue(PUSH_JOB, link_id, started_is_stale=lease_is_free)[1]
