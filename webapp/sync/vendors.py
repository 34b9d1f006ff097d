"""The vendors as the stored configuration describes them: validated settings
of the agency, the CRM, the geocoder and each integration, and the clients
built from them with the secrets the environment holds.

The engine reads configuration only through here, as validated models (never
a raw settings dictionary), so a key's default lives in one place: the
model that declares it.

Clients are built once per process and thread, and reused while what they
were built from is unchanged: a connector, the CRM client or the geocoder
holds HTTP sessions (kept-alive connections, a TLS context that costs tens of
milliseconds to load), and a Cartegraph connector remembers the requesters it
found. Each is kept under the settings and the secrets it was built with
(``_reuse``): a ``config load``, a console edit or a changed secret builds a
new one at its next use. Per thread, because a ``requests.Session`` is not
safe to share between threads; per app, so a test's app never sees another's.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

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
from . import routing


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


# ---------------------------------------------------------------- reuse
_Client = TypeVar("_Client")
_CLIENTS = "crosswalk.vendor_clients"


def _clients() -> dict[str, tuple[Any, Any, Callable[[], None] | None]]:
    """This thread's clients of the current app: slot → (identity, client, close)."""
    local = current_app.extensions.get(_CLIENTS)
    if local is None:
        local = current_app.extensions.setdefault(_CLIENTS, threading.local())
    if not hasattr(local, "clients"):
        local.clients = {}
    return local.clients


def _reuse(
    slot: str,
    identity: Any,
    build: Callable[[], _Client],
    close: Callable[[_Client], None] | None = None,
) -> _Client:
    """The client in ``slot`` if it was built from ``identity`` (settings and
    secrets), else a new one from ``build`` (the old one is given to ``close``)."""
    clients = _clients()
    kept = clients.get(slot)
    if kept is not None and kept[0] == identity:
        return kept[1]
    client = build()
    clients[slot] = (identity, client, (lambda: close(client)) if close else None)
    if kept is not None and kept[2] is not None:
        kept[2]()
    return client


def forget_clients() -> None:
    """Drop this thread's clients: the next use builds new ones."""
    clients = _clients()
    for _, _, close in clients.values():
        if close is not None:
            close()
    clients.clear()


def _secrets_of(settings: Mapping[str, Any]) -> tuple[str | None, ...]:
    """The values of the environment variables ``*_env`` settings name: a
    changed secret is a new identity."""
    environ = _environ()
    return tuple(
        environ.get(value)
        for key, value in sorted(settings.items())
        if key.endswith("_env") and isinstance(value, str)
    )


def _identity(settings: Mapping[str, Any], *extra: Any) -> tuple[Any, ...]:
    return (json.dumps(settings, sort_keys=True, default=str), _secrets_of(settings), *extra)


def crm_client(agency_row: Agency | None = None) -> SeeClickFixClient:
    """The CRM client, reused while the CRM settings and token are unchanged."""
    row = agency_row or agency()
    timeout = current_app.config["CROSSWALK_HTTP_TIMEOUT"]
    return _reuse("crm", _identity(row.crm, timeout), lambda: _build_crm_client(row, timeout))


def _build_crm_client(agency_row: Agency, timeout: float) -> SeeClickFixClient:
    crm = crm_settings(agency_row)
    token = read_secret(crm.token_env, what="SeeClickFix token", environ=_environ())
    return SeeClickFixClient(
        crm.base_url,
        crm.organization_id,
        token or "",
        per_page=crm.per_page,
        timeout=timeout,
    )


def webhook_secret() -> str | None:
    """The CRM webhook secret, from the variable the (cached, see ``routing``)
    CRM settings name: a webhook delivery reads no configuration row."""
    crm = routing.snapshot().crm
    if crm is None:
        raise NotConfiguredError(
            "no agency configuration loaded: run `crosswalk config load FILE.yaml`"
        )
    if not crm.webhook_secret_env:
        return None
    return _environ().get(crm.webhook_secret_env) or None


def geocoder(agency_row: Agency | None = None) -> ReverseGeocoder | None:
    """The reverse geocoder, or None when the agency switched it off; reused
    while its settings and token are unchanged."""
    row = agency_row or agency()
    return _reuse("geocoder", _identity(row.geocoder), lambda: _build_geocoder(row))


def _build_geocoder(agency_row: Agency) -> ReverseGeocoder | None:
    settings = geocoder_settings(agency_row)
    if not settings.enabled:
        return None
    token = read_secret(settings.token_env, what="ArcGIS token", environ=_environ())
    return ReverseGeocoder(settings.url, token=token, timeout=settings.timeout)


def uploads_photos(integration: Integration) -> bool:
    """Whether the integration's kind takes the photo as an upload of its own."""
    return connector_class(integration.kind).uploads_photos


def connector(
    integration: Integration, settings: IntegrationSettings | None = None, *, lane: str = ""
) -> Connector:
    """The integration's connector, reused while its kind, settings and secrets
    are unchanged. Shared: callers do not close it (a replaced one is closed).

    ``lane`` names another connector of the same integration, kept beside the
    first: its own HTTP session, for a call made in a second thread while the
    first connector is in use (a ``requests.Session`` is not to be shared)."""
    cls = connector_class(integration.kind)
    settings = settings or settings_of(integration)
    dumped = settings.model_dump(mode="json")
    return _reuse(
        f"connector:{integration.id}:{lane}" if lane else f"connector:{integration.id}",
        (cls, *_identity(dumped)),
        lambda: cls(settings, environ=_environ()),
        Connector.close,
    )


def new_connector(integration: Integration, settings: IntegrationSettings) -> Connector:
    """A connector of its own, not shared (the caller closes it): for a one-off
    look with settings other than the stored ones (the preflight's)."""
    return connector_class(integration.kind)(settings, environ=_environ())
