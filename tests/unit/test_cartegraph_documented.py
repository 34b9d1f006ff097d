"""OpenGov EAM (Cartegraph) settings and reply handling that follow the public
documentation: the child-class naming, the two requester conventions, entry
dates the importer compares itself."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from integrations.cartegraph import CartegraphSettings
from integrations.cartegraph.dates import entry_time
from integrations.cartegraph.settings import child_class
from integrations.http import VendorFormatError
from webapp.agency_config import ConfigError, parse_agency_config

BASE = "https://test.example.gov/cartegraph/api/v1"


def settings(**overrides) -> CartegraphSettings:
    data = {"name": "public-works", "kind": "cartegraph", "endpoints": {"test": BASE}}
    return CartegraphSettings.model_validate({**data, **overrides})


@pytest.mark.parametrize(
    ("parent", "child", "expected"),
    [
        ("cgRequestsClass", "cgComments", "cgRequests_cgCommentsClass"),
        ("cgSignsClass", "cgInspections", "cgSigns_cgInspectionsClass"),
        ("cgBridgesClass", "cgAttachments", "cgBridges_cgAttachmentsClass"),
        ("Requests", "cgComments", "Requests_cgCommentsClass"),
    ],
)
def test_child_classes_are_named_as_documented(parent, child, expected):
    assert child_class(parent, child) == expected


def test_the_comment_class_follows_the_request_class_unless_given():
    assert settings().comment_class == "cgRequests_cgCommentsClass"
    assert settings(request_class="cgWorkRequestsClass").comment_class == (
        "cgWorkRequests_cgCommentsClass"
    )
    assert settings(comment_class="cgNotesClass").comment_class == "cgNotesClass"
    assert settings().comment_query == "per_request"  # the documented child path


def test_requester_modes_and_their_defaults():
    assert settings().requester.mode == "find_or_create"
    assert settings().requester.value is None
    fixed = settings(requester="fixed").requester  # `requester: fixed` shorthand
    assert (fixed.mode, fixed.fixed_value) == ("fixed", "SeeClickFix")
    named = settings(requester={"mode": "fixed", "value": "SCF 311"}).requester
    assert named.fixed_value == "SCF 311"
    with pytest.raises(ValidationError, match="value is only sent with mode: fixed"):
        settings(requester={"value": "SeeClickFix"})
    with pytest.raises(ValidationError, match="requester.mode"):
        settings(requester={"mode": "lookup"})


def test_stored_settings_validate_again():
    """The engine re-validates what was stored: the resolved values must pass."""
    for overrides in ({}, {"requester": "fixed"}, {"requester_class": None}):
        stored = settings(**overrides).model_dump(mode="json")
        assert CartegraphSettings.model_validate(stored) == settings(**overrides)


def test_a_misspelt_requester_key_is_reported_at_its_line():
    text = """agency: {name: City}
crm: {kind: seeclickfix, base_url: "https://crm.example/api/v2", organization_id: 1, token_env: T}
integrations:
  - name: public-works
    kind: cartegraph
    endpoints: {test: "https://cg.example/api/v1"}
    requester:
      mode: fixed
      valeu: SeeClickFix
"""
    with pytest.raises(ConfigError) as info:
        parse_agency_config(text)
    assert "integrations[0].requester.valeu: unknown key" in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-30T10:15:00Z", datetime(2026, 11, 30, 10, 15, tzinfo=UTC)),
        ("2026-11-30T10:15:00.250Z", datetime(2026, 11, 30, 10, 15, 0, 250000, tzinfo=UTC)),
        ("2026-11-30T05:15:00-05:00", datetime(2026, 11, 30, 10, 15, tzinfo=UTC)),
        ("2026-11-30T10:15:00", datetime(2026, 11, 30, 10, 15, tzinfo=UTC)),  # read as UTC
        ("/Date(1796033700000)/", datetime(2026, 11, 30, 10, 15, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
)
def test_entry_dates_the_importer_can_compare(value, expected):
    assert entry_time(value) == expected


def test_an_unreadable_entry_date_is_a_named_format_error():
    with pytest.raises(VendorFormatError, match="EntryDateField 'last Tuesday' is not a date"):
        entry_time("last Tuesday")


def test_an_entry_date_without_an_offset_is_utc_whatever_the_local_zone(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert entry_time("2026-11-30T10:15:00") == datetime(2026, 11, 30, 10, 15, tzinfo=UTC)
    finally:
        monkeypatch.undo()
        time.tzset()
