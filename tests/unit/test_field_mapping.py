"""Custom field conversion and requester building, without HTTP."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from webapp.sync.outbound import FieldMappingError, build_requester, convert, custom_fields


@pytest.mark.parametrize(
    "value, kind, expected",
    [
        ("3", "number", 3),
        ("2.5", "number", 2.5),
        (" 7 ", "integer", 7),
        ("4.0", "integer", 4),
        ("yes", "boolean", True),
        ("No", "boolean", False),
        ("2026-11-23", "date", "2026-11-23T00:00:00"),
        ("2026-11-23T10:00:00Z", "date", "2026-11-23T10:00:00+00:00"),
        (" text ", "text", "text"),
    ],
)
def test_convert(value, kind, expected):
    assert convert(value, kind, "f") == expected


@pytest.mark.parametrize(
    "value, kind",
    [
        ("deep", "number"),
        ("2.5", "integer"),
        ("maybe", "boolean"),
        ("23/11/2026", "date"),
    ],
)
def test_convert_refuses_with_the_field_named(value, kind):
    with pytest.raises(FieldMappingError, match=f"DepthField: {value!r} is not a valid {kind}"):
        convert(value, kind, "DepthField")


def issue(**kw):
    base = dict(
        id=1,
        summary="s",
        description="d",
        lat=41.3,
        lng=-72.9,
        address="1 Elm St",
        html_url=None,
        reporter_email="r@example.com",
        questions=[],
    )
    base.update(kw)
    return SimpleNamespace(**base)


def category(fields):
    return SimpleNamespace(custom_fields=fields, remote_id="Pothole")


LINK = SimpleNamespace(verified_address="1 Elm St, New Haven, CT", address_source="arcgis")


def test_static_dynamic_facts_and_defaults():
    fields = {
        "Static": "S",
        "Depth": {"answer_of": "142", "type": "text"},
        "Count": {"answer_of": "150", "type": "integer"},
        "Where": {"from": "verified_address"},
        "Lat": {"from": "lat", "type": "number"},
        "Missing": {"answer_of": "999"},
        "WithDefault": {"answer_of": "999", "default": "n/a"},
    }
    questions = [{"key": "142", "answer": "DEEP"}, {"key": "150", "answer": "3"}]
    resolved = custom_fields(issue(questions=questions), LINK, category(fields))
    assert resolved == {
        "Static": "S",
        "Depth": "DEEP",
        "Count": 3,
        "Where": "1 Elm St, New Haven, CT",
        "Lat": 41.3,
        "WithDefault": "n/a",
    }


def test_required_missing_answer_is_an_error():
    with pytest.raises(
        FieldMappingError, match="question 142 is missing and the field is required"
    ):
        custom_fields(issue(), LINK, category({"Depth": {"answer_of": "142", "required": True}}))


def test_requester_from_private_questions_only():
    settings = SimpleNamespace(
        question_keys={"2": "LastNameField"},
        requester_first_name="SeeClickFix",
        requester_last_name="User",
    )
    request_type = SimpleNamespace(
        questions=[
            {
                "primary_key": "1",
                "question": "First",
                "answer_kept_private": True,
                "integration_key": "FirstNameField",
            },
            {"primary_key": "2", "question": "Last", "answer_kept_private": False},
        ]
    )
    answers = [{"key": "1", "answer": "Grace"}, {"key": "2", "answer": "Hopper"}]
    result = build_requester(issue(questions=answers), settings, request_type)
    assert result.requester.first_name == "Grace"
    assert result.requester.last_name == "User"
    assert result.requester.email == "r@example.com"
    assert len(result.warnings) == 1 and "question 2" in result.warnings[0]
