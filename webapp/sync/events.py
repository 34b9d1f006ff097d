"""The timeline every step writes to."""

from __future__ import annotations

import logging

from ..extensions import db
from ..models import Event, SyncLink

log = logging.getLogger("crosswalk.sync")

_LOG_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def record(
    kind: str,
    detail: str = "",
    *,
    issue_id: int | None = None,
    integration_id: int | None = None,
    level: str = "info",
) -> Event:
    """Add an event to the session (the caller's commit writes it with its change)."""
    event = Event(
        kind=kind, detail=detail, issue_id=issue_id, integration_id=integration_id, level=level
    )
    db.session.add(event)
    log.log(_LOG_LEVELS.get(level, logging.INFO), "%s issue=%s %s", kind, issue_id, detail)
    return event


def record_for(link: SyncLink, kind: str, detail: str = "", *, level: str = "info") -> Event:
    """``record`` on the timeline of ``link``'s issue, naming its integration."""
    return record(
        kind, detail, issue_id=link.issue_id, integration_id=link.integration_id, level=level
    )


def record_now(kind: str, detail: str = "", **kwargs) -> None:
    """Write an event in its own transaction (after a rollback, for failures)."""
    try:
        record(kind, detail, **kwargs)
        db.session.commit()
    except Exception:  # the timeline must never hide the original failure
        db.session.rollback()
        log.exception("could not record event %s", kind)
