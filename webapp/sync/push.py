"""Push: run every leg a sync link still owes, in order — create the remote
request, acknowledge the CRM issue, send new comments to the remote request,
close the remote request when staff closed the CRM issue.

Each leg is recorded as intended before its vendor call and as done after
(``lifecycle``), so a retry resumes at the leg that is not done. Before every
create the remote system is searched by the external-id field and an existing
request is adopted: a retry after a lost reply never creates a second one.
The job around this (lease, failures, retries) is ``push_job``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.orm import joinedload

from geo.geocode import ReverseGeocoder
from integrations.base import Connector, NoteOut, RemoteRecord, Requester
from integrations.errors import PermanentError
from integrations.photos import download_photo
from integrations.seeclickfix import SeeClickFixClient
from integrations.settings import IntegrationSettings

from ..extensions import db
from ..models import Agency, RequestType, SyncLink, SyncState, utcnow
from . import addresses, crm_identity, events, jobs, lifecycle, messages, outbound, vendors
from .request_types import request_type_for

log = logging.getLogger(__name__)


class LinkNotFoundError(jobs.NotRetryable, LookupError):
    pass


class CreateSettling(Exception):
    """The last create's answer was lost: wait until ``until`` before looking
    the request up, in case the vendor applies the create late."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"waiting until {until.isoformat()} for a create that may still land")
        self.until = until


class PushContext:
    """One push of one link: the vendor clients it needs, looked up when first
    needed (``vendors`` keeps them from one push to the next) and the agency
    row, read once."""

    _UNSET = object()

    def __init__(self, link: SyncLink) -> None:
        self.link = link
        self.issue = link.issue
        self.integration = link.integration
        self.settings: IntegrationSettings = vendors.settings_of(link.integration)
        self._agency: Agency | None = None
        self._connector: Connector | None = None
        self._lookup_connector: Connector | None = None
        self._crm: SeeClickFixClient | None = None
        self._geocoder: object = self._UNSET
        self._request_type: object = self._UNSET

    @property
    def request_type(self) -> RequestType | None:
        """The issue's request type with its questions (held here: the
        session's identity map alone would let it go and read it again)."""
        if self._request_type is self._UNSET:
            self._request_type = request_type_for(self.issue.request_type_id)
        return self._request_type  # type: ignore[return-value]

    @property
    def agency(self) -> Agency:
        if self._agency is None:
            self._agency = vendors.agency()
        return self._agency

    @property
    def connector(self) -> Connector:
        if self._connector is None:
            self._connector = vendors.connector(self.integration, self.settings)
        return self._connector

    @property
    def lookup_connector(self) -> Connector:
        """A second connector of the integration, with an HTTP session of its
        own: for a read made in another thread while ``connector`` is busy."""
        if self._lookup_connector is None:
            self._lookup_connector = vendors.connector(
                self.integration, self.settings, lane="lookup"
            )
        return self._lookup_connector

    @property
    def crm(self) -> SeeClickFixClient:
        if self._crm is None:
            self._crm = vendors.crm_client(self.agency)
        return self._crm

    def geocoder(self) -> ReverseGeocoder | None:
        if self._geocoder is self._UNSET:
            self._geocoder = vendors.geocoder(self.agency)
        return self._geocoder  # type: ignore[return-value]

    def record(self, kind: str, detail: str, *, level: str = "info") -> None:
        events.record_for(self.link, kind, detail, level=level)


# What every push reads of a link, loaded with it in one statement (instead of
# one lazy load each).
WITH_WHAT_A_PUSH_READS = (
    joinedload(SyncLink.issue),
    joinedload(SyncLink.integration),
    joinedload(SyncLink.category),
)


