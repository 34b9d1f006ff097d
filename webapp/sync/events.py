"""The timeline every step writes to."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar

from ..extensions import db
from ..models import Event, SyncLink, utcnow

log = logging.getLogger("crosswalk.sync")

_LOG_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


# Events recorded inside ``collected()``: written together at its end.
_collecting: ContextVar[list[dict] | None] = ContextVar("crosswalk_events", default=None)


@contextlib.contextmanager
def collected() -> Iterator[None]:
    """Within the block, ``record`` gathers events instead of adding a row
    each to the session; they are written together when the block ends
    (``insert``: one statement), before the caller's commit. A block that
    raises writes none of them (its transaction is rolled back anyway)."""
    rows: list[dict] = []
    token = _collecting.set(rows)
    try:
        yield
    finally:
        _collecting.reset(token)
    insert(rows, logged=True)


def record(
    kind: str,
    detail: str = "",
    *,
    issue_id: int | None = None,
    integration_id: int | None = None,
    level: str = "info",
) -> Event | None:
    """Add an event to the session (the caller's commit writes it with its
    change); inside ``collected()``, keep it for the block's single write."""
    rows = _collecting.get()
    if rows is not None:
        rows.append(
            {
                "kind": kind,
                "detail": detail,
                "issue_id": issue_id,
                "integration_id": integration_id,
                "level": level,
            }
        )
        log.log(_LOG_LEVELS.get(level, logging.INFO), "%s issue=%s %s", kind, issue_id, detail)
        return None
    event = Event(
        kind=kind, detail=detail, issue_id=issue_id, integration_id=integration_id, level=level
    )
    db.session.add(event)
    log.log(_LOG_LEVELS.get(level, logging.INFO), "%s issue=%s %s", kind, issue_id, detail)
    return event


def insert(rows: list[dict], *, logged: bool = False) -> None:
    """Write events in one statement, without ORM rows (paths that write many,
    or that hold no rows: a new webhook issue, a poll cycle). Each row has
    ``kind`` and ``detail``, and may have ``issue_id``, ``integration_id``,
    ``level``; they are written in order, with the caller's commit.
    ``logged``: the caller logged them already."""
    if not rows:
        return
    now = utcnow()
    values = [
        {
            "issue_id": row.get("issue_id"),
            "integration_id": row.get("integration_id"),
            "kind": row["kind"],
            "level": row.get("level", "info"),
            "detail": row.get("detail", ""),
            "created_at": now,
        }
        for row in rows
    ]
    if len(values) <= _MULTI_ROW:
        # With RETURNING, SQLAlchemy sends a few rows as one multi-row INSERT.
        db.session.execute(_INSERT.returning(_TABLE.c.id), values)
    else:
        # Many: the same short statement for each row, pipelined by psycopg
        # (and parsed once: a long multi-row statement is parsed every time).
        db.session.execute(_INSERT, values)
    if logged:
        return
    for row in values:
        log.log(
            _LOG_LEVELS.get(row["level"], logging.INFO),
            "%s issue=%s %s",
            row["kind"],
            row["issue_id"],
            row["detail"],
        )


_TABLE = Event.__table__
_INSERT = _TABLE.insert()
_MULTI_ROW = 4


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
