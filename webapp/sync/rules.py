"""Comment-on-field-match rules: decide, per poll of a remote record, which rules fire.

Pure Python on plain mappings (no database, no Flask) so the semantics can be
tested exhaustively; the poller stores each rule's truth value per link and posts
the messages of the rules that fire.

Semantics in short:

* A level rule (``=``, ``>=``, ``contains``, ``is empty``, ...) fires once when its
  condition becomes true, including the first time a record is seen; it fires
  again only after the condition was false in between.
* An edge rule (``changes``, ``changes from``) is true only on the poll where the
  change is seen, so every qualifying change fires.
* Values compare by type: numbers numerically, ISO dates as instants (naive means
  UTC), true/false as booleans, anything else as text, case-insensitively, since
  vendor pick-list values come back as "In Progress", "IN PROGRESS" or "in progress"
  depending on the screen that saved them.
"""

from __future__ import annotations

import difflib
import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from integrations.rule_settings import (
    COMPARISON_OPERATORS,
    EDGE_OPERATORS,
    OPERATORS,
    normalize_op,
)

__all__ = [
    "OPERATORS",
    "Decision",
    "Rule",
    "RuleError",
    "RuleFieldMissingError",
    "coerce",
    "compare",
    "close_names",
    "condition",
    "decide",
    "equal",
    "evaluate_rules",
    "is_empty",
    "rule_from_settings",
    "state_key",
    "validate_rule",
]

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}.*)?")
_BOOLEANS = {"true": True, "false": False}
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_COLLECTIONS = (list, tuple, set, frozenset, dict)


# --- rules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One configured rule; ``from_value`` is the YAML ``from`` of ``changes from``."""

    field: str
    op: str
    message: str
    value: Any = None
    from_value: Any = None
    categories: tuple[str, ...] = ()
    id: int | None = None

    def __post_init__(self) -> None:
        # Rows from a JSON column give lists and may give int ids; normalise so rules
        # built from the database and from the YAML behave (and compare) the same.
        object.__setattr__(self, "op", normalize_op(self.op))
        object.__setattr__(self, "categories", tuple(str(c) for c in self.categories or ()))

    def applies_to(self, category_remote_id: str | None) -> bool:
        """No categories means every category; otherwise only the listed remote ids."""
        if not self.categories:
            return True
        return category_remote_id is not None and str(category_remote_id) in self.categories

    def describe(self) -> str:
        """Human form for logs and errors, e.g. ``StatusField changes from "Open" to "Done"``."""
        if self.op == "changes from":
            return f"{self.field} changes from {_show(self.from_value)} to {_show(self.value)}"
        if self.op in COMPARISON_OPERATORS:
            return f"{self.field} {self.op} {_show(self.value)}"
        return f"{self.field} {self.op}"


class RuleError(ValueError):
    """A rule that cannot be evaluated as configured (retrying will not help)."""

    def __init__(self, message: str, rule: Rule | None = None) -> None:
        super().__init__(message)
        self.rule = rule


class RuleFieldMissingError(RuleError):
    """The rule names a field the remote record does not have: almost always a typo
    or the wrong vendor field, so it is reported instead of being silently false."""

    def __init__(self, rule: Rule, field: str, available: Iterable[str] = ()) -> None:
        names = [str(name) for name in available]
        self.field = field
        self.suggestions = close_names(field, names)
        if self.suggestions:
            hint = "did you mean " + " or ".join(f'"{s}"' for s in self.suggestions) + "?"
        elif names:
            shown = sorted(names)[:8]
            hint = "its fields include " + ", ".join(shown) + (", …" if len(names) > 8 else "")
        else:
            hint = "the record has no fields at all"
        super().__init__(
            f'rule "{rule.describe()}": the remote record has no field "{field}"; {hint}', rule
        )


def close_names(field: str, names: list[str], n: int = 3) -> list[str]:
    """Close names ignoring case, since `tasksfield` for `TasksField` is the usual slip."""
    by_fold: dict[str, str] = {}
    for name in names:
        by_fold.setdefault(name.casefold(), name)
    matches = difflib.get_close_matches(field.casefold(), list(by_fold), n=n, cutoff=0.6)
    return [by_fold[m] for m in matches]


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value if isinstance(value, str) else str(value), ensure_ascii=False)


