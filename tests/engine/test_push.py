"""Push: every leg a sync link owes, each intended before its vendor call and
done after, resumed at the first leg not done; failures recorded on the link;
the remote close when staff close the CRM issue (close_remote_on_crm_close)."""

from __future__ import annotations

import threading

import pytest

from geo.geocode import GeocodeError, cache_key
from integrations.base import NoteOut
from integrations.errors import PermanentError, TransientError
from tests.engine.conftest import load_agency
from tests.fakes import FakeConnector
from tests.support import event_kinds, fresh_link
from webapp.extensions import db
from webapp.models import Comment, Event, GeocodeCache, SyncLink, SyncState
from webapp.sync import ingest, push, push_job, remote_poll

CLOSE_NOTE = "Closed by the city in SeeClickFix."
CLOSING = {
    "    categories:": "    close_remote_on_crm_close: true\n"
    f'    remote_close_note: "{CLOSE_NOTE}"\n'
    "    categories:"
}


def routed(crm, **fields) -> tuple[int, int]:
    """A new CRM issue stored and routed: (issue id, pending link id)."""
    issue_id = crm.add_issue(**fields)
    (link_id,) = ingest.upsert_issue(crm.parsed(issue_id), source="poll").links_to_push
    return issue_id, link_id


def acknowledged(crm) -> tuple[int, int]:
    """A routed issue whose push finished (the queue left empty)."""
    issue_id, link_id = routed(crm)
    assert push.push_link(link_id).state == SyncState.ACKNOWLEDGED
    return issue_id, link_id


def last_event(issue_id: int) -> tuple[str, str, str]:
    query = db.select(Event.kind, Event.detail, Event.level).where(Event.issue_id == issue_id)
    return tuple(db.session.execute(query.order_by(Event.id.desc())).first())


def last_event_of_kind(issue_id: int, kind: str) -> str | None:
    query = db.select(Event.detail).where(Event.issue_id == issue_id, Event.kind == kind)
    return db.session.execute(query.order_by(Event.id.desc())).scalar()


def push_failing(link_id: int) -> Exception:
    """One push that fails, recorded as the push job records a retried attempt."""
    with pytest.raises(Exception) as caught:
        push.push_link(link_id)
    push_job.record_failure(link_id, caught.value)
    return caught.value


# ------------------------------------------------------------------ the full push
def test_a_push_creates_the_remote_request_and_acknowledges_the_crm_issue(
    app, crm, remote, geocoder
):
    issue_id, link_id = routed(crm)

    push.push_link(link_id)

    row = fresh_link(link_id)
    assert row.state == SyncState.ACKNOWLEDGED
    assert (row.verified_address, row.address_source) == (geocoder.label, "arcgis")
    assert geocoder.args_of("reverse") == [(41.3083, -72.9279)]
    cached = db.session.get(GeocodeCache, cache_key(geocoder.server_url, 41.3083, -72.9279))
    assert cached.address == geocoder.label
    ((request,),) = remote.args_of("create_request")
    assert (request.crm_issue_id, request.category_remote_id) == (issue_id, "Pothole")
    assert (request.verified_address, request.reported_address) == (
        geocoder.label,
        "165 Church St, New Haven",
    )
    assert request.address_parts == {
        "number": "165",
        "street": "Church St",
        "city": "New Haven",
        "zip": "06510",
    }
    assert remote.records[row.remote_id]["ExternalId"] == str(issue_id)
    assert crm.args_of("acknowledge") == [(issue_id, "A crew will inspect this pothole.")]
    assert crm.issues[issue_id]["status"] == "Acknowledged"
    assert event_kinds(issue_id) == [
        "received",
        "routed",
        "geocoded",
        "remote_created",
        "acknowledged",
    ]


def test_each_leg_is_intended_before_it_is_done_and_done_after(app, crm):
    _, link_id = routed(crm)

    push.push_link(link_id)

    row = fresh_link(link_id)
    assert (
        row.remote_create_intended_at
        <= row.remote_created_at
        <= row.crm_ack_intended_at
        <= row.crm_acknowledged_at
    )
    assert (row.last_error, row.last_synced_at is not None) == (None, True)
    # Legs not owed are never intended.
    assert (row.crm_close_intended_at, row.remote_close_intended_at) == (None, None)


