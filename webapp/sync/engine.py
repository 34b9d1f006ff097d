"""The engine's entry points: everything the web views, the ``crosswalk`` CLI
and the background jobs ask of the sync engine, each use case once.

Callers stay thin: they parse their input (an HTTP request, command-line
options, a job's arguments), call one function here, and show its result.
None of them decides which links to push, whether a feature is on, or which
job id a piece of work has: that is decided below, the same way for all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app

from integrations.base import Check
from integrations.seeclickfix import CrmIssue

from ..agency_config import AgencyConfig
from ..extensions import db
from ..models import Integration, Rule, SyncLink, utcnow
from . import (
    admin_edits,
    audit,
    boundary_admin,
    category_sync,
    config_export,
    configure,
    crm_poll,
    dispatcher,
    importer,
    ingest,
    jobs,
    lifecycle,
    message_preview,
    preflight,
    push_job,
    remote_poll,
    rule_preview,
    schedule,
    vendors,
    webhook,
)
from . import health as health_module
from . import job_board as job_board_module
from . import lag as lag_module
from . import push as push_module
from .audit import Actor
from .push import LinkNotFoundError
from .schedule import PeriodicTask, TaskNotAvailable

__all__ = [
    "LinkNotFoundError",
    "apply_config",
    "PeriodicTask",
    "TaskNotAvailable",
    "dispatch",
    "export_config",
    "fetch_issue",
    "find_tasks",
    "import_requests",
    "job_kind",
    "links_to_push_again",
    "periodic_tasks",
    "poll_crm",
    "poll_integration",
    "preview_messages",
    "preview_rule",
    "push",
    "push_here",
    "receive_issue",
    "receive_webhook",
    "record_push_failure",
    "retry",
    "run_preflight",
    "run_task",
    "run_task_now",
    "rule_test_links",
    "save_category",
    "save_integration_messages",
    "save_rule",
    "set_rule_enabled",
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
def apply_config(
    config: AgencyConfig, *, overwrite_console_edits: bool = False
) -> configure.ApplyReport:
    """A validated agency file into the database, in one transaction, idempotently;
    values edited in the console are kept (each difference reported) unless
    ``overwrite_console_edits``."""
    return configure.apply_config(config, overwrite_console_edits=overwrite_console_edits)


def export_config(base_dir: Path | None = None) -> str:
    """The configuration (file + console edits) as an agency file's text."""
    return config_export.export_config(base_dir)


# ------------------------------------------------------------- the admin console
# Edits validate as the file does, and write the change, its console mark and
# its audit entry in one commit (admin_edits); previews read only.
RuleInput = admin_edits.RuleInput
EditResult = admin_edits.EditResult
EditNotFoundError = admin_edits.EditNotFoundError


def save_rule(actor: Actor, rule_id: int | None, form: RuleInput) -> EditResult:
    return admin_edits.save_rule(actor, rule_id, form)


def set_rule_enabled(actor: Actor, rule_id: int, enabled: bool) -> Rule:
    return admin_edits.set_rule_enabled(actor, rule_id, enabled)


def preview_rule(
    form: RuleInput, issue_id: int | None, rule_id: int | None = None
) -> rule_preview.RulePreview:
    """A rule against one linked issue's remote record, read live; writes nothing."""
    return rule_preview.preview_rule(form, issue_id, rule_id)


def rule_test_links(integration_id: int) -> list[rule_preview.LinkChoice]:
    return rule_preview.pickable_links(integration_id)


def save_integration_messages(
    actor: Actor,
    integration_id: int,
    messages: Mapping[str, str | None],
    by_status: Mapping[str, str | None] | None = None,
) -> EditResult:
    return admin_edits.save_integration_messages(actor, integration_id, messages, by_status)


def save_category(actor: Actor, category_id: int, values: Mapping[str, Any]) -> EditResult:
    return admin_edits.save_category(actor, category_id, values)


def preview_messages(integration_id: int) -> message_preview.MessagePreview:
    return message_preview.preview_messages(integration_id)


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


def retry(link_id: int, actor: audit.Actor | None = None) -> RetryOutcome:
    """Staff asked to push a link again: a failed one goes back to pending,
    and a push is queued now (backoff or not) when the link owes work.
    ``actor`` (a signed-in user, ``audit.CLI``) gets an audit entry in the
    same commit."""
    link = db.session.get(SyncLink, link_id)
    if link is None:
        raise LinkNotFoundError(f"sync link {link_id} does not exist")
    before = link.state
    reset = lifecycle.request_retry(link)
    close_remote = vendors.settings_of(link.integration).close_remote_on_crm_close
    owes = lifecycle.owes_work(link, close_remote, vendors.uploads_photos(link.integration))
    if owes:
        link.due_at = utcnow()
    if actor is not None:
        audit.record(
            actor,
            "link.retry",
            f"link {link.id} (issue {link.issue_id})",
            before={"state": before},
            after={"state": link.state, "push_owed": owes},
        )
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


def run_task_now(task: PeriodicTask, actor: audit.Actor | None = None) -> bool:
    """Queue a run of ``task`` now, with the same job id as its scheduled runs:
    False when a run is already queued or running (it is not doubled).
    ``actor`` (staff in the console) gets an audit entry either way."""
    queued = schedule.run_task_now(task.key)
    if actor is not None:
        audit.record(
            actor,
            "task.run_now",
            task.label,
            after="queued" if queued else "already queued or running",
        )
        db.session.commit()
    return queued


def task_by_key(key: str) -> PeriodicTask | None:
    """The configured periodic task ``key`` (``crm-poll``, ``remote-poll-public-works``)."""
    return schedule.task_by_key(key)


def job_board() -> job_board_module.Board:
    """The jobs page: periodic tasks with their next run and last run's state,
    and RQ's queued, running, scheduled and failed jobs (read-only)."""
    return job_board_module.job_board()


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


def sync_lag(days: int = lag_module.WINDOW_DAYS) -> list[lag_module.IntegrationLag]:
    """Per integration and day: report → acknowledgment and crew close → CRM
    close (p50, p90), and requests created, closed and failed (read-only)."""
    return lag_module.sync_lag(days)


def health() -> health_module.Health:
    """``/healthz``: the database reachable and migrated to this code's
    revision, and Redis reachable when configured."""
    return health_module.check()


def display_time_zone() -> str | None:
    """The IANA time zone the console shows times in (``agency.time_zone``)."""
    agency = vendors.find_agency()
    return agency.time_zone if agency is not None else None


def boundary_map() -> boundary_admin.BoundaryMap:
    """The agency boundary to scale with the importer's newest candidates."""
    return boundary_admin.boundary_map()


def check_boundary_upload(text: str) -> boundary_admin.UploadCheck:
    """An uploaded boundary judged by the loader's rules and drawn (read-only)."""
    return boundary_admin.check_upload(text)


def replace_boundary(text: str, actor: audit.Actor) -> Path:
    """An accepted boundary written over the configured file, audited."""
    return boundary_admin.replace(text, actor)
