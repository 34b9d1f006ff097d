"""The Lucity connectors on the documented wire shapes, over real HTTP against the
simulator (vendor-apis.md §6): the photo through the citizen media endpoint
(multipart ``FileToUpload``), paging in an explicit order while records are
added, the requester's names, documents imported as images, and the Work
Order kind's photo link."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from integrations.base import OutboundRequest, Photo, Requester
from integrations.errors import PermanentError, TransientError
from integrations.lucity import LucityWorkOrderConnector, LucityWorkRequestConnector
from integrations.lucity.connector import LucityConnector
from integrations.registry import connector_class
from tests.simcontrol.lucity import (
    LucityControl,
    LucityWorkOrderControl,
    LucityWorkRequestControl,
)

JPEG = b"\xff\xd8\xff\xe0" + b"pothole" * 300


@pytest.fixture
def requests_sim(simulators) -> LucityWorkRequestControl:
    control = LucityWorkRequestControl.for_simulators(simulators)
    control.reset()
    return control


@pytest.fixture
def orders_sim(simulators) -> LucityWorkOrderControl:
    control = LucityWorkOrderControl.for_simulators(simulators)
    control.reset()
    return control


Connect = Callable[..., LucityConnector]


def connector_on(control: LucityControl, **overrides: Any) -> LucityConnector:
    """A connector of the control's kind on the simulator (``session``: its HTTP session)."""
    cls = connector_class(control.kind)
    session = overrides.pop("session", None)
    settings = cls.settings_model.model_validate(control.connector_settings(**overrides))
    return cls(settings, environ=control.environ(), session=session)


@pytest.fixture
def connect(requests_sim) -> Iterator[Connect]:
    made: list[LucityConnector] = []

    def make(control: LucityControl | None = None, **overrides: Any) -> LucityConnector:
        connector = connector_on(control or requests_sim, **overrides)
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()


def report(crm_issue_id: int, **overrides: Any) -> OutboundRequest:
    data: dict[str, Any] = {
        "crm_issue_id": crm_issue_id,
        "category_remote_id": "WB",
        "summary": "Water",
        "description": "Water in the street",
        "lat": 41.3083,
        "lng": -72.9279,
        "reported_address": "165 Church St",
        "verified_address": None,
        "image_url": None,
        "requester": Requester(first_name="SeeClickFix", last_name="User"),
    }
    data.update(overrides)
    return OutboundRequest(**data)


# -- the photo ----------------------------------------------------------------------


def test_attach_photo_uploads_multipart_file_to_upload(requests_sim, connect):
    connector = connect()
    assert LucityWorkRequestConnector.uploads_photos is True
    created = connector.create_request(report(700, image_url="https://crm.example/p.jpg"))
    requests_sim.clear_calls()

    connector.attach_photo(created.remote_id, Photo(JPEG, "image/jpeg", "pothole.jpg"))

    [upload] = requests_sim.uploads(created.remote_id)
    assert upload["Field"] == "FileToUpload"
    assert (upload["FileName"], upload["ContentType"]) == ("pothole.jpg", "image/jpeg")
    assert base64.b64decode(upload["Content"]) == JPEG
    [call] = requests_sim.calls()
    assert call["method"] == "POST"
    assert call["path"] == f"/LucityCitizenRestAPI/Requests.svc/{created.remote_id}/media/"
    assert call["content_type"].startswith("multipart/form-data; boundary=")
    # The create itself carried no image link (the photo is a leg of its own).
    assert "p.jpg" not in str(requests_sim.record(created.remote_id))


def test_a_non_json_success_from_the_media_endpoint_is_success(requests_sim, connect):
    """The reply of the media endpoint is not documented: any 2xx means uploaded,
    so a retry never uploads the photo twice because the reply was XML."""
    connector = connect()
    remote_id = connector.create_request(report(701)).remote_id
    requests_sim.fault(
        status=200, path_contains="/media", body="<Document/>", content_type="text/xml"
    )

    connector.attach_photo(remote_id, Photo(JPEG, "image/jpeg", "p.jpg"))  # no error


@pytest.mark.parametrize(
    "status, error, words",
    [(413, PermanentError, "HTTP 413"), (503, TransientError, "HTTP 503")],
)
def test_a_refused_upload_is_an_error_with_the_vendors_status(
    requests_sim, connect, status, error, words
):
    connector = connect()
    remote_id = connector.create_request(report(702)).remote_id
    requests_sim.fault(status=status, path_contains="/media")
    with pytest.raises(error, match=words):
        connector.attach_photo(remote_id, Photo(JPEG, "image/jpeg", "p.jpg"))
    assert requests_sim.uploads(remote_id) == []