def push_link(link_id: int) -> SyncLink:
    """Run every leg of the push that is not done yet. Raises on failure."""
    link = db.session.get(SyncLink, link_id, options=WITH_WHAT_A_PUSH_READS)
    if link is None:
        raise LinkNotFoundError(f"sync link {link_id} does not exist")
    if link.state not in (SyncState.PENDING, SyncState.FAILED, SyncState.ACKNOWLEDGED):
        return link
    ctx = PushContext(link)
    if link.state != SyncState.ACKNOWLEDGED:
        if link.remote_id is None:
            create_remote(ctx)
        if link.crm_acknowledged_at is None:
            link_back(ctx)
            acknowledge_crm(link, ctx.crm, ctx.settings, ctx.agency)
        else:  # acknowledged by an earlier attempt that died before its state was saved
            lifecycle.move(link, SyncState.ACKNOWLEDGED, "acknowledged", "sync resumed")
        link.last_error = None
        link.last_synced_at = utcnow()
        db.session.commit()
    push_notes(ctx)
    attach_photo(ctx)
    close_remote(ctx)
    return link


def create_remote(ctx: PushContext) -> None:
    """The create leg: verify the address, then adopt an existing request
    carrying our external id, else create one."""
    link, issue = ctx.link, ctx.issue
    if lifecycle.in_doubt(link, lifecycle.CREATE_REMOTE):
        settle = timedelta(seconds=current_app.config["CROSSWALK_CREATE_SETTLE_SECONDS"])
        if utcnow() < link.remote_create_intended_at + settle:
            raise CreateSettling(link.remote_create_intended_at + settle)
    # The address is committed with what follows (the intent to create, or the
    # adopted request): a push that dies before only geocodes again.
    with _looked_up_meanwhile(ctx) as existing:
        addresses.verify_address(link, issue, ctx.geocoder, enabled=ctx.settings.geocode)
    record = existing()
    if record is not None:
        ctx.record(
            "remote_adopted",
            f"found existing remote request {record.display_id or record.remote_id}"
            " by external id; not creating another",
        )
    else:
        # Reads only: what is pending (the address) is written with the intent.
        with db.session.no_autoflush:
            request = outbound.outbound_request(
                issue,
                link,
                ctx.settings,
                ctx.request_type,
                addresses.address_parts(link, issue, ctx.geocoder()),
            )
        # Intended only now: a lookup that failed sent nothing, so it leaves no doubt.
        lifecycle.intend(link, lifecycle.CREATE_REMOTE)
        record = ctx.connector.create_request(request)
        ctx.record(
            "remote_created",
            f"{ctx.integration.name}: request {record.display_id or ''} "
            f"(id {record.remote_id})".replace("  ", " "),
        )
    _store_remote(link, record)
    # Not committed here: the acknowledge leg's intent, next, commits it — one
    # commit fewer per push. Nothing calls a vendor in between without
    # committing first (``link_back``), and a push that dies before that
    # commit leaves the create in doubt: looked up and adopted, never sent twice.


@contextlib.contextmanager
def _looked_up_meanwhile(ctx: PushContext) -> Iterator[Callable[[], RemoteRecord | None]]:
    """While the block geocodes, the two reads of the create leg that need
    nothing the geocode answers run beside it, on the process's lookup
    threads (``_lookup_lanes``) and each on an HTTP session of its own: the
    request by our external id (on a second connector of the integration,
    kept per worker like the first) and the requester by email (on the
    connector; only a head start: the connector remembers what it found, and
    the create looks it up itself if it did not — a lookup that failed here
    is simply done again there). Three vendor calls, one wait: two calls'
    waits less per push.

    Yields what answers the lookup by external id, once the block is over:
    both lookups have finished by then, before the caller uses the connector
    again, and a lookup that failed raises its error there. Without a
    geocode to wait for, the lookup is simply made then."""
    link, issue = ctx.link, ctx.issue
    geocodes = (
        link.address_source is None
        and ctx.settings.geocode
        and issue.lat is not None
        and issue.lng is not None
    )
    if not geocodes:
        yield lambda: ctx.connector.find_by_external_id(issue.id)
        return
    requester = outbound.requester_of(issue, ctx.settings, ctx.request_type)
    lanes = _lookup_lanes()
    started = [lanes.submit(ctx.lookup_connector.find_by_external_id, issue.id)]
    if ctx.connector.looks_up_requester(requester):
        started.append(lanes.submit(_find_requester, ctx.connector, requester))
    try:
        yield started[0].result
    finally:
        futures.wait(started)


