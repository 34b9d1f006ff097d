"""Cartegraph mapping and reply handling (HTTP mocked with `responses`)."""

import json
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from pydantic import ValidationError

from integrations.base import Credentials, NoteOut, OutboundRequest, Requester
from integrations.cartegraph import CartegraphConnector, CartegraphSettings
from integrations.cartegraph.client import CartegraphClient
from integrations.errors import IntegrationConfigError, PermanentError, TransientError

BASE = "https://test.example.gov/cartegraph/api/v1"
CLASS_URL = f"{BASE}/classes/cgRequestsClass"
ENV = {"CG_USER": "u", "CG_PASSWORD": "p"}


def settings(**overrides):
    data = {
        "name": "public-works",
        "kind": "cartegraph",
        "environment": "test",
        "endpoints": {"test": BASE, "production": "https://cg.example.gov/cartegraph/api/v1"},
        "username_env": "CG_USER",
        "password_env": "CG_PASSWORD",
    }
    data.update(overrides)
    return CartegraphSettings.model_validate(data)


def request(**overrides):
    data = dict(
        crm_issue_id=42,
        category_remote_id="Pothole",
        summary="Pothole",
        description="Deep hole\nHow deep?: DEEP",
        lat=41.3,
        lng=-72.92,
        reported_address="1 Elm St",
        verified_address="1 Elm St, New Haven, CT 06510",
        image_url="https://img.example/1.jpg",
        requester=Requester(email="r@example.com"),
    )
    data.update(overrides)
    return OutboundRequest(**data)


def test_record_carries_every_documented_field():
    record = CartegraphConnector(settings(), environ=ENV).build_record(request(), None)
    assert record == {
        "IssueField": "Pothole",
        "RequesterField": "r@example.com",
        "DescriptionField": "Deep hole\nHow deep?: DEEP",
        "LocationDescriptionField": "1 Elm St, New Haven, CT 06510",
        "SeeClickFixIDField": "42",
        "lat": 41.3,
        "long": -72.92,
        "AttachmentField": "https://img.example/1.jpg",
        "LinkedField": True,
    }


def test_record_without_image_or_verified_address():
    record = CartegraphConnector(settings(), environ=ENV).build_record(
        request(image_url=None, verified_address=None, requester=Requester())
    )
    assert "AttachmentField" not in record and "LinkedField" not in record
    assert record["LocationDescriptionField"] == "1 Elm St"
    assert record["RequesterField"] == "SeeClickFix User"


def test_missing_secret_is_named():
    with pytest.raises(IntegrationConfigError, match="CG_PASSWORD"):
        CartegraphConnector(settings(), environ={"CG_USER": "u"})


def test_only_the_selected_environment_is_used():
    conn = CartegraphConnector(settings(environment="test"), environ=ENV)
    assert conn.client.http.base_url == BASE
    prod = CartegraphConnector(settings(environment="production"), environ=ENV)
    assert prod.client.http.base_url == "https://cg.example.gov/cartegraph/api/v1"


REQUESTERS_URL = f"{BASE}/classes/cgRequestersClass"


@responses.activate
def test_create_without_oid_in_reply_finds_by_external_id():
    responses.get(
        REQUESTERS_URL,
        json={
            "cgRequestersClass": [
                {
                    "Oid": 5,
                    "EmailField": "r@example.com",
                    "FirstNameField": "Rita",
                    "LastNameField": "Ro",
                }
            ],
            "_metadata": {"totalCount": 1},
        },
    )
    responses.post(CLASS_URL, json={"Message": "Created"})
    responses.get(
        CLASS_URL,
        json={
            "cgRequestsClass": [
                {"Oid": 9, "IDField": "REQ-9", "StatusField": "Open", "SeeClickFixIDField": "42"}
            ],
            "_metadata": {"totalCount": 1, "offset": 0, "limit": 1000},
        },
    )
    record = CartegraphConnector(settings(), environ=ENV).create_request(request())
    assert (record.remote_id, record.display_id, record.closed) == ("9", "REQ-9", False)
    query = parse_qs(urlsplit(responses.calls[2].request.url).query)
    assert query["filter"] == ['([SeeClickFixID] is equal to "42")']
    body = json.loads(responses.calls[1].request.body)
    assert list(body) == ["cgRequestsClass"]
    assert body["cgRequestsClass"][0]["RequesterField"] == "Rita Ro"


@responses.activate
def test_unknown_requester_is_created_with_question_fields():
    responses.get(REQUESTERS_URL, json={"cgRequestersClass": [], "_metadata": {"totalCount": 0}})
    responses.post(
        REQUESTERS_URL,
        json={"cgRequestersClass": [{"Oid": 77, "FirstNameField": "Ada", "LastNameField": "User"}]},
    )
    conn = CartegraphConnector(settings(requester_reference="oid"), environ=ENV)
    ref = conn.ensure_requester(
        Requester(email="ada@example.com", first_name="Ada", last_name="User", zip_code="06510")
    )
    assert ref == "77"
    sent = json.loads(responses.calls[1].request.body)["cgRequestersClass"][0]
    assert sent == {
        "EmailField": "ada@example.com",
        "FirstNameField": "Ada",
        "LastNameField": "User",
        "ZipCodeField": "06510",
    }


