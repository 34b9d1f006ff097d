"""A small SVG drawing of an agency boundary, or of what is wrong with a
candidate one: the geometry as read, cutouts outlined, extra parts in another
colour, and a red marker at the problem's location.

The console's Boundary page uses it to show why an uploaded boundary was
refused, from the geometry and location a ``BoundaryError`` carries
(``geo.boundary_map`` draws the accepted one with the importer's
candidates). No Flask here: the functions return SVG text.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.boundary import Boundary, BoundaryError, Location, parse_boundary

__all__ = ["geometry_preview_svg", "preview_svg"]

_PAD = 12.0
_FILL, _STROKE = "#cfe3f7", "#1f5fa8"
_EXTRA_FILL, _EXTRA_STROKE = "#f7d9a8", "#b06500"  # second and later parts
_HOLE_STROKE = "#d04a02"
_MARKER = "#d00000"


def preview_svg(
    boundary_or_text: Boundary | BaseGeometry | str,
    *,
    width: int = 480,
    height: int = 360,
    problem_location: Location | None = None,
) -> str:
    """A small SVG picture of a boundary, or of what is wrong with a candidate one.

    Given text that fails validation, draws the geometry as read with a red
    marker at the problem; raises ``BoundaryError`` only when there is nothing
    to draw (unreadable or empty input).
    """
    if isinstance(boundary_or_text, Boundary):
        geometry, location = boundary_or_text.polygon, problem_location
    elif isinstance(boundary_or_text, BaseGeometry):
        geometry, location = boundary_or_text, problem_location
    else:
        try:
            geometry, location = parse_boundary(boundary_or_text).polygon, problem_location
        except BoundaryError as e:
            if e.geometry is None:
                raise
            geometry, location = e.geometry, problem_location or e.location
    return geometry_preview_svg(geometry, location, width=width, height=height)


def geometry_preview_svg(
    geometry: BaseGeometry,
    location: Location | None = None,
    *,
    width: int = 480,
    height: int = 360,
) -> str:
    """An SVG drawing of any (multi)polygon (lines and points too), holes outlined
    in orange, later parts in orange, and a red marker at ``location``.

    Only numbers computed here go into attributes; nothing is copied from the
    input as text. Lon/lat is drawn with the longitude scaled by cos(latitude)
    so shapes are not stretched; projected coordinates are drawn as they are.
    """
    w, h = float(width), float(height)
    if not (math.isfinite(w) and math.isfinite(h) and w > 0 and h > 0):
        raise ValueError("width and height must be positive numbers")
    coords = shapely.get_coordinates(geometry) if geometry is not None else np.empty((0, 2))
    coords = coords[np.isfinite(coords).all(axis=1)]
    points = [coords]
    loc = None
    if location is not None and all(math.isfinite(float(v)) for v in location):
        loc = (float(location[0]), float(location[1]))
        points.append(np.array([loc]))
    pts = np.concatenate(points) if points else np.empty((0, 2))

    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:g}" height="{h:g}" '
        f'viewBox="0 0 {w:g} {h:g}" role="img" aria-label="boundary preview">'
        f'<rect width="{w:g}" height="{h:g}" fill="#ffffff" stroke="#cccccc"/>'
    )
    if not len(pts):
        return head + "</svg>"

    minx, miny = pts.min(axis=0)
    maxx, maxy = pts.max(axis=0)
    geographic = abs(minx) <= 180 and abs(maxx) <= 180 and abs(miny) <= 90 and abs(maxy) <= 90
    kx = math.cos(math.radians((miny + maxy) / 2)) if geographic else 1.0
    kx = max(kx, 0.05)
    span_x = max((maxx - minx) * kx, 1e-12)
    span_y = max(maxy - miny, 1e-12)
    scale = min((w - 2 * _PAD) / span_x, (h - 2 * _PAD) / span_y)
    off_x = (w - span_x * scale) / 2
    off_y = (h - span_y * scale) / 2

    def project(xy: np.ndarray) -> np.ndarray:
        xy = xy[np.isfinite(xy).all(axis=1)]
        px = off_x + (xy[:, 0] - minx) * kx * scale
        py = h - (off_y + (xy[:, 1] - miny) * scale)
        out = np.round(np.column_stack([px, py]), 1)
        if len(out) > 1:  # drop points that land on the same pixel as the previous one
            keep = np.ones(len(out), dtype=bool)
            keep[1:] = (np.abs(np.diff(out, axis=0)) >= 0.5).any(axis=1)
            keep[-1] = True
            out = out[keep]
        return out

    def path_d(xy: np.ndarray, close: bool) -> str:
        p = project(xy)
        if not len(p):
            return ""
        d = "M" + " L".join(f"{x:.1f} {y:.1f}" for x, y in p)
        return d + (" Z" if close else "")

    body: list[str] = []
    for index, part in enumerate(_flatten(geometry)):
        fill, stroke = (_FILL, _STROKE) if index == 0 else (_EXTRA_FILL, _EXTRA_STROKE)
        if isinstance(part, shapely.Polygon):
            d = path_d(shapely.get_coordinates(part.exterior), True)
            holes = [path_d(shapely.get_coordinates(r), True) for r in part.interiors]
            full = " ".join([d, *holes]).strip()
            if full:
                body.append(
                    f'<path d="{full}" fill="{fill}" fill-rule="evenodd" stroke="{stroke}" '
                    f'stroke-width="1.5" stroke-linejoin="round"/>'
                )
            body.extend(
                f'<path d="{hd}" fill="none" stroke="{_HOLE_STROKE}" stroke-width="1.5" '
                f'stroke-dasharray="4 2"/>'
                for hd in holes
                if hd
            )
        elif isinstance(part, shapely.LineString | shapely.LinearRing):
            d = path_d(shapely.get_coordinates(part), False)
            if d:
                body.append(f'<path d="{d}" fill="none" stroke="{stroke}" stroke-width="1.5"/>')
        elif isinstance(part, shapely.Point) and not part.is_empty:
            p = project(shapely.get_coordinates(part))
            if len(p):
                body.append(
                    f'<circle cx="{p[0, 0]:.1f}" cy="{p[0, 1]:.1f}" r="3" fill="{stroke}"/>'
                )
    if loc is not None:
        (mx, my), r = project(np.array([loc]))[0], 7.0
        body.append(
            f'<g stroke="{_MARKER}" stroke-width="2" fill="none">'
            f'<circle cx="{mx:.1f}" cy="{my:.1f}" r="{r:g}"/>'
            f'<path d="M{mx - r - 4:.1f} {my:.1f} H{mx + r + 4:.1f} '
            f'M{mx:.1f} {my - r - 4:.1f} V{my + r + 4:.1f}"/></g>'
        )
    return head + "".join(body) + "</svg>"


def _flatten(geometry: BaseGeometry | None) -> list[BaseGeometry]:
    if geometry is None or geometry.is_empty:
        return []
    if hasattr(geometry, "geoms"):
        return [p for g in geometry.geoms for p in _flatten(g)]
    return [geometry]
