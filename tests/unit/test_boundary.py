"""Agency boundary: one WGS84 polygon without cutouts, or a refusal saying what and where."""

import json
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.boundary import Boundary, BoundaryError, load_boundary, parse_boundary

DATA = Path(__file__).resolve().parent.parent / "data" / "boundaries"
WEST_EDGE = -72.99  # the New Haven fixture's west side runs due north from 41.295 to 41.34
NORTH_WEST_EDGE_LAT = 41.34  # ... and its north-west corner runs due west from -72.98


def near(location, expected, tol=0.01):
    assert location is not None
    return math.dist(location, expected) <= tol


@pytest.fixture(scope="module")
def new_haven() -> Boundary:
    return load_boundary(DATA / "new_haven.geojson")


def refusal(name: str) -> BoundaryError:
    with pytest.raises(BoundaryError) as info:
        load_boundary(DATA / name)
    return info.value


# --------------------------------------------------------------------------- accepted


def test_new_haven_geojson_and_wkt_are_the_same_boundary(new_haven):
    from_wkt = load_boundary(DATA / "new_haven.wkt")
    assert from_wkt.polygon.equals(new_haven.polygon)
    assert new_haven.vertex_count == 20
    assert new_haven.bounds == pytest.approx((-72.99, 41.24, -72.86, 41.36))
    assert 60 < new_haven.area_km2 < 110
    assert new_haven.source.endswith("new_haven.geojson")
    assert new_haven.wkt.startswith("POLYGON ((-72.99 41.295")


def test_geometry_feature_and_single_feature_collection_are_accepted(new_haven):
    geometry = new_haven.to_geojson()
    feature = {"type": "Feature", "properties": {}, "geometry": geometry}
    collection = {"type": "FeatureCollection", "features": [feature]}
    for doc in (geometry, feature, collection):
        assert parse_boundary("  \n" + json.dumps(doc)).polygon.equals(new_haven.polygon)


def test_to_geojson_is_counter_clockwise_and_round_trips(new_haven):
    geometry = new_haven.to_geojson()
    assert geometry["type"] == "Polygon" and len(geometry["coordinates"]) == 1
    assert shapely.LinearRing(geometry["coordinates"][0]).is_ccw
    clockwise = {"type": "Polygon", "coordinates": [geometry["coordinates"][0][::-1]]}
    assert parse_boundary(json.dumps(clockwise)).polygon.equals(new_haven.polygon)


def test_single_part_multipolygon_is_unwrapped(new_haven):
    multi = shapely.MultiPolygon([new_haven.polygon])
    boundary = parse_boundary(multi.wkt)
    assert boundary.polygon.geom_type == "Polygon"
    assert boundary.polygon.equals(new_haven.polygon)
    assert Boundary(multi, "direct").polygon.geom_type == "Polygon"


def test_ewkt_in_wgs84_and_3d_coordinates_are_accepted(new_haven):
    assert parse_boundary("SRID=4326;" + new_haven.wkt).polygon.equals(new_haven.polygon)
    z = shapely.force_3d(new_haven.polygon, 12.0)
    boundary = parse_boundary(json.dumps(shapely.geometry.mapping(z)))
    assert not shapely.has_z(boundary.polygon)


def test_unclosed_geojson_ring_is_closed():
    square = {"type": "Polygon", "coordinates": [[[-72.9, 41.3], [-72.8, 41.3], [-72.8, 41.4]]]}
    assert parse_boundary(json.dumps(square)).vertex_count == 3


def test_utf8_bom_is_tolerated(tmp_path, new_haven):
    path = tmp_path / "bom.geojson"
    path.write_text("\ufeff" + json.dumps(new_haven.to_geojson()), encoding="utf-8")
    assert load_boundary(path).polygon.equals(new_haven.polygon)


# --------------------------------------------------------------------------- refused


def test_holes_refused_with_count_and_location_inside_the_first_cutout():
    err = refusal("highway_cutout.geojson")
    assert err.problem == "holes"
    assert str(err).startswith("the boundary has 2 cutouts (interior rings), e.g. around ")
    assert "without cutouts" in str(err)
    assert near(err.location, (-72.9055, 41.3175))  # the I-91 strip
    i91 = err.geometry.interiors[0]
    assert shapely.Polygon(i91).covers(shapely.Point(err.location))
    assert f"{err.location[0]:.4f}, {err.location[1]:.4f}" in str(err)


