"""Validated value types the configuration models share (pydantic).

Split from ``settings`` so that ``settings`` (an integration's keys) and
``rule_settings`` (one rule's keys) both build on them without importing
each other. Secrets are never configuration values: only the *names* of the
environment variables that hold them (``EnvVarName``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

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
