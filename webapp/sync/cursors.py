"""Progress and health rows of the periodic activities (``SyncCursor``)."""

from __future__ import annotations

from ..extensions import db
from ..models import SyncCursor


def cursor(key: str) -> SyncCursor:
    """The cursor row for ``key``, added to the session when it does not exist yet."""
    row = db.session.get(SyncCursor, key)
    if row is None:
        row = SyncCursor(key=key)
        db.session.add(row)
    return row
