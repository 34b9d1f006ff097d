"""HTTP access to OpenGov EAM (Cartegraph): the ``/classes/{Class}`` records API.

Knows the wire format and nothing of the sync: the record envelope
``{"<Class>": [...], "_metadata": {"totalCount": N, ...}}``, filtered queries
followed across ``offset`` pages, and create/update calls with the same
envelope. The connector (``connector.py``) maps records; this client moves
them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from ..base import Credentials
from ..errors import TransientError
from ..http import PagingLimitError, VendorHTTP, numeric_id
from .settings import CartegraphSettings

SYSTEM = "Cartegraph"
# The documented default page size of a class query.
DEFAULT_LIMIT = 1000
# A query reads at most this many pages (a million records at the default
# limit): a server that never ends its listing fails the job with a reason in
# seconds, instead of paging until the job's timeout kills it unexplained.
MAX_PAGES = 1000


@dataclass(frozen=True)
class Sample:
    """What a ``limit=1`` read found: the record (if any) and ``totalCount``."""

    records: list[dict[str, Any]]
    total: int | None


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
        than Cartegraph's answer: worth retrying (TransientError). A record
        whose ``Oid`` is not a number is Cartegraph's answer all the same, in
        a format no call can use: ``VendorFormatError``."""
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
        for record in records:
            numeric_id(record, "Oid", system=SYSTEM, where=f"a {class_name} record")
        return [dict(r) for r in records]

    @staticmethod
    def total_count(body: Mapping[str, Any]) -> int | None:
        """``_metadata.totalCount``, when the reply carries a usable one."""
        metadata = body.get("_metadata")
        total = metadata.get("totalCount") if isinstance(metadata, Mapping) else None
        return total if isinstance(total, int) and not isinstance(total, bool) else None

    def pages(
        self,
        path: str,
        class_name: str,
        filter_expr: str | None = None,
        *,
        sort: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Iterator[list[dict[str, Any]]]:
        """The pages of a listing at ``path`` (``classes/{Class}`` or a child
        path ``classes/{Class}/{Oid}/{Child}``) whose envelope holds
        ``class_name``, following ``offset`` until ``totalCount``, for at most
        ``MAX_PAGES``. A caller that has read enough simply stops iterating."""
        previous: list[dict[str, Any]] | None = None
        total: int | None = None
        for number in range(MAX_PAGES):
            offset = number * limit
            params: dict[str, Any] = {"limit": limit, "offset": offset}
            if filter_expr:
                params["filter"] = filter_expr
            if sort:
                params["sort"] = sort
            body = self.http.get(path, params=params)
            page = self.records(body, class_name)
            total = self.total_count(body)
            if page and page == previous:
                raise PagingLimitError(
                    f"{class_name}: the page at offset {offset} repeats the one before it: "
                    "the server ignores the offset, so the listing would never end",
                    system=SYSTEM,
                )
            yield page
            if not page or total is None or offset + limit >= total:
                return
            previous = page
        raise PagingLimitError(
            f"{class_name}: still more records after {MAX_PAGES} pages of {limit} "
            f"(totalCount {total}): stopped; the server does not end its listing",
            system=SYSTEM,
        )

    def query(
        self,
        class_name: str,
        filter_expr: str | None = None,
        *,
        limit: int = DEFAULT_LIMIT,
        sort: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every record of ``class_name`` matching ``filter_expr`` (all when None)."""
        pages = self.pages(f"classes/{class_name}", class_name, filter_expr, sort=sort, limit=limit)
        return [record for page in pages for record in page]

    def children(
        self, class_name: str, oid: str | int, child_class: str, *, limit: int = DEFAULT_LIMIT
    ) -> list[dict[str, Any]]:
        """Every record of ``child_class`` under one record, at the documented
        child path ``classes/{Class}/{Oid}/{ChildClass}``."""
        path = f"classes/{class_name}/{oid}/{child_class}"
        return [record for page in self.pages(path, child_class, limit=limit) for record in page]

    def sample(
        self,
        path: str,
        class_name: str,
        *,
        fields: Sequence[str] = (),
        filter_expr: str | None = None,
        sort: str | None = None,
    ) -> Sample:
        """One record of a listing (``limit=1``), asking for ``fields`` by name,
        with ``filter_expr`` and ``sort``: the preflight's probe of the names an
        agency configured. Reads only."""
        params: dict[str, Any] = {"limit": 1, "offset": 0}
        if fields:
            params["fields"] = ",".join(dict.fromkeys(fields))
        if filter_expr:
            params["filter"] = filter_expr
        if sort:
            params["sort"] = sort
        body = self.http.get(path, params=params)
        return Sample(self.records(body, class_name), self.total_count(body))

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
