"""Seed data sanity, the launcher, and signed webhooks from the SeeClickFix simulator."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading

import requests
from flask import Flask, request

from simulators.arcgis import distance_m
from simulators.launch import start_simulators
from simulators.seed import address_points, boundary, load_seed_data, offset_point
from simulators.server import SimulatorServer

ZIPS = {"06510", "06511", "06513", "06515", "06519"}


def test_address_points_are_in_new_haven():
    points = address_points()
    assert 40 <= len(points) <= 60
    min_lat, min_lng, max_lat, max_lng = boundary()
    for point in points.values():
        assert point.postal in ZIPS
        assert 41.28 <= point.lat <= 41.34 and -72.965 <= point.lng <= -72.88
        assert min_lat <= point.lat <= max_lat and min_lng <= point.lng <= max_lng


def test_request_types_and_issues_shape():
    data = load_seed_data()
    types = {rt["id"]: rt for rt in data["request_types"]}
    assert set(types) == {122, 123, 124, 125, 126}
    assert [rt["title"] for rt in data["request_types"] if not rt["integrated"]] == [
        "Noise Complaint"
    ]
    questions = {q["primary_key"]: q for q in types[122]["questions"]}
    assert questions["142"]["question_type"] == "select"
    assert questions["143"]["integration_key"] == "FirstNameField"
    assert questions["143"]["answer_kept_private"] is True

    points = address_points(data)
    assert len(data["issues"]) == 30
    assert sum("image_url" in i for i in data["issues"]) == 10
    ages = [i["minutes_ago"] for i in data["issues"]]
    assert ages == sorted(ages, reverse=True)
    for issue in data["issues"]:
        point = points[issue["point"]]
        lat, lng = offset_point(point.lat, point.lng, *issue["offset_m"])
        assert distance_m(lat, lng, point.lat, point.lng) <= 20


def test_every_seeded_issue_geocodes_to_its_point(sims, scf):
    issues = scf.get(
        f"{sims.scf_base_url}/organizations/1234/issues", params={"per_page": 100}
    ).json()["issues"]
    assert len(issues) == 30
    assert all(i["status"] == "Open" for i in issues)
    for issue in issues[:10]:
        found = requests.get(
            f"{sims.arcgis_url}/reverseGeocode",
            params={
                "location": f"{issue['lng']},{issue['lat']}",
                "f": "json",
                "forStorage": "true",
            },
        ).json()
        assert found["address"]["Postal"] in ZIPS


def test_launcher_urls_and_reset(sims):
    assert sims.scf_base_url.endswith("/api/v2")
    assert sims.cartegraph_base_url.endswith("/cartegraph/api/v1")
    assert sims.arcgis_url.endswith("/arcgis/rest/services/World/GeocodeServer")
    state = sims.seeclickfix_state
    state.archive(min(state.issues))
    sims.reset()
    assert all(i.status == "Open" for i in state.issues.values())


def test_resident_actions_send_signed_webhooks(sims):
    received: list[tuple[dict, bytes]] = []
    arrived = threading.Event()
    receiver = Flask(__name__)

    @receiver.post("/hooks")
    def hook() -> str:
        received.append((dict(request.headers), request.get_data()))
        if len(received) == 2:
            arrived.set()
        return "ok"

    with SimulatorServer(receiver) as server:
        requests.post(
            f"{sims.seeclickfix.url}/_sim/webhook",
            json={"url": f"{server.url}/hooks", "secret": "shh"},
        )
        issue = requests.post(
            f"{sims.seeclickfix.url}/_sim/issues",
            json={
                "lat": 41.30736,
                "lng": -72.92486,
                "request_type_id": 123,
                "description": "Dark",
                "reporter": {"name": "Ann", "email": "ann@example.com"},
            },
        ).json()
        requests.post(
            f"{sims.seeclickfix.url}/_sim/issues/{issue['id']}/comments",
            json={"comment": "Still dark"},
        )
        assert arrived.wait(5)

    events = []
    for headers, body in received:
        timestamp = headers["X-Crosswalk-Timestamp"]
        expected = hmac.new(b"shh", f"{timestamp}.".encode() + body, hashlib.sha256)
        assert headers["X-Crosswalk-Signature"] == f"sha256={expected.hexdigest()}"
        events.append(json.loads(body))
    assert [e["event"] for e in events] == ["issue.created", "comment.created"]
    assert events[0]["issue"]["id"] == issue["id"] and events[0]["comment"] is None
    assert events[1]["comment"]["comment"] == "Still dark"
    assert "comments" in events[1]["issue"]  # details=true form


def test_unseeded_simulators_are_configured_but_empty():
    with start_simulators(seed=False, scf_token="t") as sims:
        auth = {"Authorization": "Bearer t"}
        listed = requests.get(f"{sims.scf_base_url}/organizations/1234/issues", headers=auth)
        assert listed.json()["issues"] == []
        assert requests.get(f"{sims.scf_base_url}/request_types/122", headers=auth).ok
        cg_auth = ("crosswalk", "demo-password")
        base = f"{sims.cartegraph_base_url}/classes"
        assert requests.get(f"{base}/cgRequestsClass", auth=cg_auth).json()["cgRequestsClass"] == []
        categories = requests.get(f"{base}/cgRequestIssuesClass", auth=cg_auth).json()
        assert categories["_metadata"]["totalCount"] == 6

        # A resident on the New Haven Green: no answers needed, and the geocoder
        # knows an address nearby.
        issue = requests.post(
            f"{sims.seeclickfix.url}/_sim/issues",
            json={"lat": 41.3083, "lng": -72.9279, "request_type_id": 122},
        )
        assert issue.status_code == 201
        found = requests.get(
            f"{sims.arcgis_url}/reverseGeocode",
            params={"location": "-72.9279,41.3083", "f": "json", "forStorage": "true"},
        ).json()
        assert found["address"]["ShortLabel"] == "250 Temple St"
