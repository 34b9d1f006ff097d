"""Category sync: the remote system's request categories become Crosswalk
categories — added, renamed, disabled, never deleted — each linked to a CRM
request type (from configuration, else matched by title, else unmapped).

The CRM side (request types and their questions) is ``request_types``."""

from __future__ import annotations

from dataclasses import dataclass, field

from integrations.base import RemoteCategory

from ..extensions import db
from ..models import Category, Integration, utcnow
from . import cursors, events, request_types, vendors


@dataclass
class CategoryReport:
    integration: str
    seen: int = 0
    added: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    enabled: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.seen} remote categories"]
        for label in ("added", "renamed", "enabled", "disabled", "protected", "unmapped"):
            items = getattr(self, label)
            if items:
                parts.append(f"{label}: {', '.join(items)}")
        return "; ".join(parts)


def cursor_key(integration: Integration) -> str:
    return f"categories:{integration.name}"


def _find(existing: list[Category], remote: RemoteCategory) -> Category | None:
    for category in existing:
        if category.remote_key == remote.key:
            return category
    for category in existing:
        # Declared in the file before the first sync, or deleted remotely and
        # created again under the same name: the same category, undeleted.
        if category.remote_id == remote.remote_id:
            return category
    return None


def _apply(category: Category, remote: RemoteCategory, report: CategoryReport) -> None:
    category.remote_key = remote.key
    category.group_name = remote.group
    category.internal = remote.internal or (category.configured and category.internal)
    category.last_seen_remote_at = utcnow()
    if category.protected:
        report.protected.append(category.name or category.remote_id)
        return
    if category.remote_id != remote.remote_id or (category.name or "") != remote.name:
        report.renamed.append(f"{category.name or category.remote_id} → {remote.name}")
        category.remote_id = remote.remote_id
        category.name = remote.name
    if category.enabled != remote.active:
        (report.enabled if remote.active else report.disabled).append(remote.name)
        category.enabled = remote.active


def sync_categories_and_questions(integration_id: int) -> CategoryReport:
    """The periodic task: the remote categories, then the CRM request types
    (and their secondary questions) the categories map to."""
    report = sync_categories(integration_id)
    request_types.refresh_request_types(integration_id)
    return report


def sync_categories(integration_id: int) -> CategoryReport:
    """Make the integration's categories match the remote list, in one transaction."""
    integration = db.session.get(Integration, integration_id)
    if integration is None:
        raise LookupError(f"integration {integration_id} does not exist")
    report = CategoryReport(integration.name)
    remote_categories = vendors.connector(integration).fetch_categories()
    report.seen = len(remote_categories)

    existing = list(
        db.session.execute(
            db.select(Category).where(Category.integration_id == integration.id)
        ).scalars()
    )
    seen_ids = set()
    for remote in remote_categories:
        category = _find(existing, remote)
        if category is None:
            category = Category(
                integration_id=integration.id,
                remote_id=remote.remote_id,
                name=remote.name,
                enabled=remote.active,
                configured=False,
            )
            db.session.add(category)
            existing.append(category)
            report.added.append(remote.name)
        _apply(category, remote, report)
        if category.crm_request_type_id is None:
            category.crm_request_type_id = request_types.match_title(remote.name)
        if category.crm_request_type_id is None and category.enabled:
            report.unmapped.append(remote.name)
        seen_ids.add(id(category))

    for category in existing:
        # Missing from the remote list: disabled (links and history survive).
        if id(category) in seen_ids or not category.enabled or category.protected:
            continue
        if category.remote_key is None and category.configured:
            continue  # declared in the file, not (yet) known remotely: leave it to the admin
        category.enabled = False
        report.disabled.append(category.name or category.remote_id)

    cursor = cursors.cursor(cursor_key(integration))
    cursor.last_success_at = utcnow()
    cursor.last_error = None
    level = "warning" if report.unmapped else "info"
    events.record("categories_synced", report.summary(), integration_id=integration.id, level=level)
    db.session.commit()
    return report
