"""Category sync: the remote system's request categories become Crosswalk
categories — added, renamed, disabled, never deleted — each linked to a CRM
request type (from configuration, else matched by title, else unmapped)."""

from __future__ import annotations

from dataclasses import dataclass, field

from integrations.base import REQUESTER_KEYS, RemoteCategory

from ..extensions import db
from ..models import Category, Integration, RequestType, utcnow
from . import cursors, events, runtime


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


def _match_request_type(name: str) -> int | None:
    wanted = name.strip().casefold()
    for request_type in db.session.execute(db.select(RequestType)).scalars():
        if request_type.title.strip().casefold() == wanted:
            return request_type.id
    return None


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


def sync_categories(integration_id: int) -> CategoryReport:
    """Make the integration's categories match the remote list, in one transaction."""
    integration = db.session.get(Integration, integration_id)
    if integration is None:
        raise LookupError(f"integration {integration_id} does not exist")
    report = CategoryReport(integration.name)
    connector = runtime.connector(integration)
    try:
        remote_categories = connector.fetch_categories()
    finally:
        connector.close()
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
            category.crm_request_type_id = _match_request_type(remote.name)
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


def refresh_request_types(integration_id: int | None = None) -> int:
    """Read the secondary questions of every mapped CRM request type."""
    query = (
        db.select(Category.crm_request_type_id)
        .where(Category.crm_request_type_id.is_not(None))
        .distinct()
    )
    if integration_id is not None:
        query = query.where(Category.integration_id == integration_id)
    ids = db.session.execute(query).scalars().all()
    crm = runtime.crm_client()
    for request_type_id in ids:
        body = crm.get_request_type(request_type_id)
        row = db.session.get(RequestType, request_type_id) or RequestType(id=request_type_id)
        row.title = str(body.get("title") or row.title or request_type_id)
        row.questions = body["questions"]
        row.fetched_at = utcnow()
        db.session.add(row)
    if integration_id is not None:
        warn_public_requester_questions(integration_id)
    db.session.commit()
    return len(ids)


def public_requester_questions(integration: Integration) -> list[str]:
    """Questions whose integration key names a requester field but whose answer
    the CRM shows publicly: they are never sent; the admin should fix them."""
    configured = integration.settings.get("question_keys") or {}
    type_ids = {
        c.crm_request_type_id
        for c in integration.categories
        if c.enabled and c.crm_request_type_id is not None
    }
    problems = []
    for type_id in sorted(type_ids):
        request_type = db.session.get(RequestType, type_id)
        for question in request_type.questions if request_type else []:
            key = str(question.get("primary_key"))
            integration_key = question.get("integration_key") or configured.get(key)
            if integration_key in REQUESTER_KEYS and not question.get("answer_kept_private"):
                problems.append(
                    f"question {key} ({question.get('question')!r}) of request type "
                    f"{request_type.title} has integration key {integration_key} but its "
                    "answer is public in the CRM: it is never sent (make it private)"
                )
    return problems


def warn_public_requester_questions(integration_id: int) -> None:
    integration = db.session.get(Integration, integration_id)
    for problem in public_requester_questions(integration):
        events.record("config_warning", problem, integration_id=integration_id, level="warning")


def request_type_for(request_type_id: int | None) -> RequestType | None:
    """The request type with its questions, read from the CRM once if not yet known."""
    if request_type_id is None:
        return None
    row = db.session.get(RequestType, request_type_id)
    if row is not None and row.fetched_at is not None:
        return row
    body = runtime.crm_client().get_request_type(request_type_id)
    row = row or RequestType(id=request_type_id)
    row.title = str(body.get("title") or row.title or request_type_id)
    row.questions = body["questions"]
    row.fetched_at = utcnow()
    db.session.add(row)
    return row


def remember_request_type(request_type_id: int | None, title: str | None) -> None:
    """Note a request type seen on an issue, so categories can match it by title."""
    if request_type_id is None or not title:
        return
    row = db.session.get(RequestType, request_type_id)
    if row is None:
        db.session.add(RequestType(id=request_type_id, title=title, questions=[]))
    elif row.title != title:
        row.title = title