def validate_rule(rule: Rule) -> None:
    """Raise RuleError when the operands do not fit the operator. Rules edited in the
    database bypass RuleSettings, so the evaluator checks again instead of guessing."""
    if not isinstance(rule.field, str) or not rule.field.strip():
        raise RuleError(f'rule "{rule.describe()}": no field named', rule)
    if rule.op not in OPERATORS:
        valid = ", ".join(f'"{o}"' for o in OPERATORS)
        raise RuleError(
            f'rule "{rule.describe()}": unknown op "{rule.op}"; use one of {valid}', rule
        )
    if rule.op in COMPARISON_OPERATORS and is_empty(rule.value):
        raise RuleError(f'rule "{rule.describe()}": op "{rule.op}" needs a value', rule)
    if rule.op == "changes from" and (is_empty(rule.value) or is_empty(rule.from_value)):
        raise RuleError(
            f'rule "{rule.describe()}": op "changes from" needs both from and value', rule
        )


def rule_from_settings(data: Mapping[str, Any], id: int | None = None) -> Rule:
    """A Rule from ``RuleSettings.model_dump(by_alias=True)`` (or a stored row's dict).
    ``id`` defaults to the mapping's ``id`` so database rows keep their state key."""
    from_value = data.get("from", data.get("from_value", data.get("from_")))
    rule = Rule(
        field=str(data.get("field") or ""),
        op=str(data.get("op") or ""),
        message=str(data.get("message") or ""),
        value=data.get("value"),
        from_value=from_value,
        categories=tuple(data.get("categories") or ()),
        id=id if id is not None else data.get("id"),
    )
    validate_rule(rule)
    if not rule.message.strip():
        raise RuleError(f'rule "{rule.describe()}": no message to post', rule)
    return rule


# --- typed comparison --------------------------------------------------------------------


def coerce(value: Any) -> Any:
    """The typed value a comparison uses: None for empty, else bool, int/float (finite),
    aware UTC datetime, a collection, or stripped text. Text that reads as a number,
    true/false or an ISO date becomes one, because vendor APIs send "3" as often as 3."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date):
        return _to_utc(value)
    if isinstance(value, _COLLECTIONS):
        return value or None
    return _coerce_text(str(value).strip())


def _coerce_text(text: str) -> Any:
    if not text:
        return None
    if text.casefold() in _BOOLEANS:
        return _BOOLEANS[text.casefold()]
    if _NUMBER.fullmatch(text):
        return _number(text)
    if _ISO_DATE.fullmatch(text):
        try:
            return _to_utc(datetime.fromisoformat(text))
        except ValueError:
            return text
    return text


def _number(text: str) -> Any:
    """int or finite float; text when it overflows (1e999) or has too many digits."""
    try:
        number = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def _to_utc(value: date) -> datetime:
    """Naive means UTC (vendors omit the zone); a date is its midnight, UTC."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _kind(typed: Any) -> str:
    if isinstance(typed, bool):
        return "bool"
    if isinstance(typed, int | float):
        return "number"
    if isinstance(typed, datetime):
        return "datetime"
    if isinstance(typed, str):
        return "text"
    return "collection"


