"""Every case of ``vendor_cases``: the client or connector, over HTTP mocked
with ``responses`` (no Flask, no database: these layers write nothing), raises
the expected ``IntegrationError`` subclass, naming the vendor and what was
wrong, with no credential in its text."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from integrations.base import Connector, OutboundRequest, Requester
from integrations.cartegraph import CartegraphConnector, CartegraphSettings
from integrations.cartegraph.client import MAX_PAGES as CG_MAX_PAGES
from integrations.lucity.client import MAX_PAGES as LUCITY_MAX_PAGES
from integrations.lucity.connector import LucityWorkRequestConnector
from integrations.lucity.settings import LucityWorkRequestSettings
from tests.corpus.vendor_cases import REQUEST, ROW, SECRET, VENDOR_CASES, Reply, VendorCase

CG_BASE = "https://cg.example.gov/cartegraph/api/v1"
LUCITY_BASE = "https://eam.example.gov/LucityCitizenRestAPI"
LUCITY_INTERNAL = "https://eam.example.gov/LucityWebAPI"
LUCITY_TAKE = 5


def cartegraph() -> CartegraphConnector:
    settings = CartegraphSettings.model_validate(
        {
            "name": "public-works",
            "kind": "cartegraph",
            "endpoints": {"test": CG_BASE},
            "username_env": "CG_USER",
            "password_env": "CG_PASSWORD",
        }
    )
    return CartegraphConnector(settings, environ={"CG_USER": "crosswalk", "CG_PASSWORD": SECRET})


def lucity() -> LucityWorkRequestConnector:
    settings = LucityWorkRequestSettings.model_validate(
        {
            "name": "water",
            "kind": "lucity-work-requests",
            "endpoints": {"test": LUCITY_BASE},
            "internal_endpoints": {"test": LUCITY_INTERNAL},
            "username_env": "LUCITY_USER",
            "password_env": "LUCITY_PASSWORD",
            "take": LUCITY_TAKE,
        }
    )
    environ = {"LUCITY_USER": "crosswalk", "LUCITY_PASSWORD": SECRET}
    return LucityWorkRequestConnector(settings, environ=environ)


def outbound() -> OutboundRequest:
    return OutboundRequest(
        crm_issue_id=42,
        category_remote_id="Pothole",
        summary="Pothole",
        description="Deep",
        lat=41.3,
        lng=-72.92,
        reported_address="1 Elm St",
        verified_address=None,
        image_url=None,
        requester=Requester(email="r@example.com"),
    )


CONNECTORS: dict[str, Callable[[], Connector]] = {"cartegraph": cartegraph, "lucity": lucity}
CALLS: dict[str, Callable[[Any], Any]] = {
    "query": lambda c: c.client.query(
        "cgRequestsClass" if isinstance(c, CartegraphConnector) else "Work/Requests.svc/"
    ),
    "fetch_records": lambda c: c.fetch_records(["5"]),
    "find": lambda c: c.find_by_external_id(42),
    "categories": lambda c: c.fetch_categories(),
    "comments": lambda c: c.fetch_comments(["5"]),
    "create": lambda c: c.create_request(outbound()),
}


# -- the vendor's side ----------------------------------------------------------------
def _listing(reply: Reply, url: str) -> tuple[int, dict, str]:
    """A listing that never ends: the same full page, or new full pages."""
    query = parse_qs(urlsplit(url).query)
    if "TAKE" in query:  # Lucity: TAKE/SKIP
        take, skip = int(query["TAKE"][0]), int(query["SKIP"][0])
        first = 0 if reply.pages == "same" else skip
        rows = [{**ROW, "AutoNumber": first + i + 1} for i in range(take)]
        return 200, {}, json.dumps(rows)
    limit, offset = int(query["limit"][0]), int(query["offset"][0])
    first = 0 if reply.pages == "same" else offset
    records = [{**REQUEST, "Oid": first + i + 1} for i in range(limit)]
    return 200, {}, json.dumps({"cgRequestsClass": records, "_metadata": {"totalCount": 10**9}})


def serve(reply: Reply) -> None:
    """Answer every request to either vendor with ``reply``."""
    anything = re.compile(r"https://(cg|eam)\.example\.gov/.*")
    for method in (responses.GET, responses.POST, responses.PUT):
        if reply.raises is not None:
            responses.add(method, anything, body=reply.raises)
            continue

        def answer(request, reply=reply):
            if reply.pages:
                return _listing(reply, request.url)
            body = reply.body if reply.body is not None else json.dumps(reply.json)
            return reply.status, {"Content-Type": reply.content_type, **reply.headers}, body

        responses.add_callback(method, anything, callback=answer)


@pytest.mark.parametrize("case", VENDOR_CASES, ids=lambda case: f"{case.vendor}: {case.name}")
@responses.activate
def test_bad_vendor_reply_is_a_named_integration_error(case: VendorCase):
    serve(case.reply)
    connector = CONNECTORS[case.vendor]()
    with pytest.raises(case.error) as info:
        CALLS[case.call](connector)
    error = info.value
    assert type(error) is case.error, repr(error)
    text = str(error)
    assert text.startswith(f"{connector.system}: "), text
    for words in case.words:
        assert words in text, text
    assert SECRET not in text and SECRET not in (error.vendor_text or "")
    # A listing that never ends stops at its cap, not at the job's timeout.
    cap = CG_MAX_PAGES if case.vendor == "cartegraph" else LUCITY_MAX_PAGES
    assert len(responses.calls) <= cap
