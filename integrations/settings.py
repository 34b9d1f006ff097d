"""Settings every integration kind shares, validated with pydantic.

Each vendor package subclasses ``IntegrationSettings`` with its own keys; the
configuration loader picks the model by ``kind`` through the registry, so a
new vendor adds its keys without touching the loader. Secrets are never
settings: only the *names* of the environment variables that hold them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

Environment = Literal["test", "production"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not a URL")
    return value.rstrip("/")


def check_env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError("not an environment variable name (letters, digits and _)")
    return value


def check_slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError("use lowercase letters, digits, '-' and '_' (it appears in URLs and CLI)")
    return value


def _to_str(value: Any) -> Any:
    # YAML reads `remote_id: 12` as an int; remote ids are opaque text.
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


HttpUrl = Annotated[str, AfterValidator(check_url)]
EnvVarName = Annotated[str, AfterValidator(check_env_name)]
Slug = Annotated[str, AfterValidator(check_slug)]
RemoteId = Annotated[str, BeforeValidator(_to_str), Field(min_length=1)]
Message = Annotated[str, Field(min_length=1, max_length=4000)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# Integration keys of CRM secondary questions that fill requester fields
# (vendor guide wording), and the Requester attribute each fills.
REQUESTER_KEYS = {
    "FirstNameField": "first_name",
    "LastNameField": "last_name",
    "AddressNumberField": "address_number",
    "UnitField": "unit",
    "StreetField": "street",
    "CityField": "city",
    "StateField": "state",
    "ZipCodeField": "zip_code",
    "PrimaryPhoneField": "phone",
    "SecondaryPhoneField": "secondary_phone",
}


FIELD_TYPES = ("text", "number", "integer", "boolean", "date")
# Issue facts a custom field may take its value from.
ISSUE_SOURCES = (
    "crm_issue_id",
    "summary",
    "description",
    "lat",
    "lng",
    "reported_address",
    "verified_address",
    "address",
    "html_url",
    "reporter_email",
)


class DynamicField(StrictModel):
    """A custom field filled from the issue: a question's answer or an issue fact."""

    answer_of: RemoteId | None = None  # a CRM question's primary key
    source: Literal[ISSUE_SOURCES] | None = Field(None, alias="from")  # type: ignore[valid-type]
    type: Literal[FIELD_TYPES] = "text"  # type: ignore[valid-type]
    required: bool = False
    default: str | int | float | bool | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _one_source(self) -> DynamicField:
        if (self.answer_of is None) == (self.source is None):
            raise ValueError(
                "give exactly one of answer_of (a question key) or from (an issue fact)"
            )
        return self


CustomFieldValue = str | int | float | bool | DynamicField


class CategorySettings(StrictModel):
    """One remote category (Cartegraph Request Issue, Lucity Problem Code)."""

    remote_id: RemoteId
    crm_request_type_id: int | None = None
    name: str | None = None
    acknowledgment_message: Message | None = None
    closing_message: Message | None = None
    internal: bool = False
    private: bool = False
    # The category sync leaves a protected category's name and state alone.
    # Unset: whatever an admin chose in the dashboard stays.
    protected: bool | None = None
    # Remote field → a static value, or {answer_of: "142"} / {from: verified_address}.
    custom_fields: dict[str, CustomFieldValue] = Field(default_factory=dict)


# Switches every kind understands; a kind declares which it supports, and the
# loader refuses `true` for one it does not (see Connector.supports).
FEATURE_SWITCHES = (
    "sync_categories",
    "import_requests",
    "geocode",
    "close_remote_on_crm_close",
    "import_images",
    "import_comments",
)


from .rule_settings import RuleSettings  # noqa: E402 (it builds on the types above)


class IntegrationSettings(StrictModel):
    name: Slug
    kind: str
    environment: Environment = "test"
    endpoints: dict[Environment, HttpUrl]
    username_env: EnvVarName | None = None
    password_env: EnvVarName | None = None
    poll_interval: int = Field(300, ge=10, le=86400)
    acknowledgment_message: Message | None = None
    closing_message: Message | None = None
    categories: list[CategorySettings] = Field(default_factory=list)
    # Comment-on-field-match rules (stored in the database for the admin UI).
    rules: list[RuleSettings] = Field(default_factory=list)
    enabled: bool = True
    # Integration keys of CRM secondary questions, by question primary key
    # ({"143": FirstNameField}): the CRM's API does not always return them.
    question_keys: dict[RemoteId, Literal[tuple(REQUESTER_KEYS)]] = Field(  # type: ignore[valid-type]
        default_factory=dict
    )

    # Importer of requests entered directly in the remote system.
    import_interval: int = Field(300, ge=30, le=86400)
    import_first_window_days: int = Field(1, ge=0, le=365)  # how far back the first run looks

    sync_categories: bool | None = None
    import_requests: bool | None = None
    geocode: bool | None = None
    close_remote_on_crm_close: bool | None = None
    import_images: bool | None = None
    import_comments: bool | None = None

    @model_validator(mode="after")
    def _live_endpoint_present(self) -> IntegrationSettings:
        if self.environment not in self.endpoints:
            raise ValueError(
                f"environment is {self.environment!r} but endpoints has no {self.environment!r} URL"
            )
        return self

    @model_validator(mode="after")
    def _unique_categories(self) -> IntegrationSettings:
        seen: set[str] = set()
        for cat in self.categories:
            if cat.remote_id in seen:
                raise ValueError(f"category remote_id {cat.remote_id!r} is listed twice")
            seen.add(cat.remote_id)
        return self

    @property
    def endpoint(self) -> str:
        """The live endpoint: the only URL the hub may send to."""
        return self.endpoints[self.environment]
