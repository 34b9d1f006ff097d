"""``crosswalk demo``: the whole product on one machine with nothing installed.

Starts the simulators (seeded New Haven agency, Cartegraph auto-progress,
signed webhooks), a fresh SQLite database under ``instance/``, the web app
and the in-process worker, and prints the dashboard URL.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import requests
from flask import Flask
from flask_migrate import upgrade
from werkzeug.serving import make_server

from .agency_config import parse_agency_config

DEMO_CONFIG = """\
# Written by `crosswalk demo`: the simulated City of New Haven.
agency:
  name: City of New Haven
  integration_user: City of New Haven
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


def _free_port(host: str, preferred: int) -> int:
    with socket.socket() as sock:
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
    from . import create_app
    from .sync import engine

    requests.post(
        f"{sims.cartegraph.url}/_sim/auto_progress",
        json={"enabled": True, "task_after": task_after, "close_after": close_after},
        timeout=5,
    ).raise_for_status()

    config = {"CROSSWALK_ENVIRON": {**os.environ, **environ}}
    if not os.environ.get("DATABASE_URL"):
        probe = create_app()
        db_path = Path(probe.instance_path) / "demo.db"
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
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        engine.apply_config(
            parse_agency_config(text, source=str(config_path), base_dir=config_path.parent)
        )
    worker = start_worker(app)
    with app.app_context():
        # The seeded issues arrive at once, not in a minute.
        for task in engine.find_tasks("crm-poll"):
            engine.run_task_now(task)

    server = make_server(host, port, app, threaded=True)
    click.echo("")
    click.echo("  Crosswalk demo is running.")
    click.echo(f"  Dashboard:            {web_url}/")
    click.echo(f"  SeeClickFix (sim):    {sims.scf_base_url}")
    click.echo(f"  Cartegraph (sim):     {sims.cartegraph_base_url}")
    click.echo(f"  ArcGIS (sim):         {sims.arcgis_url}")
    click.echo(f"  Configuration:        {config_path}")
    click.echo("  Issues move Open → Acknowledged → Closed over the next minute or two.")
    click.echo("  Press Ctrl-C to stop.")
    click.echo("", nl=True)
    if exit_after is not None:
        threading.Timer(exit_after, server.shutdown).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        worker.stop(timeout=2)
