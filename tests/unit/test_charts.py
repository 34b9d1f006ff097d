"""The console's SVG charts: valid SVG, escaped text, gaps for missing days."""

from __future__ import annotations

from datetime import date, timedelta
from xml.etree import ElementTree

from webapp.views.console.charts import Series, bar_chart, line_chart

DAYS = [date(2026, 11, 1) + timedelta(days=i) for i in range(30)]
SVG = "{http://www.w3.org/2000/svg}"


def parse(markup) -> ElementTree.Element:
    return ElementTree.fromstring(str(markup))


def test_a_line_breaks_where_a_day_has_no_value():
    values = [60.0, 120.0, None, 30.0, 45.0] + [None] * 25
    svg = parse(line_chart("lag", DAYS, [Series("p50", "s1", values)]))
    lines = svg.findall(f"{SVG}polyline")
    assert [len(line.get("points").split()) for line in lines] == [2, 2]
    points = svg.findall(f"{SVG}circle")
    assert len(points) == 4
    assert points[0].find(f"{SVG}title").text == "2026-11-01 p50: 1 min"


def test_text_is_escaped():
    svg = line_chart('<script>alert("x")</script>', DAYS, [Series("a&b", "s1", [1.0] * 30)])
    assert "<script>" not in str(svg)
    assert parse(svg).find(f"{SVG}title").text == '<script>alert("x")</script>'


def test_bars_have_a_tooltip_and_skip_zero_counts():
    counts = [0] * 29 + [7]
    svg = parse(bar_chart("counts", DAYS, [Series("created", "s1", counts)]))
    bars = [r for r in svg.findall(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(bars) == 1
    assert bars[0].find(f"{SVG}title").text == "2026-11-30 created: 7"


def test_an_empty_chart_still_draws_its_axes():
    svg = parse(line_chart("nothing", DAYS, [Series("p50", "s1", [None] * 30)]))
    assert svg.findall(f"{SVG}line") and not svg.findall(f"{SVG}polyline")
