"""The boundary map: the polygon and the points to scale, escaped tooltips,
far-away points counted rather than drawn."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

from geo.boundary import load_boundary
from geo.boundary_map import MapPoint, boundary_map_svg, near_boundary

NEW_HAVEN = load_boundary(Path(__file__).parent.parent / "data/boundaries/new_haven.geojson")
SVG = "{http://www.w3.org/2000/svg}"


def test_points_are_drawn_with_their_class_and_tooltip():
    points = [
        MapPoint(-72.9279, 41.3083, "inside", "R-1 imported"),
        MapPoint(-72.70, 41.52, "outside", 'R-2 <b>"outside"</b>'),
    ]
    svg = ElementTree.fromstring(boundary_map_svg(NEW_HAVEN, points))
    circles = svg.findall(f"{SVG}circle")
    assert [c.get("class") for c in circles] == ["pt inside", "pt outside"]
    assert circles[1].find(f"{SVG}title").text == 'R-2 <b>"outside"</b>'  # escaped, then read back
    assert svg.find(f"{SVG}path").get("class") == "boundary"
    for circle in circles:
        assert 0 <= float(circle.get("cx")) <= 720 and 0 <= float(circle.get("cy")) <= 520


def test_a_point_in_another_state_is_counted_not_drawn():
    points = [MapPoint(-72.93, 41.31, "inside", "a"), MapPoint(-118.24, 34.05, "outside", "LA")]
    kept, far = near_boundary(NEW_HAVEN, points)
    assert [p.title for p in kept] == ["a"] and far == 1


def test_the_map_has_a_scale_bar():
    svg = boundary_map_svg(NEW_HAVEN)
    assert " km</text>" in svg
