"""Importer: requests entered directly in the remote system become CRM issues,
then are linked and polled like any other. Only requests inside the agency
boundary are imported; the others are skipped and counted with the reason.

The CRM may hold a new issue for moderation (``202 {"metadata":{"moderated":
true}}``, no id): that is an outcome of its own (``moderated``), not a
failure. Every issue the importer creates ends its description with a marker
naming the remote request (``ingest.import_marker``), so the held issue is
linked when it appears — by the CRM poll, a webhook or a fetch — exactly
once: ingest moves the record to ``imported`` in the commit that adds the
link, and the push writes the CRM id onto the remote request.

SeeClickFix documents no field that makes a new issue private
(``private_visibility`` is only read): privacy belongs to the request
category, which an admin marks Private in SeeClickFix (seed 003). So a private
category's requests are created in its request type and the importer reads
back the visibility the CRM gave: private is noted on the timeline, public is
a warning naming the request type to mark Private.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from geo.boundary import Boundary, BoundaryError, load_boundary
from geo.geocode import GeocodeError, cache_key
from integrations.base import Connector, RemoteRecord, RemoteRequest
from integrations.errors import IntegrationError
from integrations.seeclickfix import CrmIssue, IssueCreated, SeeClickFixClient, parse_issue
from integrations.settings import IntegrationSettings

from ..extensions import db
from ..models import (
    Category,
    GeocodeCache,
    ImportedRequest,
    Integration,
    Issue,
    SyncLink,
    utcnow,
)
from . import cursors, events, lifecycle, vendors
from .ingest import import_marker, upsert_issue
from .push import acknowledge_crm


class ImporterDisabledError(IntegrationError):
    """The importer cannot run (no boundary, an invalid one, or switched off)."""


@dataclass
class ImportReport:
    integration: str
    seen: int = 0
    imported: int = 0
    moderated: int = 0  # held for moderation by the CRM: linked when the issue appears
    skipped: Counter = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.seen} new remote request(s)", f"{self.imported} imported"]
        if self.moderated:
            parts.append(f"{self.moderated} held for moderation by the CRM")
        parts += [f"{count} skipped: {reason}" for reason, count in self.skipped.most_common()]
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return "; ".join(parts)


def cursor_key(integration: Integration) -> str:
    return f"import:{integration.name}"


def agency_boundary() -> Boundary:
    agency = vendors.agency()
    if not agency.boundary_path:
        raise ImporterDisabledError(
            "no agency boundary is configured (agency.boundary): the importer stays off"
        )
    try:
        return load_boundary(agency.boundary_path)
    except BoundaryError as exc:
        raise ImporterDisabledError(
            f"importer disabled: the agency boundary is refused: {exc}"
        ) from exc


def _categories(integration: Integration) -> dict[str, Category]:
    rows = db.session.execute(
        db.select(Category).where(
            Category.integration_id == integration.id, Category.enabled.is_(True)
        )
    ).scalars()
    return {c.remote_id: c for c in rows if c.crm_request_type_id is not None}


def _skip(integration: Integration, request: RemoteRequest, reason: str, report: ImportReport):
    report.skipped[reason] += 1
    db.session.add(
        ImportedRequest(
            integration_id=integration.id,
            remote_id=request.record.remote_id,
            remote_display_id=request.record.display_id,
            outcome="skipped",
            reason=reason,
            lat=_finite(request.lat),
            lng=_finite(request.lng),
        )
    )


def _finite(value: float | None) -> float | None:
    """A coordinate worth drawing on the boundary map (not NaN or infinite)."""
    return value if isinstance(value, int | float) and math.isfinite(value) else None


def inside(boundary: Boundary, candidates: list[RemoteRequest]) -> list[bool]:
    """Containment of every candidate at once (prepared polygon, vectorised)."""
    if not candidates:
        return []
    lngs = np.array([c.lng for c in candidates], dtype=float)
    lats = np.array([c.lat for c in candidates], dtype=float)
    return [bool(v) for v in boundary.contains_many(lngs, lats)]


def import_requests(integration_id: int) -> ImportReport:
    integration = db.session.get(Integration, integration_id)
    if integration is None:
        raise LookupError(f"integration {integration_id} does not exist")
    settings = vendors.settings_of(integration)
    if not settings.import_requests:
        raise ImporterDisabledError(f"{integration.name}: import_requests is off")
    boundary = agency_boundary()
    report = ImportReport(integration.name)
    cursor = cursors.cursor(cursor_key(integration))
    cursor.last_started_at = started = utcnow()
    first_window = timedelta(days=settings.import_first_window_days)
    since = datetime.fromisoformat(cursor.cursor) if cursor.cursor else started - first_window
    db.session.commit()

    connector = vendors.connector(integration, settings)  # shared: not closed here
    candidates = connector.fetch_new_requests(since)
    report.seen = len(candidates)
    known = set(
        db.session.execute(
            db.select(ImportedRequest.remote_id).where(
                ImportedRequest.integration_id == integration.id
            )
        ).scalars()
    ) | set(
        db.session.execute(
            db.select(SyncLink.remote_id).where(SyncLink.integration_id == integration.id)
        ).scalars()
    )
    fresh = [c for c in candidates if c.record.remote_id not in known]
    located = [c for c in fresh if c.lat is not None and c.lng is not None]
    within = dict(zip((id(c) for c in located), inside(boundary, located), strict=True))
    categories = _categories(integration)
    for candidate in fresh:
        if candidate.lat is None or candidate.lng is None:
            _skip(integration, candidate, "no coordinates", report)
        elif candidate.category_remote_id not in categories:
            _skip(
                integration,
                candidate,
                f"category {candidate.category_remote_id!r} is not mapped",
                report,
            )
        elif not within[id(candidate)]:
            _skip(integration, candidate, "outside the agency boundary", report)
        else:
            _import_one(
                integration,
                settings,
                connector,
                candidate,
                categories[candidate.category_remote_id],
                report,
            )
        db.session.commit()
    cursor = cursors.cursor(cursor_key(integration))
    cursor.cursor = started.isoformat()  # everything entered up to the start was read
    cursor.last_success_at = utcnow()
    cursor.last_error = report.failed[0] if report.failed else None
    if report.seen:
        events.record(
            "import_run",
            report.summary(),
            integration_id=integration.id,
            level="warning" if report.failed else "info",
        )
    db.session.commit()
    return report


def _import_one(
    integration: Integration,
    settings: IntegrationSettings,
    connector: Connector,
    candidate: RemoteRequest,
    category: Category,
    report: ImportReport,
) -> None:
    record = candidate.record
    claim_id = _claim(integration, candidate)
    crm = vendors.crm_client()
    try:
        created = crm.create_issue(_issue_fields(integration, candidate, category))
        if created.moderated:
            _held(integration, claim_id, record, category, report)
            return
        issue = _created_issue(crm, created)
    except (IntegrationError, ValueError) as exc:
        db.session.rollback()
        claim = db.session.get(ImportedRequest, claim_id)
        claim.outcome, claim.reason = "failed", f"the CRM refused it: {exc}"
        report.failed.append(f"{record.display_id or record.remote_id}: {exc}")
        return
    link = _link_created(integration, record, category, issue, claim_id)
    report.imported += 1
    try:
        connector.set_external_id(record.remote_id, issue.id)
        acknowledge_crm(link, crm, settings)
    except IntegrationError as exc:
        # The issue exists and is linked; the push job finishes the legs.
        link.last_error = str(exc)
        events.record(
            "import_incomplete",
            str(exc),
            issue_id=issue.id,
            integration_id=integration.id,
            level="warning",
        )


def _claim(integration: Integration, candidate: RemoteRequest) -> int:
    """Claimed before the CRM call: a crash after it leaves a visible trace
    instead of a silent second CRM issue on the next run."""
    record = candidate.record
    claim = ImportedRequest(
        integration_id=integration.id,
        remote_id=record.remote_id,
        remote_display_id=record.display_id,
        lat=_finite(candidate.lat),
        lng=_finite(candidate.lng),
        outcome="importing",
        reason="interrupted during import: check the CRM for this request before retrying",
    )
    db.session.add(claim)
    db.session.commit()
    return claim.id


def _link_created(
    integration: Integration,
    record: RemoteRecord,
    category: Category,
    issue: CrmIssue,
    claim_id: int,
) -> SyncLink:
    """Store the new CRM issue and link it to the remote request (committed)."""
    upsert_issue(issue, source="import", route=False)  # linked here, to this request
    link = lifecycle.open_imported_link(
        db.session.get(Issue, issue.id),
        category,
        detail=f"from {integration.name} request {record.display_id or record.remote_id}",
        remote_id=record.remote_id,
        remote_display_id=record.display_id,
        remote_status=record.status,
        remote_fields=dict(record.fields),
    )
    link.issue.skip_reason = None  # a poll that read it meanwhile left it to us
    _note_private(category, issue)
    claim = db.session.get(ImportedRequest, claim_id)
    claim.outcome, claim.reason, claim.issue_id = "imported", None, issue.id
    db.session.commit()
    return link


def _issue_fields(
    integration: Integration, candidate: RemoteRequest, category: Category
) -> dict[str, object]:
    """``POST /issues``: the documented required fields (``address``, ``lat``,
    ``lng``, ``answers``, ``request_type_id``), the description ending with
    the marker that links the issue to its remote request when it appears."""
    marker = import_marker(integration.name, candidate.record.remote_id)
    description = "\n\n".join(part for part in (candidate.description.strip(), marker) if part)
    return {
        "lat": candidate.lat,
        "lng": candidate.lng,
        "address": _address(candidate),
        "request_type_id": category.crm_request_type_id,
        "answers": {"summary": category.name or category.remote_id, "description": description},
    }


def _address(candidate: RemoteRequest) -> str:
    """The CRM requires an address: the remote request's, else the one the
    agency's geocoder finds at its coordinates (cached like the push's). With
    neither, the CRM's refusal is recorded in its own words."""
    if candidate.address and candidate.address.strip():
        return candidate.address
    try:
        locator = vendors.geocoder()
        if locator is None:
            return ""
        key = cache_key(locator.server_url, candidate.lat, candidate.lng)
        cached = db.session.get(GeocodeCache, key)
        if cached is not None:
            return cached.address
        found = locator.reverse(candidate.lat, candidate.lng)
    except (GeocodeError, IntegrationError):
        return ""
    db.session.merge(GeocodeCache(key=key, address=found.label, raw=found.raw))
    return found.label


