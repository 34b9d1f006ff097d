"""The ``crosswalk`` command: a Flask CLI group on the app factory.

Commands parse options, call one engine entry point (``webapp.sync.engine``)
and print what it reports. Every failure exits non-zero with a one-line
reason (click's ``Error: ...``). ``crosswalk worker`` and ``crosswalk demo``
come from the worker layer (``workers.cli``) through Flask's
``flask.commands`` entry points.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from integrations.base import Check
from integrations.errors import IntegrationError

from .agency_config import ConfigError, load_agency_config


def _create_app():
    from . import create_app

    # Commands do not serve pages: they run without SECRET_KEY (see ensure_secret_key).
    return create_app({"CROSSWALK_REQUIRE_SECRET_KEY": False})


# Flask's developer commands, and the Alembic ones an operator must not run
# by accident (downgrade drops data; init/migrate/revision write migration
# files): still callable by developers, not listed in the help.
HIDDEN_COMMANDS = {"run", "shell", "routes"}
OPERATOR_DB_COMMANDS = {"upgrade", "current", "heads", "history", "check"}


class CrosswalkGroup(FlaskGroup):
    """Flask's CLI group, as an operator should see it: Crosswalk's version
    (not Flask's), no --app/--env-file/--debug (the app is always Crosswalk's),
    developer commands hidden from the help."""

    def __init__(self, **extra: Any) -> None:
        super().__init__(add_version_option=False, **extra)
        self.params = [p for p in self.params if p.name not in ("env_file", "app", "debug")]
        self.params.append(
            click.Option(
                ["--version"],
                is_flag=True,
                expose_value=False,
                is_eager=True,
                help="Show Crosswalk's version and exit.",
                callback=_print_version,
            )
        )

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None and name in HIDDEN_COMMANDS:
            command.hidden = True
        if isinstance(command, click.Group) and name == "db":
            for sub_name, sub in command.commands.items():
                sub.hidden = sub_name not in OPERATOR_DB_COMMANDS
        return command


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("crosswalk")
    except PackageNotFoundError:  # running from a checkout that was never installed
        number = "unknown (not installed)"
    click.echo(f"Crosswalk {number}")
    ctx.exit()


@click.group(
    cls=CrosswalkGroup,
    create_app=_create_app,
    add_default_commands=True,
    load_dotenv=False,
    set_debug_flag=False,
)
def cli() -> None:
    """Crosswalk: sync a 311 CRM (SeeClickFix) with agency work-management
    systems (OpenGov EAM / Cartegraph, CentralSquare EAM / Lucity).

    \b
    First steps:
      crosswalk db upgrade                 create or update the tables
      crosswalk config load agency.yaml    load the agency's configuration
      crosswalk check                      try every configured name live
      crosswalk users add EMAIL --role admin
      crosswalk worker                     run the sync (with REDIS_URL)
    """


@cli.group("config")
def config_group() -> None:
    """Agency configuration files."""


@config_group.command("load")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option(
    "--overwrite-console-edits",
    is_flag=True,
    help="Write the file's value over values an admin changed in the console "
    "(by default they are kept, and each difference is listed).",
)
@with_appcontext
def config_load(path: str, overwrite_console_edits: bool) -> None:
    """Validate FILE.yaml completely, then write it to the database."""
    from .sync import engine

    try:
        config = load_agency_config(path)
    except ConfigError as exc:
        # First line: the first problem (one-line reason); then the rest in file order.
        click.echo(f"Error: {path}: {exc}", err=True)
        for problem in exc.problems[1:]:
            click.echo(f"  {problem}", err=True)
        if len(exc.problems) > 1:
            click.echo(f"  ({len(exc.problems)} problems; nothing was changed)", err=True)
        raise click.exceptions.Exit(1) from None
    for warning in config.warnings:  # loads all the same: a warning, not an error
        click.echo(f"Warning: {path}: {warning}", err=True)
    report = engine.apply_config(config, overwrite_console_edits=overwrite_console_edits)
    click.echo(f"{path}: {report.summary()}")
    if report.kept:
        click.echo(
            "Values changed in the admin console, kept over the file "
            "(--overwrite-console-edits writes the file's; `crosswalk config export` "
            "writes the console's into a file):"
        )
    for difference in report.kept:
        click.echo(f"  {difference.describe()}")
    overwritten = [d for d in report.differences if d.overwritten]
    if overwritten:
        click.echo("Console edits overwritten by the file:")
    for difference in overwritten:
        click.echo(f"  {difference.describe()}")


@config_group.command("export")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True), default="-")
@with_appcontext
def config_export(path: str) -> None:
    """Write the configuration as the database holds it (the file last loaded
    plus the admin console's edits) as an agency file: to PATH, or to the
    standard output. `config load` accepts it unchanged; secrets stay the
    names of their environment variables."""
    from .sync import engine

    target = None if path == "-" else Path(path)
    try:
        text = engine.export_config(target.resolve().parent if target else None)
    except (IntegrationError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    if target is None:
        click.echo(text, nl=False)
        return
    target.write_text(text, encoding="utf-8")
    click.echo(f"{path}: written", err=True)


# What `crosswalk sync WHAT` runs: a periodic task kind of the engine's schedule.
SYNC_TASKS = {
    "crm": "crm-poll",
    "poll": "remote-poll",
    "categories": "categories",
    "import": "import",
}


@cli.command("sync")
@click.argument("what", type=click.Choice(["crm", "push", "poll", "categories", "import"]))
@click.option("--integration", "integration_name", help="Only this integration.")
@click.option("--issue", "issue_id", type=int, help="Only this CRM issue.")
@click.option("--inline", is_flag=True, help="Run here and wait, instead of enqueueing.")
@with_appcontext
def sync(what: str, integration_name: str | None, issue_id: int | None, inline: bool) -> None:
    """Run or enqueue sync work: crm (poll the CRM), push, poll (remote), categories,
    import (requests entered in the remote system)."""
    from .sync import engine

    # Without Redis an enqueued job would die with this process: run it here.
    if not inline and current_app.task_queue.in_process:
        click.echo("No REDIS_URL: running the work in this process.", err=True)
        inline = True
    try:
        if what == "crm" and issue_id is not None:
            _fetch_issue(issue_id)
        elif what == "push":
            _push(integration_name, issue_id, inline)
        elif what == "poll" and issue_id is not None:
            _poll_issue(integration_name, issue_id)
        else:
            _run_tasks(SYNC_TASKS[what], integration_name, inline)
        _drain_in_process_queue()
    except (IntegrationError, engine.TaskNotAvailable, engine.LinkNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None


def _fetch_issue(issue_id: int) -> None:
    """One issue, fetched and ingested now (its push is queued like any other)."""
    from .sync import engine

    result = engine.fetch_issue(issue_id)
    click.echo(
        f"issue {issue_id}: {'new' if result.created else 'updated'}, "
        f"{len(result.links_to_push)} push(es) queued."
    )


def _failures(report: Any) -> int:
    failed = getattr(report, "failed", 0)
    return len(failed) if isinstance(failed, list) else int(failed or 0)


def _run_tasks(kind: str, integration_name: str | None, inline: bool) -> None:
    from .sync import engine

    tasks = engine.find_tasks(kind, integration_name)
    if not tasks:
        click.echo(f"Nothing to run: no integration has {kind} switched on.")
        return
    failures = 0
    for task in tasks:
        who = task.integration_name or task.kind.label
        if not inline:
            queued = engine.run_task_now(task)
            click.echo(f"{who}: {task.kind.label} {'queued' if queued else 'is already queued'}.")
            continue
        report = engine.run_task(task)
        click.echo(f"{who}: {report.summary()}.")
        for error in getattr(report, "errors", [])[:5]:
            click.echo(f"  {error}", err=True)
        failures += _failures(report)
    if failures:
        raise click.ClickException(f"{failures} item(s) failed; see above and the dashboard")


def _poll_issue(integration_name: str | None, issue_id: int) -> None:
    """One issue's remote state, polled now."""
    from .sync import engine

    for task in engine.find_tasks("remote-poll", integration_name):
        report = engine.poll_integration(task.integration_id, issue_id=issue_id)
        click.echo(f"{task.integration_name}: {report.summary()}.")
        if report.failed:
            raise click.ClickException(f"issue {issue_id} could not be polled: {report.errors[0]}")


def _push(integration_name: str | None, issue_id: int | None, inline: bool) -> None:
    from .sync import audit, engine

    link_ids = engine.links_to_push_again(integration_name, issue_id)
    if not link_ids:
        click.echo("Nothing to push.")
        return
    if not inline:
        queued = sum(engine.retry(link_id, actor=audit.CLI).queued for link_id in link_ids)
        click.echo(f"{queued} push(es) queued.")
        return
    failures = 0
    for link_id in link_ids:
        outcome = engine.push_here(link_id)
        if outcome.error is None:
            click.echo(f"link {link_id} (issue {outcome.issue_id}): {outcome.state}")
        else:
            failures += 1
            click.echo(f"link {link_id}: failed: {outcome.error}", err=True)
    if failures:
        raise click.ClickException(f"{failures} of {len(link_ids)} push(es) failed")


def _drain_in_process_queue() -> None:
    """Without Redis the queue lives in this process: work it before exiting."""
    queue = current_app.task_queue
    if queue.in_process and queue.depth():
        click.echo(f"Running {queue.depth()} queued job(s) here.", err=True)
        queue.drain()


@cli.command("check")
@with_appcontext
def check() -> None:
    """Try every configured name against the live CRM, geocoder and integrations
    (read-only) and print a table: check, ok/FAIL, the vendor's words, the
    setting to change. Exits 1 when a check failed."""
    from .sync import engine, preflight

    try:
        checks = engine.run_preflight()
    except IntegrationError as exc:  # no configuration loaded
        raise click.ClickException(str(exc)) from None
    for line in check_table(checks, preflight.status):
        click.echo(line)
    click.echo(preflight.summary(checks))
    if any(preflight.status(c) == "FAIL" for c in checks):
        raise click.exceptions.Exit(1)


CHECK_COLUMNS = ("SYSTEM", "CHECK", "RESULT", "DETAIL", "SETTING")


def check_table(checks: list[Check], status: Callable[[Check], str]) -> list[str]:
    """The checks as aligned columns; the detail and setting are never cut
    (they are what the operator acts on), so long ones run past the line."""
    rows = [
        (c.system, c.name, status(c), " ".join(c.detail.split()), c.setting or "-") for c in checks
    ]
    widths = [max(len(row[i]) for row in [CHECK_COLUMNS, *rows]) for i in range(3)]

    def line(row: tuple[str, ...]) -> str:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        return "  ".join([*cells, row[3], f"[{row[4]}]"]).rstrip()

    return [line(CHECK_COLUMNS), *(line(row) for row in rows)]


@cli.command("simulators")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--auto-progress", is_flag=True, help="Cartegraph adds tasks and closes requests.")
def simulators(host: str, auto_progress: bool) -> None:
    """Start the SeeClickFix, Cartegraph, ArcGIS and Lucity simulators and print their URLs."""
    from simulators.launch import serve_forever

    serve_forever(host=host, auto_progress=auto_progress)


def main() -> None:
    try:
        cli.main(prog_name="crosswalk")
    except KeyboardInterrupt:
        sys.exit(130)
