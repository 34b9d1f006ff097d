"""Which message the resident sees: the category's, else the integration's,
else a built-in default."""

from __future__ import annotations

from integrations.settings import IntegrationSettings

from ..models import Category

DEFAULT_ACKNOWLEDGMENT = (
    "Thank you for your report. It has been received and sent to the responsible department."
)
DEFAULT_CLOSING = "This request has been completed. Thank you for reporting it."


def acknowledgment_message(settings: IntegrationSettings, category: Category | None) -> str:
    return (
        (category.acknowledgment_message if category else None)
        or settings.acknowledgment_message
        or DEFAULT_ACKNOWLEDGMENT
    )


def closing_message(settings: IntegrationSettings, category: Category | None) -> str:
    return (
        (category.closing_message if category else None)
        or settings.closing_message
        or DEFAULT_CLOSING
    )