_LANES: dict[int, ThreadPoolExecutor] = {}  # by process id
_LANES_LOCK = threading.Lock()


def _lookup_lanes() -> ThreadPoolExecutor:
    """The threads that make a push's lookups beside its geocode, kept for the
    process (starting two threads per push cost ~0.5 ms of CPU); a forked
    work horse, which inherits no thread, starts its own."""
    pid = os.getpid()
    with _LANES_LOCK:
        lanes = _LANES.get(pid)
        if lanes is None:
            lanes = _LANES[pid] = ThreadPoolExecutor(
                max_workers=4, thread_name_prefix="push-lookup"
            )
        return lanes


def _find_requester(connector: Connector, requester: Requester) -> None:
    try:
        connector.find_requester(requester)
    except Exception:  # the create looks it up again, and reports what fails then
        log.debug("requester lookup ahead of the create failed", exc_info=True)


def _store_remote(link: SyncLink, record: RemoteRecord) -> None:
    link.remote_id = record.remote_id
    link.remote_display_id = record.display_id
    link.remote_status = record.status
    link.remote_fields = dict(record.fields)
    lifecycle.mark_done(link, lifecycle.CREATE_REMOTE)


ACKNOWLEDGED_CRM_STATUSES = ("Acknowledged", "Closed", "Archived")
CLOSED_CRM_STATUSES = ("Closed", "Archived")


def crm_shows(
    crm: SeeClickFixClient, issue_id: int, statuses: tuple[str, ...], message: str
) -> bool:
    """Whether the CRM issue already shows a leg that is in doubt as applied:
    one of ``statuses``, and ``message`` among the comments posted since the
    issue was last reopened (the CRM's own clock on both sides).

    Asked only when a leg was sent before without a recorded answer: the
    vendor may have applied it and lost the reply, and the resident must not
    read the same message twice."""
    issue = crm.get_issue(issue_id)
    if issue.status not in statuses:
        return False
    since = issue.reopened_at
    wanted = message.strip()
    return any(
        comment.body.strip() == wanted
        and (since is None or comment.created_at is None or comment.created_at >= since)
        for comment in issue.comments or ()
    )


def acknowledge_crm(
    link: SyncLink,
    crm: SeeClickFixClient,
    settings: IntegrationSettings,
    agency: Agency | None = None,
) -> None:
    """The acknowledge leg: the resident reads the category's (or the
    integration's) acknowledgment; the link is then synced and polled."""
    message = messages.acknowledgment_message(settings, link.category)
    detail = message
    if lifecycle.in_doubt(link, lifecycle.ACKNOWLEDGE_CRM) and crm_shows(
        crm, link.issue_id, ACKNOWLEDGED_CRM_STATUSES, message
    ):
        detail = f"{message} (already in the CRM: sent before, its reply was lost)"
    else:
        lifecycle.intend(link, lifecycle.ACKNOWLEDGE_CRM)
        crm_identity.remember(crm.acknowledge(link.issue_id, message), agency)
    lifecycle.mark_done(link, lifecycle.ACKNOWLEDGE_CRM)
    link.issue.status = "Acknowledged"
    lifecycle.move(link, SyncState.ACKNOWLEDGED, "acknowledged", detail)


def link_back(ctx: PushContext) -> None:
    """An imported request carries the CRM issue id, so both sides point at
    each other. The importer writes it; if that failed, the push writes it
    again (an idempotent update) before acknowledging."""
    if ctx.link.origin == "remote" and ctx.link.remote_id is not None:
        db.session.commit()  # what is pending is written before the vendor call
        ctx.connector.set_external_id(ctx.link.remote_id, ctx.issue.id)


