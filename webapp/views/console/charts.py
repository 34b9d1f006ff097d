"""Server-side SVG charts: no chart library and no CDN at run time, and no
inline script or style (the CSP forbids both) — SVG presentation attributes
and classes styled by static/css/crosswalk.css.

Written by hand rather than with a charting library because two chart kinds
over 30 points are a few dozen lines, and every library that draws SVG in the
browser would need JavaScript the console otherwise does not have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

from ..template_filters import duration

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 22, 28


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # class of the line or bars: "s1", "s2", "s3"
    values: Sequence[float | None]


def _x(i: int, count: int) -> float:
    inner = WIDTH - LEFT - RIGHT
    return LEFT + (inner * (i + 0.5) / count if count else 0)


def _y(value: float, top: float) -> float:
    inner = HEIGHT - TOP - BOTTOM
    return TOP + inner * (1 - (value / top if top else 0))


def _nice_top(values: Sequence[float]) -> float:
    """A round maximum for the axis (1, 2, 5 × 10^n)."""
    peak = max(values, default=0) or 1
    step = 10 ** (len(str(int(peak))) - 1)
    for factor in (1, 2, 5, 10):
        if peak <= factor * step:
            return float(factor * step)
    return float(peak)


def _frame(title: str, days: Sequence[date], top: float, label) -> list[str]:
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for fraction in (0, 0.5, 1):
        y = _y(top * fraction, top)
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(label(top * fraction))}</text>"
        )
    count = len(days)
    for i, day in enumerate(days):
        # Weekly ticks and the last day; a weekly tick too close to it is left out.
        if i == count - 1 or (i % 7 == 0 and count - 1 - i >= 4):
            parts.append(
                f'<text class="axis" x="{_x(i, count):.1f}" y="{HEIGHT - 8}" '
                f'text-anchor="middle">{day:%b %d}</text>'
            )
    return parts


def _short_duration(seconds: float) -> str:
    """Axis labels: tenths below ten seconds (a lag of 0.4 s is not "0 s")."""
    if seconds < 10:
        return f"{seconds:.1f}".rstrip("0").rstrip(".") + " s"
    return duration(seconds)


def _legend(series: Sequence[Series]) -> str:
    x = LEFT
    parts = []
    for s in series:
        parts.append(f'<rect class="{s.css}" x="{x}" y="2" width="10" height="8"/>')
        parts.append(f'<text class="axis" x="{x + 14}" y="10">{escape(s.name)}</text>')
        x += 14 + 7 * len(s.name) + 16
    return "".join(parts)


def line_chart(title: str, days: Sequence[date], series: Sequence[Series]) -> Markup:
    """Durations per day as lines (a missing day breaks the line); each point
    has a tooltip with its day and value."""
    values = [v for s in series for v in s.values if v is not None]
    top = _nice_top(values)
    parts = _frame(title, days, top, _short_duration)
    count = len(days)
    for s in series:
        run: list[str] = []
        points = []
        for i, value in enumerate(s.values):
            if value is None:
                if len(run) > 1:
                    points.append(run)
                run = []
                continue
            x, y = _x(i, count), _y(value, top)
            run.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle class="{s.css}" cx="{x:.1f}" cy="{y:.1f}" r="2.5"><title>'
                f"{days[i]:%Y-%m-%d} {escape(s.name)}: {escape(_short_duration(value))}</title>"
                "</circle>"
            )
        if len(run) > 1:
            points.append(run)
        for run in points:
            parts.append(f'<polyline class="{s.css} line" points="{" ".join(run)}"/>')
    parts.append(_legend(series))
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(title: str, days: Sequence[date], series: Sequence[Series]) -> Markup:
    """Counts per day as grouped bars, with a tooltip per bar."""
    values = [v or 0 for s in series for v in s.values]
    top = _nice_top(values)
    parts = _frame(title, days, top, lambda v: f"{v:g}")
    count = len(days)
    slot = (WIDTH - LEFT - RIGHT) / max(count, 1)
    width = max(1.0, (slot * 0.8) / max(len(series), 1))
    for k, s in enumerate(series):
        for i, value in enumerate(s.values):
            if not value:
                continue
            x = LEFT + slot * i + slot * 0.1 + width * k
            y = _y(value, top)
            parts.append(
                f'<rect class="{s.css}" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
                f'height="{HEIGHT - BOTTOM - y:.1f}"><title>{days[i]:%Y-%m-%d} '
                f"{escape(s.name)}: {value:g}</title></rect>"
            )
    parts.append(_legend(series))
    parts.append("</svg>")
    return Markup("".join(parts))
