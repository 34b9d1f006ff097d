"""Reverse geocoding through geopy's ArcGIS geocoder.

geopy's ``ArcGIS`` only lets us change the host (``domain=``); an agency's own
GeocodeServer lives at another path, so ``AgencyArcGIS`` points
``reverse_api`` at the configured URL. Its ``_parse_reverse`` expects the
World geocoder's keys and raises ``KeyError`` on agency locators that return
only ``Match_addr``, so we parse the raw reply ourselves. Every reverse
geocode asks ``forStorage=true``: the result is stored.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from geopy.adapters import RequestsAdapter
from geopy.exc import GeocoderQueryError, GeocoderServiceError, GeopyError
from geopy.geocoders import ArcGIS
from geopy.location import Location

WORLD_GEOCODER = "https://geocode.arcgis.com/arcgis/rest/services/World/GeocodeServer"
USER_AGENT = "Crosswalk/0.1"


# geopy's error text may carry the request URL or path, with the token in its
# query string ("Max retries exceeded with url: /.../reverseGeocode?...&token=...").
_QUERY = re.compile(r"([^\s?#'\"]*/[^\s?#'\"]*)\?[^\s'\"]*")


def _without_query(text: str) -> str:
    """The text with every URL's query string dropped (it can hold the token),
    since the reason is shown on issue pages."""
    return _QUERY.sub(r"\1", text)


class GeocodeError(Exception):
    """Reverse geocoding gave no usable address; the message says why."""


@dataclass(frozen=True)
class Address:
    """A verified address and the locator's raw ``address`` object."""

    label: str
    raw: dict[str, Any] = field(default_factory=dict)


def format_address(raw: dict[str, Any]) -> str | None:
    """The best one-line address from an ArcGIS ``address`` object.

    World geocoder: ``LongLabel`` or ``Address, City, Region Postal``. Agency
    locators: often only ``Match_addr`` (or ``Street``).
    """
    if raw.get("Address") and raw.get("City"):
        region = " ".join(
            p for p in (raw.get("RegionAbbr") or raw.get("Region"), raw.get("Postal")) if p
        )
        return ", ".join(p for p in (raw["Address"], raw["City"], region) if p)
    for key in ("LongLabel", "Match_addr", "ShortLabel", "Street", "Address"):
        if raw.get(key):
            return str(raw[key])
    return None


class AgencyArcGIS(ArcGIS):
    """geopy's ArcGIS at a configurable GeocodeServer URL with a static token."""

    def __init__(self, server_url: str, *, token: str | None = None, timeout: float = 10.0):
        parts = urlsplit(server_url.rstrip("/"))
        super().__init__(
            scheme=parts.scheme,
            domain=parts.netloc,
            timeout=timeout,
            user_agent=USER_AGENT,
            # geopy would otherwise retry twice inside each call; our jobs retry.
            adapter_factory=functools.partial(RequestsAdapter, max_retries=0),
        )
        self.reverse_api = f"{parts.scheme}://{parts.netloc}{parts.path}/reverseGeocode"
        self.static_token = token

    def _call_geocoder(self, url, callback, *, timeout=None, is_json=True, headers=None):
        # Crosswalk stores the address (on the request, and in its cache), and
        # Esri's terms allow storing only results asked for with forStorage=true
        # (an authenticated request on the World service). geopy never sends it.
        url = f"{url}&{urlencode({'forStorage': 'true'})}"
        if self.static_token:
            url = f"{url}&{urlencode({'token': self.static_token})}"
        return super()._call_geocoder(
            url, callback, timeout=timeout, is_json=is_json, headers=headers
        )

    def _parse_reverse(self, response: Any, exactly_one: bool):
        if not isinstance(response, dict) or not response:
            raise GeocoderServiceError(f"unexpected reply: {str(response)[:200]!r}")
        if "error" in response:
            error = response["error"] or {}
            details = " ".join(str(d) for d in error.get("details") or [])
            text = " ".join(p for p in (str(error.get("message") or ""), details) if p)
            raise GeocoderQueryError(f"ArcGIS error {error.get('code')}: {text}".strip())
        raw = response.get("address")
        if not isinstance(raw, dict):
            raise GeocoderServiceError("reply has no address object")
        label = format_address(raw)
        if not label:
            raise GeocoderServiceError(f"reply has no usable address keys: {sorted(raw)}")
        loc = response.get("location") or {}
        point = (loc.get("y"), loc.get("x")) if "x" in loc and "y" in loc else (0, 0)
        location = Location(label, point, raw)
        return location if exactly_one else [location]


# Five decimals of a degree is about 1.1 m: closer reports share an address.
CACHE_DECIMALS = 5


def cache_key(server_url: str, lat: float, lng: float, decimals: int = CACHE_DECIMALS) -> str:
    """The cache identity of a reverse-geocoding answer: locator + rounded point."""
    point = f"{round(lat, decimals):.{decimals}f},{round(lng, decimals):.{decimals}f}"
    return f"{server_url.rstrip('/')}|{point}"


class ReverseGeocoder:
    """Turns WGS84 coordinates into a verified street address."""

    def __init__(
        self, server_url: str = WORLD_GEOCODER, *, token: str | None = None, timeout: float = 10.0
    ) -> None:
        self.server_url = server_url
        self._arcgis = AgencyArcGIS(server_url, token=token, timeout=timeout)

    def reverse(self, lat: float, lng: float) -> Address:
        """The address at (lat, lng); ``GeocodeError`` says why there is none."""
        try:
            location = self._arcgis.reverse((lat, lng), exactly_one=True)
        except GeopyError as exc:
            raise GeocodeError(f"{exc.__class__.__name__}: {_without_query(str(exc))}") from exc
        if location is None:
            raise GeocodeError("no address found at this location")
        return Address(label=location.address, raw=dict(location.raw or {}))
