"""The one RQ job function: run a job of the engine's registry.

Thin by design: push an app context, look the job kind up
(``webapp.sync.jobs``), call its engine entry point. What RQ alone knows —
whether retries are left and when the next one runs — is decided here and
handed to the engine's failure bookkeeping.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from rq import get_current_job

from integrations.errors import RateLimitedError
from webapp.sync import engine, jobs

from .context import with_app_context

log = logging.getLogger(__name__)


def next_retry_in(exc: BaseException) -> tuple[bool, float | None]:
    """(final, seconds until the retry) for the job that is running now.

    A 429's ``Retry-After`` stretches the next RQ retry interval so the vendor
    is not called before it asked.
    """
    job = get_current_job()
    if job is None or not job.retries_left or not jobs.retryable(exc):
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
def perform(kind_name: str, *args: Any) -> Any:
    """Run the job ``kind_name`` with ``args``; RQ stores what it returns."""
    kind = engine.job_kind(kind_name)
    try:
        result = kind.run(*args)
    except Exception as exc:
        if kind.on_failure is None:
            raise
        final, delay = next_retry_in(exc)
        kind.on_failure(*args, exc=exc, final=final, retry_in=delay)
        if final:
            return f"failed: {exc}"
        raise  # RQ schedules the retry with the interval above
    return result
