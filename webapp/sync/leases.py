"""Named leases: one process at a time does a piece of work (the dispatcher,
a periodic task's run), and a process that dies loses its lease when it runs
out — so the database, not RQ's idea of a "started" job, says whether
anybody is still at it.

Taken with a conditional UPDATE on a row made once on first use: atomic on
SQLite and on PostgreSQL alike. A ``Keeper`` thread renews a lease while the
work runs; it dies with its process, so a killed worker's lease runs out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Lease, utcnow

log = logging.getLogger(__name__)


def take_row(
    model: Any, key: Any, owner_attr: str, until_attr: str, owner: str, seconds: float
) -> bool:
    """Set ``owner`` and an end ``seconds`` away on the row of ``model`` that
    ``key`` selects, if its lease is free, run out, or ours; commit. One
    conditional UPDATE: atomic on both databases, so two processes never both
    hold it. (Named leases and sync links share this.)"""
    now = utcnow()
    owner_column, until_column = getattr(model, owner_attr), getattr(model, until_attr)
    taken = db.session.execute(
        db.update(model)
        .where(
            key,
            until_column.is_(None) | (until_column < now) | (owner_column == owner),
        )
        .values({owner_attr: owner, until_attr: now + timedelta(seconds=seconds)})
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return taken.rowcount == 1


def release_row(
    model: Any, key: Any, owner_attr: str, until_attr: str, owner: str, *, commit: bool = True
) -> None:
    """Give the row's lease back (only ours); commit, unless the caller's
    commit is to carry it (with what the work wrote last)."""
    db.session.execute(
        db.update(model)
        .where(key, getattr(model, owner_attr) == owner)
        .values({owner_attr: None, until_attr: None})
        .execution_options(synchronize_session=False)
    )
    if commit:
        db.session.commit()


def row_renewer(
    model: Any, key: Any, owner_attr: str, until_attr: str, owner: str, seconds: float
) -> Callable[[], None]:
    """A ``Keeper`` callback moving the row's lease end on, on its own connection
    (the keeper's thread must not share the job's session)."""
    engine = db.engine

    def renew() -> None:
        with engine.begin() as connection:
            connection.execute(
                db.update(model)
                .where(key, getattr(model, owner_attr) == owner)
                .values({until_attr: utcnow() + timedelta(seconds=seconds)})
            )

    return renew


def take(name: str, owner: str, seconds: float) -> bool:
    """The lease ``name`` for ``seconds`` if it is free, run out, or ours; commit."""
    if db.session.get(Lease, name) is None:
        db.session.add(Lease(name=name))
        try:
            db.session.commit()
        except IntegrityError:  # another process made it at the same moment
            db.session.rollback()
    return take_row(Lease, Lease.name == name, "owner", "until", owner, seconds)


def release(name: str, owner: str) -> None:
    release_row(Lease, Lease.name == name, "owner", "until", owner)


def is_free(name: str, now: datetime | None = None) -> bool:
    row = db.session.get(Lease, name)
    return row is None or row.until is None or row.until < (now or utcnow())


class Keeper:
    """Calls ``renew`` every third of a lease's length while work runs.

    A thread of the worker's own process, on its own connection: if the
    process is killed the renewals stop with it, and the lease runs out."""

    def __init__(self, renew: Callable[[], None], seconds: float, name: str) -> None:
        self.renew, self.seconds = renew, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{name}", daemon=True)

    def __enter__(self) -> Keeper:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                self.renew()
            except Exception:  # a missed renewal only shortens the lease
                log.warning("could not renew a lease", exc_info=True)


def renewer(name: str, owner: str, seconds: float) -> Callable[[], None]:
    """A ``Keeper`` callback renewing the named lease."""
    return row_renewer(Lease, Lease.name == name, "owner", "until", owner, seconds)
