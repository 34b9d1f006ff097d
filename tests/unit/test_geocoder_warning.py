"""Esri's World geocoding service requires an access token: a file that uses it
without ``token_env`` loads, with a warning naming the key and its line."""

from __future__ import annotations

import pytest

from webapp.agency_config import parse_agency_config

HEAD = """agency:
  name: City of New Haven
crm:
  kind: seeclickfix
  base_url: https://seeclickfix.com/api/v2
  organization_id: 1234
  token_env: SCF_TOKEN
"""
WORLD = "https://geocode.arcgis.com/arcgis/rest/services/World/GeocodeServer"
WARNING = "the ArcGIS World geocoding service requires an access token"


def warnings(geocoder: str) -> list[str]:
    return [str(w) for w in parse_agency_config(HEAD + geocoder).warnings]


@pytest.mark.parametrize(
    "geocoder",
    [
        "",  # no section: the World service is the default
        "geocoder:\n  timeout: 5\n",
        f"geocoder:\n  url: {WORLD}\n",
        "geocoder:\n  url: https://geocode-api.arcgis.com/arcgis/rest/services/World/GeocodeServer\n",
    ],
)
def test_the_world_service_without_a_token_warns(geocoder):
    [warning] = warnings(geocoder)
    assert warning.startswith(f"geocoder.token_env: {WARNING}")


def test_the_warning_points_at_the_geocoder_section():
    [warning] = parse_agency_config(HEAD + f"geocoder:\n  url: {WORLD}\n").warnings
    assert warning.line == 8


@pytest.mark.parametrize(
    "geocoder",
    [
        f"geocoder:\n  url: {WORLD}\n  token_env: ARCGIS_TOKEN\n",
        f"geocoder:\n  url: {WORLD}\n  enabled: false\n",
        "geocoder:\n  url: https://gis.newhavenct.gov/arcgis/rest/services/World/GeocodeServer\n",
        "geocoder:\n  url: https://gis.example.gov/arcgis/rest/services/Locator/GeocodeServer\n",
    ],
)
def test_a_token_an_agency_locator_or_no_geocoder_do_not_warn(geocoder):
    assert warnings(geocoder) == []
