"""Projecting the CRM's WGS84 latitude/longitude into an agency's SRID.

CentralSquare EAM (Lucity) wants X/Y in the agency's coordinate reference
system, usually a State Plane zone such as EPSG:2234 (NAD83 / Connecticut, US
survey feet). Crosswalk keeps WGS84 lat/lng and projects per integration.

``check_srid`` is what configuration loading calls: it accepts 2234, "2234" or
"EPSG:2234" and either returns a ``CRSInfo`` or raises ``ProjectionError``
with a sentence saying why the SRID is unusable. Accepted: 2-D projected
systems whose axes are easting/northing, and 2-D geographic (lat/long)
systems such as EPSG:4326 or EPSG:4269, for agencies that store degrees.
Refused: unknown codes, geocentric, vertical, compound (horizontal + height),
3-D geographic, engineering and other non-horizontal systems, projected
systems with westing/southing axes, systems PROJ cannot reach from WGS84 (for
instance another planet), and systems that give no finite coordinates even
at the centre of their own area of use.

A bare number that is not an EPSG code is also looked up as an Esri WKID
(e.g. 102656, Esri's Connecticut State Plane feet), since Lucity sits on
ArcGIS and agencies often quote those; "ESRI:102656" says so explicitly.

``projector_for(srid)`` builds one ``Projector`` per system and caches it (a
``pyproj.Transformer`` costs milliseconds to build, a transform about a
microsecond). pyproj >= 3.1 transformers are safe to share across threads.

PROJ picks the best WGS84 -> target operation it has without network access.
For NAD83 systems that is EPSG's null "NAD83 to WGS 84 (1)", i.e. the two
datums are treated as identical (about 1-2 m apart in reality, as most GIS
software assumes); ``Projector.accuracy_m`` reports what PROJ states.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import numpy as np
from pyproj import CRS, Transformer
from pyproj.enums import TransformDirection
from pyproj.exceptions import CRSError, ProjError

__all__ = ["CRSInfo", "ProjectionError", "Projector", "check_srid", "projector_for"]

_SRID_RE = re.compile(r"^(?:(?P<auth>EPSG|ESRI)\s*:\s*)?(?P<code>\d{1,9})$", re.IGNORECASE)
_EXAMPLE = "the agency's State Plane zone, e.g. EPSG:2234"

Bounds = tuple[float, float, float, float]


class ProjectionError(ValueError):
    """An SRID or a point cannot be used; ``str(err)`` says why."""


@dataclass(frozen=True)
class CRSInfo:
    """What configuration needs to know about an accepted SRID.

    ``unit`` is the unit of X/Y ("US survey foot", "metre", "degree");
    ``area_of_use`` is (west, south, east, north) in degrees, where west >
    east means the area crosses the antimeridian; ``authority`` is "EPSG" or
    "ESRI" (for an Esri WKID).
    """

    srid: int
    name: str
    unit: str
    projected: bool
    area_of_use: Bounds | None
    authority: str = "EPSG"

    @property
    def code(self) -> str:
        """The SRID as "AUTHORITY:CODE", e.g. "EPSG:2234"."""
        return f"{self.authority}:{self.srid}"


def _parse_srid(srid: int | str) -> tuple[str | None, int]:
    """(authority or None when not given, code) from 2234, "2234" or "EPSG:2234"."""
    if isinstance(srid, bool) or not isinstance(srid, int | str):
        raise ProjectionError(
            f"an SRID must be a number or text like 'EPSG:2234', not {type(srid).__name__}"
        )
    if isinstance(srid, int):
        if srid <= 0:
            raise ProjectionError(f"{srid} is not an SRID: EPSG codes are positive numbers")
        return None, srid
    match = _SRID_RE.match(srid.strip())
    if not match or int(match["code"]) == 0:
        raise ProjectionError(
            f"{srid!r} is not an SRID: give an EPSG code such as 2234 or EPSG:2234"
        )
    auth = match["auth"].upper() if match["auth"] else None
    return auth, int(match["code"])


def _lookup(auth: str | None, code: int) -> CRS:
    for candidate in (auth,) if auth else ("EPSG", "ESRI"):
        try:
            return CRS.from_authority(candidate, code)
        except CRSError:
            continue
    shown = f"{auth}:{code}" if auth else f"EPSG:{code}"
    also = "" if auth else f" (nor is ESRI:{code})"
    raise ProjectionError(f"{shown} is not a known coordinate reference system{also}")


def _horizontal_code(crs: CRS | None) -> str | None:
    authority = crs.to_authority() if crs is not None else None
    return f"{authority[0]}:{authority[1]}" if authority else None


def _refusal(label: str, crs: CRS) -> str | None:
    """Why ``crs`` cannot take Lucity's X/Y, or None when it can."""
    if crs.is_compound:
        horizontal = next((s for s in crs.sub_crs_list if s.is_projected or s.is_geographic), None)
        code = _horizontal_code(horizontal)
        part = f"its horizontal part, {code} ({horizontal.name})" if code else "its horizontal part"
        return f"{label} is compound (horizontal + height); Lucity needs 2-D X/Y: give {part}"
    if crs.is_geocentric:
        return (
            f"{label} is geocentric (3-D X/Y/Z from the earth's centre); Lucity needs 2-D "
            f"X/Y in a horizontal system: give {_EXAMPLE}"
        )
    if crs.is_vertical:
        return f"{label} is a vertical (height) system, not a horizontal one; give {_EXAMPLE}"
    if crs.is_engineering:
        return (
            f"{label} is an engineering (local) system not tied to the earth, so positions "
            f"in it cannot be computed from latitude/longitude; give {_EXAMPLE}"
        )
    if not (crs.is_projected or crs.is_geographic):
        return (
            f"{label} is a {crs.type_name}, not a projected or geographic system; give {_EXAMPLE}"
        )
    if len(crs.axis_info) != 2:
        code = _horizontal_code(crs.to_2d())
        hint = f"its 2-D form, {code}" if code else _EXAMPLE
        return f"{label} is 3-D ({crs.type_name}); Lucity needs 2-D X/Y: give {hint}"
    directions = {axis.direction.lower() for axis in crs.axis_info}
    if directions != {"east", "north"}:
        axes = ", ".join(f"{a.name} ({a.direction})" for a in crs.axis_info)
        return (
            f"{label} has axes {axes}; Crosswalk sends X/Y as easting/northing and "
            "cannot use a system whose axes point another way"
        )
    return None


