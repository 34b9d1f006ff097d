"""`crosswalk users` as an operator runs it: the password from a pipe or a
hidden prompt (never an argument), one-line errors, every change audited."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import make_app
from webapp.auth import users
from webapp.extensions import db
from webapp.models import AuditEntry

CROSSWALK = str(Path(sys.executable).with_name("crosswalk"))
PASSWORD = "a long enough passphrase"


@pytest.fixture
def app(tmp_path):
    return make_app(f"sqlite:///{tmp_path / 'users.db'}", None)


@pytest.fixture
def env(app, tmp_path):
    """The command's environment: the app's database, and no SECRET_KEY (the
    commands serve no page and need none)."""
    environ = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "REDIS_URL")}
    environ["DATABASE_URL"] = app.config["SQLALCHEMY_DATABASE_URI"]
    environ["CROSSWALK_INSTANCE"] = str(tmp_path / "instance")
    return environ


def crosswalk(*args: str, env, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [CROSSWALK, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


def run(app, *args: str, stdin: str = ""):
    """The same commands in this process (quicker for the error cases)."""
    return app.test_cli_runner().invoke(args=list(args), input=stdin)


def test_add_with_the_password_on_stdin_then_sign_in(app, env):
    added = crosswalk(
        "users", "add", " Ada@Agency.Example ", "--role", "admin", env=env, stdin=PASSWORD + "\n"
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "Added ada@agency.example (admin)."
    listed = crosswalk("users", "list", env=env)
    assert listed.returncode == 0
    assert listed.stdout.split() == [
        "ada@agency.example",
        "admin",
        "active",
        "last",
        "sign-in",
        "never",
    ]
    client = app.test_client()
    signed_in = client.post("/login", data={"email": "ada@agency.example", "password": PASSWORD})
    assert signed_in.status_code == 302
    with app.app_context():
        (entry,) = db.session.execute(db.select(AuditEntry)).scalars()
        assert (entry.actor, entry.action, entry.target) == (
            "cli",
            "user.add",
            "user ada@agency.example",
        )
        assert entry.after == {"email": "ada@agency.example", "role": "admin"}


def test_add_asks_twice_with_the_input_hidden_on_a_terminal(app, env):
    """Through a pseudo-terminal, as a person types it."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command, on the terminal
        os.execve(CROSSWALK, [CROSSWALK, "users", "add", "bo@agency.example"], env)
    transcript = b""

    def read_until(text: bytes) -> None:
        nonlocal transcript
        deadline = time.monotonic() + 30
        while text not in transcript and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.5)[0]:
                try:
                    transcript += os.read(fd, 1024)
                except OSError:
                    break
        assert text in transcript, transcript

    read_until(b"Password: ")
    os.write(fd, PASSWORD.encode() + b"\n")
    read_until(b"Repeat for confirmation: ")
    os.write(fd, PASSWORD.encode() + b"\n")
    read_until(b"Added bo@agency.example (staff).")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert PASSWORD.encode() not in transcript  # never echoed
    with app.app_context():
        assert users.authenticate("bo@agency.example", PASSWORD) is not None


@pytest.mark.parametrize(
    "args, stdin, error",
    [
        (
            ["add", "x@agency.example", "--role", "root"],
            PASSWORD,
            "Error: the role must be one of staff, admin, not 'root'",
        ),
        (["add", "not-an-email"], PASSWORD, "Error: 'not-an-email' is not an email address"),
        (
            ["add", "x@agency.example"],
            "short",
            "Error: the password must be at least 12 characters long",
        ),
        (["add", "x@agency.example"], "", "Error: no password on standard input"),
        (
            ["add", "taken@agency.example"],
            PASSWORD,
            "Error: a user with email 'taken@agency.example' already exists",
        ),
        (
            ["disable", "nobody@agency.example"],
            "",
            "Error: no user with email 'nobody@agency.example'",
        ),
        (
            ["set-password", "nobody@agency.example"],
            PASSWORD,
            "Error: no user with email 'nobody@agency.example'",
        ),
        (
            ["set-password", "taken@agency.example"],
            "short",
            "Error: the password must be at least 12 characters long",
        ),
    ],
)
def test_refusals_are_one_line_and_change_nothing(app, args, stdin, error):
    assert run(app, "users", "add", "taken@agency.example", stdin=PASSWORD).exit_code == 0
    result = run(app, "users", *args, stdin=stdin + "\n" if stdin else "")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == error
    assert len(result.output.strip().splitlines()) == 1
    with app.app_context():
        assert [u.email for u in users.list_users()] == ["taken@agency.example"]
        assert users.authenticate("taken@agency.example", PASSWORD) is not None
        assert db.session.execute(db.select(db.func.count(AuditEntry.id))).scalar_one() == 1


def test_the_password_is_never_an_argument(app):
    result = run(app, "users", "add", "x@agency.example", PASSWORD)
    assert result.exit_code == 2  # click: unexpected extra argument
    with app.app_context():
        assert users.list_users() == []


def test_disable_and_set_password_are_audited_without_the_hash(app, env):
    assert run(app, "users", "add", "cy@agency.example", stdin=PASSWORD).exit_code == 0

    new = "another long passphrase"
    changed = crosswalk("users", "set-password", "CY@agency.example", env=env, stdin=new + "\n")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.strip() == "Password changed for cy@agency.example."
    disabled = run(app, "users", "disable", "cy@agency.example")
    assert disabled.exit_code == 0 and disabled.output.strip() == "Disabled cy@agency.example."
    assert "disabled" in run(app, "users", "list").output

    with app.app_context():
        assert users.authenticate("cy@agency.example", new) is None  # disabled
        entries = db.session.execute(db.select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
        assert [(e.actor, e.action) for e in entries] == [
            ("cli", "user.add"),
            ("cli", "user.set_password"),
            ("cli", "user.disable"),
        ]
        assert entries[2].before == {"active": True} and entries[2].after == {"active": False}
        user_hash = users.find_user("cy@agency.example").password_hash
        for e in entries:
            assert user_hash not in repr((e.before, e.after)) and "scrypt" not in repr(e.after)

    enabled = run(app, "users", "enable", "cy@agency.example")
    assert enabled.exit_code == 0
    with app.app_context():
        assert users.authenticate("cy@agency.example", new) is not None


def test_list_says_how_to_add_the_first_admin(app):
    assert "crosswalk users add EMAIL --role admin" in run(app, "users", "list").output
