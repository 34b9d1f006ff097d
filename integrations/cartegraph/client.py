"""HTTP access to OpenGov EAM (Cartegraph): the ``/classes/{Class}`` records API.

Knows the wire format and nothing of the sync: the record envelope
``{"<Class>": [...], "_metadata": {"totalCount": N, ...}}``, filtered queries
followed across ``offset`` pages, and create/update calls with the same
envelope. The connector (``connector.py``) maps records; this client moves
them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import requests

from ..base import Credentials
from ..errors import TransientError
from ..http import VendorHTTP
from .settings import CartegraphSettings

SYSTEM = "Cartegraph"
# The documented default page size of a class query.
DEFAULT_LIMIT = 1000


class CartegraphClient:
    """One agency's Cartegraph server, over HTTP Basic."""

    def __init__(
        self,
        settings: CartegraphSettings,
        credentials: Credentials,
        session: requests.Session | None = None,
    ) -> None:
        auth = (credentials.username, credentials.password or "") if credentials.username else None
        self.http = VendorHTTP(
            SYSTEM, settings.endpoint, auth=auth, session=session, timeout=settings.timeout
        )

    @staticmethod
    def records(body: Any, class_name: str) -> list[dict[str, Any]]:
        """The records of a ``{"<Class>": [...], "_metadata": ...}`` envelope.

        Anything that is not an envelope is a proxy or maintenance page rather
        than Cartegraph's answer: worth retrying (TransientError)."""
        if not isinstance(body, Mapping):
            raise TransientError(
                f"expected a {class_name} envelope, got {type(body).__name__}", system=SYSTEM
            )
        records = body.get(class_name)
        if records is None:
            return []
        if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
            raise TransientError(
                f"{class_name} in the reply is not a list of records", system=SYSTEM
            )
        return [dict(r) for r in records]

    def query(
        self, class_name: str, filter_expr: str | None = None, *, limit: int = DEFAULT_LIMIT
    ) -> list[dict[str, Any]]:
        """Every record of ``class_name`` matching ``filter_expr`` (all when None),
        following offset paging until ``totalCount``."""
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            params: dict[str, Any] = {"limit": limit, "offset": offset}
            if filter_expr:
                params["filter"] = filter_expr
            body = self.http.get(f"classes/{class_name}", params=params)
            page = self.records(body, class_name)
            found.extend(page)
            total = (body.get("_metadata") or {}).get("totalCount")
            offset += limit
            if not page or not isinstance(total, int) or offset >= total:
                return found

    def create(self, class_name: str, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Create records; return those the reply shows with their ``Oid``.

        The create reply is not documented publicly: an empty list means the
        reply did not say, not that nothing was created (the caller looks the
        record up by a field it wrote)."""
        body = self.http.post(f"classes/{class_name}", json={class_name: list(records)})
        try:
            returned = self.records(body, class_name)
        except TransientError:
            return []
        return [r for r in returned if r.get("Oid") not in (None, "")]

    def update(self, class_name: str, records: Sequence[Mapping[str, Any]]) -> None:
        """Change the fields given on each record (each carries its ``Oid``)."""
        self.http.put(f"classes/{class_name}", json={class_name: list(records)})
