"""The ``crosswalk`` command: a Flask CLI group on the app factory.

Every failure exits non-zero with a one-line reason (click's ``Error: ...``).
"""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from integrations.errors import IntegrationError

from .agency_config import ConfigError, load_agency_config
from .extensions import db


def _create_app():
    from . import create_app

    return create_app()


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_default_commands=True,
    load_dotenv=False,
    set_debug_flag=False,
)
def cli() -> None:
    """Crosswalk: sync a 311 CRM with agency work-management systems."""


@cli.group("config")
def config_group() -> None:
    """Agency configuration files."""


@config_group.command("load")
@click.argument("path", type=click.Path(dir_okay=False))
@with_appcontext
def config_load(path: str) -> None:
    """Validate FILE.yaml completely, then write it to the database."""
    from .sync.configure import apply_config

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
    report = apply_config(config)
    click.echo(f"{path}: {report.summary()}")


def _integration_ids(name: str | None) -> list[int]:
    from .extensions import db
    from .models import Integration

    query = db.select(Integration).order_by(Integration.id)
    if name:
        query = query.where(Integration.name == name)
    else:
        query = query.where(Integration.enabled.is_(True))
    rows = db.session.execute(query).scalars().all()
    if name and not rows:
        raise click.ClickException(f"no integration named {name!r}")
    return [row.id for row in rows]


@cli.command("sync")
@click.argument("what", type=click.Choice(["crm", "push", "poll", "categories", "import"]))
@click.option("--integration", "integration_name", help="Only this integration.")
@click.option("--issue", "issue_id", type=int, help="Only this CRM issue.")
@click.option("--inline", is_flag=True, help="Run here and wait, instead of enqueueing.")
@with_appcontext
def sync(what: str, integration_name: str | None, issue_id: int | None, inline: bool) -> None:
    """Run or enqueue sync work: crm (poll the CRM), push, poll (remote), categories,
    import (requests entered in the remote system)."""
    # Without Redis an enqueued job would die with this process: run it here.
    if not inline and current_app.task_queue.in_process:
        click.echo("No REDIS_URL: running the work in this process.", err=True)
        inline = True
    try:
        if what == "crm":
            _sync_crm(inline, issue_id)
        elif what == "push":
            _sync_push(integration_name, issue_id, inline)
        elif what == "categories":
            _sync_categories(integration_name, inline)
        elif what == "import":
            _sync_import(integration_name, inline)
        else:
            _sync_poll(integration_name, issue_id, inline)
        _drain_in_process_queue()
    except IntegrationError as exc:
        raise click.ClickException(str(exc)) from None


def _sync_crm(inline: bool, issue_id: int | None) -> None:
    from .sync import dispatch, ingest, runtime

    if issue_id is not None:
        # One issue, fetched and ingested now (its push is queued like any other).
        result = ingest.ingest_and_enqueue(runtime.crm_client().get_issue(issue_id), source="CLI")
        click.echo(
            f"issue {issue_id}: {'new' if result.created else 'updated'}, "
            f"{len(result.links_to_push)} push(es) queued."
        )
        return
    if not inline:
        created = dispatch.enqueue_crm_poll()
        click.echo("CRM poll queued." if created else "A CRM poll is already queued.")
        return
    report = ingest.poll_crm()
    click.echo(
        f"CRM poll: {report.seen} seen, {report.created} new, {report.failed} failed, "
        f"{report.enqueued} push(es) queued."
    )
    for error in report.errors[:5]:
        click.echo(f"  {error}", err=True)


def _drain_in_process_queue() -> None:
    """Without Redis the queue lives in this process: work it before exiting."""
    from workers.runner import ThreadWorker, build_worker

    queue = current_app.task_queue
    if queue.in_process and queue.depth():
        click.echo(f"Running {queue.depth()} queued job(s) here.", err=True)
        build_worker(current_app._get_current_object(), ThreadWorker).work(
            burst=True, logging_level="WARNING"
        )


def _links_to_push(integration_name: str | None, issue_id: int | None) -> list[int]:
    from .extensions import db
    from .models import SyncLink, SyncState

    query = (
        db.select(SyncLink.id)
        .where(SyncLink.integration_id.in_(_integration_ids(integration_name)))
        .order_by(SyncLink.id)
    )
    if issue_id is not None:
        query = query.where(SyncLink.issue_id == issue_id)
        ids = db.session.execute(query).scalars().all()
        if not ids:
            raise click.ClickException(f"issue {issue_id} has no sync link (not routed yet?)")
        return ids
    query = query.where(SyncLink.state.in_([SyncState.PENDING, SyncState.FAILED]))
    return db.session.execute(query).scalars().all()


