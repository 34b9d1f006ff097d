"""One HTTP layer for every vendor client.

It turns transport failures and vendor replies into the errors of
``integrations.errors`` so the sync engine can retry what is transient and
record what is not. Retrying itself is *not* done here: RQ retries whole jobs
with growing intervals, and retrying at two levels would multiply the calls a
struggling vendor receives.

Error messages end up on issue pages and in the database, so every text built
here goes through :func:`redact`: URLs lose their query string and any
user:password, and token-like values are masked, whatever the vendor echoed.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from .config_types import SECRET_PARAM_NAME
from .errors import PermanentError, RateLimitedError, TransientError

USER_AGENT = "Crosswalk/0.1 (+https://github.com/crosswalk-hub/crosswalk)"
DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read (seconds)
_SNIPPET = 300


class VendorFormatError(PermanentError):
    """The vendor answered, but not in the format its API documents (an id that
    must be a number is not one): the same call would get the same answer."""


class PagingLimitError(VendorFormatError):
    """A paged listing did not end within its page cap: the vendor keeps
    answering full pages (it ignores the offset, or its count grows forever)."""


def numeric_id(record: Mapping[str, Any], field: str, *, system: str, where: str) -> None:
    """Refuse a record whose ``field`` (Cartegraph ``Oid``, Lucity ``AutoNumber``) is
    present but not an integer: the engine sends it back in numeric filters and
    sorts by it, where text fails far from the reply that carried it."""
    value = record.get(field)
    if value in (None, ""):
        return  # a missing id is the caller's to judge (it may adopt by external id)
    if isinstance(value, int) and not isinstance(value, bool):
        return
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return
    raise VendorFormatError(
        f"{where}: {field} is not a number: {_snippet(repr(value), 60)}", system=system
    )


# -------------------------------------------------------------- redaction
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
# A query string left on a bare path (urllib3: "Max retries exceeded with url: /x?token=...").
_PATH_QUERY = re.compile(r"(/[^\s?'\"<>]*)\?[^\s'\"<>]*")
_SECRET_PARAM = re.compile(rf"(?i)\b({SECRET_PARAM_NAME})=([^&\s'\",;<>]+)")
_SECRET_JSON = re.compile(rf"(?i)([\"']{SECRET_PARAM_NAME}[\"']\s*:\s*)([\"'])[^\"']*\2")
_AUTH_HEADER = re.compile(r"(?i)\b(bearer|basic)\s+[a-z0-9._~+/=-]{8,}")
REDACTED = "[redacted]"


def safe_url(url: str) -> str:
    """``url`` without its query string, fragment and user:password."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # an unparsable port or host: keep only the scheme
        return url.split(":", 1)[0] + "://…"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return urlunsplit((parts.scheme, host + port, parts.path, "", ""))


def _safe_url_match(match: re.Match[str]) -> str:
    # Punctuation that ends a sentence ("...failed at https://h/x: boom") is
    # not part of the URL.
    url = match.group(0)
    kept = url.rstrip(".,;:!)]")
    return safe_url(kept) + url[len(kept) :]


def redact(text: str) -> str:
    """``text`` safe to show and store: URLs through :func:`safe_url`, query
    strings cut from bare paths, and token-like values masked."""
    text = _URL.sub(_safe_url_match, text)
    text = _PATH_QUERY.sub(r"\1", text)
    text = _SECRET_PARAM.sub(rf"\1={REDACTED}", text)
    text = _SECRET_JSON.sub(rf"\1\2{REDACTED}\2", text)
    return _AUTH_HEADER.sub(rf"\1 {REDACTED}", text)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def vendor_error_text(response: requests.Response) -> str:
    """The most useful human text from a vendor error body, whatever its shape.

    Knows the shapes of vendor-apis.md: Cartegraph ``{"Message","Errors":[...]}``,
    SeeClickFix ``{"errors":{field:[...]}}`` / ``{"request": ..}``, ArcGIS
    ``{"error":{"message","details"}}``, Open311 ``[{"code","description"}]``.
    Falls back to the start of the raw body.
    """
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return redact(_snippet(response.text) or response.reason or "no body")
    return redact(describe_error_body(body) or _snippet(response.text))


