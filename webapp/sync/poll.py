"""Poll: read the remote state of every acknowledged issue of an integration,
one filtered query per batch (never one call per issue), and close CRM issues
whose remote request closed. Once closed, an issue is never written again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from integrations.base import RemoteRecord
from integrations.errors import IntegrationError
from integrations.seeclickfix import SeeClickFixClient

from ..extensions import db
from ..models import Integration, SyncCursor, SyncLink, SyncState, utcnow
from . import events, messages, runtime


@dataclass
class RemotePollReport:
    integration: str
    polled: int = 0
    batches: int = 0
    closed: int = 0
    failed: int = 0
    archived: int = 0
    errors: list[str] = field(default_factory=list)


def cursor_key(integration: Integration) -> str:
    return f"poll:{integration.name}"


def _cursor(key: str) -> SyncCursor:
    cursor = db.session.get(SyncCursor, key)
    if cursor is None:
        cursor = SyncCursor(key=key)
        db.session.add(cursor)
    return cursor


def apply_remote(link: SyncLink, record: RemoteRecord | None, crm: SeeClickFixClient) -> bool:
    """Apply one remote record to its link; True when it closed the CRM issue."""
    issue = link.issue
    link.last_polled_at = utcnow()
    if record is None:
        problem = f"remote request {link.remote_display_id or link.remote_id} was not found"
        if link.last_error != problem:
            link.last_error, link.last_error_at = problem, utcnow()
            events.record(
                "remote_missing",
                problem,
                issue_id=issue.id,
                integration_id=link.integration_id,
                level="warning",
            )
        return False
    if record.status != link.remote_status:
        events.record(
            "remote_status",
            f"{link.remote_status or '—'} → {record.status}",
            issue_id=issue.id,
            integration_id=link.integration_id,
        )
    link.remote_status = record.status
    link.remote_fields = dict(record.fields)
    link.last_error = None
    if not record.closed:
        return False
    if link.remote_closed_at is None:
        link.remote_closed_at = utcnow()
    message = messages.closing_message(link.integration, link.category)
    crm.close(issue.id, message)
    now = utcnow()
    link.crm_closed_at = now
    link.state = SyncState.CLOSED
    link.last_synced_at = now
    issue.status = "Closed"
    events.record("closed", message, issue_id=issue.id, integration_id=link.integration_id)
    return True


def _archive(integration: Integration, days: int) -> int:
    cutoff = utcnow() - timedelta(days=days)
    links = (
        db.session.execute(
            db.select(SyncLink).where(
                SyncLink.integration_id == integration.id,
                SyncLink.state == SyncState.CLOSED,
                SyncLink.crm_closed_at < cutoff,
            )
        )
        .scalars()
        .all()
    )
    for link in links:
        link.state = SyncState.ARCHIVED
        events.record(
            "archived",
            f"closed for more than {days} days; no more sync",
            issue_id=link.issue_id,
            integration_id=integration.id,
        )
    return len(links)


def poll_integration(integration_id: int, *, issue_id: int | None = None) -> RemotePollReport:
    integration = db.session.get(Integration, integration_id)
    if integration is None:
        raise LookupError(f"integration {integration_id} does not exist")
    report = RemotePollReport(integration.name)
    cursor = _cursor(cursor_key(integration))
    cursor.last_started_at = utcnow()
    db.session.commit()

    query = (
        db.select(SyncLink.id)
        .where(
            SyncLink.integration_id == integration.id,
            SyncLink.state == SyncState.ACKNOWLEDGED,
            SyncLink.remote_id.is_not(None),
        )
        .order_by(SyncLink.id)
    )
    if issue_id is not None:
        query = query.where(SyncLink.issue_id == issue_id)
    link_ids = db.session.execute(query).scalars().all()

    agency = runtime.agency()
    crm = runtime.crm_client(agency)
    connector = runtime.connector(integration)
    try:
        size = max(1, connector.batch_size)
        for start in range(0, len(link_ids), size):
            _poll_batch(link_ids[start : start + size], connector, crm, report)
    finally:
        connector.close()
    report.archived = _archive(integration, agency.crm.get("archive_after_days", 14))

    cursor = _cursor(cursor_key(integration))
    if report.errors and report.polled == 0 and link_ids:
        cursor.last_error, cursor.last_error_at = report.errors[0], utcnow()
    else:
        cursor.last_success_at = utcnow()
        cursor.last_error = report.errors[0] if report.errors else None
    db.session.commit()
    return report


def _poll_batch(link_ids, connector, crm, report: RemotePollReport) -> None:
    links = (
        db.session.execute(
            db.select(SyncLink).where(SyncLink.id.in_(link_ids)).order_by(SyncLink.id)
        )
        .scalars()
        .all()
    )
    report.batches += 1
    try:
        records = connector.fetch_records([link.remote_id for link in links])
    except IntegrationError as exc:
        db.session.rollback()
        report.failed += len(link_ids)
        report.errors.append(str(exc))
        events.record_now(
            "remote_poll_failed",
            f"batch of {len(link_ids)}: {exc}",
            integration_id=links[0].integration_id if links else None,
            level="error",
        )
        return
    for link in links:
        link_id, issue_id = link.id, link.issue_id
        try:
            closed = apply_remote(link, records.get(link.remote_id), crm)
            db.session.commit()
        except Exception as exc:  # one bad issue never stops the others
            db.session.rollback()
            report.failed += 1
            report.errors.append(f"issue {issue_id}: {exc}")
            failed = db.session.get(SyncLink, link_id)
            if failed is not None:
                failed.last_error, failed.last_error_at = str(exc), utcnow()
            events.record_now("remote_poll_failed", str(exc), issue_id=issue_id, level="error")
            continue
        report.polled += 1
        report.closed += int(closed)
