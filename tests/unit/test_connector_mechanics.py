"""The mechanics every connector shares (integrations/mechanics.py, re-exported
by integrations.base), and the Lucity side of closing from the CRM."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from integrations.base import (
    Connector,
    NoteOut,
    RemoteRecord,
    create_payload,
    create_then_adopt,
    has_hub_marker,
    note_marker,
    remote_id_value,
    remote_id_values,
    unwritten_notes,
    with_marker,
)
from integrations.errors import NotSupportedError, PermanentError
from integrations.lucity.settings import LucityWorkOrderSettings, LucityWorkRequestSettings
from integrations.settings import IntegrationSettings

RECORD = RemoteRecord(remote_id="5", display_id=None, status="Open", closed=False)


def test_the_marker_carries_the_key():
    note = NoteOut(key="c-12", body="Text")
    assert note_marker(note) == "[#c-12]"
    assert with_marker("Text", note) == "Text [#c-12]"
    assert has_hub_marker(with_marker("Text", note)) and not has_hub_marker("Crew on site")


def test_only_notes_without_their_marker_are_written_in_order():
    notes = [NoteOut(key=k, body=k) for k in ("1", "12", "2")]
    # "[#12]" on the remote side must not count as "[#1]" (the bracket closes it).
    assert [n.key for n in unwritten_notes(notes, "old [#12]")] == ["1", "2"]
    assert unwritten_notes(notes, "[#1] [#12] [#2]") == []


@pytest.mark.parametrize(
    "given, wire", [("1001", 1001), (7, 7), ("A-7", "A-7"), ("-3", "-3"), ("", "")]
)
def test_numeric_remote_ids_go_on_the_wire_as_numbers(given, wire):
    assert remote_id_value(given) == wire
    assert remote_id_values([given, "2"]) == [wire, 2]


def test_create_payload_drops_empties_overlays_custom_fields_and_forces_the_external_id():
    body = create_payload(
        {"Street": "Elm St", "Unit": None, "Phone": "", "Count": 0, "Flag": False},
        {"Street": "as reported", "User20": "spoofed", "User13": "SCF"},
        external_id_field="User20",
        crm_issue_id=42,
    )
    assert body == {
        "Street": "as reported",
        "Count": 0,
        "Flag": False,
        "User13": "SCF",
        "User20": "42",
    }


def test_create_then_adopt_uses_the_reply_when_it_names_the_record():
    found = []
    assert create_then_adopt(lambda: RECORD, found.pop, failure="x", system="S") is RECORD


def test_create_then_adopt_finds_the_record_when_the_reply_does_not():
    assert create_then_adopt(lambda: None, lambda: RECORD, failure="x", system="S") is RECORD


def test_create_then_adopt_fails_permanently_when_nothing_carries_our_id():
    with pytest.raises(PermanentError, match="no Oid") as caught:
        create_then_adopt(lambda: None, lambda: None, failure="no Oid", system="Vendor")
    assert caught.value.system == "Vendor"


class MinimalConnector(Connector):
    """Only what every connector must implement: optional operations refuse."""

    kind = "minimal"

    def find_by_external_id(self, crm_issue_id):
        return RECORD if crm_issue_id == 5 else None

    def create_request(self, request):  # pragma: no cover - not called
        raise NotImplementedError

    def fetch_records(self, remote_ids):  # pragma: no cover - not called
        return {}


def minimal() -> MinimalConnector:
    settings = IntegrationSettings(name="x", kind="minimal", endpoints={"test": "http://h"})
    return MinimalConnector(settings, environ={})


def test_close_request_is_refused_by_default():
    with pytest.raises(NotSupportedError, match="do not close remote requests"):
        minimal().close_request("5", NoteOut(key="k", body="b"))


def test_create_and_adopt_looks_up_this_connectors_external_id():
    connector = minimal()
    adopted = connector.create_and_adopt(5, lambda: None, reply_id="Id", external_field="Ext")
    assert adopted is RECORD
    with pytest.raises(PermanentError, match="had no Id and no request carries Ext=6"):
        connector.create_and_adopt(6, lambda: None, reply_id="Id", external_field="Ext")


# -- Lucity: which kinds close from the CRM, and with which code ----------------------


def lucity(model, **overrides):
    data = {
        "name": "water",
        "kind": model.model_fields["kind"].annotation.__args__[0],
        "endpoints": {"test": "http://lucity.example/LucityCitizenRestAPI"},
        **overrides,
    }
    return model.model_validate(data)


def test_work_requests_close_from_the_crm_only_when_configured():
    assert lucity(LucityWorkRequestSettings).close_remote_on_crm_close is False
    settings = lucity(LucityWorkRequestSettings, close_remote_on_crm_close=True)
    assert settings.crm_close_status_code == 951


@pytest.mark.parametrize(
    "overrides",
    [
        {"crm_close_status_code": 941},  # explicit: always judged
        {"closed_status_at_least": 998, "close_remote_on_crm_close": True},  # default, in use
    ],
)
def test_crm_close_status_code_must_read_as_closed(overrides):
    with pytest.raises(ValidationError, match="below closed_status_at_least"):
        lucity(LucityWorkRequestSettings, **overrides)


def test_unused_default_close_code_is_not_judged():
    settings = lucity(LucityWorkRequestSettings, closed_status_at_least=998)
    assert settings.crm_close_status_code == 951 and not settings.close_remote_on_crm_close


def test_work_orders_still_refuse_closing_from_the_crm():
    with pytest.raises(ValidationError, match="Work Order module integration does not support"):
        lucity(LucityWorkOrderSettings, close_remote_on_crm_close=True)
