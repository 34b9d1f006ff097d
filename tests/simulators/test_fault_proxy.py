"""The fault-injecting proxy (simulators/fault_proxy.py) in front of the
Cartegraph simulator: each fault kind is seen from both sides — what the
client got, and whether the vendor applied the call."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from simulators.cartegraph import DEFAULT_PREFIX
from simulators.cartegraph_store import REQUESTS_CLASS
from simulators.fault_proxy import FaultProxy, FaultSettings

from .conftest import CG_AUTH


@pytest.fixture
def proxy(sims) -> Iterator[FaultProxy]:
    with FaultProxy(sims.cartegraph.url) as running:
        yield running


@pytest.fixture
def client() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = CG_AUTH
        session.trust_env = False
        yield session


def requests_url(proxy: FaultProxy) -> str:
    return f"{proxy.url}{DEFAULT_PREFIX}/classes/{REQUESTS_CLASS}"


def create(client: requests.Session, proxy: FaultProxy, external_id: str) -> requests.Response:
    """A request record carrying ``external_id``, created through the proxy."""
    record = {"IssueField": "Pothole", "SeeClickFixIDField": external_id}
    return client.post(requests_url(proxy), json={REQUESTS_CLASS: [record]}, timeout=5)


def stored(sims, external_id: str) -> list[dict]:
    """Requests in the simulator carrying ``external_id`` (read behind the proxy)."""
    return [
        r
        for r in sims.cartegraph_state.query(REQUESTS_CLASS)
        if r.get("SeeClickFixIDField") == external_id
    ]


def wait_for_late_applies(proxy: FaultProxy, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while proxy.stats()["late_pending"] and time.monotonic() < deadline:
        time.sleep(0.05)


def only(kind: str, **settings) -> dict:
    """Settings giving every matching request the fault ``kind``."""
    return {"enabled": True, "rate": 1.0, "mix": {kind: 1.0}, **settings}


def test_without_faults_the_proxy_is_transparent(sims, proxy, client):
    direct = client.get(f"{sims.cartegraph_base_url}/classes/{REQUESTS_CLASS}", timeout=5)
    through = client.get(requests_url(proxy), timeout=5)
    assert through.status_code == 200
    assert through.json() == direct.json()
    assert through.headers["Content-Type"] == direct.headers["Content-Type"]
    created = create(client, proxy, "9001")
    assert created.status_code == 200
    assert created.json()[REQUESTS_CLASS][0]["SeeClickFixIDField"] == "9001"
    unauthorised = requests.get(requests_url(proxy), timeout=5)
    assert unauthorised.status_code == 401  # the upstream's own answer, passed through
    assert [e["fate"] for e in proxy.log.entries()] == ["passed"] * 3


def test_error_before_applying_never_reaches_the_vendor(sims, proxy, client):
    proxy.configure(**only("error_before", error_statuses=[503]))
    reply = create(client, proxy, "9002")
    assert reply.status_code == 503
    assert stored(sims, "9002") == []
    [entry] = proxy.log.entries()
    assert entry["fate"] == "error_before"
    assert entry["upstream_status"] is None


def test_error_after_applying_leaves_the_record_created(sims, proxy, client):
    proxy.configure(**only("error_after"))
    reply = create(client, proxy, "9003")
    assert reply.status_code in (500, 502, 503)
    assert len(stored(sims, "9003")) == 1
    [entry] = proxy.log.entries(fate="error_after")
    assert entry["upstream_status"] == 200


def test_drop_applies_then_closes_the_connection(sims, proxy, client):
    proxy.configure(**only("drop"))
    with pytest.raises(requests.ConnectionError):
        create(client, proxy, "9004")
    assert len(stored(sims, "9004")) == 1
    [entry] = proxy.log.entries(fate="drop")
    assert entry["status"] is None
    assert entry["upstream_status"] == 200


def test_hang_holds_past_the_client_timeout_and_applies_nothing(sims, proxy, client):
    proxy.configure(**only("hang", hang_seconds=1.0))
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        client.post(
            requests_url(proxy),
            json={REQUESTS_CLASS: [{"IssueField": "Pothole", "SeeClickFixIDField": "9005"}]},
            timeout=0.3,
        )
    assert time.monotonic() - started < 1.0
    time.sleep(1.0)  # the held request is released, still not forwarded
    assert stored(sims, "9005") == []
    assert proxy.log.entries(fate="hang")[0]["status"] is None


def test_late_apply_answers_at_once_and_creates_later(sims, proxy, client):
    proxy.configure(**only("late", late_apply=[0.6, 0.6]))
    reply = create(client, proxy, "9006")
    assert reply.status_code == 504
    assert stored(sims, "9006") == []
    assert proxy.stats()["late_pending"] == 1
    wait_for_late_applies(proxy)
    assert len(stored(sims, "9006")) == 1
    [entry] = proxy.log.entries(fate="late")
    assert entry["applied_at"] - entry["time"] >= 0.5
    assert entry["upstream_status"] == 200
    assert proxy.stats() == {"fates": {"late": 1, "late_applied": 1}, "late_pending": 0}


def test_late_apply_is_for_changes_only_and_reads_pass(proxy, client):
    proxy.configure(**only("late"))
    assert client.get(requests_url(proxy), timeout=5).status_code == 200
    assert proxy.log.entries()[0]["fate"] == "passed"


def test_faults_off_still_applies_late_requests_already_taken(sims, proxy, client):
    proxy.configure(**only("late", late_apply=[0.3, 0.3]))
    create(client, proxy, "9007")
    proxy.faults_off()
    assert create(client, proxy, "9008").status_code == 200
    wait_for_late_applies(proxy)
    assert len(stored(sims, "9007")) == 1


def test_stop_discards_late_requests_not_yet_sent(sims, client):
    proxy = FaultProxy(sims.cartegraph.url).start()
    proxy.configure(**only("late", late_apply=[30, 30]))
    assert create(client, proxy, "9009").status_code == 504
    proxy.stop()
    assert proxy.log.counts()["late_discarded"] == 1
    assert stored(sims, "9009") == []


def test_rate_and_seed(proxy, client):
    def fates(seed: int) -> list[str]:
        proxy.log.clear()
        proxy.configure(**only("error_before", rate=0.3, seed=seed))
        for _ in range(200):
            client.get(requests_url(proxy), timeout=5)
        return [e["fate"] for e in proxy.log.entries()]

    first = fates(7)
    assert 0.2 <= first.count("error_before") / len(first) <= 0.4
    assert fates(7) == first  # one client, one request at a time: the same draws
    assert fates(8) != first


def test_method_and_path_filters(sims, proxy, client):
    proxy.configure(**only("error_before", methods=["post"], path_contains="cgRequestsClass"))
    assert client.get(requests_url(proxy), timeout=5).status_code == 200
    issues = f"{proxy.url}{DEFAULT_PREFIX}/classes/cgRequestIssuesClass"
    assert client.get(issues, timeout=5).status_code == 200
    assert create(client, proxy, "9010").status_code >= 500


def test_control_plane_over_http(proxy, client):
    control = f"{proxy.url}/_proxy"
    assert requests.get(f"{control}/faults", timeout=5).json() == FaultSettings().to_json()
    body = {"enabled": True, "rate": 1, "mix": {"error_before": 1}, "late_apply": [1, 2]}
    settings = requests.post(f"{control}/faults", json=body, timeout=5).json()
    assert settings["rate"] == 1.0 and settings["late_apply"] == [1.0, 2.0]
    assert client.get(requests_url(proxy), timeout=5).status_code >= 500
    assert requests.delete(f"{control}/faults", timeout=5).json()["enabled"] is False
    assert client.get(requests_url(proxy), timeout=5).status_code == 200
    log = requests.get(f"{control}/requests", params={"fate": "error_before"}, timeout=5).json()
    assert [e["method"] for e in log] == ["GET"]
    assert requests.get(f"{control}/stats", timeout=5).json()["fates"] == {
        "error_before": 1,
        "passed": 1,
    }
    assert requests.delete(f"{control}/requests", timeout=5).json() == []
    assert requests.get(f"{control}/requests", timeout=5).json() == []


@pytest.mark.parametrize(
    "body",
    [
        {"rate": 2},
        {"mix": {"explode": 1}},
        {"late_apply": [5, 1]},
        {"error_statuses": [404]},
        {"colour": "red"},
        ["not", "an", "object"],
    ],
)
def test_control_plane_refuses_bad_settings(proxy, body):
    reply = requests.post(f"{proxy.url}/_proxy/faults", json=body, timeout=5)
    assert reply.status_code == 400
    assert reply.json()["error"]
    assert proxy.plan.settings == FaultSettings()  # nothing changed


def test_unreachable_upstream_is_a_502(client):
    with FaultProxy("http://127.0.0.1:9") as proxy:
        assert client.get(requests_url(proxy), timeout=5).status_code == 502
        assert proxy.log.entries()[0]["fate"] == "upstream_failed"
