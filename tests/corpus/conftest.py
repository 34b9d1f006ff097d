"""The bad-input corpus: every input in it must be refused clearly (a named
field, a one-line reason, an ``IntegrationError``), never with a traceback
or a bare 500, and must change no row of any table.

The apps here are module-scoped: a refused input changes nothing, so the
cases of a module can share one database (one per kind of database), which
keeps a corpus of hundreds of cases cheap. Cases that do write (the first
delivery of a replayed webhook) use a fresh issue id.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import BOUNDARIES, make_app
from webapp.agency_config import parse_agency_config
from webapp.extensions import db
from webapp.sync.configure import apply_config

CORPUS_DATA = Path(__file__).parent.parent / "data" / "corpus"
AGENCY_FILE = CORPUS_DATA / "agency.yaml"


def table_counts(app: Flask) -> dict[str, int]:
    """The number of rows of every table the models declare, and the queue depth."""
    with app.app_context():
        counts = {
            table.name: db.session.execute(
                db.select(db.func.count()).select_from(table)
            ).scalar_one()
            for table in db.metadata.sorted_tables
        }
        counts["(queued jobs)"] = app.task_queue.depth()
        db.session.remove()
    return counts


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def corpus_app(request, tmp_path_factory) -> Iterator[Flask]:
    """The app with the corpus agency loaded, on SQLite and on PostgreSQL (where
    32-bit ids, column lengths and NUL are enforced), with an in-process queue."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('corpus') / 'crosswalk.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    app = make_app(url, None)
    with app.app_context():
        apply_config(parse_agency_config(AGENCY_FILE.read_text(), base_dir=BOUNDARIES))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