def test_custom_fields_never_replace_the_external_id():
    record = CartegraphConnector(settings(), environ=ENV).build_record(
        request(
            custom_fields={
                "PriorityField": "High",
                "SeeClickFixIDField": "x",
                "LocationDescriptionField": "as reported",
            }
        ),
        "Ref",
    )
    assert record["PriorityField"] == "High"
    assert record["SeeClickFixIDField"] == "42"
    assert record["LocationDescriptionField"] == "as reported"
    assert record["RequesterField"] == "Ref"


@responses.activate
def test_fetch_records_is_one_filtered_query_per_batch():
    responses.get(
        CLASS_URL,
        json={
            "cgRequestsClass": [
                {"Oid": 1, "StatusField": "Open"},
                {"Oid": 2, "StatusField": "Closed"},
            ],
            "_metadata": {"totalCount": 2, "offset": 0, "limit": 2},
        },
    )
    records = CartegraphConnector(settings(), environ=ENV).fetch_records(["1", "2"])
    assert len(responses.calls) == 1
    assert parse_qs(urlsplit(responses.calls[0].request.url).query)["filter"] == [
        "([Oid] in (1,2))"
    ]
    assert records["2"].closed and not records["1"].closed


@responses.activate
def test_reply_without_envelope_is_transient():
    responses.get(CLASS_URL, json=["not", "an", "envelope"])
    with pytest.raises(TransientError, match="envelope"):
        CartegraphConnector(settings(), environ=ENV).fetch_records(["1"])


@responses.activate
def test_auth_failure_is_permanent_with_vendor_text():
    responses.get(
        CLASS_URL, status=401, json={"Message": "Authentication Required for API Access."}
    )
    with pytest.raises(PermanentError, match="Authentication Required"):
        CartegraphConnector(settings(), environ=ENV).find_by_external_id(1)


@responses.activate
def test_basic_auth_is_sent():
    responses.get(CLASS_URL, json={"cgRequestsClass": [], "_metadata": {"totalCount": 0}})
    CartegraphConnector(settings(), environ=ENV).find_by_external_id(1)
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")


# -- the client: envelope, paging, creates --------------------------------------------


def client() -> CartegraphClient:
    return CartegraphClient(settings(), Credentials("u", "p"))


@responses.activate
def test_client_follows_offset_paging_until_total_count():
    for offset in (0, 2):
        responses.get(
            CLASS_URL,
            match=[responses.matchers.query_param_matcher({"limit": "2", "offset": str(offset)})],
            json={
                "cgRequestsClass": [{"Oid": offset + 1}, {"Oid": offset + 2}][: 3 - offset],
                "_metadata": {"totalCount": 3, "offset": offset, "limit": 2},
            },
        )
    rows = client().query("cgRequestsClass", limit=2)
    assert [r["Oid"] for r in rows] == [1, 2, 3] and len(responses.calls) == 2


@pytest.mark.parametrize(
    "reply, created",
    [
        ({"cgRequestsClass": [{"Oid": 7, "IDField": "REQ-7"}]}, [{"Oid": 7, "IDField": "REQ-7"}]),
        ({"cgRequestsClass": [{"IDField": "REQ-7"}]}, []),  # no Oid: not usable
        ({"Message": "Created"}, []),  # the undocumented reply says nothing
        (["created"], []),  # not an envelope at all
    ],
)
@responses.activate
def test_client_create_returns_only_records_with_their_oid(reply, created):
    responses.post(CLASS_URL, json=reply)
    assert client().create("cgRequestsClass", [{"IssueField": "Pothole"}]) == created
    assert json.loads(responses.calls[0].request.body) == {
        "cgRequestsClass": [{"IssueField": "Pothole"}]
    }


# -- closing from the CRM --------------------------------------------------------------


def record_reply(status="Open", comments=""):
    return {
        "cgRequestsClass": [{"Oid": 9, "StatusField": status, "CommentsField": comments}],
        "_metadata": {"totalCount": 1, "offset": 0, "limit": 1},
    }


NOTE = NoteOut(
    key="close-1", body="Closed in SeeClickFix.", author="Staff", created_at=datetime(2026, 3, 4, 9)
)


@responses.activate
def test_close_request_sets_the_status_and_appends_the_note_in_one_update():
    responses.get(CLASS_URL, json=record_reply(comments="Earlier note [#a]"))
    responses.put(CLASS_URL, json={"cgRequestsClass": []})
    conn = CartegraphConnector(settings(close_remote_on_crm_close=True), environ=ENV)
    conn.close_request("9", NOTE)
    sent = json.loads(responses.calls[1].request.body)["cgRequestsClass"]
    assert sent == [
        {
            "Oid": 9,
            "CommentsField": "Earlier note [#a]\nStaff, 2026-03-04 09:00: Closed in SeeClickFix. "
            "[#close-1]",
            "StatusField": "Closed",
        }
    ]


