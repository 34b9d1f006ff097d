"""`crosswalk demo` on embedded defaults: issues move Open → Acknowledged → Closed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

CROSSWALK = str(Path(sys.executable).with_name("crosswalk"))


def counts(session: requests.Session, url: str) -> dict[str, int]:
    html = session.get(url, timeout=5).text
    return {m[0]: int(m[1]) for m in re.findall(r'data-state="(\w+)">(\d+)<', html)}


def sign_in(url: str, email: str, password: str) -> requests.Session:
    """Through the form, as a person would: the demo's CSRF protection is on."""
    session = requests.Session()
    form = session.get(f"{url}login", timeout=5).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
    assert token, "the sign-in form carries no CSRF token"
    data = {"csrf_token": token[1], "email": email, "password": password}
    signed_in = session.post(f"{url}login", data=data, timeout=5)
    assert "Sign out" in signed_in.text, signed_in.text
    return session


def test_demo_moves_issues_to_closed(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["CROSSWALK_INSTANCE"] = str(tmp_path)
    proc = subprocess.Popen(
        [
            CROSSWALK,
            "demo",
            "--port",
            "0",
            "--task-after",
            "1",
            "--close-after",
            "3",
            "--exit-after",
            "60",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = email = password = None
        for line in proc.stdout:
            if "Dashboard:" in line:
                url = line.split()[-1]
            if "Sign in:" in line:  # "Sign in:  EMAIL  password: PASSWORD"
                email, password = line.split()[2], line.split()[-1]
                break
        assert url, "the demo did not print its dashboard URL"
        assert email and password, "the demo did not print its sign-in"
        assert "/login" in requests.get(url, timeout=5).url  # nobody signed in: the form
        session = sign_in(url, email, password)
        assert "in-process queue" in session.get(url, timeout=5).text  # the banner
        # The simulated city's boundary is drawn on the console's Boundary page.
        assert '<path class="boundary"' in session.get(f"{url}boundary", timeout=5).text
        seen_acknowledged = False
        deadline = time.monotonic() + 50
        while time.monotonic() < deadline:
            state = counts(session, url)
            seen_acknowledged |= state.get("acknowledged", 0) > 0
            if state.get("closed", 0) >= 20:
                break
            time.sleep(1)
        assert seen_acknowledged
        assert state.get("closed", 0) >= 20, state
        assert state.get("failed", 0) == 0, state
        assert (tmp_path / "demo.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_the_demo_keeps_its_key_and_admin_across_restarts(tmp_path, monkeypatch):
    """A browser signed in to the demo stays signed in after a restart: same
    key, same admin, same password hash (the database itself starts afresh)."""
    from tests.conftest import make_app
    from webapp.auth import users
    from webapp.demo import demo_secret_key, ensure_demo_admin

    monkeypatch.delenv("SECRET_KEY", raising=False)
    instance = tmp_path / "instance"
    key = demo_secret_key(instance)
    assert demo_secret_key(instance) == key and len(key) == 64
    assert (instance / "demo-secret-key").stat().st_mode & 0o777 == 0o600

    seen = []
    for run in range(2):  # two starts, each on a fresh database
        app = make_app(f"sqlite:///{tmp_path / f'demo{run}.db'}", None)
        with app.app_context():
            email, password = ensure_demo_admin(instance)
            user = users.authenticate(email, password)
            assert user is not None and user.role == "admin"
            seen.append((email, password, user.password_hash))
    assert seen[0] == seen[1]
    assert (instance / "demo-admin.json").stat().st_mode & 0o777 == 0o600


def test_the_demo_logs_to_the_terminal_fires_its_rule_and_stops_cleanly_on_ctrl_c(tmp_path):
    """After its banner the demo keeps printing what it does (the sync log,
    errors included), its configuration has a rule that fires within the run,
    and Ctrl-C ends it with exit status 0 and no traceback."""
    import signal

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["CROSSWALK_INSTANCE"] = str(tmp_path)
    proc = subprocess.Popen(
        [CROSSWALK, "demo", "--port", "0", "--task-after", "1", "--close-after", "30"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Ctrl-C reaches the demo as SIGINT with the default handler.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        for line in proc.stdout:
            lines.append(line)
            if "rule_fired" in line or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(lines) + rest
    assert "export DATABASE_URL=sqlite:///" in output  # how to point the CLI at it
    assert "rule_fired" in output and "A work task has been created." in output
    assert proc.returncode == 0, output[-2000:]
    assert "Traceback" not in output and "StopRequested" not in output
    assert output.rstrip().endswith("Crosswalk demo stopped.")
    assert "GET /api/v2" not in output  # not a line per simulator request


def test_a_restarted_demo_gets_its_port_back(tmp_path):
    """The last run's connections in TIME_WAIT do not move the demo to a random port."""
    import socket

    from webapp.demo import _free_port

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end waits in TIME_WAIT
    server.close()
    client.close()

    assert _free_port("127.0.0.1", port) == port
