"""HTTP access to Lucity: the citizen API (no auth) and the internal REST API
(HTTP Basic), always ``format=json``, lists paged with TAKE/SKIP in an
explicit order."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import requests

from ..base import Credentials, Photo
from ..errors import TransientError
from ..http import PagingLimitError, VendorHTTP, numeric_id, redact, vendor_error_text
from .settings import LucitySettings

SYSTEM = "Lucity"
# A query reads at most this many pages (50,000 rows at the default TAKE of
# 50): a server that never ends its listing fails the job with a reason in
# seconds, instead of paging until the job's timeout kills it unexplained.
MAX_PAGES = 1000
# Lucity lists newest first unless told otherwise (REST help, "Query
# Parameters": ORDERBY is "the property or field name that the data should be
# sorted by. This is the Autonumber property by default (descending order)").
# Paged newest first, a record added during a scan pushes every later page
# down one row: rows repeat and the new one is never read. Oldest first, new
# records land at the end, where the scan still reaches them.
ORDER_OLDEST_FIRST = "AutoNumber ASC"
# The multipart field of the citizen media endpoint (the vendor's citizen sample).
UPLOAD_FIELD = "FileToUpload"


# Details an ASP.NET Web API error body may add to its "Message" (the public
# record does not show Lucity's error body; ASP.NET's is the likely shape).
ERROR_DETAILS = ("ExceptionMessage", "MessageDetail")


def lucity_error_text(response: requests.Response) -> str:
    """The vendor's words: the shared reading of the body, plus the detail an
    ASP.NET error carries ("The request is invalid." alone names no column)."""
    text = vendor_error_text(response)
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return text
    if not isinstance(body, dict):
        return text
    details = [str(body[k]) for k in ERROR_DETAILS if body.get(k) and str(body[k]) not in text]
    return redact("; ".join([text, *details])) if details else text


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
            SYSTEM,
            settings.endpoint,
            session=session,
            timeout=settings.timeout,
            error_text=lucity_error_text,
        )
        auth = (credentials.username, credentials.password or "") if credentials.username else None
        self.internal = VendorHTTP(
            SYSTEM,
            settings.internal_endpoint,
            auth=auth,
            session=session,
            timeout=settings.timeout,
            error_text=lucity_error_text,
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
            page = self.internal.get(path, params=self.page_params(filter_expr, take, skip))
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

    def page_params(self, filter_expr: str | None, take: int, skip: int) -> dict[str, Any]:
        return self.params(FILTER=filter_expr, ORDERBY=ORDER_OLDEST_FIRST, TAKE=take, SKIP=skip)

    def first_row(self, path: str, filter_expr: str | None = None) -> dict[str, Any] | None:
        """One row (``TAKE=1``) matching ``filter_expr``, for the preflight: a
        single read that proves the path, the table and the columns exist."""
        page = self.internal.get(path, params=self.page_params(filter_expr, 1, 0))
        if not isinstance(page, list):
            raise TransientError(
                f"{path}: expected a list, got {type(page).__name__}", system=SYSTEM
            )
        return self.checked(page[0], path) if page and isinstance(page[0], dict) else None

    def lookup(self, path: str) -> list[dict[str, Any]]:
        """A citizen-API lookup list (``[{"CodeValue", "TypeValue"}]``), read in one
        call as the vendor's citizen sample reads it."""
        rows = self.citizen.get(path, params=self.params())
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise TransientError(
                f"{path}: expected a list of lookup rows, got {type(rows).__name__}",
                system=SYSTEM,
            )
        return rows

    def upload(self, path: str, photo: Photo) -> None:
        """``photo`` as ``multipart/form-data`` in ``FileToUpload`` on the citizen API.

        Any 2xx is success, whatever its body: the reply of the media endpoint is
        not documented, and reading a non-JSON success as a failure would upload
        the photo again on the retry."""
        self.citizen.post(
            path,
            params=self.params(),
            files={UPLOAD_FIELD: (photo.filename, photo.content, photo.content_type)},
            expect_json=False,
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
