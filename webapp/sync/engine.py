"""The engine's entry points: everything the web views, the ``crosswalk`` CLI
and the background jobs ask of the sync engine, each use case once.

Callers stay thin: they parse their input (an HTTP request, command-line
options, a job's arguments), call one function here, and show its result.
None of them decides which links to push, whether a feature is on, or which
job id a piece of work has: that is decided below, the same way for all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from integrations.base import Check
from integrations.seeclickfix import CrmIssue

from ..agency_config import AgencyConfig
from ..extensions import db
from ..models import Integration, SyncLink, utcnow
from . import (
    category_sync,
    configure,
    crm_poll,
    dispatcher,
    importer,
    ingest,
    jobs,
    lifecycle,
    preflight,
    push_job,
    remote_poll,
    schedule,
    vendors,
    webhook,
)
from . import push as push_module
from .push import LinkNotFoundError
from .schedule import PeriodicTask, TaskNotAvailable

__all__ = [
    "LinkNotFoundError",
    "apply_config",
    "PeriodicTask",
    "TaskNotAvailable",
    "dispatch",
    "fetch_issue",
    "find_tasks",
    "import_requests",
    "job_kind",
    "links_to_push_again",
    "periodic_tasks",
    "poll_crm",
    "poll_integration",
    "push",
    "push_here",
    "receive_issue",
    "receive_webhook",
    "record_push_failure",
    "retry",
    "run_preflight",
    "run_task",
    "run_task_now",
    "sweep",
    "sync_categories",
]


# Every kind of background job, by name: the worker process runs a job by
# looking its kind up here (workers.jobs.perform).
JOB_KINDS: dict[str, jobs.JobKind] = {
    kind.name: kind for kind in (push_job.PUSH_JOB, push_job.PUSH_RETRY_JOB, schedule.TASK_JOB)
}


def job_kind(name: str) -> jobs.JobKind:
    try:
        return JOB_KINDS[name]
    except KeyError:
        raise LookupError(f"unknown job kind {name!r} (known: {', '.join(JOB_KINDS)})") from None


# ------------------------------------------------------------------ configuration
def apply_config(config: AgencyConfig) -> configure.ApplyReport:
    """A validated agency file into the database, in one transaction, idempotently."""
    return configure.apply_config(config)


def run_preflight() -> list[Check]:
    """``crosswalk check``: every configured name tried against the live CRM,
    geocoder and enabled integrations, read-only; one ``Check`` per name."""
    return preflight.run_preflight()


# ------------------------------------------------------------------ CRM issues in
def receive_issue(crm: CrmIssue, *, source: str) -> ingest.IngestResult:
    """Store one CRM issue and queue the pushes it owes."""
    return ingest.receive(crm, source=source)


def fetch_issue(issue_id: int, *, source: str = "CLI") -> ingest.IngestResult:
    """Read one issue from the CRM now, store it, queue its pushes."""
    return ingest.receive(vendors.crm_client().get_issue(issue_id), source=source)


def receive_webhook(
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    delivery_id: str | None = None,
) -> webhook.WebhookResult:
    """A signed CRM event: verified, validated, stored, pushes queued.
    Raises ``webhook.WebhookRejected`` (with the HTTP status) or
    ``vendors.NotConfiguredError``."""
    return webhook.handle(
        body,
        timestamp,
        signature,
        secret=vendors.webhook_secret(),
        tolerance=current_app.config["CROSSWALK_WEBHOOK_TOLERANCE"],
        delivery_id=delivery_id,
    )


# ------------------------------------------------------------------------ pushes
def push(link_id: int) -> SyncLink:
    """Run every leg the link still owes, here, raising on failure (the push
    job, ``push_job.run_push``, adds the lease and the failure bookkeeping)."""
    return push_module.push_link(link_id)


def record_push_failure(link_id: int, exc: BaseException) -> push_job.Failure:
    """Write down a failed attempt and when the next one is due."""
    return push_job.record_failure(link_id, exc)


@dataclass
class PushOutcome:
    link_id: int
    issue_id: int
    state: str
    error: str | None = None


def push_here(link_id: int) -> PushOutcome:
    """Staff push one link now, in this process (the CLI without a queue): a
    failed link is reset first; the push runs as the job does (lease, retry
    policy), and a failure is reported with the vendor's words."""
    link = push_module.reset_for_retry(link_id)
    issue_id, started = link.issue_id, utcnow()
    link.due_at = started  # staff asked: now, whatever backoff there was
    db.session.commit()
    push_job.run_push(link_id)
    db.session.expire_all()
    link = db.session.get(SyncLink, link_id)
    failed_now = link.last_error_at is not None and link.last_error_at >= started
    return PushOutcome(link_id, issue_id, link.state, link.last_error if failed_now else None)


