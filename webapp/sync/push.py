"""Push: create the remote request for a CRM issue, then acknowledge the issue.

Each leg is committed as soon as it succeeds, so a retry resumes at the leg
that failed. Before every create the remote system is searched by the
external-id field and an existing request is adopted: a retry after a lost
reply never creates a second one.
"""

from __future__ import annotations

from geo.geocode import GeocodeError, cache_key
from integrations.base import NoteOut, OutboundRequest, RemoteRecord
from integrations.errors import IntegrationError

from ..extensions import db
from ..models import Comment, GeocodeCache, Issue, SyncLink, SyncState, utcnow
from . import events, fields, messages, runtime
from .categories import request_type_for
from .ingest import NOTE_ORIGINS


class LinkNotFoundError(LookupError):
    pass


def describe(issue: Issue) -> str:
    """The resident's description plus each question and answer on its own line."""
    lines = [issue.description or issue.summary or ""]
    for qa in issue.questions or []:
        if qa.get("question") and qa.get("answer") not in (None, ""):
            lines.append(f"{qa['question']}: {qa['answer']}")
    return "\n".join(line for line in lines if line)


def outbound_request(issue: Issue, link: SyncLink) -> OutboundRequest:
    """Everything the connector may send; mapping problems raise FieldMappingError."""
    request_type = request_type_for(issue.request_type_id)
    requester = fields.build_requester(issue, link.integration, request_type)
    for warning in requester.warnings:
        events.record(
            "config_warning",
            warning,
            issue_id=issue.id,
            integration_id=link.integration_id,
            level="warning",
        )
    return OutboundRequest(
        crm_issue_id=issue.id,
        category_remote_id=link.category.remote_id if link.category else "",
        summary=issue.summary,
        description=describe(issue),
        lat=issue.lat,
        lng=issue.lng,
        reported_address=issue.address,
        verified_address=link.verified_address if link.address_source == "arcgis" else None,
        image_url=issue.image_url,
        requester=requester.requester,
        answers={qa["key"]: qa["answer"] for qa in issue.questions or [] if qa.get("key")},
        custom_fields=fields.custom_fields(issue, link, link.category),
        address_parts=address_parts(link, issue),
    )


def address_parts(link: SyncLink, issue: Issue) -> dict[str, str]:
    """Number, street, city and ZIP of the verified address, from the locator's reply."""
    if link.address_source != "arcgis" or issue.lat is None or issue.lng is None:
        return {}
    geocoder = runtime.geocoder()
    cached = db.session.get(GeocodeCache, cache_key(geocoder.server_url, issue.lat, issue.lng))
    raw = cached.raw if cached else {}
    number = str(raw.get("AddNum") or "")
    street = str(raw.get("Address") or "")
    if number and street.startswith(number):
        street = street[len(number) :].strip()
    parts = {"number": number, "street": street, "city": raw.get("City"), "zip": raw.get("Postal")}
    return {k: str(v) for k, v in parts.items() if v}


def verify_address(link: SyncLink, issue: Issue) -> None:
    """Reverse-geocode once per link; any failure falls back to the reported address."""
    if link.address_source is not None:
        return
    if not runtime.feature_enabled(link.integration, "geocode"):
        link.address_source = "reported"  # e.g. Lucity Work Orders: no secondary geocoding
        return
    if issue.lat is None or issue.lng is None:
        link.address_source = "reported"
        events.record(
            "geocode_skipped",
            "the issue has no coordinates; using the reported address",
            issue_id=issue.id,
            integration_id=link.integration_id,
            level="warning",
        )
        return
    try:
        geocoder = runtime.geocoder()
        if geocoder is None:
            link.address_source = "reported"
            return
        key = cache_key(geocoder.server_url, issue.lat, issue.lng)
        cached = db.session.get(GeocodeCache, key)
        if cached is not None:
            link.verified_address, link.address_source = cached.address, "arcgis"
            events.record(
                "geocoded",
                f"{cached.address} (cached)",
                issue_id=issue.id,
                integration_id=link.integration_id,
            )
            return
        address = geocoder.reverse(issue.lat, issue.lng)
    except (GeocodeError, IntegrationError) as exc:
        link.address_source = "reported"
        events.record(
            "geocode_failed",
            f"{exc}; using the reported address {issue.address!r}",
            issue_id=issue.id,
            integration_id=link.integration_id,
            level="warning",
        )
        return
    link.verified_address = address.label
    link.address_source = "arcgis"
    db.session.merge(GeocodeCache(key=key, address=address.label, raw=address.raw))
    events.record("geocoded", address.label, issue_id=issue.id, integration_id=link.integration_id)


def _store_remote(link: SyncLink, record: RemoteRecord) -> None:
    link.remote_id = record.remote_id
    link.remote_display_id = record.display_id
    link.remote_status = record.status
    link.remote_fields = dict(record.fields)
    link.remote_created_at = utcnow()


