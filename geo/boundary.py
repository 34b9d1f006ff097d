"""An agency's boundary polygon: parsing, validation, containment.

The boundary decides which requests entered directly in the back-office system
are imported into the CRM. The vendor's importer "requires a standard polygon
without cutouts ... a geography with state highways cutout of polygon will
cause errors in the importer", so we accept exactly one valid polygon without
interior rings, in WGS84 longitude/latitude, and refuse everything else with a
``BoundaryError`` that names the problem and where it is. A ``Boundary`` can
only be built from a polygon that passes those checks, so "the importer is
enabled" can simply mean "the agency has a ``Boundary``".

Containment is local: the polygon is prepared once (``shapely.prepare``) and
points are tested with ``shapely.intersects_xy``, which is vectorised and, for
a point against a polygon, is the same as ``covers``: a point on the edge or on
a vertex counts as inside.

Input is GeoJSON (a geometry, a Feature, or a FeatureCollection with exactly
one feature) or WKT (optionally EWKT with an ``SRID=...;`` prefix).

Drawing a boundary, or a refused candidate, is :mod:`geo.boundary_svg`.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.validation import explain_validity

__all__ = [
    "Boundary",
    "BoundaryError",
    "check_geometry",
    "load_boundary",
    "parse_boundary",
]

PROBLEMS = (
    "not_polygon",
    "multipolygon",
    "holes",
    "invalid",
    "empty",
    "not_wgs84",
    "unreadable",
    "too_few_points",
)

_GEOD = Geod(ellps="WGS84")
# explain_validity() answers "Valid Geometry" or "<Reason>[<x> <y>]".
_VALIDITY_RE = re.compile(r"^(?P<reason>.*?)\s*\[(?P<x>[^\s\]]+)\s+(?P<y>[^\s\]]+)\]\s*$")
_EWKT_RE = re.compile(r"^\s*SRID\s*=\s*(?P<srid>-?\d+)\s*;", re.IGNORECASE)
_WGS84_CRS_NAMES = ("CRS84", "EPSG::4326", "EPSG:4326")

Location = tuple[float, float]


class BoundaryError(ValueError):
    """The boundary is unusable; ``str(err)`` is a sentence staff can act on.

    ``problem`` is a short code (see ``PROBLEMS``), ``location`` the
    (lon, lat) of the problem or ``None`` when it has no single place (for
    ``not_wgs84`` it is the offending coordinate in the file's own units), and
    ``geometry`` the raw shapely geometry as read, when there was one, so an
    admin page can draw it with :func:`geo.boundary_svg.geometry_preview_svg`
    (``geometry_preview_svg(err.geometry, err.location)``).
    """

    def __init__(
        self,
        problem: str,
        message: str,
        location: Location | None = None,
        geometry: BaseGeometry | None = None,
    ):
        super().__init__(message)
        self.problem = problem
        self.location = location
        self.geometry = geometry

    def __reduce__(self):
        # Keep the extra attributes across pickling (job queues pickle errors).
        return (type(self), (self.problem, str(self), self.location, self.geometry))


def _fmt(x: float, y: float) -> str:
    """A coordinate pair for messages: 4 decimals (about 10 m) for degrees."""
    if abs(x) > 1000 or abs(y) > 1000:  # projected units (feet/metres)
        return f"{x:.0f}, {y:.0f}"
    return f"{x:.4f}, {y:.4f}"


def _point(geom: BaseGeometry) -> Location | None:
    """A point guaranteed to be on/in ``geom``, as a (lon, lat) tuple."""
    try:
        p = geom.representative_point()
    except shapely.errors.GEOSException:  # some invalid geometries
        p = None
    if p is None or p.is_empty:
        coords = shapely.get_coordinates(geom)
        return (float(coords[0, 0]), float(coords[0, 1])) if len(coords) else None
    return (float(p.x), float(p.y))


# --------------------------------------------------------------------------- checks


def check_geometry(geometry: BaseGeometry | None) -> shapely.Polygon:
    """The usable boundary polygon in ``geometry``, or ``BoundaryError``.

    Checks, in this order (the first failing one is reported): empty, non-finite
    coordinates, WGS84 range, geometry type / number of parts, at least three
    distinct corners, no holes, non-zero area, GEOS validity.
    """
    if geometry is None or geometry.is_empty:
        raise BoundaryError("empty", "the boundary is empty (it has no coordinates)", None)
    geom = geometry

    coords = shapely.get_coordinates(geom)
    finite = np.isfinite(coords).all(axis=1)
    if not finite.all():
        raise BoundaryError(
            "invalid",
            "the boundary has a coordinate that is not a number (NaN or infinite); "
            "export it again from the GIS",
            None,
            geometry,
        )
    outside = (np.abs(coords[:, 0]) > 180) | (np.abs(coords[:, 1]) > 90)
    if outside.any():
        x, y = (float(v) for v in coords[np.argmax(outside)])
        raise BoundaryError(
            "not_wgs84",
            f"the boundary has coordinates outside longitude -180..180 / latitude -90..90, "
            f"e.g. {_fmt(x, y)}; the file looks projected (e.g. State Plane feet) and must be "
            f"exported as WGS84 longitude/latitude (EPSG:4326)",
            (x, y),
            geometry,
        )

    if isinstance(geom, shapely.MultiPolygon):
        parts = [p for p in geom.geoms if not p.is_empty]
        if len(parts) > 1:
            where = _point(parts[1])
            raise BoundaryError(
                "multipolygon",
                f"the boundary has {len(parts)} separate parts (MultiPolygon), the second "
                f"around {_fmt(*where)}; use a single polygon",
                where,
                geometry,
            )
        # Many exports (ArcGIS, shapefile -> GeoJSON with ogr2ogr's PROMOTE_TO_MULTI)
        # write every polygon as a MultiPolygon, even with one part. A single-part
        # MultiPolygon covers exactly the same area as its polygon, so unwrapping it
        # loses nothing and spares staff a confusing refusal.
        geom = parts[0]
    if not isinstance(geom, shapely.Polygon):
        where = _point(geom)
        raise BoundaryError(
            "not_polygon",
            f"the boundary is a {geom.geom_type}, not a polygon (around {_fmt(*where)}); "
            f"draw the agency's area as one polygon",
            where,
            geometry,
        )
    if shapely.has_z(geom):
        geom = shapely.force_2d(geom)

    ring = shapely.get_coordinates(geom.exterior)
    distinct = len({(float(x), float(y)) for x, y in ring})
    if distinct < 3:
        where = (float(ring[0, 0]), float(ring[0, 1]))
        raise BoundaryError(
            "too_few_points",
            f"the boundary has only {distinct} distinct corner point(s), at "
            f"{_fmt(*where)}; a polygon needs at least 3",
            where,
            geometry,
        )

    holes = list(geom.interiors)
    if holes:
        where = _point(shapely.Polygon(holes[0])) if len(holes[0].coords) >= 4 else None
        where = where or (float(holes[0].coords[0][0]), float(holes[0].coords[0][1]))
        n = len(holes)
        what = "1 cutout (interior ring)" if n == 1 else f"{n} cutouts (interior rings)"
        raise BoundaryError(
            "holes",
            f"the boundary has {what}, e.g. around {_fmt(*where)}; importers need one polygon "
            f"without cutouts (redraw it without the cutouts, such as state highways)",
            where,
            geometry,
        )

    # Not ``geom.area``: a symmetric bow-tie's signed halves cancel out to 0 too.
    if geom.convex_hull.area == 0:
        where = (float(ring[0, 0]), float(ring[0, 1]))
        raise BoundaryError(
            "invalid",
            f"the boundary has no area (all its corners lie on one line, e.g. at "
            f"{_fmt(*where)}); draw the agency's area as a polygon",
            where,
            geometry,
        )

    explanation = explain_validity(geom)
    if explanation != "Valid Geometry":
        reason, where = _parse_validity(explanation)
        at = f"at {_fmt(*where)} " if where else ""
        if reason.lower().startswith("too few points"):
            raise BoundaryError(
                "too_few_points",
                f"the boundary has too few distinct points {at}({reason}); "
                f"a polygon needs at least 3 corners",
                where,
                geometry,
            )
        if reason == "Self-intersection":
            text = f"the boundary crosses itself {at}({reason})"
        elif reason == "Ring Self-intersection":
            text = (
                f"the boundary touches itself {at}({reason}); redraw it so the outline "
                f"never touches or crosses itself"
            )
        else:
            text = f"the boundary is not a valid polygon {at}({reason})"
        raise BoundaryError("invalid", text, where, geometry)
    return geom


def _parse_validity(explanation: str) -> tuple[str, Location | None]:
    """``"Self-intersection[-72.93 41.31]"`` -> ("Self-intersection", (-72.93, 41.31))."""
    m = _VALIDITY_RE.match(explanation)
    if not m:
        return explanation.strip(), None
    try:
        x, y = float(m["x"]), float(m["y"])
    except ValueError:
        return m["reason"], None
    if not (math.isfinite(x) and math.isfinite(y)):
        return m["reason"], None
    return m["reason"], (x, y)


# --------------------------------------------------------------------------- Boundary


@dataclass(frozen=True)
class Boundary:
    """A valid agency boundary: one WGS84 (lon, lat) polygon without holes.

    Constructing one directly runs the same checks as ``parse_boundary`` (a
    single-part MultiPolygon or 3D polygon is normalised to a 2D Polygon).
    """

    polygon: shapely.Polygon
    source: str = "<geometry>"

    def __post_init__(self) -> None:
        polygon = check_geometry(self.polygon)
        if polygon is not self.polygon:
            object.__setattr__(self, "polygon", polygon)
        shapely.prepare(self.polygon)

    def contains(self, lng: float, lat: float) -> bool:
        """Whether (lng, lat) is inside or on the edge of the boundary."""
        return bool(shapely.intersects_xy(self.polygon, lng, lat))

    def contains_many(self, lngs: Iterable[float], lats: Iterable[float]) -> np.ndarray:
        """Vectorised ``contains``: a bool array, edge and vertices count as inside.

        For a point and a polygon, ``intersects`` is ``covers`` (the point cannot
        cross the polygon), and ``intersects_xy`` skips building Point objects.
        NaN coordinates give False.
        """
        x = np.asarray(lngs, dtype=float)
        y = np.asarray(lats, dtype=float)
        return np.asarray(shapely.intersects_xy(self.polygon, x, y), dtype=bool)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat)."""
        return tuple(float(v) for v in self.polygon.bounds)  # type: ignore[return-value]

    @functools.cached_property
    def area_km2(self) -> float:
        """Geodesic area on the WGS84 ellipsoid in km² (approximate, orientation-free)."""
        area, _ = _GEOD.geometry_area_perimeter(self.polygon)
        return abs(area) / 1e6

    @property
    def wkt(self) -> str:
        return self.polygon.wkt

    @property
    def vertex_count(self) -> int:
        """Corners of the outline (the closing repeat of the first one not counted)."""
        return len(self.polygon.exterior.coords) - 1

    def to_geojson(self) -> dict[str, Any]:
        """A GeoJSON Polygon geometry, exterior counter-clockwise as RFC 7946 asks."""
        ring = orient(self.polygon, sign=1.0).exterior.coords
        return {"type": "Polygon", "coordinates": [[[x, y] for x, y in ring]]}


# --------------------------------------------------------------------------- parsing


def parse_boundary(text: str, *, source: str = "<string>") -> Boundary:
    """The boundary in ``text`` (GeoJSON or WKT), or ``BoundaryError``."""
    geometry = _read_geometry(text, source)
    return Boundary(geometry, source)  # type: ignore[arg-type]  # __post_init__ checks it


def load_boundary(path: str | os.PathLike) -> Boundary:
    """The boundary in the file at ``path``, or ``BoundaryError``."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8-sig") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise BoundaryError(
            "unreadable", f"could not read the boundary file {name}: {reason}", None
        ) from e
    return parse_boundary(text, source=name)


def _unreadable(source: str, message: str) -> BoundaryError:
    where = "" if source == "<string>" else f" in {source}"
    return BoundaryError("unreadable", f"could not read the boundary{where}: {message}")


def _read_geometry(text: str, source: str) -> BaseGeometry | None:
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig", errors="replace")
    body = text.lstrip("\ufeff \t\r\n")
    if not body:
        raise BoundaryError("empty", "the boundary is empty (the file has no content)")
    first = body[0]
    if first == "{":
        return _read_geojson(body, source)
    if first.isalpha():
        return _read_wkt(body, source)
    if first == "<":
        raise _unreadable(source, "it looks like KML/XML; export the boundary as GeoJSON or WKT")
    raise _unreadable(source, f"expected GeoJSON (starting with '{{') or WKT, not {first!r}")


def _read_wkt(body: str, source: str) -> BaseGeometry:
    m = _EWKT_RE.match(body)
    if m:
        srid = int(m["srid"])
        if srid != 4326:
            raise BoundaryError(
                "not_wgs84",
                f"the boundary is in SRID {srid}, not WGS84 longitude/latitude; the file looks "
                f"projected (e.g. State Plane feet) and must be exported as EPSG:4326",
            )
        body = body[m.end() :]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            return shapely.from_wkt(body.strip())
    except (shapely.errors.GEOSException, ValueError, TypeError) as e:
        raise _unreadable(source, f"not valid WKT ({e})") from e


def _read_geojson(body: str, source: str) -> BaseGeometry | None:
    try:
        doc = json.loads(body)
    except json.JSONDecodeError as e:
        raise _unreadable(source, f"not valid JSON ({e})") from e
    if not isinstance(doc, dict):
        raise _unreadable(source, "the JSON is not a GeoJSON object")
    if "rings" in doc or "spatialReference" in doc:
        raise _unreadable(
            source, "it looks like Esri JSON (rings); export the boundary as GeoJSON or WKT"
        )
    _check_crs_member(doc)

    kind = doc.get("type")
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise _unreadable(source, "the FeatureCollection has no 'features' list")
        if not features:
            raise BoundaryError(
                "empty", "the boundary is empty (the FeatureCollection has no features)"
            )
        if len(features) > 1:
            geoms = [
                _geometry_or_none(f.get("geometry") if isinstance(f, dict) else None)
                for f in features
            ]
            second = geoms[1]
            where = _point(second) if second is not None and not second.is_empty else None
            around = f", the second around {_fmt(*where)}" if where else ""
            drawable = [g for g in geoms if g is not None and not g.is_empty]
            raise BoundaryError(
                "multipolygon",
                f"the file has {len(features)} features (FeatureCollection){around}; "
                f"use one feature with a single polygon",
                where,
                shapely.GeometryCollection(drawable) if drawable else None,
            )
        doc = features[0]
        if not isinstance(doc, dict):
            raise _unreadable(source, "the feature is not a GeoJSON object")
        kind = doc.get("type")
    if kind == "Feature":
        if doc.get("geometry") is None:
            raise BoundaryError("empty", "the boundary is empty (the feature has no geometry)")
        doc = doc["geometry"]
        if not isinstance(doc, dict):
            raise _unreadable(source, "the feature's geometry is not a GeoJSON object")
    try:
        return _geometry(doc)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
        raise _unreadable(source, f"not valid GeoJSON ({type(e).__name__}: {e})") from e
    except shapely.errors.GEOSException as e:
        raise _unreadable(source, f"not valid GeoJSON ({e})") from e


def _geometry(doc: dict[str, Any]) -> BaseGeometry:
    if not isinstance(doc.get("type"), str):
        raise ValueError("missing geometry 'type'")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return shape(doc)  # closes unclosed rings; extra ordinates (altitude) kept as Z


def _geometry_or_none(doc: Any) -> BaseGeometry | None:
    if not isinstance(doc, dict):
        return None
    try:
        return _geometry(doc)
    except Exception:  # only used to locate a refusal; the refusal is what matters
        return None


def _check_crs_member(doc: dict[str, Any]) -> None:
    """Old (2008) GeoJSON may name its CRS; anything but WGS84 lon/lat is refused."""
    crs = doc.get("crs")
    if not isinstance(crs, dict):
        return
    props = crs.get("properties")
    name = props.get("name") if isinstance(props, dict) else None
    if isinstance(name, str) and not any(n in name.upper() for n in _WGS84_CRS_NAMES):
        raise BoundaryError(
            "not_wgs84",
            f"the boundary file declares the coordinate system {name[:80]}, not WGS84 "
            f"longitude/latitude; it looks projected (e.g. State Plane feet) and must be "
            f"exported as EPSG:4326",
        )
