"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.conftest import make_app
from webapp.extensions import db


@pytest.mark.both_databases
def test_migrations_match_the_models(database_url):
    app = make_app(database_url, None)
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": False, "render_as_batch": True}
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_downgrade_and_upgrade_again(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'round.db'}", None)
    with app.app_context():
        directory = app.extensions["migrate"].directory
        downgrade(directory=directory, revision="base")
        upgrade(directory=directory)
        assert "sync_link" in db.inspect(db.engine).get_table_names()