def _text(raw: Any) -> str:
    """Text form for the fallback comparison of values of different kinds."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw).strip().casefold()


def _same_kind_pair(a: Any, b: Any) -> tuple[Any, Any] | None:
    """Both typed values when they are of one comparable kind (text casefolded), else None."""
    x, y = coerce(a), coerce(b)
    kind = _kind(x)
    if kind != _kind(y):
        return None
    if kind == "text":
        return x.casefold(), y.casefold()
    return x, y


def is_empty(value: Any) -> bool:
    """None, blank text, or an empty list/dict: what "no value" looks like across vendors."""
    return coerce(value) is None


def equal(a: Any, b: Any) -> bool:
    """Typed equality; symmetric. Two empties are equal (so None→"" is no change)."""
    if is_empty(a) or is_empty(b):
        return is_empty(a) and is_empty(b)
    pair = _same_kind_pair(a, b)
    if pair is not None:
        return pair[0] == pair[1]
    if isinstance(coerce(a), _COLLECTIONS) or isinstance(coerce(b), _COLLECTIONS):
        return False
    return _text(a) == _text(b)


def _ordered(a: Any, b: Any, op: str) -> bool:
    """Ordering; false when either side is empty or a collection (nothing to order)."""
    if is_empty(a) or is_empty(b):
        return False
    if isinstance(coerce(a), _COLLECTIONS) or isinstance(coerce(b), _COLLECTIONS):
        return False
    pair = _same_kind_pair(a, b) or (_text(a), _text(b))
    return _ORDER[op](*pair)


def _contains(haystack: Any, needle: Any) -> bool:
    """Membership (typed equality) for a list or a dict's keys, else case-insensitive
    substring of the text forms."""
    if is_empty(haystack) or is_empty(needle):
        return False
    if isinstance(haystack, _COLLECTIONS):
        return any(equal(item, needle) for item in haystack)
    return _text(needle) in _text(haystack)


def compare(current: Any, expected: Any, op: str) -> bool:
    """``current op expected`` for the comparison operators. Never raises on odd
    values: a record's data must not break a poll, only a rule's configuration may."""
    if op == "contains":
        return _contains(current, expected)
    if op == "=":
        return equal(current, expected)
    if op == "!=":
        return not equal(current, expected)
    if op in _ORDER:
        return _ordered(current, expected, op)
    raise RuleError(f'"{op}" is not a comparison operator')


# --- evaluation ---------------------------------------------------------------------------


def condition(rule: Rule, current: Mapping[str, Any], previous: Mapping[str, Any] | None) -> bool:
    """Whether the rule's condition holds on this poll. ``previous`` is the record at the
    last poll (None on the first), used only by the edge operators."""
    validate_rule(rule)
    if rule.field not in current:
        raise RuleFieldMissingError(rule, rule.field, current.keys())
    now = current[rule.field]
    if rule.op in EDGE_OPERATORS:
        return _changed(rule, now, previous)
    if rule.op == "is empty":
        return is_empty(now)
    if rule.op == "is not empty":
        return not is_empty(now)
    return compare(now, rule.value, rule.op)


def _changed(rule: Rule, now: Any, previous: Mapping[str, Any] | None) -> bool:
    """A change needs an earlier observation of the field: a first sight is not one."""
    if previous is None or rule.field not in previous:
        return False
    before = previous[rule.field]
    if equal(before, now):
        return False
    if rule.op == "changes":
        return True
    return equal(before, rule.from_value) and equal(now, rule.value)


@dataclass
class Decision:
    """A rule's outcome on one poll: ``now_true`` is the state to store for next time,
    ``fire`` whether to post the rule's message now."""

    rule: Rule
    now_true: bool
    fire: bool


def decide(
    rule: Rule,
    current: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    was_true: bool | None,
) -> Decision:
    """Fire on becoming true (``was_true`` None = never evaluated, so a first true fires);
    edge rules fire whenever true, since each true poll is a new change."""
    now_true = condition(rule, current, previous)
    fire = now_true and (rule.op in EDGE_OPERATORS or not was_true)
    return Decision(rule=rule, now_true=now_true, fire=fire)


def state_key(rule: Rule) -> int | str:
    """Key of a rule's stored truth value: its id, or its description before it has one."""
    return rule.id if rule.id is not None else rule.describe()


def evaluate_rules(
    rules: Sequence[Rule],
    category_remote_id: str | None,
    current: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    states: Mapping[int | str, bool],
) -> tuple[list[Decision], list[RuleError]]:
    """Decisions for every rule that applies to the category; a misconfigured rule goes
    to the error list (its state should stay as it was) and never stops the others."""
    decisions: list[Decision] = []
    errors: list[RuleError] = []
    for rule in rules:
        if not rule.applies_to(category_remote_id):
            continue
        try:
            decisions.append(decide(rule, current, previous, states.get(state_key(rule))))
        except RuleError as exc:
            errors.append(exc)
    return decisions, errors
