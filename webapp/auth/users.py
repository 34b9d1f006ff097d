"""The people who sign in: create, list, disable, change a password, authenticate.

The ``crosswalk users`` commands and the admin console call these; each change
writes its audit entry in the same commit (``webapp.sync.audit``). Passwords
are kept only as werkzeug scrypt hashes, and no hash ever reaches the audit log.
"""

from __future__ import annotations

import re
from functools import cache

from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import User, utcnow
from ..sync import audit
from ..sync.audit import Actor

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # scrypt reads all of it: a megabyte "password" costs CPU
ROLES = User.ROLES
# One "@", something before it, a dotted domain after it, no spaces: enough to
# catch typos; the address is only ever a sign-in name, never mailed to.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")


class UserError(ValueError):
    """A one-line reason a user could not be added or changed."""


def normalise_email(raw: str) -> str:
    """The email as stored: stripped and lowercased (sign-in is case-insensitive)."""
    return (raw or "").strip().lower()


def valid_email(raw: str) -> str:
    email = normalise_email(raw)
    if len(email) > 254 or not _EMAIL.match(email):
        raise UserError(f"{email or raw!r} is not an email address")
    return email


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"the password must be at most {MAX_PASSWORD_LENGTH} characters long")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"the role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def find_user(email: str) -> User | None:
    return db.session.execute(
        db.select(User).where(User.email == normalise_email(email))
    ).scalar_one_or_none()


def get_user(email: str) -> User:
    user = find_user(email)
    if user is None:
        raise UserError(f"no user with email {normalise_email(email)!r}")
    return user


def _target(user: User) -> str:
    return f"user {user.email}"


def create_user(email: str, password: str, role: str = "staff", *, actor: Actor) -> User:
    """A new, active user. Raises ``UserError`` for a bad email, role or
    password, or an email already taken (a disabled user's too)."""
    email = valid_email(email)
    check_role(role)
    check_password(password)
    if find_user(email) is not None:
        raise UserError(f"a user with email {email!r} already exists")
    user = User(email=email, password_hash=generate_password_hash(password), role=role)
    db.session.add(user)
    try:
        db.session.flush()  # the id, and a concurrent duplicate caught here
    except IntegrityError:
        db.session.rollback()
        raise UserError(f"a user with email {email!r} already exists") from None
    audit.record(actor, "user.add", _target(user), after={"email": email, "role": role})
    db.session.commit()
    return user


def set_password(email: str, password: str, *, actor: Actor) -> User:
    """A new password; the user's other sessions end (see ``webapp.auth.login``)."""
    user = get_user(email)
    check_password(password)
    user.password_hash = generate_password_hash(password)
    # That it changed, never the hash (an offline guess needs only the hash).
    audit.record(actor, "user.set_password", _target(user))
    db.session.commit()
    return user


def disable_user(email: str, *, actor: Actor) -> User:
    """The user can no longer sign in, and any session of theirs ends at its
    next request. The row stays: the audit log names who did what."""
    user = get_user(email)
    if user.active:
        user.active = False
        audit.record(
            actor, "user.disable", _target(user), before={"active": True}, after={"active": False}
        )
        db.session.commit()
    return user


def enable_user(email: str, *, actor: Actor) -> User:
    user = get_user(email)
    if not user.active:
        user.active = True
        audit.record(
            actor, "user.enable", _target(user), before={"active": False}, after={"active": True}
        )
        db.session.commit()
    return user


@cache
def _dummy_hash() -> str:
    """Checked when the email is unknown, so that an unknown email and a wrong
    password take the same time (no way to tell which accounts exist). Made
    once per process, on first use: hashing costs a tenth of a second."""
    return generate_password_hash("crosswalk-no-such-user")


def list_users() -> list[User]:
    return list(db.session.execute(db.select(User).order_by(User.email)).scalars())


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, else None — the same
    None, after the same work, for an unknown email, a wrong password and a
    disabled account."""
    user = find_user(email) if len(password) <= MAX_PASSWORD_LENGTH else None
    if user is None:
        check_password_hash(_dummy_hash(), password[:MAX_PASSWORD_LENGTH])
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def record_sign_in(user: User) -> None:
    user.last_sign_in_at = utcnow()
    db.session.commit()