def test_a_leg_whose_vendor_call_fails_is_left_intended_not_done(app, crm, remote):
    _, link_id = routed(crm)
    remote.fail("create_request", TransientError("EAM: HTTP 503"))

    push_failing(link_id)  # record_failure rolls the session back first

    row = fresh_link(link_id)
    assert row.remote_create_intended_at is not None
    assert (row.remote_created_at, row.remote_id) == (None, None)
    assert (row.crm_ack_intended_at, row.state) == (None, SyncState.PENDING)


@pytest.mark.parametrize(
    ("request_type_id", "message"),
    [
        (122, "A crew will inspect this pothole."),  # the category's
        (123, "Your request has been received by Public Works."),  # the integration's
    ],
)
def test_the_crm_issue_is_acknowledged_with_the_categorys_message(
    app, crm, request_type_id, message
):
    issue_id, link_id = routed(crm, request_type_id=request_type_id)

    push.push_link(link_id)

    assert crm.comments_of(issue_id) == [message]
    assert last_event(issue_id) == ("acknowledged", message, "info")


# ------------------------------------------------------------ adopt, resume
def test_a_request_with_our_external_id_is_adopted_not_created_again(app, crm, remote):
    issue_id, link_id = routed(crm)
    existing = remote.add_record(ExternalId=str(issue_id), Category="Pothole")

    push.push_link(link_id)

    assert fresh_link(link_id).remote_id == existing
    assert remote.count("create_request") == 0
    assert list(remote.records) == [existing]
    assert "remote_adopted" in event_kinds(issue_id)
    assert fresh_link(link_id).state == SyncState.ACKNOWLEDGED


def test_a_create_whose_reply_was_lost_is_adopted_on_the_retry(app, crm, remote):
    issue_id, link_id = routed(crm)
    remote.lose_reply("create_request", TransientError("EAM: read timed out"))
    push_failing(link_id)

    push.push_link(link_id)

    assert remote.count("create_request") == 1
    assert len(remote.records) == 1
    assert fresh_link(link_id).remote_id == next(iter(remote.records))
    assert event_kinds(issue_id).count("remote_adopted") == 1


def test_a_push_resumes_at_the_acknowledge_leg_after_it_failed(app, crm, remote):
    issue_id, link_id = routed(crm)
    crm.fail("acknowledge", TransientError("SeeClickFix: HTTP 502"))
    push_failing(link_id)
    row = fresh_link(link_id)
    assert row.remote_created_at is not None
    assert (row.crm_ack_intended_at is not None, row.crm_acknowledged_at) == (True, None)

    push.push_link(link_id)

    assert remote.count("create_request") == 1
    assert crm.count("acknowledge") == 2
    assert crm.comments_of(issue_id) == ["A crew will inspect this pothole."]
    assert fresh_link(link_id).state == SyncState.ACKNOWLEDGED


def test_an_acknowledgment_whose_reply_was_lost_is_not_posted_twice(app, crm):
    issue_id, link_id = routed(crm)
    crm.lose_reply("acknowledge", TransientError("SeeClickFix: read timed out"))
    push_failing(link_id)

    push.push_link(link_id)

    assert fresh_link(link_id).state == SyncState.ACKNOWLEDGED
    assert crm.comments_of(issue_id) == ["A crew will inspect this pothole."]


# ---------------------------------------------------------------------- address
def test_a_geocoder_failure_falls_back_to_the_reported_address(app, crm, remote, geocoder):
    issue_id, link_id = routed(crm)
    geocoder.fail("reverse", GeocodeError("locator unavailable"))

    push.push_link(link_id)

    row = fresh_link(link_id)
    assert (row.address_source, row.verified_address) == ("reported", None)
    assert last_event_of_kind(issue_id, "geocode_failed") == (
        "locator unavailable; using the reported address '165 Church St, New Haven'"
    )
    ((request,),) = remote.args_of("create_request")
    assert (request.verified_address, request.address_parts) == (None, {})
    assert remote.records[row.remote_id]["Address"] == "165 Church St, New Haven"
    assert row.state == SyncState.ACKNOWLEDGED


