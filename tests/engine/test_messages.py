"""Which message the resident reads: the category's, else the integration's,
else the built-in default — for acknowledgments and closings alike."""

from __future__ import annotations

import pytest

from tests.fakes import FakeSettings
from webapp.models import Category
from webapp.sync import messages

ENDPOINTS = {"test": "https://eam.test/api"}


def settings(**messages_) -> FakeSettings:
    return FakeSettings(name="public-works", kind="fake", endpoints=ENDPOINTS, **messages_)


@pytest.mark.parametrize(
    ("pick", "field", "default"),
    [
        (
            messages.acknowledgment_message,
            "acknowledgment_message",
            messages.DEFAULT_ACKNOWLEDGMENT,
        ),
        (messages.closing_message, "closing_message", messages.DEFAULT_CLOSING),
    ],
    ids=["acknowledgment", "closing"],
)
def test_the_category_wins_then_the_integration_then_the_default(pick, field, default):
    both = settings(**{field: "integration's"})
    assert pick(both, Category(**{field: "category's"})) == "category's"
    assert pick(both, Category()) == "integration's"
    assert pick(both, None) == "integration's"
    assert pick(settings(), Category()) == default
    assert pick(settings(), None) == default


def test_an_empty_category_message_falls_through():
    ack = messages.acknowledgment_message(
        settings(acknowledgment_message="integration's"), Category(acknowledgment_message="")
    )
    assert ack == "integration's"


def test_acknowledgment_and_closing_are_chosen_independently():
    chosen = settings(closing_message="Done.")
    category = Category(acknowledgment_message="Received.")
    assert messages.acknowledgment_message(chosen, category) == "Received."
    assert messages.closing_message(chosen, category) == "Done."
