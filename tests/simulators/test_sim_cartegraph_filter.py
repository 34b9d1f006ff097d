"""Unit tests of the Cartegraph filter tokenizer, parser and evaluator."""

from __future__ import annotations

import pytest

from simulators.cartegraph_filter import (
    BoolOp,
    Comparison,
    FilterError,
    evaluate,
    parse_filter,
    tokenize,
)

FIELDS = {
    "Oid",
    "StatusField",
    "IDField",
    "SeeClickFixIDField",
    "lat",
    "TasksField",
    "DescriptionField",
    "InactiveField",
}


def resolve(name: str) -> str:
    if f"{name}Field" in FIELDS:
        return f"{name}Field"
    if name in FIELDS and not name.endswith("Field"):
        return name
    raise FilterError(f"Field {name} does not exist.", name)


def matches(text: str, record: dict) -> bool:
    return evaluate(parse_filter(text, resolve), record)


RECORD = {
    "Oid": 5,
    "StatusField": "Open",
    "IDField": "REQ-000101",
    "lat": 41.3,
    "TasksField": 0,
    "SeeClickFixIDField": None,
    "DescriptionField": 'He said "hi"',
    "InactiveField": False,
}


def test_field_names_drop_the_field_suffix():
    assert parse_filter('[Status] = "Open"', resolve) == Comparison("StatusField", "eq", "Open")
    assert parse_filter("[Oid] = 1", resolve).field == "Oid"
    assert parse_filter("[ID] = 1", resolve).field == "IDField"
    assert parse_filter("[SeeClickFixID] is null", resolve).field == "SeeClickFixIDField"
    assert parse_filter("[lat] > 41", resolve).field == "lat"
    with pytest.raises(FilterError) as excinfo:
        parse_filter('[StatusField] = "Open"', resolve)
    assert excinfo.value.field_name == "StatusField"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(([Oid] is equal to 5))", True),
        ("[Oid] is not equal to 5", False),
        ('[Status] is not equal to "Closed"', True),
        ('[Status] = "open"', True),  # SQL Server collation: case-insensitive
        ("[Oid] <> 4", True),
        ("[Oid] is greater than 4 AND [Oid] is less than 6", True),
        ("[Oid] >= 5 and [Oid] <= 5", True),
        ("[Oid] > 5 OR [Oid] < 5", False),
        ('[ID] in ("REQ-000100", "REQ-000101")', True),
        ('[ID] not in ("REQ-000101")', False),
        ("[Oid] in (1, 2, 5)", True),
        ('[Description] contains "SAID"', True),
        ("[SeeClickFixID] is null", True),
        ("[SeeClickFixID] is not null", False),
        ('[SeeClickFixID] is not equal to "1"', False),  # comparisons with null are false
        ("[Inactive] = false", True),
        ('[Tasks] >= 1 or ([Status] = "Open" and [lat] > 41.2)', True),
        ('[ID] = "REQ-000101" AND ([Oid] = 1 OR [Oid] = 5)', True),
        ('[ID] = "REQ-000101" AND [Oid] = 1 OR [Oid] = 5', True),  # AND binds tighter
        ("[Oid] = -5", False),
        ('[Oid] = "5"', True),  # numeric text compares as a number
    ],
)
def test_evaluation(text, expected):
    assert matches(text, RECORD) is expected


def test_and_binds_tighter_than_or():
    node = parse_filter("[Oid] = 1 OR [Oid] = 2 AND [Oid] = 3", resolve)
    assert isinstance(node, BoolOp) and node.op == "or"
    assert isinstance(node.operands[1], BoolOp) and node.operands[1].op == "and"


@pytest.mark.parametrize("literal", [r'"He said \"hi\""', '"He said ""hi"""'])
def test_string_escapes(literal):
    assert parse_filter(f"[Description] = {literal}", resolve).value == 'He said "hi"'
    assert matches(f"[Description] = {literal}", RECORD)


def test_injection_attempt_stays_a_string():
    hostile = r'"x\" OR [Oid] > 0 OR [Status] = \""'
    node = parse_filter(f"[Description] = {hostile}", resolve)
    assert isinstance(node, Comparison)
    assert not evaluate(node, RECORD)


def test_tokens_carry_positions():
    tokens = tokenize('[Oid] >= 10 AND [Status] = "A"')
    assert [(t.kind, t.pos) for t in tokens] == [
        ("FIELD", 0),
        ("OP", 6),
        ("NUMBER", 9),
        ("WORD", 12),
        ("FIELD", 16),
        ("OP", 25),
        ("STRING", 27),
        ("END", 30),
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[Oid] = ", "expected a value"),
        ("[Oid] equals 5", "expected an operator"),
        ('[Status] = "Open', "Unterminated string"),
        ("([Oid] = 5", "expected ')'"),
        ("[Oid] = 5)", "expected AND, OR"),
        ("[Oid] = 5 AND", "expected a [Field]"),
        ("[Oid = 5", "Invalid field reference"),
        ("[] = 5", "Invalid field reference"),
        ("[Oid] in 5", "expected '(' to open the list"),
        ("[Oid] in (5", "expected ')' to close the list"),
        ("[Oid] is between 5", "expected 'null'"),
        ("[Oid] is greater 5", "expected 'than'"),
        ("[Oid] != 5", "Unexpected character"),
        ("[Oid] = 5.5.5", "Invalid number"),
        ("", "expected a [Field]"),
        ("[Bogus] = 1", "Field Bogus does not exist"),
    ],
)
def test_malformed_filters(text, fragment):
    with pytest.raises(FilterError) as excinfo:
        parse_filter(text, resolve)
    assert fragment in excinfo.value.message


def test_in_lists_of_text_match_case_insensitively_as_before():
    """An external-id batch is a set lookup now; text still matches text
    without regard to case, and a number still matches numeric text."""
    assert matches('[SeeClickFixID] in ("abc", "500")', {"SeeClickFixIDField": "ABC"})
    assert not matches('[SeeClickFixID] in ("abc", "500")', {"SeeClickFixIDField": "abd"})
    assert matches('[SeeClickFixID] in ("abc", "500")', {"SeeClickFixIDField": 500})
    assert matches("[Oid] in (1, 2)", {"Oid": 2.0})


def test_a_query_by_oids_reads_those_records_alone():
    from simulators.cartegraph_store import REQUESTS_CLASS, CartegraphState

    state = CartegraphState(username="u", password="p")
    try:
        made = state.create(
            REQUESTS_CLASS,
            [{"IssueField": "Pothole", "StatusField": "Open"} for _ in range(5)],
            via_api=False,
        )
        oids = [r["Oid"] for r in made]
        found = state.query(REQUESTS_CLASS, filter_text=f"[Oid] in ({oids[3]}, {oids[1]}, 999999)")
        assert [r["Oid"] for r in found] == [oids[1], oids[3]]
        both = f'([Oid] in ({oids[0]}, {oids[2]})) and ([Status] is equal to "Open")'
        assert [r["Oid"] for r in state.query(REQUESTS_CLASS, filter_text=both)] == [
            oids[0],
            oids[2],
        ]
    finally:
        state.close()
