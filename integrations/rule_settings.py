"""Settings of one comment-on-field-match rule (the ``rules:`` list of an integration).

A rule names a remote field, an operator and a value, and the message to post on
the CRM issue when the condition becomes true. The operator vocabulary lives here,
not in ``webapp``: ``integrations`` never imports ``webapp``, and the evaluator in
``webapp.sync.rules`` imports these tuples so the two can never disagree.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from .config_types import Message, RemoteId, StrictModel

# Every operator, in the spelling the YAML uses.
OPERATORS: tuple[str, ...] = (
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
)
# Operators that compare the field with `value` (so need one).
COMPARISON_OPERATORS: tuple[str, ...] = ("=", "!=", ">", ">=", "<", "<=", "contains")
# Ordering operators: meaningless for a true/false value.
ORDERING_OPERATORS: tuple[str, ...] = (">", ">=", "<", "<=")
# Operators that take no value at all.
VALUELESS_OPERATORS: tuple[str, ...] = ("is empty", "is not empty", "changes")
# Edge operators: true only on the poll where a change is seen, so each change fires.
EDGE_OPERATORS: tuple[str, ...] = ("changes", "changes from")

# A remote field name as the vendors spell them (TasksField, WO_STAT_CD, cgId.Value).
# Dots and hyphens are part of the key: there is no nested-path lookup.
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")

_SCALARS = (str, int, float, bool)


def normalize_op(value: Any) -> Any:
    """Lower-case and collapse inner spaces: `Changes  From` is a typo, not a new operator."""
    return " ".join(value.split()).lower() if isinstance(value, str) else value


def is_blank(value: Any) -> bool:
    """No value: absent, null, or text that is only whitespace."""
    return value is None or (isinstance(value, str) and not value.strip())


def _plain(value: Any) -> Any:
    # YAML reads `value: 2026-11-23` as a date; store ISO text so the rule fits a
    # JSON column. The evaluator parses ISO text back into a date when comparing.
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _scalar(value: Any, key: str) -> Any:
    value = _plain(value)
    if value is not None and not isinstance(value, _SCALARS):
        raise ValueError(
            f"{key} must be text, a number, true/false or a date (one value, not a list)"
        )
    return value


class RuleSettings(StrictModel):
    """One rule: post `message` on the CRM issue when `field op value` becomes true."""

    field: str = Field(min_length=1, max_length=200)
    op: str
    value: Any = None
    from_: Any = Field(None, alias="from")
    message: Message
    categories: list[RemoteId] = Field(default_factory=list)
    # false keeps the rule (and its fire-once history) without evaluating it:
    # how a rule disabled in the console is written back to a file, in its place.
    enabled: bool = True

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    @field_validator("field")
    @classmethod
    def _field_name(cls, value: str) -> str:
        if not FIELD_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a remote field name (letters, digits, '_', '.', '-'; "
                "starting with a letter or '_')"
            )
        return value

    @field_validator("op", mode="before")
    @classmethod
    def _known_op(cls, value: Any) -> Any:
        op = normalize_op(value)
        if op not in OPERATORS:
            valid = ", ".join(f'"{o}"' for o in OPERATORS)
            raise ValueError(f"unknown op {value!r}; use one of {valid}")
        return op

    @field_validator("value", mode="before")
    @classmethod
    def _scalar_value(cls, value: Any) -> Any:
        return _scalar(value, "value")

    @field_validator("from_", mode="before")
    @classmethod
    def _scalar_from(cls, value: Any) -> Any:
        return _scalar(value, "from")

    @field_validator("categories")
    @classmethod
    def _unique_categories(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for remote_id in value:
            if remote_id in seen:
                raise ValueError(f"category {remote_id!r} is listed twice")
            seen.add(remote_id)
        return value

    @model_validator(mode="after")
    def _operands_fit_op(self) -> RuleSettings:
        """Each operator takes exactly the operands it uses: a stray `value` or `from`
        is almost always a misunderstood rule, so it is refused rather than ignored."""
        op, has_value, has_from = self.op, not is_blank(self.value), not is_blank(self.from_)
        if self.from_ is not None and op != "changes from":
            raise ValueError(f'from is only for op "changes from" (this rule has op "{op}")')
        if op == "changes from":
            self._check_changes_from(has_value, has_from)
        elif op in VALUELESS_OPERATORS and self.value is not None:
            raise ValueError(f'op "{op}" takes no value; remove value')
        elif op in COMPARISON_OPERATORS and not has_value:
            hint = ' (to test for no value, use op "is empty" or "is not empty")'
            raise ValueError(f'op "{op}" needs a value to compare {self.field} with{hint}')
        if op in ORDERING_OPERATORS and isinstance(self.value, bool):
            raise ValueError(f'op "{op}" orders numbers, dates or text, not true/false')
        return self

    def _check_changes_from(self, has_value: bool, has_from: bool) -> None:
        if not (has_value and has_from):
            raise ValueError(
                'op "changes from" needs both from (the previous value) and value (the new one)'
            )
        if str(self.from_).strip().casefold() == str(self.value).strip().casefold():
            raise ValueError('op "changes from": from and value are the same, so it never fires')
