"""The agency boundary drawn to scale with points on it (the importer's
candidates), as SVG text. No Flask here.

Lon/lat is drawn with the longitude scaled by cos(latitude), like
``boundary_svg``, so the city keeps its shape. Each point carries a CSS class
(its colour comes from the page's stylesheet: no inline style, for the CSP)
and a tooltip; every text from outside is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
import shapely

from geo.boundary import Boundary

_PAD = 14.0


@dataclass(frozen=True)
class MapPoint:
    lng: float
    lat: float
    css: str  # "inside", "outside", "skipped", "failed"
    title: str  # the tooltip: which request, and why it is coloured so


def boundary_map_svg(
    boundary: Boundary, points: Sequence[MapPoint] = (), *, width: int = 720, height: int = 520
) -> str:
    """The polygon and the points, scaled to fit ``width`` × ``height`` together."""
    outline = shapely.get_coordinates(boundary.polygon.exterior)
    usable = [p for p in points if math.isfinite(p.lng) and math.isfinite(p.lat)]
    located = np.array([(p.lng, p.lat) for p in usable], dtype=float).reshape(-1, 2)
    everything = np.concatenate([outline, located])
    (minx, miny), (maxx, maxy) = everything.min(axis=0), everything.max(axis=0)
    kx = max(math.cos(math.radians((miny + maxy) / 2)), 0.05)
    span_x, span_y = max((maxx - minx) * kx, 1e-9), max(maxy - miny, 1e-9)
    scale = min((width - 2 * _PAD) / span_x, (height - 2 * _PAD) / span_y)
    off_x = (width - span_x * scale) / 2
    off_y = (height - span_y * scale) / 2

    def xy(lng: float, lat: float) -> tuple[float, float]:
        return off_x + (lng - minx) * kx * scale, height - (off_y + (lat - miny) * scale)

    path = "M" + " L".join("{:.1f} {:.1f}".format(*xy(x, y)) for x, y in outline) + " Z"
    parts = [
        f'<svg class="boundary-map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} '
        f'{height}" role="img" aria-label="agency boundary with {len(usable)} requests">',
        f'<path class="boundary" d="{path}"/>',
    ]
    for point in usable:
        x, y = xy(point.lng, point.lat)
        parts.append(
            f'<circle class="pt {escape(point.css)}" cx="{x:.1f}" cy="{y:.1f}" r="4">'
            f"<title>{escape(point.title)}</title></circle>"
        )
    parts.append(_scale_bar(width, height, scale, kx, (miny + maxy) / 2))
    parts.append("</svg>")
    return "".join(parts)


def _scale_bar(width: int, height: int, scale: float, kx: float, lat: float) -> str:
    """A bar of a round length in km (to scale, at the map's middle latitude)."""
    km_per_degree_lng = 111.32 * math.cos(math.radians(lat))
    pixels_per_km = scale * kx / km_per_degree_lng if km_per_degree_lng else 0
    if pixels_per_km <= 0:
        return ""
    for km in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100):
        if km * pixels_per_km >= width / 8:
            break
    length = km * pixels_per_km
    x0, y0 = _PAD, height - _PAD
    label = f"{km:g} km"
    return (
        f'<g class="scale"><path d="M{x0:.1f} {y0 - 4:.1f} V{y0:.1f} H{x0 + length:.1f} '
        f'V{y0 - 4:.1f}"/><text x="{x0 + length / 2:.1f}" y="{y0 - 6:.1f}" '
        f'text-anchor="middle">{label}</text></g>'
    )


def near_boundary(
    boundary: Boundary, points: Sequence[MapPoint], margin: float = 1.0
) -> tuple[list[MapPoint], int]:
    """The points within ``margin`` times the boundary's size around it, and
    how many lie farther: one request in another state would shrink the city
    to a dot, so those are counted, not drawn."""
    minx, miny, maxx, maxy = boundary.polygon.bounds
    reach = max(maxx - minx, maxy - miny) * margin
    kept = [
        p
        for p in points
        if math.isfinite(p.lng)
        and math.isfinite(p.lat)
        and minx - reach <= p.lng <= maxx + reach
        and miny - reach <= p.lat <= maxy + reach
    ]
    return kept, len(points) - len(kept)