def test_the_lookup_by_external_id_runs_beside_the_geocode(app, crm, remote, geocoder):
    """Neither needs the other's answer: the geocode waits (up to 5 s) until the
    lookup has been made, which only a lookup running beside it can do."""
    looked_up = threading.Event()
    find, reverse = FakeConnector.find_by_external_id, geocoder.reverse

    def find_and_signal(self, crm_issue_id):
        found = find(self, crm_issue_id)
        looked_up.set()
        return found

    def reverse_after_the_lookup(lat, lng):
        assert looked_up.wait(5), "the lookup by external id waited for the geocode"
        return reverse(lat, lng)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FakeConnector, "find_by_external_id", find_and_signal)
        patch.setattr(geocoder, "reverse", reverse_after_the_lookup)
        _, link_id = routed(crm)
        push.push_link(link_id)

    row = fresh_link(link_id)
    assert (row.state, row.address_source) == (SyncState.ACKNOWLEDGED, "arcgis")
    assert remote.count("find_by_external_id") == remote.count("create_request") == 1


def test_a_failed_lookup_beside_the_geocode_fails_the_push_and_creates_nothing(
    app, crm, remote, geocoder
):
    _, link_id = routed(crm)
    remote.fail("find_by_external_id", TransientError("EAM: HTTP 503"))

    with pytest.raises(TransientError, match="HTTP 503"):
        push.push_link(link_id)

    assert geocoder.count("reverse") == 1
    assert remote.count("create_request") == 0


def test_with_the_geocode_switch_off_the_geocoder_is_never_asked(app, crm, remote, geocoder):
    load_agency(**{"    categories:": "    geocode: false\n    categories:"})
    issue_id, link_id = routed(crm)

    push.push_link(link_id)

    row = fresh_link(link_id)
    assert geocoder.count("reverse") == 0
    assert row.address_source == "reported"
    assert not [kind for kind in event_kinds(issue_id) if kind.startswith("geocod")]
    assert remote.records[row.remote_id]["Address"] == "165 Church St, New Haven"


# --------------------------------------------------------------------- comments
def test_comments_are_sent_once_in_creation_order(app, crm, remote):
    issue_id = crm.add_issue()
    crm.resident_comment(issue_id, "first")
    crm.resident_comment(issue_id, "second")
    crm.issues[issue_id]["comments"].reverse()  # the CRM lists the newest first
    (link_id,) = ingest.upsert_issue(crm.parsed(issue_id), source="poll").links_to_push

    push.push_link(link_id)
    push.push_link(link_id)

    remote_id = fresh_link(link_id).remote_id
    ((sent_to, notes),) = remote.args_of("add_comments")
    assert (sent_to, [n.body for n in notes]) == (remote_id, ["first", "second"])
    assert [n.author for n in notes] == ["Ada Resident", "Ada Resident"]
    unsent = db.select(Comment.id).where(Comment.issue_id == issue_id, Comment.pushed_at.is_(None))
    assert db.session.execute(unsent).first() is None
    sent = last_event_of_kind(issue_id, "comments_sent")
    assert sent == "2 comment(s) added to the remote request"


def test_comments_whose_reply_was_lost_are_sent_again_with_the_same_keys(app, crm, remote):
    issue_id, link_id = acknowledged(crm)
    crm.resident_comment(issue_id, "still there")
    ingest.upsert_issue(crm.parsed(issue_id), source="poll")
    remote.lose_reply("add_comments", TransientError("EAM: read timed out"))
    push_failing(link_id)

    push.push_link(link_id)

    remote_id = fresh_link(link_id).remote_id
    first, second = remote.args_of("add_comments")
    assert [n.key for n in first[1]] == [n.key for n in second[1]]
    assert [n.body for n in remote.notes[remote_id]] == ["still there"]


