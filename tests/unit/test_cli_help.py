"""The top-level CLI speaks for Crosswalk: its version, its commands, the
operator's db commands only (developer commands hidden, still callable)."""

from __future__ import annotations

from click.testing import CliRunner

from webapp.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_version_is_crosswalks():
    result = run("--version")
    assert result.exit_code == 0
    assert result.output.startswith("Crosswalk ") and "Flask" not in result.output


def test_help_shows_crosswalk_not_flask():
    output = run("--help").output
    assert "crosswalk config load agency.yaml" in output
    for flask_option in ("--app", "--env-file", "--debug"):
        assert flask_option not in output
    commands = output.split("Commands:")[1]
    for name in ("check", "config", "db", "demo", "sync", "users", "worker"):
        assert f"  {name} " in commands
    for developer in ("run ", "shell ", "routes "):
        assert f"  {developer}" not in commands


def test_db_lists_only_what_an_operator_runs():
    output = run("db", "--help").output.split("Commands:")[1]
    listed = {line.split()[0] for line in output.strip().splitlines()}
    assert {"upgrade", "current"} <= listed
    assert not listed & {"downgrade", "init", "migrate", "revision", "stamp"}


def test_hidden_commands_still_run():
    assert run("db", "downgrade", "--help").exit_code == 0
