"""The sweeper: re-enqueue pushes left pending (a lost Redis, a crashed
worker), so no issue waits forever without anyone noticing."""

from __future__ import annotations

from datetime import timedelta

from ..extensions import db
from ..models import SyncLink, SyncState, utcnow
from . import dispatch, events


def sweep_pending(older_than: timedelta) -> int:
    """Enqueue every pending link untouched for ``older_than``; return how many."""
    cutoff = utcnow() - older_than
    link_ids = db.session.execute(
        db.select(SyncLink.id, SyncLink.issue_id, SyncLink.integration_id).where(
            SyncLink.state == SyncState.PENDING, SyncLink.updated_at < cutoff
        )
    ).all()
    requeued = 0
    for link_id, issue_id, integration_id in link_ids:
        if dispatch.enqueue_push(link_id):
            requeued += 1
            events.record(
                "requeued",
                "pending push had no job waiting; queued again",
                issue_id=issue_id,
                integration_id=integration_id,
                level="warning",
            )
    db.session.commit()
    return requeued
