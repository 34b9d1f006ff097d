"""The photo leg: where a vendor takes the resident's photo as an upload after
the create, it is downloaded from the CRM (bounded), uploaded, and retried on
its own — never redoing the create, never failing the request."""

from __future__ import annotations

import pytest
import responses

from integrations.errors import TransientError
from tests.fakes import FakeConnector
from tests.support import event_kinds, fresh_link
from webapp.models import SyncState
from webapp.sync import ingest, lifecycle, push

PHOTO_URL = "https://crm.test/files/pothole.jpg"
JPEG = b"\xff\xd8\xff\xe0" + b"x" * 2000


@pytest.fixture
def uploads(monkeypatch):
    monkeypatch.setattr(FakeConnector, "uploads_photos", True)


@pytest.fixture
def photo_server():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, PHOTO_URL, body=JPEG, content_type="image/jpeg")
        yield mock


def routed_with_photo(crm, url: str = PHOTO_URL) -> tuple[int, int]:
    issue_id = crm.add_issue(media={"image_full": url})
    (link_id,) = ingest.upsert_issue(crm.parsed(issue_id), source="poll").links_to_push
    return issue_id, link_id


def test_the_photo_is_uploaded_after_the_create_and_the_leg_is_done(
    app, crm, remote, uploads, photo_server
):
    issue_id, link_id = routed_with_photo(crm)

    push.push_link(link_id)

    link = fresh_link(link_id)
    [photo] = remote.photos[link.remote_id]
    assert (photo.content, photo.content_type, photo.filename) == (
        JPEG,
        "image/jpeg",
        "pothole.jpg",
    )
    assert link.state == SyncState.ACKNOWLEDGED
    assert link.photo_intended_at <= link.photo_attached_at
    assert event_kinds(issue_id)[-1] == "photo_attached"
    assert not lifecycle.owes_photo(link, link.issue, True)


def test_a_failed_upload_is_retried_on_its_own(app, crm, remote, uploads, photo_server):
    issue_id, link_id = routed_with_photo(crm)
    remote.fail("attach_photo", TransientError("EAM: HTTP 503"))
    with pytest.raises(TransientError):
        push.push_link(link_id)
    link = fresh_link(link_id)
    assert link.state == SyncState.ACKNOWLEDGED  # the resident is told already
    assert lifecycle.in_doubt(link, lifecycle.ATTACH_PHOTO)
    assert lifecycle.owes_work(link, False, True)

    push.push_link(link_id)

    assert remote.count("create_request") == 1  # the create is never redone
    assert len(remote.photos[fresh_link(link_id).remote_id]) == 1


def test_a_photo_that_is_not_an_image_is_noted_and_never_fails_the_request(
    app, crm, remote, uploads
):
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, PHOTO_URL, body="<html>gone</html>", content_type="text/html")
        issue_id, link_id = routed_with_photo(crm)
        push.push_link(link_id)
    link = fresh_link(link_id)
    assert link.state == SyncState.ACKNOWLEDGED
    assert link.photo_attached_at is not None  # done: nothing more to try
    assert "photo_not_sent" in event_kinds(issue_id)
    assert remote.count("attach_photo") == 0


def test_a_kind_that_takes_photos_in_the_create_never_downloads_one(app, crm, remote):
    with responses.RequestsMock() as mock:  # any download would fail this test
        _, link_id = routed_with_photo(crm)
        push.push_link(link_id)
        assert len(mock.calls) == 0
    assert remote.count("attach_photo") == 0
    assert fresh_link(link_id).photo_intended_at is None
