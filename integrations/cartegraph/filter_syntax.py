"""The Cartegraph ``filter=`` query syntax: building expressions safely.

The grammar names fields in brackets without their ``Field`` suffix
(``[Status] is equal to "Open"``) and quotes strings with ``"``. User text is
never pasted into a filter unescaped.
"""

from __future__ import annotations

from collections.abc import Iterable


def field_ref(field_name: str) -> str:
    """``StatusField`` → ``[Status]``; ``Oid`` → ``[Oid]``."""
    base = field_name[:-5] if field_name.endswith("Field") and len(field_name) > 5 else field_name
    return f"[{base}]"


def literal(value: object) -> str:
    """A filter literal: numbers and booleans bare, text quoted with ``"`` escaped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def equals(field_name: str, value: object) -> str:
    """``([Field] is equal to <value>)``."""
    return f"({field_ref(field_name)} is equal to {literal(value)})"


def is_in(field_name: str, values: Iterable[object]) -> str:
    """``([Field] in (<v1>,<v2>))``: one query for a whole batch of ids."""
    items = ",".join(literal(v) for v in values)
    return f"({field_ref(field_name)} in ({items}))"