def test_multipolygon_refused_with_second_part_location():
    err = refusal("two_parts.geojson")
    assert err.problem == "multipolygon"
    assert "2 separate parts (MultiPolygon)" in str(err) and "use a single polygon" in str(err)
    assert near(err.location, (-72.84, 41.26))


def test_feature_collection_with_two_features_refused_naming_the_count():
    err = refusal("two_features.geojson")
    assert err.problem == "multipolygon"
    assert "2 features (FeatureCollection)" in str(err)
    assert near(err.location, (-72.93, 41.39), tol=0.03)  # inside the second feature (Hamden)
    assert err.geometry.geom_type == "GeometryCollection"


def test_bow_tie_refused_where_it_crosses_itself():
    err = refusal("bowtie.geojson")
    assert err.problem == "invalid"
    assert near(err.location, (-72.925, 41.30), tol=1e-6)
    assert str(err) == "the boundary crosses itself at -72.9250, 41.3000 (Self-intersection)"


def test_ring_touching_itself_refused_as_invalid():
    # The outline runs back to touch its own bottom edge at (-72.90, 41.28).
    wkt = (
        "POLYGON ((-72.94 41.28, -72.86 41.28, -72.86 41.34,"
        " -72.90 41.28, -72.94 41.34, -72.94 41.28))"
    )
    err = _parse_error(wkt)
    assert err.problem == "invalid"
    assert "touches itself" in str(err) and "Ring Self-intersection" in str(err)
    assert near(err.location, (-72.90, 41.28), tol=1e-6)


def test_projected_coordinates_refused_with_hint():
    err = refusal("projected_state_plane.geojson")
    assert err.problem == "not_wgs84"
    assert "State Plane" in str(err) and "WGS84" in str(err)
    assert err.location == pytest.approx((934048.8, 668304.6))
    assert "934049, 668305" in str(err)


def test_projected_crs_member_refused_even_with_small_numbers():
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2234"}},
        "features": [_square_feature()],
    }
    err = _parse_error(json.dumps(doc))
    assert err.problem == "not_wgs84" and "EPSG::2234" in str(err)
    assert _parse_error("SRID=2234;POLYGON ((0 0, 1 0, 1 1, 0 0))").problem == "not_wgs84"


@pytest.mark.parametrize(
    "text",
    [
        "POINT (-72.92 41.3)",
        "LINESTRING (-72.92 41.3, -72.9 41.31)",
        '{"type": "Point", "coordinates": [-72.92, 41.3]}',
        "GEOMETRYCOLLECTION (POLYGON ((-72.9 41.3, -72.8 41.3, -72.8 41.4, -72.9 41.3)))",
    ],
)
def test_not_a_polygon(text):
    err = _parse_error(text)
    assert err.problem == "not_polygon"
    assert near(err.location, (-72.9, 41.3), tol=0.1)
    assert "not a polygon" in str(err)


@pytest.mark.parametrize(
    "text",
    [
        "POLYGON ((-72.9 41.3, -72.8 41.3, -72.9 41.3))",
        '{"type": "Polygon", "coordinates": [[[-72.9, 41.3], [-72.8, 41.3], [-72.9, 41.3]]]}',
        "POLYGON ((-72.9 41.3, -72.8 41.3, -72.8 41.3, -72.9 41.3))",
    ],
)
def test_too_few_points(text):
    err = _parse_error(text)
    assert err.problem == "too_few_points"
    assert near(err.location, (-72.9, 41.3), tol=1e-9)


def test_collinear_polygon_has_no_area():
    err = _parse_error("POLYGON ((-72.9 41.3, -72.85 41.3, -72.8 41.3, -72.9 41.3))")
    assert err.problem == "invalid" and "no area" in str(err)
    assert near(err.location, (-72.9, 41.3), tol=1e-9)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n",
        "POLYGON EMPTY",
        '{"type": "FeatureCollection", "features": []}',
        '{"type": "Feature", "properties": {}, "geometry": null}',
    ],
)
def test_empty(text):
    err = _parse_error(text)
    assert err.problem == "empty" and err.location is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"type": "Polygon", "coordinates": [[[-72.9, 41.3], ', "not valid JSON"),
        ("POLYGON ((-72.9 41.3, -72.8 oops))", "not valid WKT"),
        ('{"type": "Polygon", "coordinates": "nope"}', "not valid GeoJSON"),
        ('{"rings": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}', "Esri JSON"),
        ("<kml></kml>", "KML"),
        ("42", "expected GeoJSON"),
        ("[1, 2]", "expected GeoJSON"),
    ],
)
def test_unreadable_carries_the_parser_message(text, fragment):
    err = _parse_error(text)
    assert err.problem == "unreadable" and err.location is None
    assert fragment in str(err)


