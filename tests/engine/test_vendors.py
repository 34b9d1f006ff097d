"""The vendors as the stored configuration describes them: validated settings
with their defaults and resolved switches, clients built with the secrets the
environment holds, and clear errors when something is missing."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from geo.geocode import ReverseGeocoder
from integrations.errors import IntegrationConfigError
from integrations.seeclickfix import SeeClickFixClient
from tests.engine.conftest import load_agency
from tests.fakes import FakeConnector, FakeSettings
from webapp.extensions import db
from webapp.models import Agency, Integration
from webapp.sync import vendors

# The real builders (the fixtures replace them with fakes for every test).
REAL_CRM_CLIENT = vendors.crm_client
REAL_GEOCODER = vendors.geocoder


def integration() -> Integration:
    return db.session.execute(db.select(Integration)).scalar_one()


def test_settings_are_validated_by_the_kinds_model_with_defaults_and_switches(app):
    settings = vendors.settings_of(integration())
    assert isinstance(settings, FakeSettings)
    assert (settings.poll_interval, settings.category_sync_interval) == (300, 86400)
    assert settings.endpoint == "https://eam.test/api"
    # Switches are plain booleans: on where the kind supports them, except
    # the ones it keeps off unless configured.
    assert (settings.sync_categories, settings.import_requests, settings.geocode) == (
        True,
        True,
        True,
    )
    assert (settings.import_comments, settings.close_remote_on_crm_close) == (False, False)


def test_a_switch_from_the_file_is_what_the_settings_say(app):
    load_agency(**{"    kind: fake\n": "    kind: fake\n    import_comments: true\n"})
    assert vendors.settings_of(integration()).import_comments is True


def test_stored_settings_that_no_longer_validate_are_refused(app):
    row = integration()
    row.settings = {**row.settings, "poll_interval": 1}
    with pytest.raises(ValidationError, match="poll_interval"):
        vendors.settings_of(row)


def test_settings_of_an_unknown_kind_name_the_kind(app):
    row = integration()
    row.kind = "ghost"
    with pytest.raises(IntegrationConfigError, match="unknown integration kind 'ghost'"):
        vendors.settings_of(row)


def test_crm_and_geocoder_settings_come_validated_with_defaults(app):
    crm = vendors.crm_settings()
    assert (crm.organization_id, crm.poll_interval) == (1234, 60)
    assert (crm.archive_after_days, crm.token_env) == (14, "SCF_TOKEN")
    geocoder = vendors.geocoder_settings()
    assert geocoder.url == "https://geocoder.test/GeocodeServer"
    assert (geocoder.enabled, geocoder.timeout, geocoder.token_env) == (True, 10.0, None)


def test_the_crm_client_is_built_with_the_token_from_the_environment(app):
    client = REAL_CRM_CLIENT()
    assert isinstance(client, SeeClickFixClient)
    assert client.organization_id == 1234
    assert client.http.base_url == "https://crm.test/api/v2"


def test_a_missing_secret_is_a_clear_configuration_error(app):
    app.config["CROSSWALK_ENVIRON"] = {"SCF_WEBHOOK_SECRET": "s"}
    with pytest.raises(
        IntegrationConfigError,
        match=r"environment variable SCF_TOKEN \(SeeClickFix token\) is not set",
    ):
        REAL_CRM_CLIENT()


def test_a_missing_vendor_credential_names_the_variable_and_the_integration(app):
    load_agency(**{"    kind: fake\n": "    kind: fake\n    username_env: EAM_USER\n"})
    connector = vendors.connector(integration())
    assert isinstance(connector, FakeConnector)
    with pytest.raises(
        IntegrationConfigError, match="EAM_USER \\(username of public-works\\) is not set"
    ):
        connector.credentials()


def test_the_webhook_secret_comes_from_the_environment(app):
    assert vendors.webhook_secret() == "test-webhook-secret"
    app.config["CROSSWALK_ENVIRON"] = {"SCF_TOKEN": "t"}
    assert vendors.webhook_secret() is None


def test_the_geocoder_is_built_unless_switched_off(app):
    geocoder = REAL_GEOCODER()
    assert isinstance(geocoder, ReverseGeocoder)
    assert geocoder.server_url == "https://geocoder.test/GeocodeServer"
    url = "  url: https://geocoder.test/GeocodeServer\n"
    load_agency(**{url: url + "  enabled: false\n"})
    assert REAL_GEOCODER() is None


def test_without_an_agency_everything_says_to_load_the_configuration(app):
    db.session.execute(db.delete(Agency))
    db.session.commit()
    assert vendors.find_agency() is None
    for ask in (vendors.agency, vendors.crm_settings, vendors.geocoder_settings, REAL_CRM_CLIENT):
        with pytest.raises(vendors.NotConfiguredError, match="crosswalk config load"):
            ask()
    assert issubclass(vendors.NotConfiguredError, IntegrationConfigError)


# -- clients kept from one job to the next (issue 11) ----------------------------------
def test_a_connector_is_kept_while_its_settings_and_secrets_stay_the_same(app):
    load_agency(**{"    kind: fake\n": "    kind: fake\n    username_env: EAM_USER\n"})
    app.config["CROSSWALK_ENVIRON"] = {**app.config["CROSSWALK_ENVIRON"], "EAM_USER": "ada"}
    first = vendors.connector(integration())
    assert vendors.connector(integration()) is first
    app.config["CROSSWALK_ENVIRON"] = {**app.config["CROSSWALK_ENVIRON"], "EAM_USER": "grace"}
    second = vendors.connector(integration())
    assert second is not first  # a changed secret: built again
    row = integration()
    row.settings = {**row.settings, "poll_interval": 600}
    db.session.commit()
    assert vendors.connector(integration()) is not second  # changed settings: built again


def test_each_thread_has_its_own_clients(app):
    import threading

    here = vendors.connector(integration())
    there = []

    def other_thread() -> None:
        with app.app_context():
            there.append(vendors.connector(integration()))
            db.session.remove()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert there[0] is not here  # a requests.Session is not shared between threads


def test_the_crm_client_and_geocoder_are_kept_until_their_settings_change(app):
    crm, geocoder = REAL_CRM_CLIENT(), REAL_GEOCODER()
    assert REAL_CRM_CLIENT() is crm and REAL_GEOCODER() is geocoder
    app.config["CROSSWALK_ENVIRON"] = {**app.config["CROSSWALK_ENVIRON"], "SCF_TOKEN": "new"}
    assert REAL_CRM_CLIENT() is not crm
    assert REAL_GEOCODER() is geocoder  # the geocoder's settings did not change
    url = "  url: https://geocoder.test/GeocodeServer\n"
    load_agency(**{url: url + "  timeout: 3\n"})
    assert REAL_GEOCODER() is not geocoder


def test_a_one_off_connector_is_not_shared(app):
    row = integration()
    assert vendors.new_connector(row, vendors.settings_of(row)) is not vendors.connector(row)
