"""Settings every integration kind shares, validated with pydantic: the
vendor contract as the engine reads it.

Each vendor package subclasses ``IntegrationSettings`` with its own keys and
declares, as class attributes, what its kind *can* do (``label``,
``supported_features``, ``features_off_by_default``). The configuration
loader picks the model by ``kind`` through the registry, so a new vendor adds
its keys without touching the loader. Every key the sync engine reads is
declared here, once, with its default: the engine never reads a raw settings
dictionary.

Feature switches are resolved here and nowhere else: after validation each
switch is a plain ``bool`` (the configured value, else whether the kind
supports it by default), and ``true`` for a switch the kind cannot honour is
a validation error naming the kind.

Secrets are never settings: only the *names* of the environment variables
that hold them.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .config_types import (  # noqa: F401 (re-exported for vendor packages)
    Environment,
    EnvVarName,
    HttpUrl,
    Message,
    RemoteId,
    Slug,
    StrictModel,
    check_env_name,
    check_slug,
    check_url,
)
from .rule_settings import RuleSettings

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
    # A CRM id: stored in a 32-bit integer column.
    crm_request_type_id: int | None = Field(None, gt=0, le=2**31 - 1)
    name: str | None = Field(None, max_length=300)
    acknowledgment_message: Message | None = None
    closing_message: Message | None = None
    internal: bool = False
    private: bool = False
    # The category sync leaves a protected category's name and state alone.
    # Unset: whatever an admin chose in the dashboard stays.
    protected: bool | None = None
    # Remote field → a static value, or {answer_of: "142"} / {from: verified_address}.
    custom_fields: dict[str, CustomFieldValue] = Field(default_factory=dict)


# Switches every kind understands; a kind declares which it supports
# (``IntegrationSettings.supported_features``) and validation refuses `true`
# for one it does not.
FEATURE_SWITCHES = (
    "sync_categories",
    "import_requests",
    "geocode",
    "close_remote_on_crm_close",
    "import_images",
    "import_comments",
)

DEFAULT_REQUESTER_FIRST_NAME = "SeeClickFix"
DEFAULT_REQUESTER_LAST_NAME = "User"


def _switch(description: str) -> Any:
    # validate_default: an unset switch is resolved by the kind's capabilities.
    return Field(None, validate_default=True, description=description)


class IntegrationSettings(StrictModel):
    """The keys of every integration kind, with their defaults."""

    # -- what the kind can do (class attributes, set by each vendor's model) --
    # Shown in messages: "the <label> integration does not support geocode".
    # None only on this base model, used to check the shared keys of an
    # integration whose kind is unknown (its switches cannot be judged).
    label: ClassVar[str | None] = None
    supported_features: ClassVar[frozenset[str]] = frozenset()
    # Supported switches that stay off unless configured (the rest default on).
    features_off_by_default: ClassVar[frozenset[str]] = frozenset()

    name: Slug
    kind: str
    environment: Environment = "test"
    endpoints: dict[Environment, HttpUrl]
    username_env: EnvVarName | None = None
    password_env: EnvVarName | None = None
    enabled: bool = True

    # -- schedules (seconds) --
    poll_interval: int = Field(300, ge=10, le=86400)
    category_sync_interval: int = Field(86400, ge=60, le=7 * 86400)
    import_interval: int = Field(300, ge=30, le=86400)
    # How far back the importer's first run looks.
    import_first_window_days: int = Field(1, ge=0, le=365)

    # -- what residents read --
    acknowledgment_message: Message | None = None
    closing_message: Message | None = None
    # The note left on the remote request when staff close the CRM issue
    # (close_remote_on_crm_close).
    remote_close_note: Message = "Closed in SeeClickFix by agency staff."

    # -- requesters --
    # Names sent when the resident's own are not known (the vendor guide's defaults).
    requester_first_name: str = Field(DEFAULT_REQUESTER_FIRST_NAME, min_length=1)
    requester_last_name: str = Field(DEFAULT_REQUESTER_LAST_NAME, min_length=1)
    # Integration keys of CRM secondary questions, by question primary key
    # ({"143": FirstNameField}): the CRM's API does not always return them.
    question_keys: dict[RemoteId, Literal[tuple(REQUESTER_KEYS)]] = Field(  # type: ignore[valid-type]
        default_factory=dict
    )

    categories: list[CategorySettings] = Field(default_factory=list)
    # Comment-on-field-match rules (stored as rows: the admin console edits them too).
    rules: list[RuleSettings] = Field(default_factory=list)

    # -- feature switches: a bool after validation (see _resolve_switch) --
    sync_categories: bool | None = _switch("sync the remote categories")
    import_requests: bool | None = _switch("import requests entered in the remote system")
    geocode: bool | None = _switch("verify the address with the reverse geocoder")
    close_remote_on_crm_close: bool | None = _switch(
        "close the remote request when staff close the CRM issue"
    )
    import_images: bool | None = _switch("import images added to the remote request")
    import_comments: bool | None = _switch("import the remote request's public comments")

    @field_validator(*FEATURE_SWITCHES, mode="after")
    @classmethod
    def _resolve_switch(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        switch = info.field_name
        if cls.label is None:  # unknown kind: nothing to judge the switch by
            return value
        supported = switch in cls.supported_features
        if value is None:
            return supported and switch not in cls.features_off_by_default
        if value and not supported:
            raise ValueError(f"the {cls.label} integration does not support {switch}")
        return value

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

    def feature(self, switch: str) -> bool:
        """Whether a feature switch is on (validation already resolved it)."""
        if switch not in FEATURE_SWITCHES:
            raise KeyError(f"unknown feature switch {switch!r}")
        return bool(getattr(self, switch))
