"""What every connector promises the sync engine, checked for every registered
kind against its simulator (see conftest.py for how kinds are found).

Each test states one promise the engine relies on: retries never duplicate
records or comments, status polls cost one query per batch, comments come in
with their visibility and without the hub's own notes, categories and
closing behave as the kind's settings declare.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from integrations.base import Connector, NoteOut, OutboundRequest
from integrations.errors import NotSupportedError, TransientError
from integrations.registry import connector_class, connector_kinds
from simulators.launch import RunningSimulators
from tests.simcontrol import CONTROLS, WorkSystemControl, control_for


def supports(kind: str, switch: str) -> bool:
    return switch in connector_class(kind).settings_model.supported_features


def create_path(
    control: WorkSystemControl, connector: Connector, outbound: Callable[..., OutboundRequest]
) -> str:
    """Where the kind's creates go, learnt from one create without an image:
    its last POST is the create itself (requester lookups and creates come first)."""
    created = connector.create_request(outbound(100))
    assert control.remote_id_of(control.records_with_external_id(100)[0]) == created.remote_id
    return control.calls(method="POST")[-1]["path"]


def test_every_registered_kind_has_a_contract_adapter():
    kinds = set(connector_kinds())
    assert not kinds - set(CONTROLS), f"no contract adapter for kind(s) {kinds - set(CONTROLS)}"
    assert not set(CONTROLS) - kinds, f"adapters for unregistered kinds {set(CONTROLS) - kinds}"


def test_a_kind_without_an_adapter_is_named(simulators: RunningSimulators):
    with pytest.raises(LookupError, match="no contract adapter for kind 'no-such-vendor'"):
        control_for("no-such-vendor", simulators)


# -- create ------------------------------------------------------------------------


def test_create_returns_the_record_with_our_external_id(control, connect, outbound):
    connector = connect()
    record = connector.create_request(outbound(101))
    assert record.external_id == "101" and not record.closed
    assert [control.remote_id_of(r) for r in control.records_with_external_id(101)] == [
        record.remote_id
    ]
    assert connector.find_by_external_id(101) == record
    assert connector.find_by_external_id(999) is None


def test_every_request_carrying_an_external_id_is_listed_in_one_query(control, connect, outbound):
    """What the remote poll's duplicate check relies on: a create applied late
    leaves a second request with the same external id, and both are listed."""
    connector = connect()
    first = connector.create_request(outbound(105))
    second = connector.create_request(outbound(105))  # as if applied after we gave up
    connector.create_request(outbound(106))
    control.clear_calls()

    found = connector.records_by_external_ids([105, 106, 107])

    assert [r.remote_id for r in found["105"]] == [first.remote_id, second.remote_id]
    assert [r.external_id for r in found["106"]] == ["106"]
    assert "107" not in found
    assert len(control.record_queries()) == 1


def test_create_reply_without_an_id_adopts_the_record(control, connect, outbound):
    connector = connect()
    path = create_path(control, connector, outbound)
    # The vendor creates the record but answers without its id.
    control.fault(
        drop_after=True, status=200, body={"Message": "Created"}, method="POST", path_contains=path
    )
    record = connector.create_request(outbound(102))
    stored = control.records_with_external_id(102)
    assert len(stored) == 1 and record.remote_id == control.remote_id_of(stored[0])
    assert record.external_id == "102"


def test_retry_after_a_lost_reply_adopts_instead_of_creating_again(control, connect, outbound):
    connector = connect()
    path = create_path(control, connector, outbound)
    control.fault(drop_after=True, count=1, method="POST", path_contains=path)
    with pytest.raises(TransientError):
        connector.create_request(outbound(103))  # created, but the reply was lost
    # The engine's retry: look up by external id first, create only when absent.
    retry = connect()
    found = retry.find_by_external_id(103) or retry.create_request(outbound(103))
    stored = control.records_with_external_id(103)
    assert len(stored) == 1 and found.remote_id == control.remote_id_of(stored[0])


# -- status polls ----------------------------------------------------------------------


def test_fetch_records_is_one_filtered_query_per_batch(control, connect, outbound):
    connector = connect(batch_size=3)
    assert connector.batch_size == 3
    ids = [connector.create_request(outbound(200 + n)).remote_id for n in range(7)]
    closed = {ids[1], ids[5]}
    for remote_id in closed:
        control.set_status(remote_id, control.crew_closed_status)
    control.clear_calls()

    found = {}
    for start in range(0, len(ids), connector.batch_size):
        found.update(connector.fetch_records(ids[start : start + connector.batch_size]))

    assert sorted(found) == sorted(ids)
    assert {i for i, record in found.items() if record.closed} == closed
    assert all(found[i].external_id == str(200 + n) for n, i in enumerate(ids))
    assert len(control.record_queries()) == math.ceil(len(ids) / 3) == 3


def test_fetch_records_of_nothing_asks_nothing(control, connect):
    assert connect().fetch_records([]) == {}
    assert control.calls() == []


# -- comments out ----------------------------------------------------------------------


def test_notes_are_written_once_and_in_order(control, connect, outbound):
    connector = connect()
    remote_id = connector.create_request(outbound(300)).remote_id
    first = NoteOut(key="n-1", body="Water is rising.", author="Ada Resident")
    second = NoteOut(key="n-2", body="Now it reaches the curb.")
    third = NoteOut(key="n-3", body="A neighbor slipped.")

    connector.add_comments(remote_id, [first, second])
    connector.add_comments(remote_id, [first, second])  # what the server sees of a retry
    connector.add_comments(remote_id, [first, second, third])

    written = control.written_notes(remote_id)
    positions = []
    for note in (first, second, third):
        holding = [i for i, text in enumerate(written) if note.body in text]
        assert len(holding) == 1, f"{note.body!r} written {len(holding)} times: {written}"
        positions.extend(holding)
    assert positions == sorted(positions)


# -- comments in -------------------------------------------------------------------------


def test_vendor_comments_come_in_with_visibility_and_without_our_notes(control, connect, outbound):
    connector = connect()
    remote_id = connector.create_request(outbound(400)).remote_id
    connector.add_comments(remote_id, [NoteOut(key="out-1", body="From the resident.")])
    control.vendor_comment(remote_id, "Crew dispatched.", public=True)
    control.vendor_comment(remote_id, "Overtime approved.", public=False)

    first = connector.fetch_comments([remote_id])
    again = connector.fetch_comments([remote_id])

    comments = first[remote_id]
    assert [(c.body, c.public) for c in comments] == [
        ("Crew dispatched.", True),
        ("Overtime approved.", False),
    ]
    assert all(c.remote_id == remote_id for c in comments)
    # Stable, distinct keys: the engine imports each comment once across polls.
    keys = [c.key for c in comments]
    assert len(set(keys)) == len(keys) and keys == [c.key for c in again[remote_id]]


# -- categories ---------------------------------------------------------------------------


def test_categories_every_page_with_their_state(kind, control, connect):
    connector = connect(batch_size=3)  # small pages where the kind pages by batch
    if not supports(kind, "sync_categories"):
        with pytest.raises(NotSupportedError):
            connector.fetch_categories()
        return
    active = control.add_category("Contract Sinkhole")
    inactive = control.add_category("Contract Leaves", active=False)

    categories = {c.remote_id: c for c in connector.fetch_categories()}

    assert set(categories) == control.offered_category_ids()
    assert categories[active].active and categories[active].name == "Contract Sinkhole"
    # An inactive category is either listed as inactive, or (a source without an
    # inactive flag, like Lucity's problem-code lookup) left out, which the
    # category sync reads as disabled; offered_category_ids says which.
    assert inactive not in categories or not categories[inactive].active
    assert len({c.key for c in categories.values()}) == len(categories)


# -- closing -------------------------------------------------------------------------------


def test_a_crew_close_maps_to_closed_with_its_message(control, connect, outbound):
    status = control.crew_closed_status
    overrides = control.closing_message_settings(status, "The crew fixed it.")
    connector = connect(**(overrides or {}))
    open_id = connector.create_request(outbound(500)).remote_id
    closed_id = connector.create_request(outbound(501)).remote_id
    control.set_status(closed_id, status)

    records = connector.fetch_records([open_id, closed_id])

    assert records[closed_id].closed and records[closed_id].status == str(status)
    assert not records[open_id].closed
    # Kinds without per-status messages leave the choice to the engine (None).
    expected = "The crew fixed it." if overrides is not None else None
    assert connector.closing_message_for(records[closed_id]) == expected


def test_close_request_closes_once_with_its_note(kind, control, connect, outbound):
    note = NoteOut(key="crm-close-600", body="Closed in SeeClickFix by agency staff.")
    if not supports(kind, "close_remote_on_crm_close"):
        connector = connect()
        remote_id = connector.create_request(outbound(600)).remote_id
        with pytest.raises(NotSupportedError):
            connector.close_request(remote_id, note)
        return
    connector = connect(close_remote_on_crm_close=True, **control.crm_close_settings())
    open_id = connector.create_request(outbound(600)).remote_id
    crew_closed_id = connector.create_request(outbound(601)).remote_id
    control.set_status(crew_closed_id, control.crew_closed_status)

    for remote_id in (open_id, crew_closed_id):
        connector.close_request(remote_id, note)
    control.clear_calls()
    for remote_id in (open_id, crew_closed_id):
        connector.close_request(remote_id, note)  # what the server sees of a retry

    assert [c for c in control.calls() if c["method"] != "GET"] == [], "the retry wrote again"
    # Ours gets the configured closing status; a crew's close keeps the crew's.
    assert control.status_of(control.record(open_id)) == control.crm_closed_status
    assert control.status_of(control.record(crew_closed_id)) == control.crew_closed_status
    records = connector.fetch_records([open_id, crew_closed_id])  # the next poll
    assert records[open_id].closed and records[crew_closed_id].closed
    for remote_id in (open_id, crew_closed_id):
        assert sum(note.body in text for text in control.written_notes(remote_id)) == 1
