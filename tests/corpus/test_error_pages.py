"""The database-error page names no host, port, database or user: the detail
goes to the log, the page gives a general reason and what to run."""

from __future__ import annotations

import logging

import pytest

from webapp import create_app


@pytest.mark.parametrize(
    "url, reason",
    [
        # Nothing listens on port 1: the connection is refused at once.
        (
            "postgresql+psycopg://crosswalk_admin:pw-in-url@127.0.0.1:1/agency_secret_db",
            "could not be reached",
        ),
        ("sqlite:///{tmp}/never_migrated_db.sqlite", "does not have the Crosswalk tables"),
    ],
)
def test_the_database_error_page_shows_no_server_detail(tmp_path, caplog, url, reason):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url.format(tmp=tmp_path),
            "REDIS_URL": None,
            "WTF_CSRF_ENABLED": False,
        }
    )
    with caplog.at_level(logging.ERROR):
        # Signing in is the first thing that reads the database.
        response = app.test_client().post(
            "/login", data={"email": "staff@agency.example", "password": "x" * 12}
        )
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert reason in page and "crosswalk db upgrade" in page
    for detail in (
        "127.0.0.1",
        "agency_secret_db",
        "crosswalk_admin",
        "pw-in-url",
        "never_migrated",
    ):
        assert detail not in page
    assert "database error on /login" in caplog.text  # the detail is in the log