def describe_error_body(body: Any) -> str:
    parts: list[str] = []
    if isinstance(body, list):
        for item in body:
            if isinstance(item, Mapping) and item.get("description"):
                parts.append(str(item["description"]))
        return "; ".join(parts)
    if not isinstance(body, Mapping):
        return ""
    if body.get("Message"):
        parts.append(str(body["Message"]))
    for err in body.get("Errors") or []:
        if isinstance(err, Mapping):
            field = err.get("FieldName")
            msg = err.get("Message") or ""
            parts.append(f"{field}: {msg}" if field else str(msg))
    errors = body.get("errors")
    if isinstance(errors, Mapping):
        for field, msgs in errors.items():
            msgs = msgs if isinstance(msgs, list) else [msgs]
            parts.append(f"{field}: {', '.join(str(m) for m in msgs)}")
    error = body.get("error")
    if isinstance(error, Mapping):
        details = [str(d) for d in error.get("details") or []]
        parts.append(" ".join([str(error.get("message") or "")] + details).strip())
    for key in ("request", "message", "Message"):
        if isinstance(body.get(key), str) and body[key] not in parts:
            parts.append(body[key])
    return "; ".join(p for p in parts if p)


def _snippet(text: str, limit: int = _SNIPPET) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit] + "…"


class EnvironmentOnceSession(requests.Session):
    """A ``requests.Session`` that reads the environment's proxy and CA-bundle
    settings once per scheme and host instead of on every request.

    requests walks the whole of ``os.environ`` twice per request to find the
    proxies (``getproxies_environment``): on a busy worker that was a tenth
    of a push's CPU. The environment a process starts with does not change
    under it, and the answer depends only on the scheme and host (``NO_PROXY``
    matches hosts), so it is kept for the session's life."""

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[Any, ...], dict[str, Any]] = {}

    def merge_environment_settings(
        self, url: str | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        parts = urlsplit(url or "")
        key = (
            parts.scheme,
            parts.netloc,
            tuple(sorted((proxies or {}).items())),
            stream,
            verify,
            cert,
            self.trust_env,
            tuple(sorted(self.proxies.items())),
            self.stream,
            self.verify,
            self.cert,
        )
        found = self._environment.get(key)
        if found is None:
            found = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if len(self._environment) < 64:  # a handful of hosts per vendor
                self._environment[key] = found
        return {**found, "proxies": dict(found["proxies"] or {})}


class VendorHTTP:
    """A ``requests.Session`` bound to one vendor's base URL, raising our errors."""

    def __init__(
        self,
        system: str,
        base_url: str,
        *,
        auth: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        error_text: Callable[[requests.Response], str] = vendor_error_text,
    ) -> None:
        self.system = system
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or EnvironmentOnceSession()
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers.setdefault("Accept", "application/json")
        if headers:
            self.session.headers.update(headers)
        if auth is not None:
            self.session.auth = auth
        self.error_text = error_text

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, expect_json: bool = True, **kwargs: Any) -> Any:
        """Send one request; return the decoded JSON (or the response)."""
        kwargs.setdefault("timeout", self.timeout)
        url = self.url(path)
        where = f"{method} {safe_url(url)}"
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.Timeout as exc:
            raise TransientError(
                f"{where} timed out ({exc.__class__.__name__})", system=self.system
            ) from exc
        except requests.ConnectionError as exc:
            raise TransientError(
                f"{where}: could not connect ({redact(_snippet(str(exc)))})", system=self.system
            ) from exc
        except requests.RequestException as exc:
            raise PermanentError(
                f"{where}: {redact(_snippet(str(exc)))}", system=self.system
            ) from exc
        self.raise_for_status(response, method, url)
        if not expect_json:
            return response
        return self.decode_json(response, method, url)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def raise_for_status(self, response: requests.Response, method: str, url: str) -> None:
        status = response.status_code
        if status < 400:
            return
        text = redact(self.error_text(response))
        where = f"{method} {safe_url(url)}"
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise RateLimitedError(
                f"{where}: rate limited ({text})",
                system=self.system,
                status=status,
                vendor_text=text,
                retry_after=retry_after,
            )
        if status >= 500 or status == 408:
            raise TransientError(
                f"{where}: {text}",
                system=self.system,
                status=status,
                vendor_text=text,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        raise PermanentError(
            f"{where}: {text}", system=self.system, status=status, vendor_text=text
        )

    def decode_json(self, response: requests.Response, method: str, url: str) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            # A 2xx that is not JSON is usually a proxy or maintenance page:
            # worth retrying, and the reason names what came back.
            kind = response.headers.get("Content-Type", "no content type")
            raise TransientError(
                f"{method} {safe_url(url)}: reply is not JSON ({kind}): "
                f"{redact(_snippet(response.text))!r}",
                system=self.system,
                status=response.status_code,
            ) from exc
        except RecursionError:
            # Thousands of nested brackets: no API answers that.
            raise VendorFormatError(
                f"{method} {safe_url(url)}: reply is JSON nested too deeply to read",
                system=self.system,
                status=response.status_code,
            ) from None
