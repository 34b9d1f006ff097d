"""``crosswalk users``: add, list, disable, enable, set-password.

A password is never a command-line argument (it would sit in the shell's
history and in ``ps``): it is asked for twice with the input hidden, or read
from the first line of standard input when that is not a terminal
(``printf '%s\\n' "$PW" | crosswalk users add ...``). Every failure is one line
and a non-zero exit.
"""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..sync.audit import CLI
from . import users as accounts


def _password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    if not line:
        raise click.ClickException("no password on standard input")
    return line.rstrip("\r\n")


def _run(action):
    try:
        return action()
    except accounts.UserError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("users")
def users() -> None:
    """People who sign in to the dashboard and the admin console."""


@users.command("add")
@click.argument("email")
@click.option(
    "--role",
    default="staff",
    show_default=True,
    metavar="admin|staff",
    help="staff: watch, retry, run now. admin: also the console.",
)
@with_appcontext
def add(email: str, role: str) -> None:
    """Add a user; the password is asked for (or read from standard input)."""
    _run(lambda: accounts.check_role(role))  # before asking for a password
    _run(lambda: accounts.valid_email(email))
    password = _password()
    user = _run(lambda: accounts.create_user(email, password, role, actor=CLI))
    click.echo(f"Added {user.email} ({user.role}).")


@users.command("list")
@with_appcontext
def list_() -> None:
    """Every user: email, role, active or disabled, last sign-in."""
    rows = accounts.list_users()
    if not rows:
        click.echo("No users yet: add the first admin with crosswalk users add EMAIL --role admin")
        return
    width = max(len(u.email) for u in rows)
    for u in rows:
        last = u.last_sign_in_at.strftime("%Y-%m-%d %H:%M UTC") if u.last_sign_in_at else "never"
        state = "active" if u.active else "disabled"
        click.echo(f"{u.email.ljust(width)}  {u.role:<5}  {state:<8}  last sign-in {last}")


@users.command("disable")
@click.argument("email")
@with_appcontext
def disable(email: str) -> None:
    """Stop EMAIL from signing in (their open sessions end too)."""
    user = _run(lambda: accounts.disable_user(email, actor=CLI))
    click.echo(f"Disabled {user.email}.")


@users.command("enable")
@click.argument("email")
@with_appcontext
def enable(email: str) -> None:
    """Let a disabled user sign in again."""
    user = _run(lambda: accounts.enable_user(email, actor=CLI))
    click.echo(f"Enabled {user.email}.")


@users.command("set-password")
@click.argument("email")
@with_appcontext
def set_password(email: str) -> None:
    """Give EMAIL a new password (asked for, or read from standard input);
    their other sessions end."""
    _run(lambda: accounts.get_user(email))  # an unknown email before the prompt
    password = _password()
    user = _run(lambda: accounts.set_password(email, password, actor=CLI))
    click.echo(f"Password changed for {user.email}.")
