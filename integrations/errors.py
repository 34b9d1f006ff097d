"""Errors every integration raises, so the sync engine can decide what to do
without knowing which vendor spoke.

- ``TransientError``: worth retrying later (5xx, timeouts, connection errors,
  429, a garbled reply from a proxy). ``retry_after`` carries the vendor's
  ``Retry-After`` when it sent one.
- ``PermanentError``: retrying the same request cannot help (4xx, a record the
  vendor refuses); the issue is marked failed with the vendor's text.
- ``IntegrationConfigError``: the agency's configuration is wrong or
  incomplete (a missing secret, an unknown kind).
"""

from __future__ import annotations


class IntegrationError(Exception):
    """Base class: ``system`` names the vendor, ``status`` the HTTP status."""

    def __init__(
        self,
        message: str,
        *,
        system: str = "",
        status: int | None = None,
        vendor_text: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.system = system
        self.status = status
        self.vendor_text = vendor_text

    def __str__(self) -> str:
        prefix = f"{self.system}: " if self.system else ""
        status = f"HTTP {self.status}: " if self.status else ""
        return f"{prefix}{status}{self.message}"


class TransientError(IntegrationError):
    """The call may succeed later; ``retry_after`` is in seconds when known."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class RateLimitedError(TransientError):
    """HTTP 429: the vendor asked us to slow down."""


class PermanentError(IntegrationError):
    """The vendor refused the request; the same call will fail again."""


class IntegrationConfigError(IntegrationError):
    """The configuration (or the environment it names) is unusable."""


class NotSupportedError(IntegrationConfigError):
    """The integration kind does not offer this feature."""
