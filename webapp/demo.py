"""``crosswalk demo``: the whole product on one machine with nothing installed.

Starts the simulators (seeded New Haven agency, Cartegraph auto-progress,
signed webhooks), a fresh SQLite database under ``instance/``, the web app
and the in-process worker, and prints the dashboard URL.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shlex
import socket
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import click
import requests
from flask import Flask
from flask_migrate import upgrade
from werkzeug.security import check_password_hash
from werkzeug.serving import make_server

from .agency_config import parse_agency_config

DEMO_CONFIG = """\
# Written by `crosswalk demo`: the simulated City of New Haven.
agency:
  name: City of New Haven
  integration_user: City of New Haven
  boundary: new_haven_boundary.geojson   # the console's Boundary page draws it
  time_zone: America/New_York
crm:
  kind: seeclickfix
  base_url: {scf}
  organization_id: {org}
  token_env: SCF_TOKEN
  webhook_secret_env: SCF_WEBHOOK_SECRET
  poll_interval: 10
geocoder:
  url: {arcgis}
integrations:
  - name: public-works
    kind: cartegraph
    environment: test
    endpoints:
      test: {cartegraph}
      production: https://cg.example.gov/cartegraph/api/v1
    username_env: CG_USER
    password_env: CG_PASSWORD
    external_id_field: SeeClickFixIDField
    poll_interval: 10
    acknowledgment_message: "Your request has been received by Public Works."
    closing_message: "Public Works has completed this request."
    # Fires in the demo: the simulated crew adds a work task about 20 s after
    # each request is created (edit it in the admin console, /admin/).
    rules:
      - field: TasksField
        op: ">="
        value: 1
        message: "A work task has been created."
    categories:
      - remote_id: Pothole
        crm_request_type_id: 122
        acknowledgment_message: "A crew will inspect this pothole."
        closing_message: "The pothole has been patched."
      - remote_id: Streetlight Out
        crm_request_type_id: 123
      - remote_id: Graffiti
        crm_request_type_id: 124
        closing_message: "The graffiti has been removed."
      - remote_id: Sidewalk Damage
        crm_request_type_id: 126
"""

ORGANIZATION_ID = 1234
DEMO_ADMIN = "admin@demo.invalid"


def _private_file(path: Path, make: Callable[[], str]) -> str:
    """The file's text, made once (readable by its owner only) and kept: the
    demo's secret key and admin survive restarts, so do browser sessions."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(make())
    return path.read_text().strip()


def demo_secret_key(instance: Path) -> str:
    return os.environ.get("SECRET_KEY") or _private_file(
        instance / "demo-secret-key", lambda: secrets.token_hex(32)
    )


def ensure_demo_admin(instance: Path) -> tuple[str, str]:
    """The demo's admin (email, password): the password is made once and kept
    in the instance folder. The demo database starts empty each time, so the
    user is added again, with the same password hash when one was kept (a
    session's fingerprint is of the hash: the browser stays signed in)."""
    from .auth import users
    from .extensions import db
    from .sync.audit import Actor

    def make() -> str:
        password = secrets.token_urlsafe(12)
        return json.dumps({"email": DEMO_ADMIN, "password": password})

    kept = json.loads(_private_file(instance / "demo-admin.json", make))
    email, password = kept["email"], kept["password"]
    user = users.find_user(email)
    if user is None:
        user = users.create_user(email, password, "admin", actor=Actor("demo"))
    kept_hash = kept.get("password_hash")
    if kept_hash and check_password_hash(kept_hash, password):
        user.password_hash = kept_hash
        user.role, user.active = "admin", True
        db.session.commit()
    else:
        if not check_password_hash(user.password_hash, password):
            users.set_password(email, password, actor=Actor("demo"))
        kept["password_hash"] = user.password_hash
        (instance / "demo-admin.json").write_text(json.dumps(kept))
    return email, password


def cli_environment(database_uri: str, environ: dict[str, str]) -> list[str]:
    """The ``export`` lines that point ``crosswalk`` at a running demo: its
    database and the simulators' demo credentials. (The demo's queue lives in
    its own process, so the CLI runs work with ``--inline``.)"""
    names = ("SCF_TOKEN", "CG_USER", "CG_PASSWORD")
    values = " ".join(f"{name}={shlex.quote(environ[name])}" for name in names)
    return [f"export DATABASE_URL={shlex.quote(database_uri)} {values}"]


