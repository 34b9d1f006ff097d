"""Jinja filters for times and durations staff can read at a glance."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Flask, g, has_request_context
from markupsafe import Markup, escape

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


def display_zone() -> ZoneInfo:
    """The agency's time zone (``agency.time_zone``), once per request; UTC
    when none is configured."""
    if has_request_context() and "display_zone" in g:
        return g.display_zone
    from ..sync import engine

    zone = ZoneInfo(engine.display_time_zone() or "UTC")
    if has_request_context():
        g.display_zone = zone
    return zone


def stamp(value: datetime | None) -> Markup | str:
    """A time in the agency's time zone, with UTC on hover (and machine-readable)."""
    if value is None:
        return "—"
    utc = value if value.tzinfo else value.replace(tzinfo=UTC)
    utc = utc.astimezone(UTC)
    local = utc.astimezone(display_zone())
    shown = local.strftime("%Y-%m-%d %H:%M:%S %Z")
    return Markup(
        f'<time datetime="{escape(utc.isoformat())}" '
        f'title="{utc:%Y-%m-%d %H:%M:%S} UTC">{escape(shown)}</time>'
    )


def web_url(value: str | None) -> bool:
    """Whether ``value`` is an http(s) URL: the CRM's ``html_url`` is outside
    data, and a ``javascript:`` or ``data:`` link must never become a link."""
    if not value:
        return False
    parts = urlsplit(value.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def init_app(app: Flask) -> None:
    app.add_template_test(web_url)
    app.add_template_filter(ago)
    app.add_template_filter(duration)
    app.add_template_filter(stamp)
