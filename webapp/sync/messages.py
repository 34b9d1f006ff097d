"""Which message the resident sees: the category's, else the integration's,
else a built-in default. When the remote request closes, a message the
connector chooses by the status that closed it (Lucity's ``closing_messages``
and ``status_messages`` by status code) comes before all of those.

``*_choice`` also say which level won, for the console's message preview."""

from __future__ import annotations

from dataclasses import dataclass

from integrations.settings import IntegrationSettings

from ..models import Category

DEFAULT_ACKNOWLEDGMENT = (
    "Thank you for your report. It has been received and sent to the responsible department."
)
DEFAULT_CLOSING = "This request has been completed. Thank you for reporting it."

BUILT_IN = "built-in default"


@dataclass(frozen=True)
class Choice:
    """A message and the level it comes from (``category Pothole``,
    ``integration public-works``, ``status code 999``, ``built-in default``)."""

    text: str
    level: str


def acknowledgment_choice(settings: IntegrationSettings, category: Category | None) -> Choice:
    if category is not None and category.acknowledgment_message:
        return Choice(category.acknowledgment_message, f"category {category.remote_id}")
    if settings.acknowledgment_message:
        return Choice(settings.acknowledgment_message, f"integration {settings.name}")
    return Choice(DEFAULT_ACKNOWLEDGMENT, BUILT_IN)


def closing_choice(settings: IntegrationSettings, category: Category | None) -> Choice:
    """The closing message when the connector has none for the closing status."""
    if category is not None and category.closing_message:
        return Choice(category.closing_message, f"category {category.remote_id}")
    if settings.closing_message:
        return Choice(settings.closing_message, f"integration {settings.name}")
    return Choice(DEFAULT_CLOSING, BUILT_IN)


def acknowledgment_message(settings: IntegrationSettings, category: Category | None) -> str:
    return acknowledgment_choice(settings, category).text


def closing_message(settings: IntegrationSettings, category: Category | None) -> str:
    return closing_choice(settings, category).text
