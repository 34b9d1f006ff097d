"""HTTP access to Lucity: the citizen API (no auth) and the internal REST API
(HTTP Basic), always ``format=json``, lists paged with TAKE/SKIP."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import requests

from ..base import Credentials
from ..errors import TransientError
from ..http import PagingLimitError, VendorHTTP, numeric_id
from .settings import LucitySettings

SYSTEM = "Lucity"
# A query reads at most this many pages (50,000 rows at the default TAKE of
# 50): a server that never ends its listing fails the job with a reason in
# seconds, instead of paging until the job's timeout kills it unexplained.
MAX_PAGES = 1000


def sql_literal(value: Any) -> str:
    """A FILTER literal: numbers as they are, text quoted with '' for a quote."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def sql_in(column: str, values: Iterable[Any]) -> str:
    return f"{column} IN ({', '.join(sql_literal(v) for v in values)})"


class LucityClient:
    def __init__(
        self,
        settings: LucitySettings,
        credentials: Credentials,
        session: requests.Session | None = None,
    ) -> None:
        self.settings = settings
        self.citizen = VendorHTTP(
            SYSTEM, settings.endpoint, session=session, timeout=settings.timeout
        )
        auth = (credentials.username, credentials.password or "") if credentials.username else None
        self.internal = VendorHTTP(
            SYSTEM,
            settings.internal_endpoint,
            auth=auth,
            session=session,
            timeout=settings.timeout,
        )

    def path(self, name: str, auto: Any = None) -> str:
        template = getattr(self.settings.paths, name)
        return template.format(auto=auto) if auto is not None else template

    @staticmethod
    def params(**extra: Any) -> dict[str, Any]:
        return {"format": "json", **{k: v for k, v in extra.items() if v is not None}}

    def query(
        self, path: str, filter_expr: str | None = None, *, at_most: int | None = None
    ) -> list[dict[str, Any]]:
        """Every row matching ``filter_expr``, TAKE at a time (SKIP a multiple of TAKE).

        ``at_most``: the caller knows no more rows can match (a filter on that
        many ids), so a full page ends the query instead of asking for an
        empty next one."""
        take = self.settings.take
        rows: list[dict[str, Any]] = []
        previous: list[Any] | None = None
        for number in range(MAX_PAGES):
            skip = number * take
            page = self.internal.get(
                path, params=self.params(FILTER=filter_expr, TAKE=take, SKIP=skip)
            )
            if not isinstance(page, list):
                raise TransientError(
                    f"{path}: expected a list, got {type(page).__name__}", system=SYSTEM
                )
            if page and page == previous:
                raise PagingLimitError(
                    f"{path}: the page at SKIP={skip} repeats the one before it: "
                    "the server ignores SKIP, so the listing would never end",
                    system=SYSTEM,
                )
            rows.extend(self.checked(r, path) for r in page if isinstance(r, dict))
            if len(page) < take or (at_most is not None and len(rows) >= at_most):
                return rows
            previous = page
        raise PagingLimitError(
            f"{path}: still full pages after {MAX_PAGES} pages of {take}: stopped; "
            "the server does not end its listing",
            system=SYSTEM,
        )

    @staticmethod
    def checked(row: Any, path: str) -> Any:
        """``row`` (a reply record) once its ``AutoNumber``, if any, is a number:
        the engine filters and sorts on it (``RQ_ID IN (...)``)."""
        if isinstance(row, dict):
            numeric_id(row, "AutoNumber", system=SYSTEM, where=f"a record from {path}")
        return row

    def post_json(self, http: VendorHTTP, path: str, body: dict, **params: Any) -> Any:
        return self.checked(http.post(path, params=self.params(**params), json=body), path)

    def put_json(self, path: str, body: dict) -> Any:
        return self.checked(self.internal.put(path, params=self.params(), json=body), path)
