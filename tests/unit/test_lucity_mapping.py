"""Lucity mapping that needs no server: the requester's names, the problem-code
lookup rows, and the vendor's words in an error."""

from __future__ import annotations

import json

import pytest
import requests

from integrations.base import Requester
from integrations.http import VendorFormatError
from integrations.lucity.client import lucity_error_text
from integrations.lucity.connector import _problem_code, requestor_names

DEFAULTS = {"default_first": "SeeClickFix", "default_last": "User"}


@pytest.mark.parametrize(
    "first, last, reporter, expected",
    [
        ("Ada", "Lovelace", "Someone Else", ("Ada", "Lovelace")),  # private questions win
        ("Ada", "User", "Ada Lovelace", ("Ada", "User")),  # one part from a question
        ("SeeClickFix", "User", "Ada Lovelace", ("Ada", "Lovelace")),
        ("SeeClickFix", "User", "  Mary  Ann   Smith ", ("Mary Ann", "Smith")),
        ("SeeClickFix", "User", "Cher", ("Cher", None)),
        ("SeeClickFix", "User", "   ", ("SeeClickFix", "User")),
        ("SeeClickFix", "User", None, ("SeeClickFix", "User")),
    ],
)
def test_requestor_names(first, last, reporter, expected):
    requester = Requester(email="r@example.com", first_name=first, last_name=last)
    assert requestor_names(requester, reporter, **DEFAULTS) == expected


def test_a_lookup_row_is_a_category_and_a_row_without_a_code_is_an_error():
    row = {"CodeValue": " WB ", "TypeValue": "Water Main Break"}
    category = _problem_code(row, "LookupList/Request.svc/ProblemCode/")
    assert (category.key, category.remote_id, category.name) == ("WB", "WB", "Water Main Break")
    assert category.active  # no inactive flag in the documented shape
    assert _problem_code({"CodeValue": 12}, "p").name == "12"
    for bad in ({}, {"CodeValue": None}, {"CodeValue": ""}, {"CodeValue": True}):
        with pytest.raises(VendorFormatError, match="has no CodeValue"):
            _problem_code(bad, "p")


def response(status: int, body: object) -> requests.Response:
    reply = requests.Response()
    reply.status_code = status
    reply._content = json.dumps(body).encode()
    reply.headers["Content-Type"] = "application/json"
    return reply


def test_the_error_text_keeps_the_aspnet_detail():
    body = {
        "Message": "The request is invalid.",
        "ExceptionMessage": "Invalid column name 'RQ_NUM' for table WKREQ.",
    }
    text = lucity_error_text(response(400, body))
    assert text == "The request is invalid.; Invalid column name 'RQ_NUM' for table WKREQ."
    assert lucity_error_text(response(400, {"Message": "Same", "ExceptionMessage": "Same"})) == (
        "Same"
    )
    secret = {"Message": "x", "MessageDetail": "see https://u:p@h.example/a?token=abc"}
    assert "abc" not in lucity_error_text(response(400, secret))
