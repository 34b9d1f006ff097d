"""The audit log: who changed what, when, with the value before and after.

Every admin edit in the console and every staff action that makes Crosswalk
act (retry a link, run a periodic task now) writes one entry, in the same
transaction as the change it describes: a change is never stored without its
entry, nor an entry without its change. The CLI is an actor too (``cli``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..extensions import db
from ..models import AuditEntry, User


@dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in user, or a named non-user (``cli``, ``config load``)."""

    name: str
    user_id: int | None = None

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(user.email, user.id)


CLI = Actor("cli")


def record(
    actor: Actor,
    action: str,
    target: str,
    *,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Add an entry to the session; the caller's commit writes it with its change.

    ``action`` is ``<thing>.<verb>`` (``rule.update``, ``link.retry``,
    ``task.run_now``, ``user.add``); ``before``/``after`` are JSON-able values
    (None for a creation's before or a deletion's after). Secrets never go in:
    a password change records that it happened, not the hash."""
    entry = AuditEntry(
        user_id=actor.user_id,
        actor=actor.name[:254],
        action=action[:50],
        target=target[:300],
        before=before,
        after=after,
    )
    db.session.add(entry)
    return entry


def recent(limit: int = 200) -> list[AuditEntry]:
    """The newest entries first (the console's read-only log)."""
    return list(
        db.session.execute(
            db.select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
        ).scalars()
    )