def test_work_orders_carry_the_photo_as_a_link_and_upload_nothing(orders_sim, connect):
    """No public source documents an upload for work orders: the photo's link
    goes in the description, where the crew reads it."""
    assert LucityWorkOrderConnector.uploads_photos is False
    connector = connect(orders_sim)
    created = connector.create_request(
        report(703, category_remote_id="FAC", image_url="https://crm.example/door.jpg")
    )
    record = orders_sim.record(created.remote_id)
    assert record["Description"] == "Water in the street\nPhoto: https://crm.example/door.jpg"
    assert not [c for c in orders_sim.calls() if "/media" in c["path"] or "/Documents" in c["path"]]


# -- paging in an explicit order ----------------------------------------------------------


class StaffAddDuringScan(requests.Session):
    """After each page of the work-request list, staff enter one more request."""

    def __init__(self, control: LucityWorkRequestControl, additions: int) -> None:
        super().__init__()
        self.control = control
        self.left = additions

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        response = super().request(method, url, *args, **kwargs)
        if method == "GET" and url.rstrip("/").endswith("Work/Requests.svc") and self.left:
            self.left -= 1
            self.control.staff_create(ProblemCode="WB", Comments="entered mid-scan", minutes_ago=1)
        return response


def test_a_scan_reads_every_record_once_while_staff_add_records(requests_sim, connect):
    """Lucity lists newest first by default: paged that way, records added during
    the scan are never read and others are read twice. Paged oldest first
    (``ORDERBY=AutoNumber ASC``), the additions land on the pages still to come."""
    for n in range(5):
        requests_sim.staff_create(ProblemCode="WB", Comments=f"staff {n}", minutes_ago=5)
    session = StaffAddDuringScan(requests_sim, additions=3)
    # The simulator keeps New Haven's local time (entry dates carry no offset).
    connector = connect(take=2, session=session, timezone="America/New_York")

    found = connector.fetch_new_requests(datetime.now(UTC) - timedelta(hours=1))

    ids = [r.record.remote_id for r in found]
    assert session.left == 0
    assert len(ids) == len(set(ids)), f"read twice: {ids}"
    assert sorted(ids) == sorted(str(r["AutoNumber"]) for r in requests_sim.records())
    assert len(ids) == 8
    lists = [c for c in requests_sim.calls() if c["path"].endswith("/Work/Requests.svc/")]
    assert lists and all("ORDERBY=AutoNumber+ASC" in c["query_string"] for c in lists)


def test_every_listing_names_its_order(requests_sim, connect):
    connector = connect()
    remote_id = connector.create_request(report(704)).remote_id
    connector.fetch_records([remote_id])
    connector.find_by_external_id(704)
    connector.fetch_comments([remote_id])
    listings = [c for c in requests_sim.calls() if c["method"] == "GET"]
    assert len(listings) >= 4
    assert all("ORDERBY=AutoNumber+ASC" in c["query_string"] for c in listings)


# -- the requester ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "requester, reporter, expected",
    [
        # Private secondary questions gave the names: they are sent.
        (Requester("ada@example.com", "Ada", "Lovelace"), "Ada L.", ("Ada", "Lovelace")),
        # No question did: the reporter's own name, split at its last space.
        (
            Requester("g@example.com", "SeeClickFix", "User"),
            "Grace B Hopper",
            ("Grace B", "Hopper"),
        ),
        # Nothing known: the configured defaults (the vendor guide's).
        (Requester(None, "SeeClickFix", "User"), None, ("SeeClickFix", "User")),
    ],
)
def test_the_requester_is_the_resident(requests_sim, connect, requester, reporter, expected):
    connector = connect()
    request = replace(report(705, requester=requester), reporter_name=reporter)
    created = connector.create_request(request)
    record = requests_sim.record(created.remote_id)
    assert (record["RequestorName1"], record["RequestorName2"]) == expected
    assert record["RequestorEmail"] == requester.email


# -- documents in ----------------------------------------------------------------------------


def test_public_documents_come_in_as_images(requests_sim, connect):
    connector = connect()
    remote_id = connector.create_request(report(706)).remote_id
    requests_sim.vendor_document(
        remote_id, "https://eam.example/after.jpg", public=True, Description="Fixed"
    )
    requests_sim.vendor_document(remote_id, "https://eam.example/internal.jpg", public=False)

    documents = {c.image_url: c for c in connector.fetch_comments([remote_id])[remote_id]}

    after = documents["https://eam.example/after.jpg"]
    assert after.public and after.body == "Fixed"
    assert after.key.startswith("document:")
    # Not Publicly Available: listed as such, so the engine never imports it.
    assert not documents["https://eam.example/internal.jpg"].public
