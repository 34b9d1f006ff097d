"""``crosswalk worker`` and ``crosswalk demo``: the commands that run workers.

They join the ``crosswalk`` command group through the ``flask.commands``
entry points in ``pyproject.toml`` (Flask's plugin mechanism), so the web
app's CLI never imports the worker layer.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from .rq_workers import CrosswalkWorker, ForkingWorker, build_worker, start_in_process_worker


@click.command("worker")
@click.option("--burst", is_flag=True, help="Work the queue until it is empty, then stop.")
@click.option("--fork", is_flag=True, help="A forked process per job (isolation over speed).")
@with_appcontext
def worker(burst: bool, fork: bool) -> None:
    """Run a worker on REDIS_URL: it works the queues and, unless --burst,
    dispatches the work the database says is due (any number may run)."""
    if current_app.task_queue.in_process:
        raise click.ClickException(
            "crosswalk worker needs REDIS_URL; without it the web process runs its own worker"
        )
    rq_worker = build_worker(current_app, ForkingWorker if fork else CrosswalkWorker)
    if not burst:
        rq_worker.dispatch_if_due()  # at once: the first polls need not wait a tick
    rq_worker.work(burst=burst)


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--task-after", default=20.0, hidden=True, help="Seconds until a work task appears.")
@click.option("--close-after", default=60.0, hidden=True, help="Seconds until the crew closes.")
@click.option("--exit-after", type=float, hidden=True, help="Stop after this many seconds.")
def demo(
    host: str, port: int, task_after: float, close_after: float, exit_after: float | None
) -> None:
    """Simulators + web app + in-process worker on SQLite: the whole product locally."""
    from webapp.demo import run_demo

    run_demo(
        host=host,
        port=port,
        task_after=task_after,
        close_after=close_after,
        exit_after=exit_after,
        start_worker=start_in_process_worker,
    )
