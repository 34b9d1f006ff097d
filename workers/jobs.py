"""The one RQ job function: run a job of the engine's registry.

Thin by design: push an app context, look the job kind up
(``engine.JOB_KINDS``), call its engine function and return what it says.
Failures, retries and what is owed next are the engine's business, in the
database (``webapp.sync.push_job``): RQ only delivers the job.
"""

from __future__ import annotations

from typing import Any

from webapp.sync import engine

from .context import with_app_context


@with_app_context
def perform(kind_name: str, *args: Any) -> Any:
    """Run the job ``kind_name`` with ``args``; RQ stores what it returns."""
    return engine.job_kind(kind_name).run(*args)
