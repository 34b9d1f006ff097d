"""ArcGIS reverseGeocode simulator."""

from __future__ import annotations

import json

import requests

from simulators.arcgis import AddressPoint, ArcGISState, create_arcgis_app
from simulators.server import SimulatorServer

CITY_HALL = (-72.92486, 41.30736)  # x (longitude), y (latitude)


def reverse(sims, **params) -> dict:
    """Crosswalk stores every result, so it always asks forStorage=true."""
    params = {"f": "json", "forStorage": "true", **params}
    response = requests.get(f"{sims.arcgis_url}/reverseGeocode", params=params)
    assert response.status_code == 200  # errors too: ArcGIS reports them in the body
    return response.json()


def test_nearest_point_within_range(sims):
    body = reverse(sims, location=f"{CITY_HALL[0] + 0.0004},{CITY_HALL[1]}")  # ~33 m east
    assert body["address"] == {
        "Match_addr": "165 Church St, New Haven, Connecticut, 06510",
        "LongLabel": "165 Church St, New Haven, CT, 06510, USA",
        "ShortLabel": "165 Church St",
        "Addr_type": "PointAddress",
        "AddNum": "165",
        "Address": "165 Church St",
        "City": "New Haven",
        "Region": "Connecticut",
        "RegionAbbr": "CT",
        "Postal": "06510",
        "CountryCode": "USA",
    }
    assert body["location"] == {
        "x": CITY_HALL[0],
        "y": CITY_HALL[1],
        "spatialReference": {"wkid": 4326},
    }


def test_json_location_parameter(sims):
    location = json.dumps(
        {"x": CITY_HALL[0], "y": CITY_HALL[1], "spatialReference": {"wkid": 4326}}
    )
    assert reverse(sims, location=location)["address"]["AddNum"] == "165"
    other_sr = json.dumps({"x": 1, "y": 2, "spatialReference": {"wkid": 2234}})
    assert reverse(sims, location=other_sr)["error"]["code"] == 400


def test_too_far_and_malformed(sims):
    far = reverse(sims, location="-72.50,41.30")
    assert far == {
        "error": {
            "code": 400,
            "message": "Cannot perform query. Invalid query parameters.",
            "details": ["Unable to find address for the specified location."],
        }
    }
    for bad in ("41.3", "abc,def", "", "500,500"):
        body = reverse(sims, location=bad)
        assert body["error"]["code"] == 400 and body["error"]["details"]


def test_lat_lng_swapped_is_not_found(sims):
    """Sending latitude first is a classic client bug; it must not silently work."""
    body = reverse(sims, location=f"{CITY_HALL[1]},{CITY_HALL[0]}")
    assert "error" in body


def test_without_f_json_returns_html(sims):
    response = requests.get(
        f"{sims.arcgis_url}/reverseGeocode", params={"location": f"{CITY_HALL[0]},{CITY_HALL[1]}"}
    )
    assert response.headers["Content-Type"].startswith("text/html")


def test_token_and_minimal_mode(sims):
    config = f"{sims.arcgis.url}/_sim/config"
    requests.post(config, json={"token": "s3cret", "minimal": True})
    location = f"{CITY_HALL[0]},{CITY_HALL[1]}"
    assert reverse(sims, location=location) == {
        "error": {"code": 499, "message": "Token Required", "details": []}
    }
    assert reverse(sims, location=location, token="wrong") == {
        "error": {"code": 498, "message": "Invalid Token", "details": []}
    }
    body = reverse(sims, location=location, token="s3cret")
    assert body["address"] == {
        "Match_addr": "165 Church St, New Haven, Connecticut, 06510",
        "Addr_type": "PointAddress",
    }
    requests.post(f"{sims.arcgis.url}/_sim/reset")
    assert "LongLabel" in reverse(sims, location=location)["address"]


def test_custom_locator_path():
    state = ArcGISState()
    state.add_point(AddressPoint("1", "Main St", "Town", "Connecticut", "CT", "06000", 41.0, -72.0))
    path = "/arcgis/rest/services/Agency/Locator/GeocodeServer"
    with SimulatorServer(create_arcgis_app(state, path)) as server:
        response = requests.post(
            f"{server.url}{path}/reverseGeocode",
            data={"location": "-72.0,41.0", "f": "pjson", "forStorage": "true"},
        )
        assert response.json()["address"]["ShortLabel"] == "1 Main St"


def test_stored_results_must_be_asked_for_storage(sims):
    """Results that are stored must be requested with forStorage=true; Crosswalk
    stores every one, so the simulator refuses a request without it."""
    location = f"{CITY_HALL[0]},{CITY_HALL[1]}"
    for value in (None, "false", "FALSE"):  # None: requests leaves the parameter out
        body = reverse(sims, location=location, forStorage=value)
        assert body["error"]["details"] == [
            "Results that are stored must be requested with forStorage=true."
        ], body
    assert reverse(sims, location=location, forStorage="maybe")["error"]["details"] == [
        "Invalid value for forStorage: 'maybe'."
    ]
    assert reverse(sims, location=location, forStorage="TRUE")["address"]["AddNum"] == "165"
    # An agency's locator that no one stores from: the switch off answers either way.
    requests.post(f"{sims.arcgis.url}/_sim/config", json={"require_for_storage": False})
    assert reverse(sims, location=location, forStorage="false")["address"]["AddNum"] == "165"
