"""Jobs push their own app context (as in Miguel Grinberg's microblog).

A worker started by ``crosswalk worker`` or the in-process thread already has
one; a bare ``rq worker`` does not, so the job builds the app from the
environment once per process.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import Flask, has_app_context

P = ParamSpec("P")
R = TypeVar("R")

_app: Flask | None = None
_app_pid: int | None = None


def _process_app() -> Flask:
    global _app, _app_pid
    if _app is None or _app_pid != os.getpid():
        from webapp import create_app

        _app = create_app({"CROSSWALK_REQUIRE_SECRET_KEY": False})  # jobs serve no page
        _app_pid = os.getpid()
    return _app


def with_app_context(func: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if has_app_context():
            return func(*args, **kwargs)
        with _process_app().app_context():
            return func(*args, **kwargs)

    return wrapper
