"""The verified address of a link: reverse-geocoded once, cached by rounded
coordinates, the reported address whenever that cannot be done."""

from __future__ import annotations

import pytest

from geo.geocode import GeocodeError
from integrations.errors import IntegrationConfigError
from webapp.extensions import db
from webapp.models import Event, GeocodeCache, SyncLink
from webapp.sync import addresses, ingest

REPORTED = "165 Church St, New Haven"


def new_link(crm, **fields) -> SyncLink:
    issue_id = crm.add_issue(**fields)
    (link_id,) = ingest.upsert_issue(crm.parsed(issue_id), source="poll").links_to_push
    return db.session.get(SyncLink, link_id)


def verify(link: SyncLink, geocoder, *, enabled: bool = True) -> SyncLink:
    addresses.verify_address(link, link.issue, lambda: geocoder, enabled=enabled)
    db.session.commit()
    return link


def geocode_events(link: SyncLink) -> list[tuple[str, str]]:
    query = (
        db.select(Event.kind, Event.detail)
        .where(Event.issue_id == link.issue_id, Event.kind.like("geocode%"))
        .order_by(Event.id)
    )
    return [tuple(row) for row in db.session.execute(query)]


def test_an_address_is_verified_and_cached(app, crm, geocoder):
    link = verify(new_link(crm), geocoder)

    assert (link.verified_address, link.address_source) == (geocoder.label, "arcgis")
    assert geocode_events(link) == [("geocoded", geocoder.label)]
    (cached,) = db.session.execute(db.select(GeocodeCache)).scalars()
    assert cached.key == "https://geocoder.test/GeocodeServer|41.30830,-72.92790"
    assert cached.raw["AddNum"] == "165"


def test_a_nearby_point_is_answered_from_the_cache(app, crm, geocoder):
    verify(new_link(crm, lat=41.308301, lng=-72.927901), geocoder)

    second = verify(new_link(crm, lat=41.308299, lng=-72.927899), geocoder)

    assert geocoder.count("reverse") == 1
    assert (second.verified_address, second.address_source) == (geocoder.label, "arcgis")
    assert geocode_events(second) == [("geocoded", f"{geocoder.label} (cached)")]


def test_a_point_a_few_metres_away_is_geocoded_again(app, crm, geocoder):
    verify(new_link(crm, lat=41.30830), geocoder)
    verify(new_link(crm, lat=41.30840), geocoder)

    assert geocoder.args_of("reverse") == [(41.3083, -72.9279), (41.3084, -72.9279)]


def test_a_link_is_geocoded_once(app, crm, geocoder):
    link = verify(new_link(crm), geocoder)
    db.session.execute(db.delete(GeocodeCache))

    verify(link, geocoder)

    assert geocoder.count("reverse") == 1


def test_an_issue_without_coordinates_keeps_the_reported_address(app, crm, geocoder):
    link = verify(new_link(crm, lat=None, lng=None), geocoder)

    assert (link.verified_address, link.address_source) == (None, "reported")
    assert geocoder.count("reverse") == 0
    assert geocode_events(link) == [
        ("geocode_skipped", "the issue has no coordinates; using the reported address")
    ]


def test_with_the_geocoder_off_the_reported_address_is_used_quietly(app, crm):
    link = verify(new_link(crm), None)  # the agency switched the geocoder off

    assert link.address_source == "reported"
    assert geocode_events(link) == []


def test_with_the_integrations_switch_off_the_geocoder_is_not_even_built(app, crm):
    link = new_link(crm)

    def build():
        raise AssertionError("the geocoder was built")

    addresses.verify_address(link, link.issue, build, enabled=False)

    assert link.address_source == "reported"
    assert geocode_events(link) == []


@pytest.mark.parametrize(
    "failure",
    [
        GeocodeError("no address found at this location"),
        IntegrationConfigError("ArcGIS token: GEO_TOKEN is not set"),
    ],
)
def test_a_geocoding_failure_falls_back_to_the_reported_address(app, crm, failure):
    link = new_link(crm)

    def build():
        raise failure

    addresses.verify_address(link, link.issue, build, enabled=True)

    assert (link.verified_address, link.address_source) == (None, "reported")
    assert geocode_events(link) == [
        ("geocode_failed", f"{failure}; using the reported address {REPORTED!r}")
    ]
    assert db.session.execute(db.select(GeocodeCache)).first() is None


def test_address_parts_come_from_the_cached_reply(app, crm, geocoder):
    link = verify(new_link(crm), geocoder)

    parts = addresses.address_parts(link, link.issue, geocoder)

    assert parts == {"number": "165", "street": "Church St", "city": "New Haven", "zip": "06510"}


def test_address_parts_keep_a_street_that_does_not_start_with_the_number(app, crm, geocoder):
    link = verify(new_link(crm), geocoder)
    (cached,) = db.session.execute(db.select(GeocodeCache)).scalars()
    cached.raw = {"Address": "Church St", "AddNum": "165", "City": "New Haven"}
    db.session.commit()

    parts = addresses.address_parts(link, link.issue, geocoder)

    assert parts == {"number": "165", "street": "Church St", "city": "New Haven"}


def test_a_reported_address_has_no_parts(app, crm, geocoder):
    link = verify(new_link(crm, lat=None, lng=None), geocoder)
    assert addresses.address_parts(link, link.issue, geocoder) == {}
    verified = verify(new_link(crm), geocoder)
    assert addresses.address_parts(verified, verified.issue, None) == {}
