"""Comment-on-field-match rules: typed comparisons, fire-once, edges, config errors."""

from __future__ import annotations

import operator
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.sync.rules import (
    OPERATORS,
    Decision,
    Rule,
    RuleError,
    RuleFieldMissingError,
    coerce,
    compare,
    condition,
    decide,
    equal,
    evaluate_rules,
    is_empty,
    rule_from_settings,
    state_key,
)

FAST = settings(max_examples=80, deadline=None)


def rule(field="F", op="=", value=None, **kw) -> Rule:
    return Rule(field=field, op=op, message="msg", value=value, **kw)


def holds(op, current, value=None) -> bool:
    return condition(rule(op=op, value=value), {"F": current}, None)


# --- operators, one table each ------------------------------------------------------


@pytest.mark.parametrize(
    "current, value, expected",
    [
        (3, 3, True),
        ("3", 3, True),  # numeric string vs number
        (3, "3.0", True),
        (" 2.5 ", 2.5, True),
        ("1e3", 1000, True),
        ("007", 7, True),
        (3, 4, False),
        ("In Progress", "in progress", True),  # text equality ignores case
        ("  Open ", "open", True),  # and surrounding whitespace
        ("Open", "Opened", False),
        ("2026-11-23", date(2026, 11, 23), True),  # YAML reads unquoted dates as date
        ("2026-11-23T00:00:00Z", "2026-11-23", True),  # a date is midnight UTC
        ("2026-11-23T00:00:00", "2026-11-23T00:00:00+00:00", True),  # naive means UTC
        ("2026-11-23T05:00:00+05:00", "2026-11-23T00:00:00Z", True),  # same instant
        ("2026-11-23T10:00:00Z", "2026-11-23", False),
        (True, True, True),
        ("true", True, True),
        ("TRUE", "true", True),
        (False, "false", True),
        ("false", True, False),
        (True, 1, False),  # a boolean is not a number
        (None, "x", False),
        ("", "x", False),
        (["a"], "a", False),  # a list is not its member: use contains
    ],
)
def test_equals(current, value, expected):
    assert holds("=", current, value) is expected
    assert holds("!=", current, value) is (not expected)


@pytest.mark.parametrize(
    "op, current, value, expected",
    [
        (">=", 1, 1, True),
        (">=", 0, 1, False),
        (">=", "2", 1, True),
        (">", "10", "9", True),  # numerically, not "10" < "9" as text
        ("<", "9", 10, True),
        ("<=", 2.5, "2.50", True),
        ("<", -1, 0, True),
        (">", "2026-11-24", "2026-11-23T23:59:59Z", True),
        ("<", "2026-11-23T10:00:00+02:00", "2026-11-23T09:00:00Z", True),  # 08:00 UTC
        ("<=", datetime(2026, 11, 23), "2026-11-23", True),
        (">", "b", "A", True),  # text: casefolded lexicographic
        ("<", "apple", "Banana", True),
        (">", "10", "abc", False),  # mixed kinds compare as text: "10" < "abc"
        (">=", None, 1, False),  # nothing to order
        ("<", "", 5, False),
        ("<", "   ", 5, False),
        ("<", [1], 5, False),
    ],
)
def test_ordering(op, current, value, expected):
    assert holds(op, current, value) is expected


@pytest.mark.parametrize(
    "current, value, expected",
    [
        ("Pothole on Main St", "main", True),
        ("Pothole", "hole", True),
        ("Pothole", "crack", False),
        (["Paving", "Striping"], "striping", True),  # list: membership
        (["1", "2"], 2, True),  # membership uses typed equality
        (["Paving"], "Pav", False),  # membership, not substring
        ({"Crew A": 1}, "crew a", True),  # dict: its keys
        ([], "x", False),
        (None, "x", False),
        (1234, 23, True),  # numbers as text
    ],
)
def test_contains(current, value, expected):
    assert holds("contains", current, value) is expected


@pytest.mark.parametrize(
    "current, empty",
    [
        (None, True),
        ("", True),
        ("   \t", True),
        ([], True),
        ({}, True),
        (0, False),
        (False, False),
        ("x", False),
        ([None], False),
    ],
)
def test_is_empty(current, empty):
    assert holds("is empty", current) is empty
    assert holds("is not empty", current) is (not empty)
    assert is_empty(current) is empty


@pytest.mark.parametrize(
    "previous, current, expected",
    [
        (None, {"F": "Open"}, False),  # no previous poll: not a change
        ({}, {"F": "Open"}, False),  # field not seen before: not a change
        ({"F": "Open"}, {"F": "Open"}, False),
        ({"F": "Open"}, {"F": "Closed"}, True),
        ({"F": "Open"}, {"F": "OPEN"}, False),  # same value by `=`
        ({"F": 3}, {"F": "3"}, False),
        ({"F": None}, {"F": ""}, False),  # empty to empty
        ({"F": None}, {"F": "x"}, True),
        ({"F": "x"}, {"F": None}, True),
    ],
)
def test_changes(previous, current, expected):
    assert condition(rule(op="changes"), current, previous) is expected


