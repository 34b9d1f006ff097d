"""Vendor error shapes and transport failures → the engine's error classes."""

import pytest
import requests
import responses

from integrations.errors import PermanentError, RateLimitedError, TransientError
from integrations.http import VendorHTTP, parse_retry_after

BASE = "https://vendor.example.gov/api"


@pytest.fixture
def http():
    return VendorHTTP("Vendor", BASE, timeout=2)


@responses.activate
def test_429_carries_retry_after_seconds(http):
    responses.get(
        f"{BASE}/things",
        status=429,
        headers={"Retry-After": "7"},
        json={"message": "Too Many Requests"},
    )
    with pytest.raises(RateLimitedError) as info:
        http.get("things")
    assert info.value.retry_after == 7
    assert info.value.status == 429
    assert "Too Many Requests" in str(info.value)


def test_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412500.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@responses.activate
def test_5xx_is_transient_with_vendor_text(http, status):
    responses.post(
        f"{BASE}/things", status=status, json={"Message": "Database unavailable", "Errors": []}
    )
    with pytest.raises(TransientError) as info:
        http.post("things", json={})
    assert "Database unavailable" in str(info.value)
    assert info.value.status == status


@responses.activate
def test_cartegraph_field_errors_are_permanent_and_named(http):
    responses.post(
        f"{BASE}/things",
        status=400,
        json={
            "Message": "The request is invalid.",
            "Errors": [
                {"GUID": "x", "FieldName": "BogusField", "Message": "Field does not exist."}
            ],
        },
    )
    with pytest.raises(PermanentError) as info:
        http.post("things", json={})
    assert "BogusField: Field does not exist." in str(info.value)
    assert not isinstance(info.value, TransientError)


@responses.activate
def test_seeclickfix_422_field_errors(http):
    responses.post(
        f"{BASE}/issues", status=422, json={"errors": {"point": ["is not within boundary"]}}
    )
    with pytest.raises(PermanentError, match="point: is not within boundary"):
        http.post("issues", json={})


@responses.activate
def test_timeout_is_transient(http):
    responses.get(f"{BASE}/slow", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(TransientError, match="timed out"):
        http.get("slow")


@responses.activate
def test_connection_error_is_transient(http):
    responses.get(f"{BASE}/down", body=requests.ConnectionError("refused"))
    with pytest.raises(TransientError, match="could not connect"):
        http.get("down")


@responses.activate
def test_garbage_2xx_reply_is_transient_and_quoted(http):
    responses.get(
        f"{BASE}/things", status=200, body="<html>Maintenance</html>", content_type="text/html"
    )
    with pytest.raises(TransientError) as info:
        http.get("things")
    assert "not JSON" in str(info.value)
    assert "Maintenance" in str(info.value)


@responses.activate
def test_every_request_sends_a_user_agent(http):
    responses.get(f"{BASE}/things", json={})
    http.get("things")
    assert responses.calls[0].request.headers["User-Agent"].startswith("Crosswalk/")


# -- the environment read once per host (issue 11) -----------------------------------
def test_the_proxy_environment_is_read_once_per_host(monkeypatch):
    """requests walks os.environ twice per request for proxies; a vendor
    session asks once per host, and NO_PROXY still tells hosts apart."""
    from integrations.http import EnvironmentOnceSession

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.agency.internal:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    session = EnvironmentOnceSession()
    reads = []
    real = requests.Session.merge_environment_settings

    def counted(self, url, *args):
        reads.append(url)
        return real(self, url, *args)

    monkeypatch.setattr(requests.Session, "merge_environment_settings", counted)
    outside = [
        session.merge_environment_settings(f"https://cg.example.gov/x/{n}", {}, None, None, None)
        for n in range(3)
    ]
    inside = session.merge_environment_settings("https://internal.example/y", {}, None, None, None)
    assert len(reads) == 2  # one per host
    assert outside[0]["proxies"].get("https") == "http://proxy.agency.internal:3128"
    assert "https" not in inside["proxies"]
    outside[0]["proxies"]["https"] = "changed by a caller"  # copies: the kept one is safe
    again = session.merge_environment_settings("https://cg.example.gov/z", {}, None, None, None)
    assert again["proxies"]["https"] == "http://proxy.agency.internal:3128"


def test_vendor_sessions_read_the_environment_once():
    from integrations.http import EnvironmentOnceSession

    assert isinstance(VendorHTTP("X", "https://x.example").session, EnvironmentOnceSession)