# ---------------------------------------------------------------- record_failure
def test_a_failed_attempt_with_retries_left_is_recorded_and_stays_pending(app, crm):
    app.config["CROSSWALK_RETRY_INTERVALS"] = [30, 120]
    issue_id, link_id = routed(crm)

    failure = push_job.record_failure(link_id, TransientError("EAM: HTTP 503"))

    row = fresh_link(link_id)
    assert (row.state, row.attempts, row.last_error) == (SyncState.PENDING, 1, "EAM: HTTP 503")
    assert row.last_error_at is not None
    assert not failure.final and failure.retry_at == row.due_at
    assert 29 <= (row.due_at - row.last_error_at).total_seconds() <= 31
    assert last_event(issue_id) == (
        "push_retry",
        "attempt 1 failed: EAM: HTTP 503; retrying in 30 s",
        "warning",
    )


def test_the_final_failed_attempt_marks_the_link_failed(app, crm):
    issue_id, link_id = routed(crm)
    push_job.record_failure(link_id, TimeoutError())

    push_job.record_failure(link_id, PermanentError("EAM: category unknown"))

    row = fresh_link(link_id)
    assert (row.state, row.attempts) == (SyncState.FAILED, 2)
    assert last_event(issue_id) == (
        "push_failed",
        "attempt 2 failed, giving up: EAM: category unknown",
        "error",
    )
    assert "attempt 1 failed: TimeoutError; retrying" in last_event_of_kind(issue_id, "push_retry")


def test_a_final_failure_on_an_acknowledged_link_changes_no_state(app, crm):
    issue_id, link_id = acknowledged(crm)

    push_job.record_failure(link_id, PermanentError("EAM: HTTP 400"))

    row = fresh_link(link_id)
    assert (row.state, row.attempts) == (SyncState.ACKNOWLEDGED, 1)
    assert last_event(issue_id) == (
        "comments_failed",
        "could not send comments to the remote request: EAM: HTTP 400",
        "error",
    )
    assert row.due_at is not None  # still owed: tried again at the longest interval


def test_a_push_job_retries_transient_failures_then_gives_up(app, crm, remote):
    issue_id = crm.add_issue()
    remote.fail("create_request", TransientError("EAM: HTTP 503"), times=3)

    ingest.receive(crm.parsed(issue_id), source="poll")
    app.task_queue.drain()

    # CROSSWALK_RETRY_INTERVALS has two retries: three attempts in all.
    assert remote.count("create_request") == 3
    kinds = [k for k in event_kinds(issue_id) if k.startswith("push_")]
    assert kinds == ["push_retry", "push_retry", "push_failed"]
    row = db.session.execute(db.select(SyncLink)).scalar_one()
    assert (row.state, row.attempts) == (SyncState.FAILED, 3)


def test_a_push_job_gives_up_at_once_on_a_permanent_error(app, crm, remote):
    issue_id = crm.add_issue()
    remote.fail("create_request", PermanentError("EAM: HTTP 400: Category is not valid"))

    ingest.receive(crm.parsed(issue_id), source="poll")
    app.task_queue.drain()

    assert remote.count("create_request") == 1
    assert last_event(issue_id)[0] == "push_failed"


def test_pushing_an_unknown_link_is_refused(app):
    with pytest.raises(push.LinkNotFoundError, match="sync link 999 does not exist"):
        push.push_link(999)