def _free_port(host: str, preferred: int) -> int:
    """``preferred`` unless another process listens on it. SO_REUSEADDR as the
    server itself sets it: a demo restarted within a minute finds its port
    free (the last run's connections in TIME_WAIT do not hold it)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, preferred))
        except OSError:
            sock.bind((host, 0))
        return sock.getsockname()[1]


def run_demo(
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    task_after: float = 20,
    close_after: float = 60,
    exit_after: float | None = None,
    start_worker: Callable[[Flask], Any],
) -> None:
    """``start_worker(app)`` starts the worker threads and returns an object
    with ``stop(timeout=...)``: the worker layer's, passed in by
    ``crosswalk demo`` (the web app never imports the worker layer)."""
    from simulators.launch import start_simulators

    # The terminal shows Crosswalk's own log (what it syncs, warnings, errors),
    # not a line per HTTP request to the simulators or per migration step.
    for noisy in ("werkzeug", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    port = _free_port(host, port)
    web_url = f"http://{host}:{port}"
    environ = {
        "SCF_TOKEN": "demo-scf-token",
        "SCF_WEBHOOK_SECRET": secrets.token_hex(16),
        "CG_USER": "crosswalk",
        "CG_PASSWORD": "demo-password",
    }
    sims = start_simulators(
        host,
        seed=True,
        auto_progress=True,
        scf_token=environ["SCF_TOKEN"],
        organization_id=ORGANIZATION_ID,
        cg_username=environ["CG_USER"],
        cg_password=environ["CG_PASSWORD"],
        webhook_url=f"{web_url}/webhooks/seeclickfix",
        webhook_secret=environ["SCF_WEBHOOK_SECRET"],
    )
    try:
        _run(
            sims,
            environ,
            host=host,
            port=port,
            web_url=web_url,
            task_after=task_after,
            close_after=close_after,
            exit_after=exit_after,
            start_worker=start_worker,
        )
    finally:
        sims.stop()


def _run(
    sims, environ, *, host, port, web_url, task_after, close_after, exit_after, start_worker
) -> None:
    from . import create_app, instance_path
    from .sync import engine

    requests.post(
        f"{sims.cartegraph.url}/_sim/auto_progress",
        json={"enabled": True, "task_after": task_after, "close_after": close_after},
        timeout=5,
    ).raise_for_status()

    instance = Path(instance_path())
    config = {
        "CROSSWALK_ENVIRON": {**os.environ, **environ},
        "SECRET_KEY": demo_secret_key(instance),
    }
    if not os.environ.get("DATABASE_URL"):
        db_path = instance / "demo.db"
        db_path.unlink(missing_ok=True)  # every demo starts from a clean slate
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{db_path}"
    app = create_app(config)
    text = DEMO_CONFIG.format(
        scf=sims.scf_base_url,
        org=ORGANIZATION_ID,
        arcgis=sims.arcgis_url,
        cartegraph=sims.cartegraph_base_url,
    )
    config_path = Path(app.instance_path) / "demo.yaml"
    config_path.write_text(text)
    boundary = resources.files("simulators").joinpath("data/new_haven_boundary.geojson")
    (config_path.parent / "new_haven_boundary.geojson").write_text(boundary.read_text("utf-8"))
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        engine.apply_config(
            parse_agency_config(text, source=str(config_path), base_dir=config_path.parent)
        )
        email, password = ensure_demo_admin(instance)
    worker = start_worker(app)
    with app.app_context():
        # The seeded issues arrive at once, not in a minute.
        for task in engine.find_tasks("crm-poll"):
            engine.run_task_now(task)

    server = make_server(host, port, app, threaded=True)
    click.echo("")
    click.echo("  Crosswalk demo is running.")
    click.echo(f"  Dashboard:            {web_url}/")
    click.echo(f"  Sign in:              {email}  password: {password}")
    click.echo(f"  SeeClickFix (sim):    {sims.scf_base_url}")
    click.echo(f"  Cartegraph (sim):     {sims.cartegraph_base_url}")
    click.echo(f"  ArcGIS (sim):         {sims.arcgis_url}")
    click.echo(f"  Configuration:        {config_path}")
    click.echo("  Issues move Open → Acknowledged → Closed over the next minute or two.")
    click.echo("  The CLI against this demo (another terminal, in this directory):")
    for line in cli_environment(app.config["SQLALCHEMY_DATABASE_URI"], environ):
        click.echo(f"    {line}")
    click.echo("    .venv/bin/crosswalk sync crm --inline")
    click.echo("  Press Ctrl-C to stop.")
    click.echo("", nl=True)
    if exit_after is not None:
        threading.Timer(exit_after, server.shutdown).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how the demo is meant to end: no traceback
    finally:
        server.server_close()
        worker.stop(timeout=2)
        click.echo("  Crosswalk demo stopped.")
