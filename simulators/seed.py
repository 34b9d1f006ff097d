"""Demo data for a realistic agency (City of New Haven, CT) from ``data/new_haven.json``.

Times in the file are relative ("minutes ago"), so a seeded store always
looks like a morning of fresh reports whenever it is (re)seeded. Issue
positions are given as an address point plus a small offset in metres, which
keeps every seeded issue within the geocoder simulator's reach.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from simulators.arcgis import AddressPoint, ArcGISState
from simulators.cartegraph_store import ISSUES_CLASS, REQUESTS_CLASS, CartegraphState, iso_utc
from simulators.seeclickfix_store import Question, RequestType, SeeClickFixState

METRES_PER_DEGREE_LAT = 111_320.0


@cache
def _load() -> str:
    return resources.files("simulators").joinpath("data/new_haven.json").read_text("utf-8")


def load_seed_data() -> dict[str, Any]:
    """A fresh copy of the raw seed file (safe for callers to mutate)."""
    return json.loads(_load())


def offset_point(lat: float, lng: float, east_m: float, north_m: float) -> tuple[float, float]:
    """Shift a WGS84 point by a few metres (flat-earth approximation, fine below 1 km)."""
    dlat = north_m / METRES_PER_DEGREE_LAT
    dlng = east_m / (METRES_PER_DEGREE_LAT * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lng + dlng, 6)


def boundary(data: dict[str, Any] | None = None) -> tuple[float, float, float, float]:
    """The agency's bounding box as ``(min_lat, min_lng, max_lat, max_lng)``."""
    box = (data or load_seed_data())["agency"]["boundary"]
    return box["min_lat"], box["min_lng"], box["max_lat"], box["max_lng"]


def address_points(data: dict[str, Any] | None = None) -> dict[str, AddressPoint]:
    """Seeded address points by their id in the seed file (``p01``...)."""
    data = data or load_seed_data()
    agency = data["agency"]
    return {
        p["id"]: AddressPoint(
            house_number=p["house_number"],
            street=p["street"],
            city=agency["city"],
            region=agency["region"],
            region_abbr=agency["region_abbr"],
            postal=p["postal"],
            lat=p["lat"],
            lng=p["lng"],
            country_code=agency["country_code"],
        )
        for p in data["address_points"]
    }


def seed_arcgis(state: ArcGISState) -> None:
    """The locator's address points; they are its reference data, seeded or not."""
    for point in address_points().values():
        state.add_point(point)


def configure_seeclickfix(state: SeeClickFixState) -> None:
    """The agency's request types (122-126): configuration, present even unseeded."""
    for rt in load_seed_data()["request_types"]:
        state.add_request_type(
            RequestType(rt["id"], rt["title"], [Question(**q) for q in rt["questions"]])
        )


def seed_seeclickfix(state: SeeClickFixState) -> None:
    """Request types plus 30 open issues reported over the last five hours."""
    configure_seeclickfix(state)
    data = load_seed_data()
    points = address_points(data)
    now = state.now()
    for item in data["issues"]:
        point = points[item["point"]]
        lat, lng = offset_point(point.lat, point.lng, *item["offset_m"])
        created_at = now - timedelta(minutes=item["minutes_ago"])
        reporter = item["reporter"]
        issue = state.create_issue(
            request_type_id=item["request_type_id"],
            lat=lat,
            lng=lng,
            address=item.get("address")
            or f"{point.short_label} {point.city}, {point.region_abbr} {point.postal}, USA",
            summary=item["summary"],
            description=item["description"],
            answers=item["answers"],
            image_url=item.get("image_url"),
            private_visibility=item.get("private_visibility", False),
            reporter=state.resident(reporter["name"], reporter["email"]),
            created_at=created_at,
        )
        for comment in item.get("comments", []):
            commenter = comment["commenter"]
            state.add_comment(
                issue.id,
                comment["comment"],
                state.resident(commenter["name"], commenter.get("email")),
                image_url=comment.get("image_url"),
                created_at=created_at + timedelta(minutes=comment["minutes_after"]),
            )


def configure_cartegraph(state: CartegraphState) -> None:
    """The agency's request categories: configuration, present even unseeded."""
    state.create(ISSUES_CLASS, load_seed_data()["cartegraph"]["request_issues"], via_api=False)


def seed_cartegraph(state: CartegraphState) -> None:
    """Categories, two requesters and three staff-entered requests (one inside the
    city, one without coordinates, one outside the boundary) for import tests."""
    configure_cartegraph(state)
    data = load_seed_data()["cartegraph"]
    state.create(state.requesters_class, data["requesters"], via_api=False)
    now = datetime.now(UTC)
    for item in data["requests"]:
        entered = now - timedelta(minutes=item["minutes_ago"])
        fields = {**item["fields"], "EntryDateField": iso_utc(entered)}
        state.create(REQUESTS_CLASS, [fields], via_api=False)
