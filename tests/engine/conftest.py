"""The engine tier: the sync engine on SQLite and an in-process queue
(fakeredis), with the vendors in memory (``tests/fakes.py``). No servers, no
HTTP: each test costs milliseconds, so every engine module has its own
module here, and the end-to-end tier proves the same paths over real HTTP."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

import integrations.registry as registry
from tests.fakes import FakeConnector, FakeCrm, FakeGeocoder, FakeRemote
from webapp import create_app
from webapp.agency_config import parse_agency_config
from webapp.extensions import db
from webapp.sync import vendors
from webapp.sync.configure import apply_config

AGENCY = Path(__file__).parent.parent / "data" / "agency"
SECRETS = {"SCF_TOKEN": "t", "SCF_WEBHOOK_SECRET": "test-webhook-secret"}


@pytest.fixture
def remote(monkeypatch) -> FakeRemote:
    """The fake kind's remote system, registered beside the real kinds."""
    kinds = {**registry.connector_kinds(), "fake": FakeConnector}
    monkeypatch.setattr(registry, "connector_kinds", lambda: kinds)
    fake = FakeRemote()
    monkeypatch.setattr(FakeConnector, "remote", fake, raising=False)
    return fake


@pytest.fixture
def crm(monkeypatch) -> FakeCrm:
    fake = FakeCrm()
    monkeypatch.setattr(vendors, "crm_client", lambda agency_row=None: fake)
    return fake


@pytest.fixture
def geocoder(monkeypatch) -> FakeGeocoder:
    fake = FakeGeocoder()
    monkeypatch.setattr(vendors, "geocoder", lambda agency_row=None: fake)
    return fake


def load_agency(name: str = "engine.yaml", **replacements: str) -> None:
    """Apply a fixture agency file (tests/data/agency), after text replacements."""
    text = (AGENCY / name).read_text()
    for old, new in replacements.items():
        assert old in text, f"{old!r} is not in {name}"
        text = text.replace(old, new)
    apply_config(parse_agency_config(text, source=name, base_dir=AGENCY))


def _make_app(database_file: Path) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database_file}",
            "REDIS_URL": None,
            "CROSSWALK_ENVIRON": SECRETS,
            "CROSSWALK_RETRY_INTERVALS": [0, 0],
            "CROSSWALK_CREATE_SETTLE_SECONDS": 0,
        }
    )


@pytest.fixture(scope="session")
def template_database(tmp_path_factory) -> Path:
    """A database with the schema and the fixture agency, built once: each
    test starts from a copy (a file copy costs far less than building it)."""
    path = tmp_path_factory.mktemp("engine") / "template.db"
    app = _make_app(path)
    with pytest.MonkeyPatch.context() as patch:
        kinds = {**registry.connector_kinds(), "fake": FakeConnector}
        patch.setattr(registry, "connector_kinds", lambda: kinds)
        with app.app_context():
            # The schema from the models: tests/e2e/test_migrations proves the
            # migrations build exactly this one.
            db.create_all()
            load_agency()
            db.session.remove()
            db.engine.dispose()
    return path


@pytest.fixture
def app(tmp_path, template_database, remote, crm, geocoder) -> Iterator[Flask]:
    """The app on its own copy of the template database, inside an app
    context (engine tests call engine functions directly)."""
    database = tmp_path / "engine.db"
    shutil.copyfile(template_database, database)
    app = _make_app(database)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
