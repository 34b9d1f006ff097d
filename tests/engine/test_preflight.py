"""The preflight engine (``webapp.sync.preflight``): which checks run, in what
order, what a failure names, and what is skipped rather than failed — on the
in-memory vendors. The checks against live servers are in tests/e2e/test_preflight.py."""

from __future__ import annotations

import pytest

from geo.geocode import GeocodeError
from integrations.base import Check
from integrations.errors import PermanentError, TransientError
from tests.engine.conftest import load_agency
from webapp.extensions import db
from webapp.models import Agency
from webapp.sync import engine, preflight, vendors


def by_system(checks: list[Check], system: str) -> list[Check]:
    return [c for c in checks if c.system == system]


def test_the_crm_geocoder_and_each_integration_are_checked_in_order(app, crm, geocoder):
    issue_id = crm.add_issue()
    checks = engine.run_preflight()
    assert [c.system for c in checks] == [
        "SeeClickFix",
        "SeeClickFix",
        "SeeClickFix",
        "ArcGIS geocoder",
        "public-works (Fake EAM)",
    ]
    crm_checks = by_system(checks, "SeeClickFix")
    assert crm_checks[0].ok and f"read issue {issue_id}" in crm_checks[0].detail
    # One issue proves the token and the organization: the listing asks for one.
    assert crm.per_page == 1 and crm.args_of("issues_page") == [(None, 1)]
    # Each mapped category's request type, once each.
    assert [c.name for c in crm_checks[1:]] == [
        "request type 122 (category Pothole)",
        "request type 123 (category Streetlight Out)",
    ]
    assert (
        crm_checks[1].setting
        == "integrations[public-works].categories[Pothole].crm_request_type_id"
    )
    # Without a boundary, the issue just read gives the point to geocode.
    [geo] = by_system(checks, "ArcGIS geocoder")
    assert geo.ok and geo.detail == "165 Church St, New Haven, CT 06510"
    assert geocoder.args_of("reverse") == [(41.3083, -72.9279)]


def test_a_kind_without_a_preflight_is_one_skipped_line(app, crm):
    checks = engine.run_preflight()
    [line] = [c for c in checks if c.system.startswith("public-works")]
    assert line.ok and line.detail.startswith("skipped: ") and "no preflight yet" in line.detail
    assert preflight.status(line) == "skip"
    assert "0 failed" in preflight.summary(checks)


@pytest.mark.parametrize(
    ("status", "setting"),
    [(401, "crm.token_env"), (403, "crm.token_env"), (404, "crm.organization_id")],
)
def test_a_refused_crm_names_the_setting_and_stops_there(app, crm, status, setting):
    crm.fail("issues_page", PermanentError("Unauthorized", system="SeeClickFix", status=status))
    checks = engine.run_preflight()
    [line] = by_system(checks, "SeeClickFix")  # no request type read after a refusal
    assert not line.ok and line.setting == setting and "Unauthorized" in line.detail
    assert preflight.status(line) == "FAIL"
    assert crm.count("get_request_type") == 0


def test_an_unreachable_crm_names_its_url(app, crm):
    crm.fail("issues_page", TransientError("could not connect", system="SeeClickFix"))
    [line] = by_system(engine.run_preflight(), "SeeClickFix")
    assert line.setting == "crm.base_url"


def test_an_unknown_request_type_fails_naming_the_category(app, crm):
    crm.fail("get_request_type", PermanentError("Not Found", system="SeeClickFix", status=404))
    checks = by_system(engine.run_preflight(), "SeeClickFix")
    assert [c.ok for c in checks] == [True, False, True]
    assert checks[1].setting == (
        "integrations[public-works].categories[Pothole].crm_request_type_id"
    )


def test_a_geocoder_error_fails_naming_the_setting(app, crm, geocoder):
    crm.add_issue()
    geocoder.fail("reverse", GeocodeError("GeocoderQueryError: ArcGIS error 498: Invalid Token"))
    [line] = by_system(engine.run_preflight(), "ArcGIS geocoder")
    assert not line.ok and line.setting == "geocoder.token_env" and "498" in line.detail


def test_no_address_near_the_point_is_an_answer_not_a_failure(app, crm, geocoder):
    crm.add_issue()
    geocoder.fail(
        "reverse",
        GeocodeError("GeocoderQueryError: ArcGIS error 400: Unable to find address for the ..."),
    )
    [line] = by_system(engine.run_preflight(), "ArcGIS geocoder")
    assert line.ok and "no address near this point" in line.detail


def test_nothing_to_geocode_and_a_switched_off_geocoder_are_skipped(app, crm, geocoder):
    [line] = by_system(engine.run_preflight(), "ArcGIS geocoder")  # no boundary, no issue
    assert preflight.status(line) == "skip" and line.setting == "agency.boundary"
    load_agency(**{"url: https://geocoder.test/GeocodeServer": "enabled: false"})
    crm.add_issue()
    [line] = by_system(engine.run_preflight(), "ArcGIS geocoder")
    assert preflight.status(line) == "skip" and line.setting == "geocoder.enabled"
    assert geocoder.count("reverse") == 0


def test_a_point_inside_the_boundary_is_geocoded(app, crm, geocoder, tmp_path):
    """An issue outside the boundary is not the point: one the polygon holds is."""
    boundary = tmp_path / "b.geojson"
    boundary.write_text(
        '{"type": "Polygon", "coordinates": [[[-73.0, 41.2], [-72.8, 41.2], [-72.8, 41.4],'
        " [-73.0, 41.4], [-73.0, 41.2]]]}"
    )
    db.session.execute(db.update(Agency).values(boundary_path=str(boundary)))
    db.session.commit()
    crm.add_issue(lat=40.0, lng=-75.0)  # far outside
    [line] = by_system(engine.run_preflight(), "ArcGIS geocoder")
    assert "inside the agency boundary" in line.name
    [(lat, lng)] = geocoder.args_of("reverse")
    assert 41.2 < lat < 41.4 and -73.0 < lng < -72.8


def test_without_a_configuration_it_says_so(app, crm):
    db.session.execute(db.delete(Agency))
    db.session.commit()
    with pytest.raises(vendors.NotConfiguredError, match="crosswalk config load"):
        engine.run_preflight()
