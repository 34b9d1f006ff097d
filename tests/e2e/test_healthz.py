"""/healthz: ok only when the database is migrated to this code's revision and
Redis answers; otherwise 503 naming what is wrong. Open311 errors are JSON."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import make_app
from webapp import create_app
from webapp.extensions import db


def test_healthy(app, anon_client):
    response = anon_client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_a_database_without_tables_is_not_healthy(tmp_path):
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}"}
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["ok"] is False
    assert body["checks"]["database"] == "no Crosswalk tables: run `crosswalk db upgrade`"


def test_an_old_schema_is_not_healthy(tmp_path, redis_url):
    app = make_app(f"sqlite:///{tmp_path / 'old.db'}", redis_url)
    with app.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = '0004'"))
        db.session.commit()
    body = app.test_client().get("/healthz").get_json()
    assert body["checks"]["database"].startswith("schema at revision 0004, this code expects 0")


def test_redis_down_is_not_healthy(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'x.db'}", "redis://127.0.0.1:1/0")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"].startswith("unreachable")


@pytest.mark.parametrize("path", ["/open311/v2/nothing-here.json", "/open311/v2/services.xml"])
def test_open311_errors_are_json(anon_client, path):
    response = anon_client.get(path)
    assert response.status_code == 404
    assert response.is_json and response.get_json()["status"] == 404


def test_open311_with_the_database_down_answers_json(tmp_path):
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}"}
    )
    response = app.test_client().get("/open311/v2/services.json")
    assert response.status_code == 503
    assert response.is_json and "database is unavailable" in response.get_json()["error"]


def test_pages_have_the_sites_layout_for_errors(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "Not found" in html and 'href="/issues"' in html  # the navigation
    assert client.post("/healthz").status_code == 405
    assert "Method not allowed" in client.post("/healthz").get_data(as_text=True)


@pytest.mark.both_databases
@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/issues/99999999999999999999"),
        ("get", "/issues/2147483648"),
        ("post", "/links/9223372036854775808/retry"),
        ("get", "/admin/rules/99999999999/"),
        ("get", "/issues?after=99999999999999"),
        ("get", "/issues?before=-5"),
    ],
)
def test_an_id_too_large_for_the_database_is_404(client, method, path):
    assert getattr(client, method)(path).status_code == 404


def test_times_show_in_the_agencys_time_zone_with_utc_on_hover(app, client, sim):
    from tests.conftest import BOUNDARIES, agency_yaml
    from tests.support import queue_crm_poll, run_jobs
    from webapp.agency_config import parse_agency_config
    from webapp.sync.configure import apply_config

    text = agency_yaml(sim.sims).replace("agency:\n", "agency:\n  time_zone: America/New_York\n", 1)
    with app.app_context():
        apply_config(parse_agency_config(text, base_dir=BOUNDARIES))
    issue_id = sim.create_issue(request_type_id=122, summary="Pothole", description="Deep")["id"]
    with app.app_context():
        queue_crm_poll()
        run_jobs(app)

    html = client.get(f"/issues/{issue_id}").get_data(as_text=True)

    assert " EST</time>" in html  # November in New York
    assert ' UTC">' in html  # the UTC time in the title, on hover


def test_an_unknown_time_zone_is_refused_at_load(sim):
    from tests.conftest import BOUNDARIES, agency_yaml
    from webapp.agency_config import ConfigError, parse_agency_config

    text = agency_yaml(sim.sims).replace("agency:\n", "agency:\n  time_zone: Mars/Olympus\n", 1)
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
        parse_agency_config(text, base_dir=BOUNDARIES)
