"""The vendors as the stored configuration describes them: validated settings
of the agency, the CRM, the geocoder and each integration, and the clients
built from them with the secrets the environment holds.

The engine reads configuration only through here, as validated models (never
a raw settings dictionary), so a key's default lives in one place: the
model that declares it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from flask import current_app

from geo.geocode import ReverseGeocoder
from integrations.base import Connector, read_secret
from integrations.errors import IntegrationConfigError
from integrations.registry import connector_class
from integrations.seeclickfix import SeeClickFixClient
from integrations.settings import IntegrationSettings

from ..agency_config import CrmSettings, GeocoderSettings
from ..extensions import db
from ..models import Agency, Integration


class NotConfiguredError(IntegrationConfigError):
    """No configuration file has been loaded yet."""


def agency() -> Agency:
    found = find_agency()
    if found is None:
        raise NotConfiguredError(
            "no agency configuration loaded: run `crosswalk config load FILE.yaml`"
        )
    return found


def find_agency() -> Agency | None:
    return db.session.execute(db.select(Agency).order_by(Agency.id)).scalars().first()


def crm_settings(agency_row: Agency | None = None) -> CrmSettings:
    return CrmSettings.model_validate((agency_row or agency()).crm)


def geocoder_settings(agency_row: Agency | None = None) -> GeocoderSettings:
    return GeocoderSettings.model_validate((agency_row or agency()).geocoder)


def settings_of(integration: Integration) -> IntegrationSettings:
    """The integration's stored settings, validated by its kind's model (so
    every key has its value or its declared default, switches resolved)."""
    return connector_class(integration.kind).settings_model.model_validate(integration.settings)


def _environ() -> Mapping[str, str]:
    return current_app.config.get("CROSSWALK_ENVIRON") or os.environ


def crm_client(agency_row: Agency | None = None) -> SeeClickFixClient:
    crm = crm_settings(agency_row)
    token = read_secret(crm.token_env, what="SeeClickFix token", environ=_environ())
    return SeeClickFixClient(
        crm.base_url,
        crm.organization_id,
        token or "",
        per_page=crm.per_page,
        timeout=current_app.config["CROSSWALK_HTTP_TIMEOUT"],
    )


def webhook_secret() -> str | None:
    env_name = crm_settings().webhook_secret_env
    if not env_name:
        return None
    return _environ().get(env_name) or None


def geocoder(agency_row: Agency | None = None) -> ReverseGeocoder | None:
    """The reverse geocoder, or None when the agency switched it off."""
    settings = geocoder_settings(agency_row)
    if not settings.enabled:
        return None
    token = read_secret(settings.token_env, what="ArcGIS token", environ=_environ())
    return ReverseGeocoder(settings.url, token=token, timeout=settings.timeout)


def uploads_photos(integration: Integration) -> bool:
    """Whether the integration's kind takes the photo as an upload of its own."""
    return connector_class(integration.kind).uploads_photos


def connector(integration: Integration, settings: IntegrationSettings | None = None) -> Connector:
    cls = connector_class(integration.kind)
    return cls(settings or settings_of(integration), environ=_environ())
