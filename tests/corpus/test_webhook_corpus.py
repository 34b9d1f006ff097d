"""Every case of ``webhook_cases``: refused with its status, as JSON naming the
field, and no row of any table changed (nor a job queued). Then the answers
that are not refusals: replays, the body-size limit, the cost in SQL."""

from __future__ import annotations

import io
import json
import time

import pytest
from sqlalchemy import event

from tests.conftest import WEBHOOK_SECRET
from tests.corpus.conftest import table_counts
from tests.corpus.webhook_cases import GOOD_ISSUE, WEBHOOK_CASES, WebhookCase, issue
from webapp.extensions import db
from webapp.models import Event, Issue, SyncLink
from webapp.sync.webhook import DELIVERY_HEADER, sign

URL = "/webhooks/seeclickfix"


def body_of(case: WebhookCase) -> bytes:
    if case.raw is not None:
        return case.raw
    return json.dumps(case.body if case.body is not None else issue()).encode()


def send(client, body: bytes, *, change=None, timestamp: str | None = None, **extra):
    """POST ``body`` signed correctly, then with the case's header changes."""
    ts = timestamp or str(int(time.time()))
    headers: dict[str, str | None] = {
        "Content-Type": "application/json",
        "X-Crosswalk-Timestamp": ts,
        "X-Crosswalk-Signature": sign(WEBHOOK_SECRET, ts, body),
    }
    if change is not None:
        headers.update(change(ts, body))
    sent = {k: v for k, v in headers.items() if v is not None}
    return client.post(URL, data=body, headers=sent, **extra)


@pytest.mark.parametrize("case", WEBHOOK_CASES, ids=lambda case: case.name)
def test_bad_webhook_is_refused_by_name_and_writes_nothing(corpus_app, case):
    before = table_counts(corpus_app)
    response = send(corpus_app.test_client(), body_of(case), change=case.headers)
    answer = response.get_json(silent=True)
    assert response.status_code == case.status, (case.name, answer)
    assert answer and answer["error"], response.get_data(as_text=True)[:300]
    assert "Traceback" not in answer["error"]
    assert answer.get("field") == case.field, answer
    if case.error:
        assert case.error in answer["error"], answer["error"]
    assert table_counts(corpus_app) == before


# -- the size limit, before the body is read -----------------------------------------
class ExplodingStream(io.RawIOBase):
    """A 100 MB request body that fails the test if anything reads it."""

    size = 100 * 2**20

    def __init__(self) -> None:
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = self.size + offset if whence == io.SEEK_END else offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:
        raise AssertionError("the body was read")


