"""Jinja filters for times and durations staff can read at a glance."""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from ..models import utcnow


def ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    return f"{duration((utcnow() - value).total_seconds())} ago"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def stamp(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def init_app(app: Flask) -> None:
    app.add_template_filter(ago)
    app.add_template_filter(duration)
    app.add_template_filter(stamp)