def _sync_push(integration_name: str | None, issue_id: int | None, inline: bool) -> None:
    from .sync import dispatch, push

    link_ids = _links_to_push(integration_name, issue_id)
    failures = 0
    for link_id in link_ids:
        push.reset_for_retry(link_id)
        if not inline:
            dispatch.enqueue_push(link_id)
            continue
        try:
            link = push.push_link(link_id)
            click.echo(f"link {link_id} (issue {link.issue_id}): {link.state}")
        except Exception as exc:
            push.record_failure(link_id, exc, final=True)
            failures += 1
            click.echo(f"link {link_id}: failed: {exc}", err=True)
    if not inline:
        click.echo(f"{len(link_ids)} push(es) queued.")
    elif failures:
        raise click.ClickException(f"{failures} of {len(link_ids)} push(es) failed")
    elif not link_ids:
        click.echo("Nothing to push.")


def _sync_categories(integration_name: str | None, inline: bool) -> None:
    from .models import Integration
    from .sync import categories, dispatch, runtime

    done = 0
    for integration_id in _integration_ids(integration_name):
        integration = db.session.get(Integration, integration_id)
        if not runtime.feature_enabled(integration, "sync_categories"):
            if integration_name:
                raise click.ClickException(
                    f"{integration.name}: category sync is off or not supported by its kind"
                )
            continue
        done += 1
        if not inline:
            dispatch.enqueue_categories(integration_id)
            click.echo(f"{integration.name}: category sync queued.")
            continue
        report = categories.sync_categories(integration_id)
        categories.refresh_request_types(integration_id)
        click.echo(f"{integration.name}: {report.summary()}")
    if not done:
        click.echo("No integration syncs categories.")


def _sync_import(integration_name: str | None, inline: bool) -> None:
    from .models import Integration
    from .sync import dispatch, importer, runtime

    for integration_id in _integration_ids(integration_name):
        integration = db.session.get(Integration, integration_id)
        if not runtime.feature_enabled(integration, "import_requests"):
            if integration_name:
                raise click.ClickException(f"{integration.name}: import_requests is off")
            continue
        if not inline:
            dispatch.enqueue_import(integration_id)
            click.echo(f"{integration.name}: import queued.")
            continue
        report = importer.import_requests(integration_id)
        click.echo(f"{integration.name}: {report.summary()}")
        for failure in report.failed[:5]:
            click.echo(f"  {failure}", err=True)


def _sync_poll(integration_name: str | None, issue_id: int | None, inline: bool) -> None:
    from .sync import dispatch, poll

    failed = 0
    for integration_id in _integration_ids(integration_name):
        if not inline:
            dispatch.enqueue_poll(integration_id)
            click.echo(f"poll of integration {integration_id} queued.")
            continue
        report = poll.poll_integration(integration_id, issue_id=issue_id)
        failed += report.failed
        click.echo(
            f"{report.integration}: polled {report.polled} in {report.batches} "
            f"batch(es), closed {report.closed}, failed {report.failed}."
        )
        for error in report.errors[:5]:
            click.echo(f"  {error}", err=True)
    if failed:
        raise click.ClickException(f"{failed} issue(s) could not be polled")


@cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option("--scheduler/--no-scheduler", default=True, help="Run RQ's scheduler too.")
@with_appcontext
def worker(burst: bool, scheduler: bool) -> None:
    """Run an RQ worker (with its scheduler) on REDIS_URL."""
    from workers.runner import build_worker
    from workers.schedules import ensure_schedules

    if current_app.task_queue.in_process:
        raise click.ClickException(
            "crosswalk worker needs REDIS_URL; without it the web process runs its own worker"
        )
    ensure_schedules()
    build_worker(current_app).work(burst=burst, with_scheduler=scheduler)


@cli.command("simulators")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--auto-progress", is_flag=True, help="Cartegraph adds tasks and closes requests.")
def simulators(host: str, auto_progress: bool) -> None:
    """Start the SeeClickFix, Cartegraph and ArcGIS simulators and print their URLs."""
    from simulators.runner import serve_forever

    serve_forever(host=host, auto_progress=auto_progress)


@cli.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--task-after", default=20.0, hidden=True, help="Seconds until a work task appears.")
@click.option("--close-after", default=60.0, hidden=True, help="Seconds until the crew closes.")
@click.option("--exit-after", type=float, hidden=True, help="Stop after this many seconds.")
def demo(
    host: str, port: int, task_after: float, close_after: float, exit_after: float | None
) -> None:
    """Simulators + web app + in-process worker on SQLite: the whole product locally."""
    from .demo import run_demo

    run_demo(
        host=host, port=port, task_after=task_after, close_after=close_after, exit_after=exit_after
    )


def main() -> None:
    try:
        cli.main(prog_name="crosswalk")
    except KeyboardInterrupt:
        sys.exit(130)
