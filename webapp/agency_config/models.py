"""The pydantic models of the agency configuration file.

Integrations are validated by ``kind``: the registry gives the connector
class, whose ``settings_model`` holds the kind's keys and whose ``supports``
lists the feature switches it can honour. Secrets never live in the file, only
the names of the environment variables holding them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from integrations.errors import IntegrationConfigError
from integrations.registry import connector_class
from integrations.settings import (
    EnvVarName,
    HttpUrl,
    IntegrationSettings,
    StrictModel,
)

from .problems import ConfigProblem, custom_error, line_error, line_for

DEFAULT_GEOCODER_URL = "https://geocode.arcgis.com/arcgis/rest/services/World/GeocodeServer"


class AgencySettings(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    # Display name on the comments Crosswalk posts; defaults to ``name``, so
    # after validation it is always a str.
    integration_user: str | None = Field(None, min_length=1, max_length=200)
    # A GeoJSON file relative to the configuration file (used by importers).
    boundary: str | None = Field(None, min_length=1)
    # The console shows times in this IANA time zone (UTC on hover).
    time_zone: str | None = Field(None, min_length=1, max_length=64)

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name such as America/New_York)"
            ) from None
        return value

    @model_validator(mode="after")
    def _default_integration_user(self) -> AgencySettings:
        if self.integration_user is None:
            self.integration_user = self.name
        return self


class CrmSettings(StrictModel):
    kind: Literal["seeclickfix"]
    base_url: HttpUrl
    organization_id: int = Field(gt=0)
    token_env: EnvVarName
    webhook_secret_env: EnvVarName | None = None
    poll_interval: int = Field(60, ge=10, le=86400)
    archive_after_days: int = Field(14, ge=1, le=365)
    # SeeClickFix allows 100 per page, but 20 when issue details are asked for,
    # and the poll always asks for them: the client sends at most 20.
    per_page: int = Field(20, ge=1, le=100)


class GeocoderSettings(StrictModel):
    url: HttpUrl = DEFAULT_GEOCODER_URL
    # Required for Esri's World service (it takes no anonymous requests, and
    # stored results need an authenticated forStorage=true); an agency's own
    # GeocodeServer may need none. Load warns when the World service lacks one.
    token_env: EnvVarName | None = None
    timeout: float = Field(10.0, gt=0, le=300)
    enabled: bool = True

    @property
    def is_world_service(self) -> bool:
        """Esri's hosted World geocoding service (``geocode.arcgis.com`` and its
        ``geocode-api`` host), as opposed to an agency's own GeocodeServer."""
        parts = urlsplit(self.url)
        host = (parts.hostname or "").lower()
        return host.endswith(".arcgis.com") and "/world/geocodeserver" in parts.path.lower()

    def token_warnings(self) -> list[str]:
        """Why ``token_env`` loads but will not work: the warnings of load."""
        if self.enabled and self.is_world_service and self.token_env is None:
            return [
                "the ArcGIS World geocoding service requires an access token: "
                "set token_env to the variable holding your API key (without one every "
                "address lookup is refused and requests go out with the reported address)"
            ]
        return []


def _integration_by_kind(value: Any) -> Any:
    """Validate one integration with its kind's settings model.

    Collects the kind problem and the kind model's errors (unsupported feature
    switches among them) together, each at its own location.
    """
    if isinstance(value, IntegrationSettings):
        return value  # built (and so validated) by its own kind's model
    if not isinstance(value, Mapping):
        return value  # the IntegrationSettings schema reports "should be a mapping"

    errors: list[dict[str, Any]] = []
    connector = None
    kind = value.get("kind")
    if "kind" not in value:
        errors.append({"type": "missing", "loc": ("kind",), "input": dict(value)})
    elif not isinstance(kind, str):
        errors.append({"type": "string_type", "loc": ("kind",), "input": kind})
    else:
        try:
            connector = connector_class(kind)
        except IntegrationConfigError as exc:
            errors.append(
                {"type": custom_error("unknown_kind", str(exc)), "loc": ("kind",), "input": kind}
            )

    # Without a known kind, still check the keys every kind shares; the
    # kind-specific keys cannot be judged, so "unknown key" is not reported.
    model = connector.settings_model if connector is not None else IntegrationSettings
    result = None
    try:
        result = model.model_validate(value)
    except ValidationError as exc:
        for err in exc.errors():
            unjudged = err["type"] == "extra_forbidden" or err["loc"][:1] == ("kind",)
            if connector is None and unjudged:
                continue
            errors.append(line_error(err))

    if errors:
        raise ValidationError.from_exception_data(model.__name__, errors)
    return result


IntegrationEntry = Annotated[IntegrationSettings, BeforeValidator(_integration_by_kind)]


class AgencyConfig(StrictModel):
    """The whole file. ``source_path`` and ``boundary_path`` are set by the loader."""

    agency: AgencySettings
    crm: CrmSettings
    geocoder: GeocoderSettings = Field(default_factory=GeocoderSettings)
    integrations: list[IntegrationEntry] = Field(default_factory=list)

    _source_path: Path | None = PrivateAttr(default=None)
    _boundary_path: Path | None = PrivateAttr(default=None)
    _warnings: list[ConfigProblem] = PrivateAttr(default_factory=list)
    # The line of every key and list item (set by the loader), for messages
    # about a value after the file loaded (config load's console differences).
    _lines: dict[tuple[Any, ...], int] = PrivateAttr(default_factory=dict)

    @field_validator("geocoder", "integrations", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any, info: Any) -> Any:
        # `geocoder:` or `integrations:` with nothing after it reads as null.
        if value is None:
            return GeocoderSettings() if info.field_name == "geocoder" else []
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> AgencyConfig:
        seen: set[str] = set()
        for integration in self.integrations:
            if integration.name in seen:
                raise custom_error(
                    "duplicate_name", f"duplicate integration name {integration.name!r}"
                )
            seen.add(integration.name)
        return self

    @property
    def source_path(self) -> Path:
        """The file this configuration came from (``Path(source)`` for a string)."""
        return self._source_path if self._source_path is not None else Path("<string>")

    @property
    def warnings(self) -> list[ConfigProblem]:
        """Problems that do not stop the file from loading (set by the loader)."""
        return list(self._warnings)

    def line_of(self, loc: tuple[Any, ...]) -> int | None:
        """The file's line of ``loc`` (else of its nearest parent); None for a
        configuration not read from text."""
        return line_for(loc, self._lines) if self._lines else None

    @property
    def boundary_path(self) -> Path | None:
        """``agency.boundary`` resolved against the configuration file's directory."""
        return self._boundary_path

    def integration(self, name: str) -> IntegrationSettings:
        for integration in self.integrations:
            if integration.name == name:
                return integration
        raise KeyError(name)