class Projector:
    """WGS84 lat/lng <-> one SRID. Build through ``projector_for`` (cached)."""

    def __init__(self, info: CRSInfo, transformer: Transformer):
        self.info = info
        self._transformer = transformer

    def __repr__(self) -> str:
        return f"Projector({self.info.code} {self.info.name!r})"

    @property
    def transformer(self) -> Transformer:
        """The cached pyproj transformer: takes (lng, lat), returns (x, y)."""
        return self._transformer

    @property
    def accuracy_m(self) -> float | None:
        """PROJ's stated accuracy of the WGS84 -> SRID operation in metres, if known."""
        accuracy = self._transformer.accuracy
        return accuracy if accuracy >= 0 else None

    def _not_wgs84(self, lat: float, lng: float, count: int = 1) -> ProjectionError:
        more = f" ({count} such points)" if count > 1 else ""
        return ProjectionError(
            f"lat {lat!r}, lng {lng!r} is not a WGS84 position (latitude must be within "
            f"±90°, longitude within ±180°){more}"
        )

    def _unprojectable(self, lat: float, lng: float, count: int = 1) -> ProjectionError:
        more = f" ({count} such points)" if count > 1 else ""
        return ProjectionError(
            f"lat {lat!r}, lng {lng!r} has no finite position in {self.info.code} "
            f"({self.info.name}); it is far outside the system's area of use "
            f"{self.info.area_of_use}{more}"
        )

    def to_xy(self, lat: float, lng: float) -> tuple[float, float]:
        """(x, y) = (easting, northing) in the SRID's unit for a CRM (lat, lng).

        Note the argument order: latitude first, as the CRM gives it.
        """
        lat, lng = float(lat), float(lng)
        if not (abs(lat) <= 90.0 and abs(lng) <= 180.0):  # also refuses NaN
            raise self._not_wgs84(lat, lng)
        x, y = self._transformer.transform(lng, lat, errcheck=False)
        if not (math.isfinite(x) and math.isfinite(y)):
            raise self._unprojectable(lat, lng)
        return float(x), float(y)

    def to_xy_many(self, lats, lngs) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised ``to_xy``: arrays of x and y, the same shape as the inputs.

        Raises ``ProjectionError`` naming the first bad point (and how many).
        """
        lats = np.asarray(lats, dtype=np.float64)
        lngs = np.asarray(lngs, dtype=np.float64)
        if lats.shape != lngs.shape:
            raise ValueError(f"lats has shape {lats.shape} but lngs has shape {lngs.shape}")
        bad = ~((np.abs(lats) <= 90.0) & (np.abs(lngs) <= 180.0))
        if bad.any():
            i = int(np.argmax(bad))
            raise self._not_wgs84(float(lats.flat[i]), float(lngs.flat[i]), int(bad.sum()))
        xs, ys = self._transformer.transform(lngs, lats, errcheck=False)
        xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
        bad = ~(np.isfinite(xs) & np.isfinite(ys))
        if bad.any():
            i = int(np.argmax(bad))
            raise self._unprojectable(float(lats.flat[i]), float(lngs.flat[i]), int(bad.sum()))
        return xs, ys

    def to_latlng(self, x: float, y: float) -> tuple[float, float]:
        """The inverse: WGS84 (lat, lng) for an (x, y) in the SRID."""
        lng, lat = self._transformer.transform(
            float(x), float(y), direction=TransformDirection.INVERSE, errcheck=False
        )
        if not (math.isfinite(lat) and math.isfinite(lng)):
            raise ProjectionError(
                f"x {x!r}, y {y!r} in {self.info.code} ({self.info.name}) has no WGS84 position"
            )
        return float(lat), float(lng)

    def inside_area_of_use(self, lat: float, lng: float) -> bool:
        """Whether (lat, lng) is inside the SRID's published area of use (edges count).

        True when the system publishes no area of use. Areas with west > east
        cross the antimeridian.
        """
        if self.info.area_of_use is None:
            return True
        west, south, east, north = self.info.area_of_use
        if not south <= lat <= north:
            return False
        if west <= east:
            return west <= lng <= east
        return lng >= west or lng <= east


@functools.lru_cache(maxsize=64)
def _build(authority: str, code: int) -> Projector:
    """One Projector per canonical (authority, code); refusals raise and are not cached."""
    crs = CRS.from_authority(authority, code)
    label = f"{authority}:{code} ({crs.name})"
    reason = _refusal(label, crs)
    if reason:
        raise ProjectionError(reason)
    try:
        # always_xy: take and give (lng, lat) -> (x, y) = (easting, northing)
        # whatever axis order the EPSG definitions declare (EPSG:4326 is lat
        # first), so longitude and latitude are never silently swapped.
        transformer = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    except ProjError as err:
        raise ProjectionError(f"PROJ cannot transform WGS84 to {label}: {err}") from None
    area = crs.area_of_use.bounds if crs.area_of_use else None
    info = CRSInfo(
        srid=code,
        name=crs.name,
        unit=crs.axis_info[0].unit_name,
        projected=crs.is_projected,
        area_of_use=tuple(float(v) for v in area) if area else None,
        authority=authority,
    )
    projector = Projector(info, transformer)
    if area:  # prove it works where it is meant to: the centre of its area of use
        west, south, east, north = area
        mid_lng = (west + east) / 2 if west <= east else ((west + east + 360) / 2 + 180) % 360 - 180
        try:
            projector.to_xy((south + north) / 2, mid_lng)
        except ProjectionError:
            raise ProjectionError(
                f"{label} gives no finite coordinates even at the centre of its own area of use"
            ) from None
    return projector


@functools.lru_cache(maxsize=256)
def _canonical(auth: str | None, code: int) -> tuple[str, int]:
    """The (authority, code) PROJ files an SRID under, e.g. (None, 2234) -> ("EPSG", 2234)."""
    crs = _lookup(auth, code)
    authority = crs.to_authority(min_confidence=100)
    return (authority[0], int(authority[1])) if authority else (auth or "EPSG", code)


def projector_for(srid: int | str) -> Projector:
    """The cached ``Projector`` for an SRID; 2234, "2234" and "EPSG:2234" share one.

    Raises ``ProjectionError`` (not cached) when the SRID is unusable.
    """
    return _build(*_canonical(*_parse_srid(srid)))


def check_srid(srid: int | str) -> CRSInfo:
    """Validate an SRID when configuration loads.

    Returns its ``CRSInfo``, or raises ``ProjectionError`` saying why it is unusable.
    """
    return projector_for(srid).info