@dataclass
class RetryOutcome:
    link: SyncLink
    reset: bool  # a failed link went back to pending
    queued: bool  # a push was queued (False: nothing owed, or one already waiting)


def retry(link_id: int) -> RetryOutcome:
    """Staff asked to push a link again: a failed one goes back to pending,
    and a push is queued now (backoff or not) when the link owes work."""
    link = db.session.get(SyncLink, link_id)
    if link is None:
        raise LinkNotFoundError(f"sync link {link_id} does not exist")
    reset = lifecycle.request_retry(link)
    close_remote = vendors.settings_of(link.integration).close_remote_on_crm_close
    owes = lifecycle.owes_work(link, close_remote, vendors.uploads_photos(link.integration))
    if owes:
        link.due_at = utcnow()
    db.session.commit()
    queued = push_job.enqueue_push(link.id) if owes else False
    return RetryOutcome(link, reset, queued)


def links_to_push_again(
    integration_name: str | None = None, issue_id: int | None = None
) -> list[int]:
    """What staff mean by "push again": one issue's links, else every pending
    or failed link (of one integration, else of every enabled one)."""
    query = db.select(Integration.id).order_by(Integration.id)
    if integration_name:
        query = query.where(Integration.name == integration_name)
    else:
        query = query.where(Integration.enabled.is_(True))
    integration_ids = list(db.session.execute(query).scalars())
    if integration_name and not integration_ids:
        raise TaskNotAvailable(f"no integration named {integration_name!r}")
    links = lifecycle.links_to_push_again(integration_ids, issue_id)
    if issue_id is not None and not links:
        raise LinkNotFoundError(f"issue {issue_id} has no sync link (not routed yet?)")
    return links


# ------------------------------------------------------------------ periodic work
def periodic_tasks() -> list[PeriodicTask]:
    return schedule.periodic_tasks()


def find_tasks(kind: str, integration_name: str | None = None) -> list[PeriodicTask]:
    return schedule.find_tasks(kind, integration_name)


def run_task(task: PeriodicTask) -> Any:
    """Run a periodic task here and now; its report (with ``summary()``)."""
    return task.run()


def run_task_now(task: PeriodicTask) -> bool:
    """Queue a run of ``task`` now, with the same job id as its scheduled runs:
    False when a run is already queued or running (it is not doubled)."""
    return schedule.run_task_now(task.key)


def dispatch(owner: str) -> dispatcher.Tick:
    """One dispatcher tick for the worker ``owner``: queue the periodic tasks
    and the pushes the database says are due (one worker at a time)."""
    return dispatcher.tick(owner)


def poll_crm() -> crm_poll.CrmPollReport:
    return crm_poll.poll_crm()


def poll_integration(
    integration_id: int, *, issue_id: int | None = None
) -> remote_poll.RemotePollReport:
    return remote_poll.poll_integration(integration_id, issue_id=issue_id)


def sync_categories(integration_id: int) -> category_sync.CategoryReport:
    return category_sync.sync_categories_and_questions(integration_id)


def import_requests(integration_id: int) -> importer.ImportReport:
    return importer.import_requests(integration_id)


def sweep() -> Any:
    return schedule.find_tasks("sweep")[0].run()
