"""The verified address of a sync link: reverse-geocoded once per link,
cached by rounded coordinates, falling back to what the resident reported."""

from __future__ import annotations

from collections.abc import Callable

from geo.geocode import GeocodeError, ReverseGeocoder, cache_key
from integrations.errors import IntegrationError

from ..extensions import db
from ..models import GeocodeCache, Issue, SyncLink
from . import events


def verify_address(
    link: SyncLink,
    issue: Issue,
    geocoder: Callable[[], ReverseGeocoder | None],
    *,
    enabled: bool,
) -> None:
    """Reverse-geocode once per link; any failure falls back to the reported address.

    ``enabled`` is the integration's ``geocode`` switch (e.g. Lucity Work
    Orders take no secondary geocoding); ``geocoder`` builds the geocoder
    (None when the agency switched it off), inside the fallback: a missing
    token is a geocoding failure, not a failed push."""
    if link.address_source is not None:
        return
    if not enabled:
        link.address_source = "reported"
        return
    if issue.lat is None or issue.lng is None:
        link.address_source = "reported"
        _record(link, "geocode_skipped", "the issue has no coordinates; using the reported address")
        return
    try:
        locator = geocoder()
        if locator is None:
            link.address_source = "reported"
            return
        key = cache_key(locator.server_url, issue.lat, issue.lng)
        cached = _cached(key)
        if cached is not None:
            link.verified_address, link.address_source = cached.address, "arcgis"
            _record(link, "geocoded", f"{cached.address} (cached)", level="info")
            return
        address = locator.reverse(issue.lat, issue.lng)
    except (GeocodeError, IntegrationError) as exc:
        link.address_source = "reported"
        _record(link, "geocode_failed", f"{exc}; using the reported address {issue.address!r}")
        return
    link.verified_address = address.label
    link.address_source = "arcgis"
    # Not there a moment ago (get above): added, not merged (a merge reads it again).
    db.session.add(GeocodeCache(key=key, address=address.label, raw=address.raw))
    _record(link, "geocoded", address.label, level="info")


def _cached(key: str) -> GeocodeCache | None:
    """The cached answer for ``key``: one added in this transaction and not
    written yet (no query, no flush), else the stored one."""
    for row in db.session.new:
        if isinstance(row, GeocodeCache) and row.key == key:
            return row
    return db.session.get(GeocodeCache, key)


def _record(link: SyncLink, kind: str, detail: str, *, level: str = "warning") -> None:
    events.record_for(link, kind, detail, level=level)


def address_parts(link: SyncLink, issue: Issue, geocoder: ReverseGeocoder | None) -> dict[str, str]:
    """Number, street, city and ZIP of the verified address, from the locator's reply."""
    if link.address_source != "arcgis" or issue.lat is None or issue.lng is None:
        return {}
    if geocoder is None:
        return {}
    cached = _cached(cache_key(geocoder.server_url, issue.lat, issue.lng))
    raw = cached.raw if cached else {}
    number = str(raw.get("AddNum") or "")
    street = str(raw.get("Address") or "")
    if number and street.startswith(number):
        street = street[len(number) :].strip()
    parts = {"number": number, "street": street, "city": raw.get("City"), "zip": raw.get("Postal")}
    return {k: str(v) for k, v in parts.items() if v}
