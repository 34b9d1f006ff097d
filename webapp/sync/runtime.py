"""Builds the vendor clients from the stored configuration and the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping

from flask import current_app

from geo.geocode import ReverseGeocoder
from integrations.base import Connector, read_secret
from integrations.errors import IntegrationConfigError
from integrations.registry import connector_class
from integrations.seeclickfix import SeeClickFixClient

from ..extensions import db
from ..models import Agency, Integration


class NotConfiguredError(IntegrationConfigError):
    """No configuration file has been loaded yet."""


def agency() -> Agency:
    found = db.session.execute(db.select(Agency).order_by(Agency.id)).scalars().first()
    if found is None:
        raise NotConfiguredError(
            "no agency configuration loaded: run `crosswalk config load FILE.yaml`"
        )
    return found


def _environ() -> Mapping[str, str]:
    return current_app.config.get("CROSSWALK_ENVIRON") or os.environ


def crm_client(agency_row: Agency | None = None) -> SeeClickFixClient:
    row = agency_row or agency()
    crm = row.crm
    token = read_secret(crm["token_env"], what="SeeClickFix token", environ=_environ())
    return SeeClickFixClient(
        crm["base_url"],
        crm["organization_id"],
        token or "",
        per_page=crm.get("per_page", 20),
        timeout=current_app.config["CROSSWALK_HTTP_TIMEOUT"],
    )


def webhook_secret() -> str | None:
    env_name = agency().crm.get("webhook_secret_env")
    if not env_name:
        return None
    return _environ().get(env_name) or None


def geocoder(agency_row: Agency | None = None) -> ReverseGeocoder | None:
    settings = (agency_row or agency()).geocoder
    if not settings.get("enabled", True):
        return None
    token = read_secret(settings.get("token_env"), what="ArcGIS token", environ=_environ())
    return ReverseGeocoder(settings["url"], token=token, timeout=settings.get("timeout", 10.0))


def feature_enabled(integration: Integration, switch: str) -> bool:
    return settings_of(integration).feature(switch)


def settings_of(integration: Integration):
    return connector_class(integration.kind).settings_model.model_validate(integration.settings)


def connector(integration: Integration) -> Connector:
    cls = connector_class(integration.kind)
    return cls(settings_of(integration), environ=_environ())