def push_link(link_id: int) -> SyncLink:
    """Run every leg of the push that is not done yet. Raises on failure."""
    link = db.session.get(SyncLink, link_id)
    if link is None:
        raise LinkNotFoundError(f"sync link {link_id} does not exist")
    if link.state == SyncState.ACKNOWLEDGED:
        push_notes(link)  # the request exists: only new comments are left to send
        return link
    if link.state not in (SyncState.PENDING, SyncState.FAILED):
        return link
    issue, integration = link.issue, link.integration
    if link.remote_id is None:
        verify_address(link, issue)
        db.session.commit()
        connector = runtime.connector(integration)
        try:
            record = connector.find_by_external_id(issue.id)
            if record is not None:
                events.record(
                    "remote_adopted",
                    f"found existing remote request {record.display_id or record.remote_id}"
                    " by external id; not creating another",
                    issue_id=issue.id,
                    integration_id=integration.id,
                )
            else:
                record = connector.create_request(outbound_request(issue, link))
                events.record(
                    "remote_created",
                    f"{integration.name}: request {record.display_id or ''} "
                    f"(id {record.remote_id})".replace("  ", " "),
                    issue_id=issue.id,
                    integration_id=integration.id,
                )
        finally:
            connector.close()
        _store_remote(link, record)
        db.session.commit()
    if link.crm_acknowledged_at is None:
        message = messages.acknowledgment_message(integration, link.category)
        runtime.crm_client().acknowledge(issue.id, message)
        link.crm_acknowledged_at = utcnow()
        issue.status = "Acknowledged"
        events.record("acknowledged", message, issue_id=issue.id, integration_id=integration.id)
    link.state = SyncState.ACKNOWLEDGED
    link.last_error = None
    link.last_synced_at = utcnow()
    db.session.commit()
    push_notes(link)
    return link


def push_notes(link: SyncLink) -> int:
    """Send the issue's unsent public comments (and hub notes) to the remote
    request, in creation order, then mark them sent."""
    notes = (
        db.session.execute(
            db.select(Comment)
            .where(
                Comment.issue_id == link.issue_id,
                Comment.pushed_at.is_(None),
                Comment.origin.in_(NOTE_ORIGINS),
            )
            .order_by(Comment.created_at.nulls_first(), Comment.id)
        )
        .scalars()
        .all()
    )
    if not notes or link.remote_id is None:
        return 0
    connector = runtime.connector(link.integration)
    try:
        connector.add_comments(
            link.remote_id,
            [
                NoteOut(
                    key=str(c.crm_comment_id) if c.crm_comment_id else f"note-{c.id}",
                    body=c.body,
                    author=c.author,
                    created_at=c.created_at,
                    image_url=c.image_url,
                )
                for c in notes
            ],
        )
    finally:
        connector.close()
    now = utcnow()
    for comment in notes:
        comment.pushed_at = now
    link.last_synced_at = now
    events.record(
        "comments_sent",
        f"{len(notes)} comment(s) added to the remote request",
        issue_id=link.issue_id,
        integration_id=link.integration_id,
    )
    db.session.commit()
    return len(notes)


def record_failure(
    link_id: int, exc: BaseException, *, final: bool, retry_in: float | None = None
) -> None:
    """Write down a failed attempt; the last one marks the link failed."""
    db.session.rollback()
    link = db.session.get(SyncLink, link_id)
    if link is None:
        return
    link.attempts = (link.attempts or 0) + 1
    link.last_error = str(exc) or exc.__class__.__name__
    link.last_error_at = utcnow()
    if final and link.state == SyncState.ACKNOWLEDGED:
        # Only a comment leg can fail here: the request stays synced; the
        # sweeper sends the comments later.
        events.record(
            "comments_failed",
            f"could not send comments to the remote request: {link.last_error}",
            issue_id=link.issue_id,
            integration_id=link.integration_id,
            level="error",
        )
    elif final:
        link.state = SyncState.FAILED
        events.record(
            "push_failed",
            f"attempt {link.attempts} failed, giving up: {link.last_error}",
            issue_id=link.issue_id,
            integration_id=link.integration_id,
            level="error",
        )
    else:
        when = f"; retrying in {retry_in:.0f} s" if retry_in else "; retrying"
        events.record(
            "push_retry",
            f"attempt {link.attempts} failed: {link.last_error}{when}",
            issue_id=link.issue_id,
            integration_id=link.integration_id,
            level="warning",
        )
    db.session.commit()


def reset_for_retry(link_id: int) -> SyncLink:
    """Staff asked to retry a failed link: back to pending, attempts kept for history."""
    link = db.session.get(SyncLink, link_id)
    if link is None:
        raise LinkNotFoundError(f"sync link {link_id} does not exist")
    if link.state == SyncState.FAILED:
        link.state = SyncState.PENDING
        events.record(
            "retry_requested",
            "failed push queued again",
            issue_id=link.issue_id,
            integration_id=link.integration_id,
        )
        db.session.commit()
    return link
