"""The sweeper: re-enqueue pushes left pending (a lost Redis, a crashed
worker) and comments that could not be sent to the remote request, so no
issue waits forever without anyone noticing."""

from __future__ import annotations

from datetime import timedelta

from ..extensions import db
from ..models import Comment, SyncLink, SyncState, utcnow
from . import dispatch, events
from .ingest import NOTE_ORIGINS


def sweep_pending(older_than: timedelta) -> int:
    """Enqueue every link with work left for ``older_than``; return how many.

    Work left: a pending push, or (on an acknowledged link) comments still
    unsent after a failed attempt.
    """
    cutoff = utcnow() - older_than
    columns = (SyncLink.id, SyncLink.issue_id, SyncLink.integration_id)
    pending = db.session.execute(
        db.select(*columns).where(SyncLink.state == SyncState.PENDING, SyncLink.updated_at < cutoff)
    ).all()
    unsent = db.session.execute(
        db.select(*columns)
        .join(Comment, Comment.issue_id == SyncLink.issue_id)
        .where(
            SyncLink.state == SyncState.ACKNOWLEDGED,
            Comment.pushed_at.is_(None),
            Comment.origin.in_(NOTE_ORIGINS),
            Comment.seen_at < cutoff,
        )
        .distinct()
    ).all()
    requeued = 0
    for (link_id, issue_id, integration_id), what in [
        *((row, "pending push") for row in pending),
        *((row, "unsent comments") for row in unsent),
    ]:
        if dispatch.enqueue_push(link_id):
            requeued += 1
            events.record(
                "requeued",
                f"{what} had no job waiting; queued again",
                issue_id=issue_id,
                integration_id=integration_id,
                level="warning",
            )
    db.session.commit()
    return requeued
