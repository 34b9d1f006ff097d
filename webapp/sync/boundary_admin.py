"""The agency boundary in the console: drawn with the importer's candidates,
and replaced by an admin from an uploaded GeoJSON file.

An upload is judged by the same rules as the configuration loader
(``geo.boundary.parse_boundary``). A refused one is drawn as read, with the
offending part marked next to the message; an accepted one replaces the file
the agency configuration names (``agency.boundary``) only when the admin
confirms, keeping the old file beside it, and the audit log records it. The
file, not the database, holds the boundary, so ``config load`` and the
console never disagree about it.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from geo.boundary import Boundary, BoundaryError, load_boundary, parse_boundary
from geo.boundary_map import MapPoint, boundary_map_svg, near_boundary
from geo.boundary_svg import preview_svg

from ..extensions import db
from ..models import ImportedRequest, Integration, utcnow
from . import audit, vendors

MAP_POINTS = 2000  # the newest candidates drawn
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
OUTSIDE = "outside the agency boundary"


class BoundaryNotConfigured(LookupError):
    """No ``agency.boundary`` file: nothing to draw or replace."""


@dataclass
class BoundaryMap:
    svg: str | None = None
    error: str | None = None  # the configured file is unusable (why)
    path: str | None = None
    counts: Counter = field(default_factory=Counter)  # by point class
    far: int = 0  # candidates too far away to draw
    last_seen: datetime | None = None


@dataclass
class UploadCheck:
    accepted: bool
    message: str
    svg: str | None  # the candidate as read, the problem marked when refused
    text: str = ""


def current_path() -> Path:
    agency = vendors.agency()
    if not agency.boundary_path:
        raise BoundaryNotConfigured(
            "no boundary file is configured: set agency.boundary in the agency file "
            "and run `crosswalk config load`"
        )
    return Path(agency.boundary_path)


def boundary_map() -> BoundaryMap:
    result = BoundaryMap()
    try:
        path = current_path()
    except BoundaryNotConfigured as exc:
        result.error = str(exc)
        return result
    result.path = str(path)
    try:
        boundary = load_boundary(path)
    except BoundaryError as exc:
        result.error = f"the configured boundary is refused: {exc}"
        return result
    points, result.last_seen = _candidates()
    kept, result.far = near_boundary(boundary, points)
    result.counts = Counter(p.css for p in points)
    result.svg = boundary_map_svg(boundary, kept)
    return result


def _candidates() -> tuple[list[MapPoint], datetime | None]:
    rows = db.session.execute(
        db.select(ImportedRequest, Integration.name)
        .join(Integration, Integration.id == ImportedRequest.integration_id)
        .where(ImportedRequest.lat.is_not(None), ImportedRequest.lng.is_not(None))
        .order_by(ImportedRequest.updated_at.desc(), ImportedRequest.id.desc())
        .limit(MAP_POINTS)
    ).all()
    points = []
    for row, integration in rows:
        css = _class_of(row)
        shown = row.remote_display_id or row.remote_id
        why = f": {row.reason}" if row.reason else ""
        points.append(
            MapPoint(row.lng, row.lat, css, f"{integration} {shown} — {row.outcome}{why}")
        )
    return points, rows[0][0].updated_at if rows else None


def _class_of(row: ImportedRequest) -> str:
    if row.outcome == "skipped":
        return "outside" if row.reason == OUTSIDE else "skipped"
    if row.outcome == "failed":
        return "failed"
    return "inside"  # imported, moderated, or being imported


def check_upload(text: str) -> UploadCheck:
    """Judge an uploaded boundary with the loader's rules; draw it either way."""
    try:
        boundary = parse_boundary(text, source="the uploaded file")
    except BoundaryError as exc:
        try:
            svg = preview_svg(text)
        except BoundaryError:
            svg = None  # nothing readable to draw
        return UploadCheck(False, str(exc), svg, text)
    return UploadCheck(True, _describe(boundary), preview_svg(boundary), text)


def _describe(boundary: Boundary) -> str:
    minx, miny, maxx, maxy = boundary.polygon.bounds
    vertices = len(boundary.polygon.exterior.coords) - 1
    return (
        f"a valid boundary: one polygon, {vertices} vertices, "
        f"longitude {minx:.4f} to {maxx:.4f}, latitude {miny:.4f} to {maxy:.4f}"
    )


def replace(text: str, actor: audit.Actor) -> Path:
    """Write an accepted boundary over the configured file (the old one kept as
    ``<name>.<UTC time>.bak``) and audit it; ``BoundaryError`` when refused."""
    parse_boundary(text, source="the uploaded file")  # judged again: never trust the form
    path = current_path()
    before = path.read_text(encoding="utf-8-sig") if path.exists() else None
    backup = None
    if before is not None:
        backup = path.with_name(f"{path.name}.{utcnow():%Y%m%dT%H%M%SZ}.bak")
        backup.write_text(before, encoding="utf-8")
    temporary = path.with_name(f".{path.name}.uploading")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)  # atomic: the importer never reads half a file
    audit.record(
        actor,
        "boundary.replace",
        str(path),
        before={"file": str(backup) if backup else None, "bytes": len(before or "")},
        after={"file": str(path), "bytes": len(text)},
    )
    db.session.commit()
    return path
