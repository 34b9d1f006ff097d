"""``EntryDateField``: when a request was entered, read from the reply.

The importer compares entry dates itself (public examples filter with no
ordering operator), so it must read them. The public record does not show
their format: ISO 8601 (with or without an offset; read as UTC without one)
and .NET's ``/Date(ms)/`` are read, anything else is a ``VendorFormatError``
naming the value, so the importer stops with a reason instead of guessing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from ..http import VendorFormatError
from .client import SYSTEM

ENTRY_DATE_FIELD = "EntryDateField"
_DOTNET = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def entry_time(value: Any) -> datetime | None:
    """The entry date as an aware UTC datetime; None when the record has none."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if match := _DOTNET.match(text):
        return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise VendorFormatError(
            f"{ENTRY_DATE_FIELD} {text[:60]!r} is not a date Crosswalk can read "
            "(ISO 8601 or /Date(ms)/)",
            system=SYSTEM,
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
