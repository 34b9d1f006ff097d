"""Signature and body checks of the webhook, without HTTP or a database."""

import json

import pytest

from webapp.sync.webhook import WebhookRejected, parse_body, sign, verify

SECRET = "s3cret"
NOW = 1_800_000_000


def signed(body: bytes, ts: int = NOW, secret: str = SECRET):
    return str(ts), sign(secret, str(ts), body)


def test_valid_signature_passes():
    body = b'{"a":1}'
    ts, sig = signed(body)
    verify(SECRET, ts, sig, body, tolerance=300, now=NOW + 10)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda ts, sig, body: (ts, sig, body + b" "), "does not match"),
        (lambda ts, sig, body: (ts, sign("other", ts, body), body), "does not match"),
        (lambda ts, sig, body: (ts, None, body), "missing X-Crosswalk-Signature"),
        (lambda ts, sig, body: (None, sig, body), "missing X-Crosswalk-Timestamp"),
        (lambda ts, sig, body: ("yesterday", sig, body), "not unix seconds"),
        (
            lambda ts, sig, body: (str(NOW - 301), sign(SECRET, str(NOW - 301), body), body),
            "away from our clock",
        ),
        (
            lambda ts, sig, body: (str(NOW + 400), sign(SECRET, str(NOW + 400), body), body),
            "away from our clock",
        ),
    ],
)
def test_bad_signatures_are_401(mutate, message):
    body = b'{"a":1}'
    ts, sig = signed(body)
    ts, sig, body = mutate(ts, sig, body)
    with pytest.raises(WebhookRejected) as info:
        verify(SECRET, ts, sig, body, tolerance=300, now=NOW)
    assert info.value.status == 401
    assert message in info.value.message


def issue(**overrides):
    data = {
        "id": 5,
        "status": "Open",
        "summary": "Pothole",
        "lat": 41.3,
        "lng": -72.9,
        "request_type": {"id": 122, "title": "Pothole"},
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    "body, field",
    [
        ({"event": "issue.deleted", "issue": issue()}, "event"),
        ({"event": "issue.created"}, "issue"),
        ({"event": "issue.created", "issue": issue(id=None)}, "issue.id"),
        ({"event": "issue.created", "issue": issue(id="abc")}, "issue.id"),
        ({"event": "issue.created", "issue": issue(lat="north")}, "issue.lat"),
        ({"event": "issue.created", "issue": issue(status="Pending")}, "issue.status"),
        ({"event": "issue.created", "issue": issue(request_type=[1])}, "issue.request_type"),
        ({"event": "issue.created", "issue": issue(created_at="yesterday")}, "issue.created_at"),
        ({"event": "comment.created", "issue": issue()}, "comment"),
        (
            {
                "event": "comment.created",
                "issue": issue(),
                "comment": {"comment": "x", "commenter": {"id": [7]}},
            },
            "comment.commenter.id",
        ),
    ],
)
def test_bad_bodies_name_the_field(body, field):
    with pytest.raises(WebhookRejected) as info:
        parse_body(json.dumps(body).encode())
    assert info.value.status == 400
    assert info.value.field == field
    assert field.split(".")[-1] in info.value.message


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"[1, 2]", b""])
def test_malformed_json_is_400(raw):
    with pytest.raises(WebhookRejected) as info:
        parse_body(raw)
    assert info.value.status == 400
