"""Fixtures shared by the suite: the simulators on loopback, a database
(SQLite; PostgreSQL too for tests marked ``both_databases``), real Redis, and
the app on them.

Markers are applied here, so a subset runs without a server:
``pytest -m "not postgres"`` skips every PostgreSQL run, ``-m "not redis"``
every test that needs the Redis server.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis
from flask_migrate import upgrade
from sqlalchemy import text

from simulators.launch import start_simulators
from tests.simcontrol import SimControl
from webapp import create_app
from webapp.agency_config import parse_agency_config
from webapp.extensions import db
from webapp.sync.configure import apply_config

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")

BOUNDARIES = Path(__file__).parent / "data" / "boundaries"
SCF_TOKEN = "test-scf-token"
WEBHOOK_SECRET = "test-webhook-secret"
CG_USER, CG_PASSWORD = "crosswalk", "test-password"
ORG_ID = 1234
SECRETS = {
    "SCF_TOKEN": SCF_TOKEN,
    "SCF_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "CG_USER": CG_USER,
    "CG_PASSWORD": CG_PASSWORD,
    "LUCITY_USER": "crosswalk",
    "LUCITY_PASSWORD": "demo-password",
}

AGENCY_FILES = Path(__file__).parent / "data" / "agency"


def agency_yaml(sims, name: str = "new_haven.yaml") -> str:
    """A fixture agency file (tests/data/agency) pointed at the running simulators."""
    return (
        (AGENCY_FILES / name)
        .read_text()
        .format(
            scf=sims.scf_base_url,
            org=ORG_ID,
            arcgis=sims.arcgis_url,
            cartegraph=sims.cartegraph_base_url,
            lucity=sims.lucity_base_url,
            internal=sims.lucity_internal_url,
        )
    )


def write_agency_file(directory: Path, sims, text: str | None = None) -> Path:
    """The agency file and its boundary, as an operator would lay them out."""
    (directory / "new_haven.geojson").write_text((BOUNDARIES / "new_haven.geojson").read_text())
    path = directory / "agency.yaml"
    path.write_text(text if text is not None else agency_yaml(sims))
    return path


@pytest.fixture(scope="session")
def simulators():
    sims = start_simulators(
        "127.0.0.1",
        seed=False,
        scf_token=SCF_TOKEN,
        organization_id=ORG_ID,
        cg_username=CG_USER,
        cg_password=CG_PASSWORD,
    )
    yield sims
    sims.stop()


@pytest.fixture
def sim(simulators) -> SimControl:
    control = SimControl(simulators)
    control.reset()
    return control


def _admin_url() -> str:
    return TEST_DATABASE_URL.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    name = f"crosswalk_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(_admin_url(), autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL at {TEST_DATABASE_URL} is not reachable ({exc}); "
            "run `make test`, which starts it, or set TEST_DATABASE_URL"
        )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = _admin_url().rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(_admin_url(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """SQLite for every test that takes ``database_url``; PostgreSQL as well for
    the tests where persistence matters (migrations, locking, JSON columns,
    NULL ordering, concurrency): those are marked ``both_databases``."""
    if "database_url" not in metafunc.fixturenames:
        return
    params: list = ["sqlite"]
    if metafunc.definition.get_closest_marker("both_databases"):
        params.append(pytest.param("postgresql", marks=pytest.mark.postgres))
    metafunc.parametrize("database_url", params, indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "redis_url" in names or "redis_session_url" in names:
            item.add_marker(pytest.mark.redis)
        if "postgres_database" in names:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crosswalk.db'}"
    return request.getfixturevalue("postgres_database")


LOCK_KEY = "crosswalk:test-session"


def _redis_db_url(db_number: int) -> str:
    # The URL's path names the database (redis-py prefers it to a db= argument).
    return urlunsplit(urlsplit(TEST_REDIS_URL)._replace(path=f"/{db_number}"))


@pytest.fixture(scope="session")
def redis_session_url() -> Iterator[str]:
    """A Redis database of its own for this test session.

    Tests flush their database, so two suites running at once on one machine
    (two developers, a developer and CI) must not share one: each session
    claims a free database number with a lock key and keeps it until it ends.
    """
    base = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=3)
    first = base.connection_pool.connection_kwargs.get("db", 0) or 15
    try:
        for db_number in [first, *[n for n in range(15, 0, -1) if n != first]]:
            candidate = redis.Redis.from_url(_redis_db_url(db_number))
            if candidate.set(LOCK_KEY, os.getpid(), nx=True, ex=6 * 3600):
                break
        else:
            pytest.fail("every Redis database 1-15 is claimed by another test session")
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis at {TEST_REDIS_URL} is not reachable ({exc}); "
            "run `make test`, which starts it, or set TEST_REDIS_URL"
        )
    url = _redis_db_url(db_number)
    yield url
    candidate.delete(LOCK_KEY)


@pytest.fixture
def redis_url(redis_session_url: str) -> str:
    connection = redis.Redis.from_url(redis_session_url)
    connection.flushdb()
    connection.set(LOCK_KEY, os.getpid(), ex=6 * 3600)  # flushdb dropped the claim
    return redis_session_url


def make_app(database_url: str, redis_url: str | None, **config):
    """The app on ``database_url``, migrated and empty.

    Migrating costs far more than copying: a SQLite database starts as a copy
    of one migrated once per session, and a PostgreSQL database is migrated
    once and emptied for each test."""
    from webapp.config import database_url as normalise

    if database_url.startswith("sqlite:///"):
        shutil.copyfile(_migrated_sqlite_template(), database_url.removeprefix("sqlite:///"))
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": normalise(database_url, ""),
            "REDIS_URL": redis_url,
            "CROSSWALK_ENVIRON": dict(SECRETS),
            "CROSSWALK_RETRY_INTERVALS": [0, 0],
            # A lost create is looked up again at once (tests of late creates set it).
            "CROSSWALK_CREATE_SETTLE_SECONDS": 0,
            "CROSSWALK_HTTP_TIMEOUT": 5.0,
            "SECRET_KEY": "test-secret-key",
            # Form tokens are proven in tests/e2e/test_auth.py, which turns them on.
            "WTF_CSRF_ENABLED": False,
            **config,
        }
    )
    if not database_url.startswith("sqlite:///"):
        with app.app_context():
            if database_url not in _MIGRATED:
                upgrade(directory=app.extensions["migrate"].directory)
                _MIGRATED.add(database_url)
            _empty_tables()
    return app


def _empty_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    db.session.commit()


_MIGRATED: set[str] = set()
_TEMPLATE: list[Path] = []


def _migrated_sqlite_template() -> Path:
    """A SQLite database built by the migrations, once per test process."""
    if not _TEMPLATE:
        path = Path(tempfile.mkdtemp(prefix="crosswalk-template-")) / "migrated.db"
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
        with app.app_context():
            upgrade(directory=app.extensions["migrate"].directory)
            db.engine.dispose()
        _TEMPLATE.append(path)
    return _TEMPLATE[0]


@pytest.fixture
def app(database_url, redis_url, sim):
    app = make_app(database_url, redis_url)
    with app.app_context():
        apply_config(parse_agency_config(agency_yaml(sim.sims), base_dir=BOUNDARIES))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


ADMIN_EMAIL, STAFF_EMAIL = "admin@test.invalid", "staff@test.invalid"
TEST_PASSWORD = "correct horse battery staple"


def add_user(app, email: str, role: str = "staff", password: str = TEST_PASSWORD) -> int:
    """A user in the app's database (as ``crosswalk users add`` makes one); its id."""
    from webapp.auth import users
    from webapp.sync.audit import CLI

    with app.app_context():
        user_id = users.create_user(email, password, role, actor=CLI).id
        db.session.remove()
    return user_id


def sign_in(app, email: str, password: str = TEST_PASSWORD):
    """A test client signed in through the real ``/login`` form."""
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def signed_in_client(app, role: str = "admin"):
    """A client signed in as a new user of ``role`` (admin@… or staff@test.invalid)."""
    email = ADMIN_EMAIL if role == "admin" else STAFF_EMAIL
    add_user(app, email, role)
    return sign_in(app, email)


@pytest.fixture
def client(app):
    """Signed in as an admin (admin@test.invalid)."""
    return signed_in_client(app, "admin")


@pytest.fixture
def staff_client(app):
    """Signed in as staff (staff@test.invalid)."""
    return signed_in_client(app, "staff")


@pytest.fixture
def anon_client(app):
    """Nobody signed in."""
    return app.test_client()
