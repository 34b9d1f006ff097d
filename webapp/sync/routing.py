"""What ingest asks of the stored configuration for every CRM issue — which
integration takes a request type, which request types are known, where the
webhook secret is — kept in memory per process, so a webhook delivery costs
its own writes and not three reads of configuration.

The snapshot is read again

* when it is older than ``CROSSWALK_CONFIG_CACHE_SECONDS`` (5 s by default):
  a ``config load`` or a console edit in another process reaches this one
  within that time; and
* at once after this process commits a change to the agency, an
  integration or a category (``config load`` run by the app itself, a
  console edit, the category sync), seen by SQLAlchemy session events, so a
  process never acts on what it has just changed. A request type this
  process stores is noted in the snapshot it holds (``note_request_type``).

The snapshot holds plain values, never ORM rows: it outlives sessions and is
shared by threads (it is replaced whole, never changed).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from ..agency_config import CrmSettings
from ..extensions import db
from ..models import Agency, Category, Integration, RequestType

DEFAULT_MAX_AGE = 5.0
# Request types are not here: ingest notes the ones it stores (note_request_type),
# and a title another process changes is seen within the snapshot's age.
_CONFIGURATION = (Agency, Integration, Category)
_EXTENSION = "crosswalk.routing"


@dataclass(frozen=True)
class Route:
    """The enabled category (of an enabled integration) a request type goes to."""

    id: int  # the category's
    integration_id: int
    integration_name: str
    remote_id: str


@dataclass(frozen=True)
class Snapshot:
    crm: CrmSettings | None  # None: no agency configuration loaded
    routes: dict[int, Route] = field(default_factory=dict)
    request_types: dict[int, str] = field(default_factory=dict)  # id → title
    generation: int = 0
    read_at: float = 0.0


# Bumped by every commit (in this process) that changed the configuration.
_generation = 0
_generation_lock = threading.Lock()


def _bump() -> None:
    global _generation
    with _generation_lock:
        _generation += 1


class _Holder:
    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.lock = threading.Lock()


def snapshot() -> Snapshot:
    """The configuration as ingest needs it, read again when stale."""
    holder: _Holder = current_app.extensions.setdefault(_EXTENSION, _Holder())
    max_age = _max_age()
    found = holder.snapshot
    if found is not None and _fresh(found, max_age):
        return found
    with holder.lock:  # one thread reads, the others use what it read
        found = holder.snapshot
        if found is None or not _fresh(found, max_age):
            found = holder.snapshot = _read()
    return found


def _max_age() -> float:
    """``CROSSWALK_CONFIG_CACHE_SECONDS`` from the app's configuration, else the
    environment (like every knob), else 5 s."""
    configured = current_app.config.get("CROSSWALK_CONFIG_CACHE_SECONDS")
    if configured is None:
        configured = os.environ.get("CROSSWALK_CONFIG_CACHE_SECONDS") or DEFAULT_MAX_AGE
    return float(configured)


def forget() -> None:
    """Read the configuration again at the next use (every app of this process)."""
    _bump()


def _fresh(found: Snapshot, max_age: float) -> bool:
    return found.generation == _generation and time.monotonic() - found.read_at < max_age


def _read() -> Snapshot:
    generation, read_at = _generation, time.monotonic()
    agency = db.session.execute(
        db.select(Agency.crm).order_by(Agency.id).limit(1)
    ).scalar_one_or_none()
    if agency is None:
        return Snapshot(None, generation=generation, read_at=read_at)
    rows = db.session.execute(
        db.select(
            Category.crm_request_type_id,
            Category.id,
            Category.integration_id,
            Integration.name,
            Category.remote_id,
        )
        .join(Integration, Integration.id == Category.integration_id)
        .where(
            Category.crm_request_type_id.is_not(None),
            Category.enabled.is_(True),
            Integration.enabled.is_(True),
        )
        .order_by(Category.id)
    ).all()
    routes: dict[int, Route] = {}
    for request_type_id, *route in rows:
        routes.setdefault(request_type_id, Route(*route))  # the lowest category id, as before
    titles = {i: t for i, t in db.session.execute(db.select(RequestType.id, RequestType.title))}
    return Snapshot(CrmSettings.model_validate(agency), routes, titles, generation, read_at)


def route(request_type_id: int | None) -> Route | None:
    """The enabled category of an enabled integration mapped to this request type."""
    if request_type_id is None:
        return None
    return snapshot().routes.get(request_type_id)


def knows_request_type(request_type_id: int | None, title: str | None) -> bool:
    """Whether the request type is stored with this title already."""
    return snapshot().request_types.get(request_type_id) == title  # type: ignore[arg-type]


def note_request_type(request_type_id: int | None, title: str | None) -> None:
    """This process stored (or found) the request type with this title: the
    next issue of the type need not look (until the snapshot is read again)."""
    if request_type_id is not None and title:
        snapshot().request_types[request_type_id] = title


# -- invalidation ------------------------------------------------------------------
def _touches_configuration(session: Session) -> bool:
    return any(
        isinstance(row, _CONFIGURATION) for row in (*session.new, *session.dirty, *session.deleted)
    )


@event.listens_for(Session, "after_flush")
def _note_configuration_change(session: Session, flush_context: Any) -> None:
    if _touches_configuration(session):
        session.info["crosswalk.configuration_changed"] = True


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_change(state: ORMExecuteState) -> None:
    """``UPDATE``/``DELETE`` statements on configuration tables (bulk edits)."""
    if not (state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    if mapper is not None and issubclass(mapper.class_, _CONFIGURATION):
        state.session.info["crosswalk.configuration_changed"] = True


@event.listens_for(Session, "after_commit")
def _forget_after_commit(session: Session) -> None:
    if session.info.pop("crosswalk.configuration_changed", False):
        _bump()


@event.listens_for(Session, "after_rollback")
def _nothing_changed(session: Session) -> None:
    session.info.pop("crosswalk.configuration_changed", None)
