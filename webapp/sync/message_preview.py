"""What residents read, per integration and category, and which level of the
configuration each message comes from: the console's message preview.

The levels are the engine's own (``messages``, and the connector's
``closing_message_for`` / ``status_message_for`` for messages by status
code), asked the same way the push and the remote poll ask them, so the
preview cannot drift from what is posted. Read-only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from integrations.base import Connector, RemoteRecord
from integrations.registry import connector_class

from ..extensions import db
from ..models import Category, Integration
from . import admin_edits, messages, vendors


class _AnyName(Mapping[str, str]):
    """An environment that names every variable: the connector is built only
    to ask which message a status gets, so no secret is read or sent."""

    def __getitem__(self, key: str) -> str:
        return "unused"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@dataclass(frozen=True)
class StatusMessage:
    """A message by status code and what it does when a request reaches that code."""

    code: str
    text: str
    closes: bool | None  # None: the kind cannot say
    use: str  # how the engine uses it, in a sentence


@dataclass
class CategoryMessages:
    category: Category | None  # None: issues without a mapped category
    acknowledgment: messages.Choice
    closing: messages.Choice
    # The closing message by the status that closed the request (Lucity).
    closing_by_status: list[tuple[str, messages.Choice]] = field(default_factory=list)


@dataclass
class MessagePreview:
    integration: Integration
    integration_user: str
    status_key: str | None  # closing_messages | status_messages | None
    status_messages: list[StatusMessage]
    categories: list[CategoryMessages]
    acknowledgment_levels: str = "category → integration → built-in default"
    closing_levels: str = "category → integration → built-in default"


def _connector(integration: Integration) -> Connector:
    cls = connector_class(integration.kind)
    return cls(vendors.settings_of(integration), environ=_AnyName())


def _record(code: str, *, closed: bool) -> RemoteRecord:
    status: Any = int(code) if code.lstrip("-").isdigit() else code
    return RemoteRecord(remote_id="preview", display_id=None, status=status, closed=closed)


def preview_messages(integration_id: int) -> MessagePreview:
    integration = db.session.get(Integration, integration_id)
    if integration is None:
        raise admin_edits.EditNotFoundError(f"integration {integration_id} does not exist")
    settings = vendors.settings_of(integration)
    status_key = admin_edits.status_message_key(integration)
    by_code: dict[str, str] = dict(getattr(settings, status_key) or {}) if status_key else {}
    connector = _connector(integration)
    is_closed = getattr(connector, "is_closed", None)
    statuses = []
    for code, text in sorted(by_code.items(), key=lambda item: _code_order(item[0])):
        closes = bool(is_closed(_record(code, closed=True).status)) if is_closed else None
        statuses.append(StatusMessage(code, text, closes, _use(connector, code, closes)))
    categories = list(
        db.session.execute(
            db.select(Category)
            .where(Category.integration_id == integration.id, Category.enabled.is_(True))
            .order_by(Category.remote_id)
        ).scalars()
    )
    rows = []
    for category in [*categories, None]:
        row = CategoryMessages(
            category=category,
            acknowledgment=messages.acknowledgment_choice(settings, category),
            closing=messages.closing_choice(settings, category),
        )
        for status in statuses:
            if status.closes is False:
                continue
            chosen = connector.closing_message_for(_record(status.code, closed=True))
            row.closing_by_status.append(
                (
                    status.code,
                    messages.Choice(chosen, f"status code {status.code}")
                    if chosen
                    else row.closing,
                )
            )
        rows.append(row)
    closing_levels = "category → integration → built-in default"
    if status_key:
        closing_levels = f"status code ({status_key}) → {closing_levels}"
    return MessagePreview(
        integration=integration,
        integration_user=vendors.agency().integration_user,
        status_key=status_key,
        status_messages=statuses,
        categories=rows,
        closing_levels=closing_levels,
    )


def _code_order(code: str) -> tuple[int, str]:
    return (int(code), "") if code.lstrip("-").isdigit() else (10**9, code)


def _use(connector: Connector, code: str, closes: bool | None) -> str:
    if closes:
        return "closes the request: the CRM issue is closed with this message"
    if connector.status_message_for(_record(code, closed=False)):
        return "posted to the CRM issue when the request reaches this status"
    if closes is False:
        return "this status does not close requests, so the message is never used"
    return "used when a request closes with this status"