@responses.activate
def test_close_request_retry_writes_nothing_and_a_crew_status_stays():
    responses.get(CLASS_URL, json=record_reply("Done", "x [#close-1]"))
    conn = CartegraphConnector(
        settings(closed_statuses=["Closed", "Done"], close_remote_on_crm_close=True), environ=ENV
    )
    conn.close_request("9", NOTE)
    assert [c.request.method for c in responses.calls] == ["GET"]


@responses.activate
def test_close_request_of_an_unknown_request_is_permanent():
    responses.get(CLASS_URL, json={"cgRequestsClass": [], "_metadata": {"totalCount": 0}})
    with pytest.raises(PermanentError, match="not found for closing"):
        CartegraphConnector(settings(), environ=ENV).close_request("9", NOTE)


def test_closing_from_the_crm_is_supported_but_off_until_configured():
    assert settings().close_remote_on_crm_close is False
    assert settings(close_remote_on_crm_close=True).feature("close_remote_on_crm_close")


@pytest.mark.parametrize(
    "overrides",
    [
        {"crm_close_status": "Finished"},  # explicit: always judged
        {"closed_statuses": ["Done"], "close_remote_on_crm_close": True},  # default, in use
    ],
)
def test_crm_close_status_must_be_a_closed_status(overrides):
    with pytest.raises(ValidationError, match="crm_close_status .* is not one of closed_statuses"):
        settings(**overrides)


def test_unused_default_close_status_is_not_judged():
    assert settings(closed_statuses=["Done"]).crm_close_status == "Closed"


# -- requesters remembered by email (issue 11) ------------------------------------------
REQUESTER_FOUND = {
    "cgRequestersClass": [
        {"Oid": 5, "FirstNameField": "Rita", "LastNameField": "Ro", "EmailField": "r@example.com"}
    ],
    "_metadata": {"totalCount": 1},
}
NO_REQUESTER = {"cgRequestersClass": [], "_metadata": {"totalCount": 0}}


@responses.activate
def test_a_requester_found_once_costs_no_call_the_next_time():
    responses.get(REQUESTERS_URL, json=REQUESTER_FOUND)
    conn = CartegraphConnector(settings(), environ=ENV)
    assert conn.ensure_requester(Requester(email="r@example.com")) == "Rita Ro"
    assert conn.ensure_requester(Requester(email="r@example.com")) == "Rita Ro"
    assert len(responses.calls) == 1
    assert not conn.looks_up_requester(Requester(email="r@example.com"))
    assert conn.looks_up_requester(Requester(email="other@example.com"))


@responses.activate
def test_a_created_requester_is_remembered_only_from_the_reply_that_names_it():
    responses.get(REQUESTERS_URL, json=NO_REQUESTER)
    responses.post(REQUESTERS_URL, json={"cgRequestersClass": []})  # the reply names none
    conn = CartegraphConnector(settings(requester_reference="oid"), environ=ENV)
    with pytest.raises(PermanentError, match="no Oid"):
        conn.ensure_requester(Requester(email="new@example.com"))
    assert len(conn.known_requesters) == 0  # nothing Cartegraph confirmed
    responses.replace(responses.POST, REQUESTERS_URL, json={"cgRequestersClass": [{"Oid": 9}]})
    assert conn.ensure_requester(Requester(email="new@example.com")) == "9"
    calls = len(responses.calls)
    assert conn.ensure_requester(Requester(email="new@example.com")) == "9"
    assert len(responses.calls) == calls


@responses.activate
def test_a_lookup_ahead_that_found_none_spares_the_create_its_lookup_once():
    """find_requester (beside the geocode) said there is none: the create that
    follows creates at once; a retry of it looks up again."""
    responses.get(REQUESTERS_URL, json=NO_REQUESTER)
    responses.post(REQUESTERS_URL, status=503, json={"Message": "down"})
    conn = CartegraphConnector(settings(requester_reference="oid"), environ=ENV)
    assert conn.find_requester(Requester(email="new@example.com")) is None
    with pytest.raises(TransientError):
        conn.ensure_requester(Requester(email="new@example.com"))
    assert [c.request.method for c in responses.calls] == ["GET", "POST"]
    with pytest.raises(TransientError):
        conn.ensure_requester(Requester(email="new@example.com"))
    assert [c.request.method for c in responses.calls] == ["GET", "POST", "GET", "POST"]


@responses.activate
def test_fixed_requesters_are_never_looked_up():
    conn = CartegraphConnector(
        settings(requester={"mode": "fixed", "value": "SeeClickFix User"}), environ=ENV
    )
    assert not conn.looks_up_requester(Requester(email="r@example.com"))
    assert conn.find_requester(Requester(email="r@example.com")) is None
    assert conn.ensure_requester(Requester(email="r@example.com")) == "SeeClickFix User"
    assert len(responses.calls) == 0
