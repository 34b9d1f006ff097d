"""How fast is boundary containment? ``.venv/bin/python bench/boundary.py``

Builds a New Haven-sized boundary with ~2,000 vertices, then checks
1,000,000 random points with ``Boundary.contains_many`` (prepared polygon,
vectorised ``shapely.intersects_xy``) and compares a per-point Python loop
over ``polygon.covers(Point(...))``. The loop runs on a 20,000-point sample
and its time is extrapolated to 1,000,000 points (the output says so).
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo.boundary import Boundary  # noqa: E402

VERTICES = 2_000
POINTS = 1_000_000
SAMPLE = 20_000
CENTRE = (-72.925, 41.30)
SEED = 20240601


def wiggly_polygon(n: int) -> shapely.Polygon:
    """A star-shaped (so simple) outline about 13 km across with a ragged edge."""
    theta = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    r = 0.06 * (
        1 + 0.12 * np.sin(7 * theta) + 0.05 * np.sin(23 * theta) + 0.02 * np.sin(97 * theta)
    )
    lng = CENTRE[0] + r * np.cos(theta) / math.cos(math.radians(CENTRE[1]))
    lat = CENTRE[1] + r * np.sin(theta)
    return shapely.Polygon(np.column_stack([lng, lat]))


def main() -> None:
    boundary = Boundary(wiggly_polygon(VERTICES), "bench")
    minx, miny, maxx, maxy = boundary.bounds
    rng = np.random.default_rng(SEED)
    pad_x, pad_y = (maxx - minx) * 0.1, (maxy - miny) * 0.1
    lngs = rng.uniform(minx - pad_x, maxx + pad_x, POINTS)
    lats = rng.uniform(miny - pad_y, maxy + pad_y, POINTS)

    start = time.perf_counter()
    inside = boundary.contains_many(lngs, lats)
    vector_s = time.perf_counter() - start

    sample = list(zip(lngs[:SAMPLE].tolist(), lats[:SAMPLE].tolist(), strict=True))
    polygon = boundary.polygon  # prepared by Boundary; covers() uses the prepared form
    start = time.perf_counter()
    loop = [polygon.covers(shapely.Point(x, y)) for x, y in sample]
    loop_sample_s = time.perf_counter() - start
    loop_s = loop_sample_s * POINTS / SAMPLE
    if loop != inside[:SAMPLE].tolist():
        raise SystemExit("contains_many disagrees with polygon.covers on the sample")

    raw = shapely.Polygon(polygon.exterior.coords)  # same shape, never prepared
    start = time.perf_counter()
    for x, y in sample:
        raw.covers(shapely.Point(x, y))
    raw_s = (time.perf_counter() - start) * POINTS / SAMPLE

    print(
        f"boundary: {boundary.vertex_count:,} vertices, {boundary.area_km2:.0f} km²; "
        f"{POINTS:,} random points in its bounding box + 10%, {inside.mean():.1%} inside"
    )
    rows = [
        ("contains_many (prepared, vectorised)", vector_s, ""),
        (
            "loop: prepared polygon.covers(Point)",
            loop_s,
            f"  extrapolated: measured {loop_sample_s:.3f} s on {SAMPLE:,} points",
        ),
        ("loop: unprepared polygon.covers(Point)", raw_s, f"  extrapolated from {SAMPLE:,}"),
    ]
    for label, seconds, note in rows:
        print(f"{label:<40} {seconds:7.3f} s {POINTS / seconds:>12,.0f} points/s{note}")
    print(
        f"ratio: contains_many is {loop_s / vector_s:,.0f}x faster than the prepared loop "
        f"and {raw_s / vector_s:,.0f}x faster than the unprepared loop; "
        f"results agree on the {SAMPLE:,}-point sample"
    )


if __name__ == "__main__":
    main()
