"""The shared control plane: fault injection, latency, request log, reset."""

from __future__ import annotations

import time

import pytest
import requests
from flask import Flask

from simulators.server import Fault, FaultInjector, SimulatorServer


def issues_url(sims) -> str:
    return f"{sims.scf_base_url}/organizations/1234/issues"


def add_fault(sims, **fault) -> requests.Response:
    return requests.post(f"{sims.seeclickfix.url}/_sim/faults", json=fault)


def test_status_count_and_retry_after(sims, scf):
    add_fault(sims, status=429, count=2, retry_after=1, body={"message": "Too Many Requests"})
    first, second, third = (scf.get(issues_url(sims)) for _ in range(3))
    assert first.status_code == second.status_code == 429
    assert first.headers["Retry-After"] == "1"
    assert first.json() == {"message": "Too Many Requests"}
    assert third.status_code == 200


def test_fault_precedes_authentication(sims):
    add_fault(sims, status=503)
    assert requests.get(issues_url(sims)).status_code == 503


def test_path_and_method_matching(sims, cg):
    requests.post(
        f"{sims.cartegraph.url}/_sim/faults",
        json={
            "status": 503,
            "count": 1,
            "path_contains": "/classes/cgRequestsClass",
            "method": "POST",
            "body": "<html>oops</html>",
            "content_type": "text/html",
        },
    )
    base = f"{sims.cartegraph_base_url}/classes/cgRequestsClass"
    assert cg.get(base).status_code == 200  # GET does not match
    assert cg.get(f"{sims.cartegraph_base_url}/classes/cgRequestIssuesClass").ok
    garbage = cg.post(base, json={"cgRequestsClass": [{"IssueField": "Pothole"}]})
    assert garbage.status_code == 503
    assert garbage.headers["Content-Type"].startswith("text/html")
    assert garbage.text == "<html>oops</html>"
    with pytest.raises(requests.JSONDecodeError):
        garbage.json()
    assert len(sims.cartegraph_state.query("cgRequestsClass")) == 3  # nothing was created


def test_drop_after_performs_the_operation(sims, cg):
    requests.post(f"{sims.cartegraph.url}/_sim/faults", json={"drop_after": True, "method": "POST"})
    lost = cg.post(
        f"{sims.cartegraph_base_url}/classes/cgRequestsClass",
        json={"cgRequestsClass": [{"IssueField": "Pothole", "SeeClickFixIDField": "77"}]},
    )
    assert lost.status_code == 502
    found = sims.cartegraph_state.query("cgRequestsClass", filter_text='[SeeClickFixID] = "77"')
    assert len(found) == 1  # the record exists although the client saw a 502


def test_slow_reply_times_out_client(sims, scf):
    add_fault(sims, delay_ms=400)
    with pytest.raises(requests.Timeout):
        scf.get(issues_url(sims), timeout=0.1)
    assert scf.get(issues_url(sims), timeout=2).status_code == 200


def test_latency_applies_to_every_vendor_request(sims, scf):
    requests.post(f"{sims.seeclickfix.url}/_sim/latency", json={"ms": 60})
    started = time.monotonic()
    scf.get(issues_url(sims))
    assert time.monotonic() - started >= 0.06
    started = time.monotonic()
    requests.get(f"{sims.seeclickfix.url}/_sim/faults")  # control plane is exempt
    assert time.monotonic() - started < 0.06


def test_invalid_faults_are_refused(sims):
    for bad in ({}, {"status": "x"}, {"status": 500, "count": 0}, {"statuss": 500}):
        assert add_fault(sims, **bad).status_code == 400
    assert requests.post(f"{sims.seeclickfix.url}/_sim/latency", json={"ms": -1}).status_code == 400


def test_clearing_and_reset(sims, scf):
    add_fault(sims, status=500, count=None)
    assert scf.get(issues_url(sims)).status_code == 500
    assert scf.get(issues_url(sims)).status_code == 500  # count null: until cleared
    requests.delete(f"{sims.seeclickfix.url}/_sim/faults")
    assert scf.get(issues_url(sims)).ok
    add_fault(sims, status=500)
    requests.post(f"{sims.seeclickfix.url}/_sim/reset")
    assert scf.get(issues_url(sims)).ok


def test_request_log(sims, scf):
    scf.get(issues_url(sims), params={"page": 2})
    scf.post(
        f"{sims.scf_base_url}/issues/{min(sims.seeclickfix_state.issues)}/comments",
        json={"comment": "hello"},
    )
    log_url = f"{sims.seeclickfix.url}/_sim/requests"
    entries = requests.get(log_url).json()
    assert [(e["method"], e["query_string"]) for e in entries] == [("GET", "page=2"), ("POST", "")]
    assert entries[1]["json"] == {"comment": "hello"}
    assert entries[0]["user_agent"].startswith("python-requests")
    posts = requests.get(log_url, params={"method": "POST", "path_contains": "/comments"})
    assert len(posts.json()) == 1
    requests.delete(log_url)
    assert requests.get(log_url).json() == []


def test_state_dump(sims):
    state = requests.get(f"{sims.seeclickfix.url}/_sim/state").json()
    assert len(state["issues"]) == 30
    cg_state = requests.get(f"{sims.cartegraph.url}/_sim/state").json()
    assert set(cg_state["classes"]) >= {"cgRequestsClass", "cgRequestIssuesClass"}


def test_fault_injector_unit():
    injector = FaultInjector()
    injector.add(Fault(status=500, count=2, path_contains="/a"))
    assert injector.take("GET", "/b") is None
    assert injector.take("GET", "/a/1") is not None
    assert injector.take("POST", "/a/2") is not None
    assert injector.take("GET", "/a/3") is None


def test_server_lifecycle():
    app = Flask(__name__)
    app.add_url_rule("/ping", view_func=lambda: "pong")
    server = SimulatorServer(app)
    with pytest.raises(RuntimeError):
        _ = server.url
    with server:
        assert server.port != 0
        assert requests.get(f"{server.url}/ping").text == "pong"
    server.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{server.port}/ping", timeout=1)
