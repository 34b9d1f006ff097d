"""Validated value types the configuration models share (pydantic).

Split from ``settings`` so that ``settings`` (an integration's keys) and
``rule_settings`` (one rule's keys) both build on them without importing
each other. Secrets are never configuration values: only the *names* of the
environment variables that hold them (``EnvVarName``).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

Environment = Literal["test", "production"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

# Names of parameters that carry a credential: ending in one of these words
# (access_token, client_secret, x-api-key), or exactly sig, key or auth.
# (integrations.http masks their values in error text.)
SECRET_PARAM_NAME = (
    r"(?:[a-z0-9_-]*(?:token|password|passwd|pwd|secret|api_?key|signature)|sig|key|auth)"
)
_SECRET_PARAM = re.compile(rf"(?i){SECRET_PARAM_NAME}")
# Where cloud metadata services answer (AWS, Azure, GCP, Oracle: the
# link-local 169.254.169.254; AWS over IPv6; Alibaba): a URL there would hand
# the instance's own credentials to whoever wrote the file, through error text.
_METADATA_NAMES = frozenset({"metadata.google.internal", "metadata.goog", "metadata"})
_METADATA_NETWORKS = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fd00:ec2::254/128"),
    ipaddress.ip_network("100.100.100.200/32"),
)
_IPV4_ANY_FORM = re.compile(r"(?i)[0-9a-fx.]+")  # 2852039166, 0xA9FEA9FE, 169.254.43518


def check_url(value: str) -> str:
    """An http(s) URL the hub may send credentials to: no user:password in it, no
    credential in its query string (both end up in the database and, through
    vendor error text, on issue pages), and not a cloud metadata address."""
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # "http://[::1", "http://host:99999"
        raise ValueError("not a URL") from None
    if not parts.scheme or not parts.hostname or not port_ok:
        raise ValueError("not a URL")
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"only http and https URLs are used (got {parts.scheme}:)")
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("not a URL (it contains spaces or control characters)")
    if "@" in parts.netloc:
        raise ValueError(
            "a URL may not hold a user name or password: secrets are read from environment "
            "variables (username_env, password_env, token_env)"
        )
    check_query(parts.query)
    if _is_metadata_host(parts.hostname):
        raise ValueError(f"{parts.hostname} is where cloud metadata services answer, not an API")
    return value.rstrip("/")


def check_query(query: str) -> None:
    """Refuse a query string that carries a credential (``?access_token=...``)."""
    for name, _ in parse_qsl(query, keep_blank_values=True):
        if _SECRET_PARAM.fullmatch(name):
            raise ValueError(
                f"a URL may not hold a credential ({name}=...): secrets are read from "
                "environment variables (token_env, password_env)"
            )


def _is_metadata_host(host: str) -> bool:
    host = host.rstrip(".").lower()
    if host in _METADATA_NAMES:
        return True
    address = _ip_address(host)
    return address is not None and any(address in net for net in _METADATA_NETWORKS)


def _ip_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` names literally, in any form a resolver accepts
    (inet_aton reads 2852039166 and 0xA9FEA9FE as 169.254.169.254)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not _IPV4_ANY_FORM.fullmatch(host):
            return None
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


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
# The lengths match the columns that store them (Integration.name String(100),
# Category.remote_id String(200)): a longer value could never be stored.
Slug = Annotated[str, Field(max_length=100), AfterValidator(check_slug)]
# (The constraints come before the BeforeValidator so that pydantic checks them
# as a string's: "at most 200 characters", not "items".)
RemoteId = Annotated[str, Field(min_length=1, max_length=200), BeforeValidator(_to_str)]
Message = Annotated[str, Field(min_length=1, max_length=4000)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
