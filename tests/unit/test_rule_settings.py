"""The `rules:` settings of an integration: the documented example and every mistake."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from integrations.rule_settings import OPERATORS, RuleSettings

# The documented YAML example, as the YAML loader hands it over.
EXAMPLE = [
    {
        "field": "TasksField",
        "op": ">=",
        "value": 1,
        "message": "A work task has been created.",
        "categories": ["Pothole"],
    },
    {
        "field": "StatusField",
        "op": "changes from",
        "from": "Open",
        "value": "In Progress",
        "message": "A crew is on the way.",
    },
]


def error_of(**data) -> str:
    with pytest.raises(ValidationError) as info:
        RuleSettings.model_validate({"field": "F", "message": "m", **data})
    return str(info.value)


def test_documented_example_validates():
    tasks, status = (RuleSettings.model_validate(d) for d in EXAMPLE)
    assert (tasks.field, tasks.op, tasks.value, tasks.categories) == (
        "TasksField",
        ">=",
        1,
        ["Pothole"],
    )
    assert (status.op, status.from_, status.value) == ("changes from", "Open", "In Progress")
    assert status.categories == []
    dumped = status.model_dump(by_alias=True)
    assert dumped["from"] == "Open" and "from_" not in dumped


def test_populate_by_name_and_int_categories():
    r = RuleSettings(
        field="F", op="changes from", from_="A", value="B", message="m", categories=[12]
    )
    assert r.from_ == "A" and r.categories == ["12"]


@pytest.mark.parametrize("op", OPERATORS)
def test_every_operator_has_a_valid_form(op):
    operands = {
        "changes from": {"from": "A", "value": "B"},
        "is empty": {},
        "is not empty": {},
        "changes": {},
    }.get(op, {"value": "x"})
    assert (
        RuleSettings.model_validate({"field": "F", "op": op, "message": "m", **operands}).op == op
    )


def test_op_spelling_is_normalised():
    r = RuleSettings.model_validate({"field": "F", "op": " Is  Not Empty ", "message": "m"})
    assert r.op == "is not empty"


def test_yaml_date_value_is_stored_as_iso_text():
    r = RuleSettings.model_validate(
        {"field": "Due", "op": "<", "value": date(2026, 11, 23), "message": "m"}
    )
    assert r.value == "2026-11-23"


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"op": "=>", "value": 1}, 'unknown op \'=>\'; use one of "=", "!="'),
        ({"op": "==", "value": 1}, '"changes from"'),  # lists every valid op
        ({"op": ">="}, 'op ">=" needs a value to compare F with'),
        ({"op": "=", "value": None}, "needs a value"),
        ({"op": "!=", "value": "  "}, 'use op "is empty" or "is not empty"'),
        ({"op": "contains"}, 'op "contains" needs a value'),
        ({"op": "changes from", "value": "B"}, "needs both from (the previous value) and value"),
        ({"op": "changes from", "from": "A"}, "needs both from"),
        ({"op": "changes from", "from": "A", "value": " a "}, "from and value are the same"),
        ({"op": "=", "from": "A", "value": "B"}, 'from is only for op "changes from"'),
        ({"op": "changes", "from": "A"}, 'from is only for op "changes from"'),
        ({"op": "is empty", "value": 1}, 'op "is empty" takes no value'),
        ({"op": "is not empty", "value": ""}, 'op "is not empty" takes no value'),
        ({"op": "changes", "value": "B"}, 'op "changes" takes no value'),
        ({"op": ">", "value": True}, "not true/false"),
        ({"op": "=", "value": [1, 2]}, "one value, not a list"),
        ({"op": "=", "value": 1, "categories": ["A", "A"]}, "category 'A' is listed twice"),
        ({"op": "=", "value": 1, "categories": [""]}, "categories.0"),
        ({"op": "=", "value": 1, "field": "Tasks Field"}, "not a remote field name"),
        ({"op": "=", "value": 1, "field": ""}, "at least 1 character"),
        ({"op": "=", "value": 1, "message": "   "}, "message"),
        ({"op": "=", "value": 1, "colour": "red"}, "Extra inputs are not permitted"),
        ({"value": 1}, "op\n  Field required"),
    ],
)
def test_invalid_combinations_say_what_is_wrong(data, expected):
    assert expected in error_of(**data)