def test_nan_coordinate_is_invalid():
    err = _parse_error("POLYGON ((-72.9 41.3, NaN 41.3, -72.8 41.4, -72.9 41.3))")
    assert err.problem == "invalid" and "not a number" in str(err)


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nope.geojson"
    with pytest.raises(BoundaryError) as info:
        load_boundary(missing)
    assert info.value.problem == "unreadable"
    assert str(missing) in str(info.value)


def test_parse_error_names_the_source():
    with pytest.raises(BoundaryError, match=r"in agency\.wkt: not valid WKT"):
        parse_boundary("POLYGON ((", source="agency.wkt")


def test_boundary_cannot_be_built_from_an_invalid_polygon():
    hole = shapely.from_wkt("POLYGON ((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 2 2, 1 1))")
    with pytest.raises(BoundaryError) as info:
        Boundary(hole, "direct")
    assert info.value.problem == "holes"


def test_error_survives_pickling():
    err = refusal("bowtie.geojson")
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.problem, copy.location, str(copy)) == (err.problem, err.location, str(err))
    assert isinstance(copy, ValueError)


# --------------------------------------------------------------------------- containment


def test_edge_and_vertex_count_as_inside(new_haven):
    on_west_edge = (WEST_EDGE, 41.305)
    on_north_west_edge = (-72.985, NORTH_WEST_EDGE_LAT)
    vertices = [tuple(c) for c in new_haven.polygon.exterior.coords]
    for lng, lat in [on_west_edge, on_north_west_edge, *vertices]:
        assert new_haven.contains(lng, lat), (lng, lat)
    lngs, lats = zip(on_west_edge, on_north_west_edge, *vertices, strict=True)
    assert new_haven.contains_many(lngs, lats).all()


def test_inside_and_outside_points(new_haven):
    assert new_haven.contains(-72.9279, 41.3083)  # the Green
    assert not new_haven.contains(-72.75, 41.30)  # East Haven / Branford
    assert not new_haven.contains(-72.92, 41.45)  # north of Hamden
    assert not new_haven.contains(72.92, 41.30)  # sign dropped on the longitude
    assert not new_haven.contains(41.30, -72.92)  # lat/lon swapped


def test_point_just_off_the_edge(new_haven):
    assert not new_haven.contains(WEST_EDGE - 1e-7, 41.305)
    assert new_haven.contains(WEST_EDGE + 1e-7, 41.305)
    assert not new_haven.contains(-72.985, NORTH_WEST_EDGE_LAT + 1e-7)
    result = new_haven.contains_many([WEST_EDGE - 1e-7, WEST_EDGE, WEST_EDGE + 1e-7], [41.305] * 3)
    assert result.tolist() == [False, True, True]


def test_contains_many_shapes_and_nan(new_haven):
    result = new_haven.contains_many(np.array([-72.93, np.nan]), np.array([41.31, 41.31]))
    assert result.dtype == bool and result.tolist() == [True, False]
    assert new_haven.contains_many([], []).shape == (0,)


_lng = st.floats(-73.02, -72.83, allow_nan=False)
_lat = st.floats(41.22, 41.38, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(points=st.lists(st.tuples(_lng, _lat), min_size=1, max_size=40), use_vertices=st.booleans())
def test_contains_many_equals_contains_and_covers(new_haven, points, use_vertices):
    if use_vertices:
        points = points + [tuple(c) for c in new_haven.polygon.exterior.coords[:5]]
    lngs, lats = (list(v) for v in zip(*points, strict=True))
    many = new_haven.contains_many(lngs, lats)
    one = [new_haven.contains(x, y) for x, y in points]
    covers = [new_haven.polygon.covers(shapely.Point(x, y)) for x, y in points]
    assert many.tolist() == one == covers


def _parse_error(text: str) -> BoundaryError:
    with pytest.raises(BoundaryError) as info:
        parse_boundary(text)
    return info.value


def _square_feature() -> dict:
    ring = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]
    return {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
