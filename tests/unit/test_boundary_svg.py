"""Boundary preview: an SVG of a boundary, or of what is wrong with a candidate one."""

import re
from pathlib import Path

import pytest
import shapely

from geo.boundary import Boundary, BoundaryError, load_boundary
from geo.boundary_svg import geometry_preview_svg, preview_svg

DATA = Path(__file__).resolve().parent.parent / "data" / "boundaries"


@pytest.fixture(scope="module")
def new_haven() -> Boundary:
    return load_boundary(DATA / "new_haven.geojson")


def refused_geometry(name: str):
    """The geometry a refused boundary file was read as (what the preview draws)."""
    with pytest.raises(BoundaryError) as info:
        load_boundary(DATA / name)
    return info.value.geometry


def _numeric_attributes_only(svg: str) -> None:
    allowed_text = {"http://www.w3.org/2000/svg", "img", "boundary preview", "evenodd", "none"}
    allowed_text |= {"round", "4 2"}
    for name, value in re.findall(r'([\w:-]+)="([^"]*)"', svg):
        if name in ("fill", "stroke"):
            assert re.fullmatch(r"#[0-9a-f]{6}|none", value), (name, value)
        elif value not in allowed_text:
            assert re.fullmatch(r"[MLHVZ0-9 .\-]*", value), (name, value)


def test_preview_of_a_boundary(new_haven):
    svg = preview_svg(new_haven, width=300, height=200)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'width="300"' in svg and svg.count("<path") == 1
    _numeric_attributes_only(svg)


def test_preview_of_refused_text_draws_parts_holes_and_marker():
    svg = preview_svg((DATA / "highway_cutout.geojson").read_text())
    assert 'stroke-dasharray="4 2"' in svg and svg.count("stroke-dasharray") == 2
    assert 'stroke="#d00000"' in svg  # problem marker
    _numeric_attributes_only(svg)
    svg = preview_svg((DATA / "two_parts.geojson").read_text())
    assert 'fill="#f7d9a8"' in svg and 'stroke="#d00000"' in svg


def test_preview_of_unreadable_text_raises():
    with pytest.raises(BoundaryError):
        preview_svg("not a boundary")


def test_geometry_preview_handles_any_geometry():
    bowtie = shapely.from_wkt("POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))")
    svg = geometry_preview_svg(bowtie, (0.5, 0.5))
    assert "<circle" in svg
    _numeric_attributes_only(svg)
    projected = refused_geometry("projected_state_plane.geojson")
    assert "<path" in geometry_preview_svg(projected)
    assert geometry_preview_svg(shapely.Polygon()).endswith("</svg>")