@pytest.mark.parametrize(
    "previous, current, expected",
    [
        ("Open", "In Progress", True),
        ("open", "IN PROGRESS", True),
        ("Open", "Closed", False),
        ("New", "In Progress", False),
        ("In Progress", "In Progress", False),
    ],
)
def test_changes_from(previous, current, expected):
    r = rule(op="changes from", from_value="Open", value="In Progress")
    assert condition(r, {"F": current}, {"F": previous}) is expected
    assert condition(r, {"F": current}, None) is False


def test_every_operator_is_covered():
    assert set(OPERATORS) == {
        "=",
        "!=",
        ">",
        ">=",
        "<",
        "<=",
        "contains",
        "is empty",
        "is not empty",
        "changes",
        "changes from",
    }


def test_coerce_types():
    assert coerce("3") == 3 and isinstance(coerce("3"), int)
    assert coerce("2.5") == 2.5
    assert coerce("1e999") == "1e999"  # not a finite number: text
    assert coerce(float("nan")) == "nan"
    assert coerce("9" * 5000) == "9" * 5000  # beyond int's digit limit: text
    assert coerce("2026-11-23").isoformat() == "2026-11-23T00:00:00+00:00"
    assert coerce("2026-13-45") == "2026-13-45"  # not a real date: text
    assert coerce(" True ") is True
    assert coerce("  ") is None


# --- firing -------------------------------------------------------------------------


def run_polls(r: Rule, values: list) -> list[bool]:
    """Which polls fire, carrying the stored state and previous record like the poller."""
    fired, state, previous = [], None, None
    for value in values:
        current = {"F": value}
        decision = decide(r, current, previous, state)
        fired.append(decision.fire)
        state, previous = decision.now_true, current
    return fired


def test_fires_once_when_condition_becomes_true():
    r = rule("F", ">=", 1)
    #                    false  true  true  false  true  true
    assert run_polls(r, [0, 1, 2, 0, 3, 3]) == [False, True, False, False, True, False]


def test_first_observation_true_fires():
    assert run_polls(rule("F", ">=", 1), [5, 5]) == [True, False]


def test_edge_rules_fire_on_every_qualifying_change():
    changes = rule(op="changes")
    assert run_polls(changes, ["a", "a", "b", "b", "a"]) == [False, False, True, False, True]
    from_to = rule(op="changes from", from_value="Open", value="Work")
    polls = ["Open", "Work", "Open", "Work", "Work"]
    assert run_polls(from_to, polls) == [False, True, False, True, False]


def test_decide_reports_state_to_store():
    assert decide(rule("F", "=", "x"), {"F": "x"}, None, True) == Decision(
        rule("F", "=", "x"), now_true=True, fire=False
    )


# --- categories ---------------------------------------------------------------------


def test_categories_filter():
    any_category = rule()
    only = rule(categories=("12", "Pothole"))
    assert any_category.applies_to(None) and any_category.applies_to("99")
    assert only.applies_to("Pothole") and only.applies_to("12")
    assert not only.applies_to("Graffiti") and not only.applies_to(None)
    assert Rule(field="F", op="=", message="m", value=1, categories=[12]).categories == ("12",)


def test_evaluate_rules_skips_other_categories():
    rules = [rule("F", "=", 1, id=1), rule("F", "=", 1, id=2, categories=("Pothole",))]
    decisions, errors = evaluate_rules(rules, "Graffiti", {"F": 1}, None, {})
    assert [d.rule.id for d in decisions] == [1] and errors == []


# --- configuration errors -----------------------------------------------------------


def test_missing_field_names_it_and_suggests():
    r = rule("TasksFeild", ">=", 1)
    record = {"TasksField": 2, "TaskCount": 1, "StatusField": "Open", "ID": 7}
    with pytest.raises(RuleFieldMissingError) as info:
        condition(r, record, None)
    error = info.value
    assert error.field == "TasksFeild" and error.rule is r
    assert error.suggestions[0] == "TasksField"
    assert '"TasksFeild"' in str(error) and '"TasksField"' in str(error)
    assert isinstance(error, RuleError) and isinstance(error, ValueError)


def test_missing_field_suggestion_ignores_case_and_lists_fields_otherwise():
    error = RuleFieldMissingError(rule("tasksfield"), "tasksfield", ["TasksField"])
    assert error.suggestions == ["TasksField"]
    error = RuleFieldMissingError(rule("Zzz"), "Zzz", ["Alpha", "Beta"])
    assert error.suggestions == [] and "Alpha, Beta" in str(error)


def test_null_field_is_present_not_missing():
    assert holds("is empty", None) is True


