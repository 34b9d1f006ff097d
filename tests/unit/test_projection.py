"""Projection of WGS84 lat/lng into an agency's SRID for Lucity, and SRID checks."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Geod, Proj, Transformer

from geo.projection import (
    CRSInfo,
    ProjectionError,
    _refusal,
    check_srid,
    projector_for,
)

NEW_HAVEN = (41.3083, -72.9279)  # (lat, lng) as the CRM gives it
# Sanity box for New Haven in EPSG:2234 (US survey feet): a swapped lon/lat lands far outside.
X_RANGE = (940_000.0, 965_000.0)
Y_RANGE = (660_000.0, 690_000.0)
US_FT = 1200 / 3937  # metres per US survey foot
GEOD = Geod(ellps="WGS84")

# (srid, (west, south, east, north)) of each system's EPSG area of use.
AREAS = {
    2234: (-73.73, 40.98, -71.78, 42.05),  # NAD83 / Connecticut (ftUS)
    2263: (-74.26, 40.47, -71.8, 41.3),  # NAD83 / New York Long Island (ftUS)
    3857: (-180.0, -85.06, 180.0, 85.06),  # WGS 84 / Pseudo-Mercator
    32618: (-78.0, 0.0, -72.0, 84.0),  # WGS 84 / UTM zone 18N
}


def in_box(xy, x_range=X_RANGE, y_range=Y_RANGE) -> bool:
    x, y = xy
    return x_range[0] < x < x_range[1] and y_range[0] < y < y_range[1]


# --------------------------------------------------------------------------- check_srid


@pytest.mark.parametrize("srid", [2234, "2234", "EPSG:2234", " epsg:2234 ", "EPSG : 2234"])
def test_check_srid_accepts_the_usual_spellings(srid):
    info = check_srid(srid)
    assert isinstance(info, CRSInfo)
    assert info.srid == 2234
    assert info.code == "EPSG:2234"
    assert info.name == "NAD83 / Connecticut (ftUS)"
    assert info.unit == "US survey foot"
    assert info.projected is True
    assert info.area_of_use == pytest.approx(AREAS[2234])


def test_spellings_share_one_cached_projector():
    assert projector_for(2234) is projector_for("EPSG:2234") is projector_for("2234")


def test_info_is_frozen():
    with pytest.raises(AttributeError):
        check_srid(2234).srid = 4326


def test_geographic_4326_is_allowed_and_not_projected():
    info = check_srid(4326)
    assert (info.srid, info.unit, info.projected) == (4326, "degree", False)
    # always_xy: x is the longitude even though EPSG:4326 declares latitude first.
    assert projector_for(4326).to_xy(*NEW_HAVEN) == pytest.approx((NEW_HAVEN[1], NEW_HAVEN[0]))


def test_metre_systems_report_metres():
    assert check_srid(32618).unit == "metre"
    assert check_srid("EPSG:3857").projected is True


def test_esri_wkid_for_connecticut_feet_matches_epsg_2234():
    info = check_srid(102656)  # not an EPSG code: looked up as an Esri WKID
    assert (info.authority, info.code, info.unit) == ("ESRI", "ESRI:102656", "US survey foot")
    assert check_srid("ESRI:102656") == info
    esri = projector_for(102656).to_xy(*NEW_HAVEN)
    assert esri == pytest.approx(projector_for(2234).to_xy(*NEW_HAVEN), abs=0.01)


@pytest.mark.parametrize(
    ("srid", "message"),
    [
        (99999, r"^EPSG:99999 is not a known coordinate reference system \(nor is ESRI:99999\)$"),
        ("EPSG:99999", r"^EPSG:99999 is not a known coordinate reference system$"),
        ("not a code", r"'not a code' is not an SRID: give an EPSG code such as 2234"),
        ("", r"'' is not an SRID"),
        ("EPSG:", r"'EPSG:' is not an SRID"),
        ("EPSG:22.34", r"is not an SRID"),
        ("+proj=lcc", r"is not an SRID"),
        (0, r"0 is not an SRID: EPSG codes are positive"),
        (-2234, r"-2234 is not an SRID"),
        (True, r"not bool"),
        (None, r"not NoneType"),
        (2234.0, r"not float"),
        (4978, r"^EPSG:4978 \(WGS 84\) is geocentric \(3-D .*give the agency's State Plane"),
        (5703, r"^EPSG:5703 \(NAVD88 height\) is a vertical \(height\) system"),
        (5498, r"is compound \(horizontal \+ height\).*give its horizontal part, EPSG:4269"),
        (7405, r"is compound.*give its horizontal part, EPSG:27700 \(OSGB36 / British Nat"),
        (4979, r"^EPSG:4979 \(WGS 84\) is 3-D .*give its 2-D form, EPSG:4326"),
        (2053, r"has axes Westing \(west\), Southing \(south\); Crosswalk sends X/Y as east"),
        ("ESRI:104905", r"PROJ cannot transform WGS84 to ESRI:104905 .*Mars"),
    ],
)
def test_check_srid_refuses_with_the_reason(srid, message):
    with pytest.raises(ProjectionError, match=message):
        check_srid(srid)


def test_projection_error_is_a_value_error():
    assert issubclass(ProjectionError, ValueError)


def test_engineering_systems_are_refused():
    # PROJ's database ships no EPSG engineering CRS, so check the rule on one from WKT.
    local = CRS.from_wkt(
        'ENGCRS["Site grid",EDATUM["Site"],CS[Cartesian,2],'
        'AXIS["x",east,LENGTHUNIT["metre",1]],AXIS["y",north,LENGTHUNIT["metre",1]]]'
    )
    assert "engineering (local) system not tied to the earth" in _refusal("Site grid", local)


# --------------------------------------------------------------------------- known values


def test_new_haven_in_connecticut_state_plane_feet():
    x, y = projector_for(2234).to_xy(*NEW_HAVEN)
    lat, lng = NEW_HAVEN

    fresh = Transformer.from_crs("EPSG:4326", "EPSG:2234", always_xy=True)
    assert (x, y) == pytest.approx(fresh.transform(lng, lat), abs=1e-6)

    # Independently of the EPSG database: the zone's published definition
    # (Lambert conformal conic, parallels 41°12' and 41°52', origin 40°50' N
    # 72°45' W, false easting 1,000,000 ft, false northing 500,000 ft, GRS80).
    zone = Proj(
        proj="lcc",
        lat_1=41 + 12 / 60,
        lat_2=41 + 52 / 60,
        lat_0=40 + 50 / 60,
        lon_0=-(72 + 45 / 60),
        x_0=1_000_000 * US_FT,
        y_0=500_000 * US_FT,
        ellps="GRS80",
        units="us-ft",
    )
    assert (x, y) == pytest.approx(zone(lng, lat), abs=0.01)

    assert in_box((x, y)), (x, y)  # about x ≈ 951,124 ft, y ≈ 673,109 ft
    # The box catches a lon/lat swap, whichever way it happens.
    assert not in_box(fresh.transform(lat, lng))
    assert not in_box(projector_for(2234).to_xy(lng, lat))


def test_new_haven_round_trips_through_to_latlng():
    projector = projector_for(2234)
    assert projector.to_latlng(*projector.to_xy(*NEW_HAVEN)) == pytest.approx(NEW_HAVEN, abs=1e-9)


# --------------------------------------------------------------------------- bad points


def test_a_point_with_no_finite_position_is_named():
    with pytest.raises(
        ProjectionError, match=r"^lat -90.0, lng 0.0 has no finite position in EPSG:2234"
    ):
        projector_for(2234).to_xy(-90.0, 0.0)


def test_to_xy_many_names_the_first_bad_point_and_counts_them():
    lats = [41.3, -90.0, 41.4, -90.0]
    lngs = [-72.9, 10.0, -72.8, 20.0]
    with pytest.raises(
        ProjectionError, match=r"lat -90.0, lng 10.0 has no finite .*\(2 such points\)"
    ):
        projector_for(2234).to_xy_many(lats, lngs)


@pytest.mark.parametrize(
    ("lat", "lng"), [(95.0, 0.0), (0.0, 181.0), (math.nan, 0.0), (0.0, math.inf)]
)
def test_non_wgs84_input_is_refused(lat, lng):
    projector = projector_for(2234)
    with pytest.raises(ProjectionError, match="is not a WGS84 position"):
        projector.to_xy(lat, lng)
    with pytest.raises(ProjectionError, match="is not a WGS84 position"):
        projector.to_xy_many([41.3, lat], [-72.9, lng])


def test_to_latlng_refuses_non_finite_input():
    with pytest.raises(
        ProjectionError, match=r"x inf, y 0.0 in EPSG:2234 .* has no WGS84 position"
    ):
        projector_for(2234).to_latlng(math.inf, 0.0)


def test_to_xy_many_shapes():
    projector = projector_for(2234)
    xs, ys = projector.to_xy_many([], [])
    assert xs.shape == ys.shape == (0,)
    grid_lat, grid_lng = np.meshgrid([41.2, 41.3], [-73.0, -72.9, -72.8])
    xs, ys = projector.to_xy_many(grid_lat, grid_lng)
    assert xs.shape == ys.shape == (3, 2)
    with pytest.raises(ValueError, match="shape"):
        projector.to_xy_many([41.3, 41.4], [-72.9])


# --------------------------------------------------------------------------- area of use


def test_inside_area_of_use():
    ct = projector_for(2234)
    assert ct.inside_area_of_use(*NEW_HAVEN)
    assert ct.inside_area_of_use(40.98, -73.73)  # the corner counts
    assert not ct.inside_area_of_use(42.3601, -71.0589)  # Boston
    assert not ct.inside_area_of_use(-72.9279, 41.3083)  # swapped


def test_inside_area_of_use_across_the_antimeridian():
    nad83 = projector_for(4269)  # North America: west 167.65 .. east -40.73
    west, _, east, _ = nad83.info.area_of_use
    assert west > east
    assert nad83.inside_area_of_use(52.0, 179.0)  # Aleutians
    assert nad83.inside_area_of_use(41.3, -72.9)
    assert not nad83.inside_area_of_use(50.0, 10.0)  # Europe


# --------------------------------------------------------------------------- properties


def _point_in(srid: int, margin: float = 0.0):
    west, south, east, north = AREAS[srid]
    return st.tuples(
        st.just(srid),
        st.floats(south + margin, north - margin),
        st.floats(west + margin, east - margin),
    )


points = st.sampled_from(sorted(AREAS)).flatmap(_point_in)
inner_points = st.sampled_from(sorted(AREAS)).flatmap(lambda srid: _point_in(srid, 0.02))


@settings(max_examples=200, deadline=None)
@given(points)
def test_round_trip_is_within_a_centimetre(point):
    srid, lat, lng = point
    projector = projector_for(srid)
    back_lat, back_lng = projector.to_latlng(*projector.to_xy(lat, lng))
    _, _, metres = GEOD.inv(lng, lat, back_lng, back_lat)
    assert metres < 0.01, (srid, lat, lng, back_lat, back_lng)


@settings(max_examples=150, deadline=None)
@given(inner_points, st.floats(1e-5, 0.02))
def test_east_increases_x_and_north_increases_y(point, step):
    srid, lat, lng = point
    projector = projector_for(srid)
    x, y = projector.to_xy(lat, lng)
    x_east, y_east = projector.to_xy(lat, lng + step)
    x_north, y_north = projector.to_xy(lat + step, lng)
    assert x_east > x
    assert y_north > y
    # ... and mostly along that axis (grid convergence is a few degrees, never 45°).
    assert abs(x_east - x) > abs(y_east - y)
    assert abs(y_north - y) > abs(x_north - x)


def test_inside_area_of_use_matches_the_area_bounds():
    for srid, (west, south, east, north) in AREAS.items():
        projector = projector_for(srid)
        assert projector.inside_area_of_use((south + north) / 2, (west + east) / 2)
        assert not projector.inside_area_of_use(south - 0.5, (west + east) / 2)


@pytest.mark.parametrize("srid", sorted(AREAS))
def test_to_xy_many_equals_to_xy(srid):
    west, south, east, north = AREAS[srid]
    rng = np.random.default_rng(srid)
    lats = rng.uniform(south, north, 300)
    lngs = rng.uniform(west, east, 300)
    xs, ys = projector_for(srid).to_xy_many(lats, lngs)
    assert isinstance(xs, np.ndarray) and isinstance(ys, np.ndarray)
    one_by_one = np.array(
        [projector_for(srid).to_xy(lat, lng) for lat, lng in zip(lats, lngs, strict=True)]
    )
    np.testing.assert_allclose(xs, one_by_one[:, 0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(ys, one_by_one[:, 1], rtol=0, atol=1e-6)