def test_a_body_over_the_limit_is_413_before_it_is_read(corpus_app):
    limit = corpus_app.config["CROSSWALK_WEBHOOK_MAX_BYTES"]
    before = table_counts(corpus_app)
    response = corpus_app.test_client().post(
        URL,
        input_stream=ExplodingStream(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.get_json() == {"error": f"body larger than {limit} bytes"}
    assert table_counts(corpus_app) == before


def test_a_signed_body_over_the_limit_is_413_too(corpus_app):
    limit = corpus_app.config["CROSSWALK_WEBHOOK_MAX_BYTES"]
    padded = issue(description="x" * limit)
    before = table_counts(corpus_app)
    response = send(corpus_app.test_client(), json.dumps(padded).encode())
    assert response.status_code == 413
    assert table_counts(corpus_app) == before


def test_a_body_without_length_is_cut_at_the_limit(corpus_app):
    """A chunked body (no Content-Length) is read only up to the limit."""
    limit = corpus_app.config["CROSSWALK_WEBHOOK_MAX_BYTES"]
    before = table_counts(corpus_app)
    response = corpus_app.test_client().post(
        URL,
        input_stream=io.BytesIO(b"[" * (limit + 10)),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert table_counts(corpus_app) == before


# -- replays ---------------------------------------------------------------------------
def fresh_issue(issue_id: int) -> bytes:
    return json.dumps(issue(id=issue_id)).encode()


def test_an_exact_replay_is_answered_without_processing(corpus_app):
    client = corpus_app.test_client()
    body, ts = fresh_issue(700101), str(int(time.time()))
    assert send(client, body, timestamp=ts).status_code == 202
    before = table_counts(corpus_app)
    replay = send(client, body, timestamp=ts)
    assert replay.status_code == 200
    assert replay.get_json() == {"issue_id": 700101, "event": "issue.created", "replay": True}
    assert table_counts(corpus_app) == before


def test_a_delivery_sent_again_under_its_delivery_id_is_a_replay(corpus_app):
    """The sender's retry: a new timestamp and signature, the same delivery id."""
    client = corpus_app.test_client()
    body = fresh_issue(700102)
    delivery = {DELIVERY_HEADER: "delivery-700102"}
    first = send(client, body, change=lambda ts, b: delivery)
    assert first.status_code == 202
    before = table_counts(corpus_app)
    again = send(client, body, timestamp=str(int(time.time()) - 5), change=lambda ts, b: delivery)
    assert again.status_code == 200 and again.get_json()["replay"] is True
    assert table_counts(corpus_app) == before


def test_the_same_body_with_a_new_timestamp_is_processed(corpus_app):
    """Not a replay: the sender signed it again (ingest is idempotent anyway)."""
    client = corpus_app.test_client()
    body = fresh_issue(700103)
    assert send(client, body, timestamp=str(int(time.time()) - 3)).status_code == 202
    assert send(client, body).status_code == 202


def test_a_delivery_that_failed_is_processed_when_sent_again(corpus_app, monkeypatch):
    from webapp.sync import ingest

    client = corpus_app.test_client()
    body, ts = fresh_issue(700104), str(int(time.time()))
    monkeypatch.setattr(ingest, "receive", lambda *a, **k: (_ for _ in ()).throw(OSError("disk")))
    failed = send(client, body, timestamp=ts)
    assert failed.status_code == 500
    assert failed.get_json() == {"error": "internal error (logged)"}
    monkeypatch.undo()
    assert send(client, body, timestamp=ts).status_code == 202


def test_a_refused_body_is_refused_again_not_called_a_replay(corpus_app):
    client = corpus_app.test_client()
    body, ts = json.dumps(issue(lat=91)).encode(), str(int(time.time()))
    assert send(client, body, timestamp=ts).status_code == 400
    assert send(client, body, timestamp=ts).status_code == 400


# -- what the database could not store arrives by the poll, stored with changes ---------
def test_an_odd_issue_refused_by_the_webhook_is_stored_fitted_by_ingest(corpus_app):
    """The webhook refuses; the same issue from the poll (or the CLI) is stored,
    cut to its columns, and the timeline says what changed."""
    from integrations.seeclickfix import parse_issue
    from webapp.sync import ingest

    raw = {
        **GOOD_ISSUE,
        "id": 700105,
        "summary": "pot\x00hole",
        "reporter": {"name": "N" * 320, "email": "e\ud800@example.com"},
    }
    with corpus_app.app_context():
        ingest.upsert_issue(parse_issue(raw), source="poll")
        row = db.session.get(Issue, 700105)
        assert (row.summary, len(row.reporter_name)) == ("pothole", 300)
        assert row.reporter_email == "e\ufffd@example.com"
        [warning] = db.session.execute(
            db.select(Event).where(Event.issue_id == 700105, Event.kind == "ingest_warning")
        ).scalars()
        assert warning.level == "warning"
        assert "reporter.name has 320 characters" in warning.detail
        assert "summary contains NUL characters, which the database cannot store (removed)" in (
            warning.detail
        )
        db.session.remove()


# -- the cost of a delivery ------------------------------------------------------------
class Statements:
    def __init__(self, engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self.seen)
        self.engine = engine

    def seen(self, *args) -> None:
        self.count += 1

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self.seen)


@pytest.fixture
def statements(corpus_app):
    with corpus_app.app_context():
        counter = Statements(db.engine)
    yield counter
    counter.close()


@pytest.fixture
def configuration_held(corpus_app, monkeypatch):
    """The process keeps what it read of the configuration for the whole test
    (it reads it again after ``CROSSWALK_CONFIG_CACHE_SECONDS``: a slow run
    must not change the counts)."""
    monkeypatch.setitem(corpus_app.config, "CROSSWALK_CONFIG_CACHE_SECONDS", 3600)


def test_a_refusal_or_a_replay_costs_no_statement(corpus_app, statements, configuration_held):
    """The secret's name comes from the configuration the process holds
    (``routing``); the checks and the replay test touch no table."""
    client = corpus_app.test_client()
    body, ts = fresh_issue(700106), str(int(time.time()))
    assert send(client, body, timestamp=ts).status_code == 202
    statements.count = 0
    assert send(client, body, timestamp=ts).status_code == 200
    assert statements.count == 0
    statements.count = 0
    assert send(client, json.dumps(issue(lat=91)).encode()).status_code == 400
    assert statements.count == 0


def test_a_new_issue_costs_at_most_four_statements(corpus_app, statements, configuration_held):
    """A delivery of a new issue writes the issue, its link and its events —
    and the push is queued — in at most four SQL statements (issue 11's
    budget: counted, not timed, so the same on every machine)."""
    client = corpus_app.test_client()
    assert send(client, fresh_issue(700110)).status_code == 202  # reads the configuration
    statements.count = 0
    response = send(client, fresh_issue(700111))
    assert response.status_code == 202
    assert response.get_json()["enqueued"] == 1
    assert statements.count <= 4
    with corpus_app.app_context():
        link = db.session.execute(
            db.select(SyncLink).where(SyncLink.issue_id == 700111)
        ).scalar_one()
        kinds = db.session.execute(
            db.select(Event.kind).where(Event.issue_id == 700111).order_by(Event.id)
        ).scalars()
        assert (link.state, list(kinds)) == ("pending", ["received", "routed"])
        db.session.remove()


def test_a_known_issue_again_costs_at_most_four_statements(
    corpus_app, statements, configuration_held
):
    """``issue.updated`` of a stored issue: read it, store what changed, find
    its link (its push is already queued: not queued twice)."""
    client = corpus_app.test_client()
    assert send(client, fresh_issue(700112)).status_code == 202
    statements.count = 0
    changed = json.dumps({**issue(id=700112), "event": "issue.updated"}).encode()
    response = send(client, changed)
    assert response.status_code == 202
    assert statements.count <= 4


def test_replays_are_remembered_in_redis_until_the_timestamp_expires(redis_url, tmp_path):
    """On the real Redis: SET NX with the time the timestamp stays acceptable."""
    from tests.conftest import BOUNDARIES, make_app
    from tests.corpus.conftest import AGENCY_FILE
    from webapp.agency_config import parse_agency_config
    from webapp.sync.configure import apply_config

    app = make_app(f"sqlite:///{tmp_path / 'crosswalk.db'}", redis_url)
    with app.app_context():
        apply_config(parse_agency_config(AGENCY_FILE.read_text(), base_dir=BOUNDARIES))
    client, body, ts = app.test_client(), fresh_issue(700201), str(int(time.time()))
    assert send(client, body, timestamp=ts).status_code == 202
    assert send(client, body, timestamp=ts).get_json()["replay"] is True
    connection = app.task_queue.connection
    [key] = connection.keys("crosswalk:webhook:seen:*")
    tolerance = app.config["CROSSWALK_WEBHOOK_TOLERANCE"]
    assert 0 < connection.ttl(key) <= tolerance + 1
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