def test_one_bad_rule_does_not_stop_the_others():
    rules = [
        rule("Nope", "=", 1, id=1),
        Rule(field="F", op="=>", message="m", value=1, id=2),  # edited in the database
        Rule(field="F", op="=", message="m", id=3),  # no value
        rule("F", ">=", 1, id=4),
        rule("F", "=", 5, id=5),
    ]
    decisions, errors = evaluate_rules(rules, None, {"F": 5}, None, {4: True})
    assert [(d.rule.id, d.now_true, d.fire) for d in decisions] == [
        (4, True, False),  # was already true
        (5, True, True),  # first observation
    ]
    assert [e.rule.id for e in errors] == [1, 2, 3]
    assert isinstance(errors[0], RuleFieldMissingError)
    assert "unknown op" in str(errors[1]) and "needs a value" in str(errors[2])


def test_states_keyed_by_description_without_id():
    r = rule("F", ">=", 1)
    assert state_key(r) == "F >= 1"
    decisions, _ = evaluate_rules([r], None, {"F": 2}, None, {"F >= 1": True})
    assert decisions[0].fire is False


def test_describe():
    assert rule("TasksField", ">=", 1).describe() == "TasksField >= 1"
    r = rule("StatusField", "changes from", "In Progress", from_value="Open")
    assert r.describe() == 'StatusField changes from "Open" to "In Progress"'
    assert rule("F", "is not empty").describe() == "F is not empty"
    assert rule("F", "=", True).describe() == "F = true"
    assert rule("F", "contains", "x").describe() == 'F contains "x"'


def test_rule_from_settings():
    data = {
        "field": "StatusField",
        "op": "changes from",
        "value": "In Progress",
        "from": "Open",
        "message": "A crew is on the way.",
        "categories": ["Pothole"],
    }
    r = rule_from_settings(data, id=7)
    assert r == Rule(
        field="StatusField",
        op="changes from",
        message="A crew is on the way.",
        value="In Progress",
        from_value="Open",
        categories=("Pothole",),
        id=7,
    )
    with pytest.raises(RuleError, match="needs both from and value"):
        rule_from_settings({**data, "from": None})
    with pytest.raises(RuleError, match="no message"):
        rule_from_settings({**data, "message": " "})


def test_rule_from_validated_settings_round_trip():
    from integrations.rule_settings import RuleSettings

    settings_ = RuleSettings.model_validate(
        {"field": "Due", "op": "<", "value": date(2026, 11, 23), "message": "Late."}
    )
    r = rule_from_settings(settings_.model_dump(by_alias=True))
    assert r.value == "2026-11-23" and r.from_value is None and r.categories == ()
    assert condition(r, {"Due": "2026-11-22T23:00:00Z"}, None) is True


# --- properties ---------------------------------------------------------------------

numbers = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
)
scalars = st.one_of(
    numbers,
    numbers.map(str),
    st.booleans(),
    st.sampled_from(["true", "False", "2026-11-23", "2026-11-23T10:00:00Z", "", " "]),
    st.text(max_size=8),
    st.none(),
)
anything = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=3), scalars, max_size=2),
)
ORDER = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "=": operator.eq}


@FAST
@given(numbers, numbers)
def test_ge_is_not_lt_for_numbers(a, b):
    assert compare(a, b, ">=") is (not compare(a, b, "<"))
    assert compare(a, b, "<=") is (not compare(a, b, ">"))


@FAST
@given(anything, anything)
def test_equality_is_symmetric_and_not_equal_negates_it(a, b):
    assert equal(a, b) is equal(b, a)
    assert compare(a, b, "!=") is (not compare(a, b, "="))


@FAST
@given(numbers, numbers, st.sampled_from(sorted(ORDER)))
def test_numeric_strings_compare_like_their_numbers(a, b, op):
    expected = ORDER[op](a, b)
    assert compare(str(a), str(b), op) is expected
    assert compare(a, str(b), op) is expected
    assert compare(str(a), b, op) is expected


@FAST
@given(anything, anything, st.sampled_from(["=", "!=", ">", ">=", "<", "<=", "contains"]))
def test_comparisons_never_raise_on_record_data(a, b, op):
    assert compare(a, b, op) in (True, False)


@FAST
@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=1, max_value=30))
def test_steady_true_condition_fires_exactly_once(value, polls):
    assert sum(run_polls(rule("F", ">=", 1), [value] * polls)) == 1


@FAST
@given(st.lists(st.booleans(), max_size=30))
def test_level_rule_fires_on_each_rising_edge(truths):
    # F = "yes" is true exactly when the poll's value is "yes".
    fired = run_polls(rule("F", "=", "yes"), ["yes" if t else "no" for t in truths])
    rising = [t and (i == 0 or not truths[i - 1]) for i, t in enumerate(truths)]
    assert fired == rising
