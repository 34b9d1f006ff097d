"""Bad vendor replies, as data: each case is a name, the vendor and the call
made (a key of ``CALLS`` in the test), the reply every request gets, and the
error expected: an ``IntegrationError`` subclass whose text names the vendor
and says what was wrong, never a bare ``ValueError`` and never a credential.

Add a case by adding a line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests

from integrations.errors import (
    IntegrationError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from integrations.http import PagingLimitError, VendorFormatError

# A secret a vendor might echo back; no error text may contain it.
SECRET = "hunter2-s3cret"


@dataclass(frozen=True)
class Reply:
    """What the vendor answers to every request (``pages``: a listing)."""

    status: int = 200
    json: Any = None
    body: str | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    raises: Exception | None = None  # the transport fails instead
    pages: str | None = None  # "same": one full page forever; "endless": new full pages forever


@dataclass(frozen=True)
class VendorCase:
    name: str
    vendor: str  # "cartegraph" | "lucity"
    call: str  # the key of the call in test_vendor_corpus.CALLS
    reply: Reply
    error: type[IntegrationError]
    words: tuple[str, ...]


def cg_records(*records: dict[str, Any], total: int | None = None) -> Reply:
    """A Cartegraph envelope of requests (and comments and categories: the
    calls read the class they asked for, so each class gets the same records)."""
    envelope: dict[str, Any] = {
        name: list(records)
        for name in (
            "cgRequestsClass",
            "cgRequests_cgCommentsClass",
            "cgRequestIssuesClass",
            "cgRequestersClass",
        )
    }
    envelope["_metadata"] = {"totalCount": len(records) if total is None else total}
    return Reply(json=envelope)


def lucity_rows(*rows: Any) -> Reply:
    return Reply(json=list(rows))


def cg(name: str, call: str, reply: Reply, error: type[IntegrationError], *words: str):
    return VendorCase(name, "cartegraph", call, reply, error, words)


def lucity(name: str, call: str, reply: Reply, error: type[IntegrationError], *words: str):
    return VendorCase(name, "lucity", call, reply, error, words)


REQUEST = {
    "Oid": 5,
    "IDField": "R-5",
    "StatusField": "Open",
    "IssueField": "Pothole",
    "CommentField": "x",
    "ParentOid": 5,
}
ROW = {
    "AutoNumber": 1001,
    "RequestNumber": "R-1001",
    "StatusCode": 1,
    "Code": "WB",
    "CategoryCode": "SCF",
    "Comment": "x",
}
HTML = Reply(body="<html><body>Down for maintenance</body></html>", content_type="text/html")
DEEP = Reply(body="[" * 100_000 + "]" * 100_000)
ECHO_URL = f"https://vendor.example.gov/api?access_token={SECRET}&password={SECRET}"
CONNECTION_TEXT = (
    "HTTPSConnectionPool(host='vendor.example.gov', port=443): Max retries exceeded with "
    f"url: /api/v1/classes?token={SECRET} (Caused by NewConnectionError('refused'))"
)


def oid(value: Any) -> Reply:
    return cg_records({**REQUEST, "Oid": value})


def auto(value: Any) -> Reply:
    return lucity_rows({**ROW, "AutoNumber": value})


VENDOR_CASES: list[VendorCase] = [
    # -- Cartegraph: an Oid that is not a number -------------------------------------------
    cg("query: Oid text", "query", oid("abc"), VendorFormatError, "Oid is not a number: 'abc'"),
    cg("status poll: Oid text", "fetch_records", oid("12a"), VendorFormatError, "'12a'"),
    cg("adopt by external id: Oid text", "find", oid("5; DROP"), VendorFormatError, "Oid"),
    cg("category sync: Oid text", "categories", oid("x"), VendorFormatError, "Oid"),
    cg("comment import: Oid text", "comments", oid("x"), VendorFormatError, "Oid"),
    cg("create reply: Oid text", "create", oid("new"), VendorFormatError, "Oid"),
    cg("Oid true", "query", oid(True), VendorFormatError, "Oid is not a number: True"),
    cg("Oid a fraction", "query", oid(1.5), VendorFormatError, "1.5"),
    cg("Oid a list", "query", oid(["5"]), VendorFormatError, "['5']"),
    cg("Oid an object", "query", oid({"v": 5}), VendorFormatError, "Oid"),
    cg("Oid in Arabic-Indic digits", "query", oid("٥"), VendorFormatError, "Oid"),
    cg("Oid negative text", "query", oid("-5"), VendorFormatError, "'-5'"),
    cg(
        "Oid missing on a polled record",
        "fetch_records",
        cg_records({k: v for k, v in REQUEST.items() if k != "Oid"}),
        TransientError,
        "no Oid",
    ),
    # -- Cartegraph: not an envelope ------------------------------------------------------
    cg(
        "envelope a list",
        "query",
        Reply(json=[REQUEST]),
        TransientError,
        "expected a cgRequestsClass envelope, got list",
    ),
    cg(
        "envelope a string",
        "query",
        Reply(json="cgRequestsClass"),
        TransientError,
        "envelope, got str",
    ),
    cg(
        "records not a list",
        "query",
        Reply(json={"cgRequestsClass": {"Oid": 5}}),
        TransientError,
        "not a list of records",
    ),
    cg(
        "records strings",
        "query",
        Reply(json={"cgRequestsClass": ["5"]}),
        TransientError,
        "not a list of records",
    ),
    cg("HTML with status 200", "query", HTML, TransientError, "not JSON", "maintenance"),
    cg("JSON nested 100,000 deep", "query", DEEP, VendorFormatError, "nested too deeply"),
    # -- Cartegraph: errors --------------------------------------------------------------
    cg(
        "500 with a message",
        "query",
        Reply(500, json={"Message": "Database unavailable"}),
        TransientError,
        "HTTP 500",
        "Database unavailable",
    ),
    cg(
        "401",
        "query",
        Reply(401, json={"Message": "Authentication Required for API Access."}),
        PermanentError,
        "HTTP 401",
        "Authentication Required",
    ),
    cg(
        "400 naming a field",
        "create",
        Reply(
            400,
            json={
                "Message": "Invalid",
                "Errors": [{"FieldName": "IssueField", "Message": "not valid"}],
            },
        ),
        PermanentError,
        "IssueField: not valid",
    ),
    cg(
        "429",
        "query",
        Reply(429, json={"Message": "slow down"}, headers={"Retry-After": "7"}),
        RateLimitedError,
        "rate limited",
    ),
    cg(
        "500 echoing a URL with credentials",
        "query",
        Reply(500, json={"Message": ECHO_URL}),
        TransientError,
        "https://vendor.example.gov/api",
    ),
    cg(
        "400 echoing password=",
        "create",
        Reply(400, json={"Message": f"bad login password={SECRET} for user"}),
        PermanentError,
        "password=[redacted]",
    ),
    cg(
        "502 echoing a bearer token",
        "query",
        Reply(502, body=f"Authorization: Bearer {SECRET} rejected", content_type="text/plain"),
        TransientError,
        "Bearer [redacted]",
    ),
    cg(
        "connection error naming a URL with a token",
        "query",
        Reply(raises=requests.ConnectionError(CONNECTION_TEXT)),
        TransientError,
        "could not connect",
        "/api/v1/classes",
    ),
    # -- Cartegraph: a listing that never ends ------------------------------------------
    cg(
        "the same page forever (offset ignored)",
        "query",
        Reply(pages="same"),
        PagingLimitError,
        "repeats the one before it",
    ),
    cg(
        "new full pages forever",
        "fetch_records",
        Reply(pages="endless"),
        PagingLimitError,
        "after 1000 pages",
    ),
    # -- Lucity: an AutoNumber that is not a number -----------------------------------------
    lucity(
        "query: AutoNumber text",
        "query",
        auto("abc"),
        VendorFormatError,
        "AutoNumber is not a number: 'abc'",
    ),
    lucity("status poll: AutoNumber text", "fetch_records", auto("x1"), VendorFormatError, "'x1'"),
    lucity(
        "adopt by external id: AutoNumber text",
        "find",
        auto("n/a"),
        VendorFormatError,
        "AutoNumber",
    ),
    lucity(
        "comment import: AutoNumber text", "comments", auto("x"), VendorFormatError, "AutoNumber"
    ),
    # -- Lucity: the problem-code lookup ([{CodeValue, TypeValue}]) -------------------------
    # A row without a code fails the sync: skipped, it would disable the category.
    lucity(
        "category sync: lookup row without CodeValue",
        "categories",
        lucity_rows({"TypeValue": "Water Main Break"}),
        VendorFormatError,
        "has no CodeValue",
    ),
    lucity(
        "category sync: CodeValue a list",
        "categories",
        lucity_rows({"CodeValue": ["WB"], "TypeValue": "Water Main Break"}),
        VendorFormatError,
        "has no CodeValue",
    ),
    lucity(
        "category sync: CodeValue blank",
        "categories",
        lucity_rows({"CodeValue": " ", "TypeValue": "Water Main Break"}),
        VendorFormatError,
        "has no CodeValue",
    ),
    lucity(
        "category sync: lookup an object",
        "categories",
        Reply(json={"CodeValue": "WB", "TypeValue": "Water Main Break"}),
        TransientError,
        "expected a list of lookup rows, got dict",
    ),
    lucity(
        "category sync: lookup rows not objects",
        "categories",
        lucity_rows("WB", "HYD"),
        TransientError,
        "expected a list of lookup rows",
    ),
    lucity(
        "create reply: AutoNumber text",
        "create",
        Reply(json={"AutoNumber": "new", "RequestNumber": "R-1"}),
        VendorFormatError,
        "AutoNumber is not a number: 'new'",
    ),
    lucity("AutoNumber true", "query", auto(True), VendorFormatError, "True"),
    lucity("AutoNumber a fraction", "query", auto(10.5), VendorFormatError, "10.5"),
    lucity("AutoNumber a list", "query", auto([1]), VendorFormatError, "[1]"),
    lucity("AutoNumber with spaces", "query", auto(" 1001 "), VendorFormatError, "' 1001 '"),
    # -- Lucity: not a list, errors --------------------------------------------------------
    lucity(
        "list reply an object",
        "query",
        Reply(json={"AutoNumber": 1}),
        TransientError,
        "expected a list, got dict",
    ),
    lucity(
        "list reply a string",
        "query",
        Reply(json="rows"),
        TransientError,
        "expected a list, got str",
    ),
    lucity("HTML with status 200", "query", HTML, TransientError, "not JSON"),
    lucity("JSON nested 100,000 deep", "query", DEEP, VendorFormatError, "nested too deeply"),
    lucity(
        "500",
        "query",
        Reply(500, body="Internal Server Error", content_type="text/plain"),
        TransientError,
        "HTTP 500",
    ),
    lucity(
        "401",
        "query",
        Reply(401, body="Unauthorized", content_type="text/plain"),
        PermanentError,
        "HTTP 401",
    ),
    lucity(
        "429",
        "query",
        Reply(429, body="Too many", content_type="text/plain"),
        RateLimitedError,
        "rate limited",
    ),
    lucity(
        "400 echoing Basic credentials",
        "query",
        Reply(
            400,
            body="bad header Authorization: Basic Y3Jvc3N3YWxrOmh1bnRlcjItczNjcmV0",
            content_type="text/plain",
        ),
        PermanentError,
        "Basic [redacted]",
    ),
    lucity(
        "500 echoing a URL with credentials",
        "create",
        Reply(500, json={"message": ECHO_URL}),
        TransientError,
        "https://vendor.example.gov/api",
    ),
    lucity("create reply not JSON", "create", HTML, TransientError, "not JSON"),
    # -- Lucity: a listing that never ends -----------------------------------------------
    lucity(
        "the same page forever (SKIP ignored)",
        "query",
        Reply(pages="same"),
        PagingLimitError,
        "repeats the one before it",
    ),
    lucity(
        "new full pages forever",
        "query",
        Reply(pages="endless"),
        PagingLimitError,
        "after 1000 pages",
    ),
]


# -- SeeClickFix: issues in the CRM poll's reply ---------------------------------------
@dataclass(frozen=True)
class CrmIssueCase:
    """An issue of the poll's reply the database cannot take: recorded as an
    ``ingest_failed`` event naming ``field``, skipped, nothing else stored."""

    name: str
    changes: dict[str, Any]  # over a good issue (None: the key left out)
    field: str


MAX_INT = 2**31 - 1
CRM_POLL_CASES: list[CrmIssueCase] = [
    CrmIssueCase("id 2^31", {"id": MAX_INT + 1}, "id"),
    CrmIssueCase("id 2^63", {"id": 2**63}, "id"),
    CrmIssueCase("id zero", {"id": 0}, "id"),
    CrmIssueCase(
        "request type id 2^31",
        {"request_type": {"id": MAX_INT + 1, "title": "P"}},
        "request_type.id",
    ),
    CrmIssueCase(
        "comment id 2^31", {"comments": [{"id": MAX_INT + 1, "comment": "hi"}]}, "comments[0].id"
    ),
    CrmIssueCase("lat NaN", {"lat": float("nan")}, "lat"),
    CrmIssueCase("lat 'NaN'", {"lat": "NaN"}, "lat"),
    CrmIssueCase("lat infinite", {"lat": float("inf")}, "lat"),
    CrmIssueCase("lat 91", {"lat": 91}, "lat"),
    CrmIssueCase("lng -181", {"lng": -181}, "lng"),
    CrmIssueCase("status unknown", {"status": "Pending"}, "status"),
    CrmIssueCase("questions an object", {"questions": {"a": 1}}, "questions"),
    # (A comment without an id is the documented shape: accepted, not a case here.)
    CrmIssueCase(
        "commenter id text",
        {"comments": [{"comment": "hi", "commenter": {"id": "x"}}]},
        "comments[0].commenter.id",
    ),
    CrmIssueCase(
        "closed_at past year 9999 in UTC", {"closed_at": "9999-12-31T23:00:00-05:00"}, "closed_at"
    ),
]