def push_notes(ctx: PushContext) -> int:
    """Send the issue's unsent public comments (and hub notes) to the remote
    request, in creation order, then mark them sent."""
    link = ctx.link
    notes = db.session.execute(lifecycle.unsent_notes_query(link.issue_id)).scalars().all()
    if not notes or link.remote_id is None:
        return 0
    ctx.connector.add_comments(
        link.remote_id,
        [
            NoteOut(
                key=c.crm_key or f"note-{c.id}",
                body=c.body,
                author=c.author,
                created_at=c.created_at,
                image_url=c.image_url,
            )
            for c in notes
        ],
    )
    now = utcnow()
    for comment in notes:
        comment.pushed_at = now
    link.last_synced_at = now
    ctx.record("comments_sent", f"{len(notes)} comment(s) added to the remote request")
    db.session.commit()
    return len(notes)


def attach_photo(ctx: PushContext) -> bool:
    """The photo leg, where the vendor takes the photo as an upload after the
    create (Lucity's media endpoint): downloaded from the CRM (bounded),
    uploaded, retried on its own if it fails — never redoing the create. A
    photo that cannot be used (not an image, too large, gone) is noted on the
    timeline and the leg is done: a photo never fails a request."""
    link, issue = ctx.link, ctx.issue
    if not lifecycle.owes_photo(link, issue, vendors.uploads_photos(ctx.integration)):
        return False
    lifecycle.intend(link, lifecycle.ATTACH_PHOTO)
    try:
        timeout = current_app.config["CROSSWALK_HTTP_TIMEOUT"]
        photo = download_photo(issue.image_url, timeout=timeout)
    except PermanentError as exc:
        lifecycle.mark_done(link, lifecycle.ATTACH_PHOTO)
        detail = f"the resident's photo could not be used: {exc}"
        ctx.record("photo_not_sent", detail, level="warning")
        db.session.commit()
        return False
    ctx.connector.attach_photo(link.remote_id, photo)
    lifecycle.mark_done(link, lifecycle.ATTACH_PHOTO)
    link.last_synced_at = utcnow()
    ctx.record("photo_attached", f"{photo.filename} ({len(photo.content)} bytes)")
    db.session.commit()
    return True


def close_remote(ctx: PushContext) -> bool:
    """The remote-close leg: staff closed the CRM issue and the integration
    closes the remote request then (``close_remote_on_crm_close``)."""
    link, issue = ctx.link, ctx.issue
    if not lifecycle.owes_remote_close(link, issue, ctx.settings.close_remote_on_crm_close):
        return False
    lifecycle.intend(link, lifecycle.CLOSE_REMOTE)
    note = NoteOut(key=f"crm-close-{link.id}", body=ctx.settings.remote_close_note)
    ctx.connector.close_request(link.remote_id, note)
    lifecycle.mark_done(link, lifecycle.CLOSE_REMOTE)
    # The CRM issue is closed already (by staff): that leg is done too.
    lifecycle.mark_done(link, lifecycle.CLOSE_CRM, issue.closed_at or utcnow())
    link.last_synced_at = utcnow()
    lifecycle.move(
        link,
        SyncState.CLOSED,
        "remote_closed",
        f"closed in the CRM by staff: {ctx.integration.name} request "
        f"{link.remote_display_id or link.remote_id} closed with a note",
    )
    db.session.commit()
    return True


def reset_for_retry(link_id: int) -> SyncLink:
    """Staff asked to retry: a failed link goes back to pending."""
    link = db.session.get(SyncLink, link_id)
    if link is None:
        raise LinkNotFoundError(f"sync link {link_id} does not exist")
    if lifecycle.request_retry(link):
        db.session.commit()
    return link
