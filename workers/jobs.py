"""Every job the queue runs. Enqueued by dotted path from the sync engine."""

from __future__ import annotations

import logging
import math
from datetime import timedelta

from flask import current_app
from rq import get_current_job

from integrations.errors import IntegrationConfigError, PermanentError, RateLimitedError
from webapp.sync import categories, importer, ingest, poll, push, sweep

from .context import with_app_context

log = logging.getLogger(__name__)

# Retrying cannot fix these: fail at once with the reason.
NOT_RETRYABLE = (PermanentError, IntegrationConfigError, push.LinkNotFoundError)


def _next_retry_in(exc: BaseException) -> tuple[bool, float | None]:
    """(final, seconds until the retry) for the job that is running now.

    A 429's ``Retry-After`` stretches the next RQ retry interval so the vendor
    is not called before it asked.
    """
    job = get_current_job()
    if job is None or not job.retries_left or isinstance(exc, NOT_RETRYABLE):
        return True, None
    intervals = list(job.retry_intervals or [0])
    index = max(len(intervals) - job.retries_left, 0)
    index = min(index, len(intervals) - 1)
    delay = float(intervals[index])
    if isinstance(exc, RateLimitedError) and exc.retry_after and exc.retry_after > delay:
        delay = float(math.ceil(exc.retry_after))
        intervals[index] = int(delay)
        job.retry_intervals = intervals
    return False, delay


@with_app_context
def push_issue_job(link_id: int) -> str:
    try:
        link = push.push_link(link_id)
    except Exception as exc:
        final, delay = _next_retry_in(exc)
        push.record_failure(link_id, exc, final=final, retry_in=delay)
        if final:
            return f"failed: {exc}"
        raise  # RQ schedules the retry with the interval above
    return link.state


@with_app_context
def poll_crm_job() -> str:
    report = ingest.poll_crm()
    return f"seen {report.seen}, new {report.created}, failed {report.failed}"


@with_app_context
def poll_integration_job(integration_id: int) -> str:
    report = poll.poll_integration(integration_id)
    return f"polled {report.polled} in {report.batches} batch(es), closed {report.closed}"


@with_app_context
def sync_categories_job(integration_id: int) -> str:
    report = categories.sync_categories(integration_id)
    categories.refresh_request_types(integration_id)
    return report.summary()


@with_app_context
def import_requests_job(integration_id: int) -> str:
    return importer.import_requests(integration_id).summary()


@with_app_context
def sweep_job() -> str:
    seconds = current_app.config["CROSSWALK_SWEEP_AFTER"]
    return f"requeued {sweep.sweep_pending(timedelta(seconds=seconds))}"