def _created_issue(crm: SeeClickFixClient, created: IssueCreated) -> CrmIssue:
    """The new issue: from the reply when it is the issue, else read back."""
    if "status" in created.body:
        return parse_issue(created.body)
    return crm.get_issue(created.id)


def _held(
    integration: Integration,
    claim_id: int,
    record: RemoteRecord,
    category: Category,
    report: ImportReport,
) -> None:
    """The CRM held the new issue for moderation: a documented outcome, not a
    failure. Nothing to link yet; ingest links it when the issue appears."""
    claim = db.session.get(ImportedRequest, claim_id)
    shown = record.display_id or record.remote_id
    claim.outcome = "moderated"
    claim.reason = (
        "held for moderation by the CRM: linked when the issue appears (its description "
        f"ends with {import_marker(integration.name, record.remote_id)})"
    )
    events.record(
        "import_moderated",
        f"{integration.name} request {shown} ({category.remote_id}): the CRM holds the new "
        "issue for moderation; it is linked when a moderator lets it through",
        integration_id=integration.id,
    )
    report.moderated += 1


def _note_private(category: Category, issue: CrmIssue) -> None:
    """A private category's request: the CRM made it private or public by its
    request type's setting (its documented create takes no visibility)."""
    if not category.private:
        return
    where = f"request type {category.crm_request_type_id}"
    if issue.private:
        detail, level = f"created private, as {where} is private in the CRM", "info"
    elif issue.private is False:
        detail = (
            f"category {category.remote_id} is private, but the CRM made the issue public: "
            f"mark {where} Private in SeeClickFix (its API takes no visibility per issue)"
        )
        level = "warning"
    else:
        detail = (
            f"category {category.remote_id} is private; the CRM did not say whether the issue "
            f"is: check that {where} is marked Private in SeeClickFix"
        )
        level = "warning"
    events.record(
        "import_visibility",
        detail,
        issue_id=issue.id,
        integration_id=category.integration_id,
        level=level,
    )
