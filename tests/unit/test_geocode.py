"""Reverse geocoding through geopy's ArcGIS at a configurable server path."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from geo.geocode import GeocodeError, ReverseGeocoder, format_address

AGENCY = "https://gis.example.gov/arcgis/rest/services/Agency/Locator/GeocodeServer"


@responses.activate
def test_agency_server_path_token_and_longitude_first():
    responses.get(
        f"{AGENCY}/reverseGeocode",
        json={
            "address": {"Match_addr": "100 CHURCH ST", "Addr_type": "PointAddress"},
            "location": {"x": -72.92, "y": 41.3, "spatialReference": {"wkid": 4326}},
        },
    )
    address = ReverseGeocoder(AGENCY, token="tok").reverse(41.3, -72.92)
    assert address.label == "100 CHURCH ST"
    query = parse_qs(urlsplit(responses.calls[0].request.url).query)
    assert query["location"] == ["-72.92,41.3"]
    assert query["token"] == ["tok"]
    # The address is stored (on the request, in the cache): Esri's terms want forStorage.
    assert query["forStorage"] == ["true"]


def test_world_geocoder_keys():
    raw = {
        "Address": "100 Church St",
        "City": "New Haven",
        "Region": "Connecticut",
        "RegionAbbr": "CT",
        "Postal": "06510",
        "LongLabel": "ignored",
    }
    assert format_address(raw) == "100 Church St, New Haven, CT 06510"


@pytest.mark.parametrize(
    "body, message",
    [
        (
            {
                "error": {
                    "code": 400,
                    "message": "Cannot perform query.",
                    "details": ["Unable to find address for the specified location."],
                }
            },
            "Unable to find address",
        ),
        ({"error": {"code": 498, "message": "Invalid Token", "details": []}}, "Invalid Token"),
        ({"address": {}}, "no usable address"),
    ],
)
@responses.activate
def test_errors_in_a_200_body(body, message):
    responses.get(f"{AGENCY}/reverseGeocode", json=body)
    with pytest.raises(GeocodeError, match=message):
        ReverseGeocoder(AGENCY).reverse(41.3, -72.92)


@responses.activate
def test_timeout_is_a_geocode_error():
    responses.get(f"{AGENCY}/reverseGeocode", body=requests.ReadTimeout("slow"))
    with pytest.raises(GeocodeError):
        ReverseGeocoder(AGENCY, timeout=0.5).reverse(41.3, -72.92)
    assert len(responses.calls) == 1  # no hidden retries inside geopy


@pytest.mark.parametrize(
    "reply",
    [
        {"status": 500, "body": "boom"},
        {
            "body": requests.ConnectionError(
                "Max retries exceeded with url: /arcgis/rest/GeocodeServer/reverseGeocode"
                "?location=-72.9,41.3&token=SECRET&f=json (Caused by NewConnectionError)"
            )
        },
    ],
    ids=["server-error", "connection-error"],
)
def test_a_geocoder_error_never_shows_the_token(reply):
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, re.compile(r"https://geo\.test/.*"), **reply)
        geocoder = ReverseGeocoder("https://geo.test/arcgis/rest/GeocodeServer", token="SECRET")
        with pytest.raises(GeocodeError) as caught:
            geocoder.reverse(41.3, -72.9)
    assert "SECRET" not in str(caught.value)
    assert str(caught.value).startswith("Geocoder")  # the reason itself is kept