# ---------------------------------------------------- close_remote_on_crm_close
def test_a_crm_issue_closed_by_staff_closes_the_remote_request_once(app, crm, remote):
    load_agency(**CLOSING)
    issue_id, link_id = acknowledged(crm)
    crm.staff_close(issue_id)

    for _ in range(2):  # seen again by the next poll: nothing more is sent
        ingest.receive(crm.parsed(issue_id), source="poll")
        app.task_queue.drain()

    row = fresh_link(link_id)
    assert remote.args_of("close_request") == [
        (row.remote_id, NoteOut(key=f"crm-close-{link_id}", body=CLOSE_NOTE))
    ]
    assert [n.body for n in remote.notes[row.remote_id]] == [CLOSE_NOTE]
    assert remote.records[row.remote_id]["Status"] == "Closed"
    assert row.state == SyncState.CLOSED
    assert row.remote_close_intended_at <= row.remote_closed_at
    assert row.crm_closed_at == crm.parsed(issue_id).closed_at
    assert event_kinds(issue_id).count("remote_closed") == 1
    assert crm.count("close") == 0  # the CRM issue was closed already


def test_our_own_crm_close_never_closes_the_remote_request(app, crm, remote):
    load_agency(**CLOSING)
    issue_id, link_id = acknowledged(crm)
    remote.set(fresh_link(link_id).remote_id, Status="Closed")  # the crew closed the work
    remote_poll.poll_integration(fresh_link(link_id).integration_id)  # we close the CRM issue

    ingest.receive(crm.parsed(issue_id), source="poll")
    app.task_queue.drain()

    assert fresh_link(link_id).state == SyncState.CLOSED
    assert remote.count("close_request") == 0
    assert "remote_closed" not in event_kinds(issue_id)


def test_our_own_crm_close_in_doubt_never_closes_the_remote_request(app, crm, remote):
    load_agency(**CLOSING)
    issue_id, link_id = acknowledged(crm)
    remote.set(fresh_link(link_id).remote_id, Status="Closed")
    crm.lose_reply("close", TransientError("SeeClickFix: read timed out"))
    remote_poll.poll_integration(fresh_link(link_id).integration_id)
    row = fresh_link(link_id)
    assert (row.state, row.crm_close_intended_at is not None) == (SyncState.ACKNOWLEDGED, True)

    ingest.receive(crm.parsed(issue_id), source="poll")  # the CRM says Closed: our close
    app.task_queue.drain()
    push.push_link(link_id)

    assert remote.count("close_request") == 0
    assert "remote_closed" not in event_kinds(issue_id)


def test_with_the_switch_off_a_staff_close_sends_nothing(app, crm, remote):
    issue_id, link_id = acknowledged(crm)
    crm.staff_close(issue_id)

    result = ingest.receive(crm.parsed(issue_id), source="poll")
    push.push_link(link_id)

    assert result.links_to_push == []
    assert remote.count("close_request") == 0
    assert fresh_link(link_id).state == SyncState.ACKNOWLEDGED


def test_a_failed_remote_close_is_retried_and_written_once(app, crm, remote):
    load_agency(**CLOSING)
    issue_id, link_id = acknowledged(crm)
    remote.lose_reply("close_request", TransientError("EAM: read timed out"))
    crm.staff_close(issue_id)

    ingest.receive(crm.parsed(issue_id), source="poll")
    app.task_queue.drain()  # the job's retry runs in the same drain

    row = fresh_link(link_id)
    assert remote.count("close_request") == 2
    assert [n.body for n in remote.notes[row.remote_id]] == [CLOSE_NOTE]
    assert row.state == SyncState.CLOSED
    kinds = event_kinds(issue_id)
    assert (kinds.count("push_retry"), kinds.count("remote_closed")) == (1, 1)


def test_a_remote_close_that_finally_fails_is_reported_as_such(app, crm, remote):
    load_agency(**CLOSING)
    issue_id, link_id = acknowledged(crm)
    remote.fail("close_request", PermanentError("EAM: HTTP 409: locked"))
    crm.staff_close(issue_id)
    ingest.upsert_issue(crm.parsed(issue_id), source="poll")

    with pytest.raises(PermanentError) as caught:
        push.push_link(link_id)
    push_job.record_failure(link_id, caught.value)

    assert fresh_link(link_id).state == SyncState.ACKNOWLEDGED
    assert last_event(issue_id) == (
        "remote_close_failed",
        "could not close the remote request: EAM: HTTP 409: locked",
        "error",
    )
