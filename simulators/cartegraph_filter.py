"""Cartegraph's ``filter=`` grammar: a tokenizer, a recursive-descent parser, an evaluator.

Grammar (keywords case-insensitive)::

    expr       := term ("OR" term)*
    term       := factor ("AND" factor)*
    factor     := "(" expr ")" | comparison
    comparison := FIELD predicate
    predicate  := "is" ["not"] "null"
                | "is" ["not"] "equal" "to" value
                | "is" ("greater" | "less") "than" value
                | ("=" | "<>" | ">" | "<" | ">=" | "<=") value
                | ["not"] "in" "(" value ("," value)* ")"
                | "contains" value
    value      := STRING | NUMBER | "true" | "false"

Public examples show only ``is equal to``, ``is not equal to``, ``in (…)``
and ``AND``/``OR``; ``is greater than``/``less than`` and ``is null`` appear in
none. They are kept working here (a server may well answer them), but
Crosswalk's clients use only the documented ones.

``FIELD`` is ``[Name]``: the field name *without* its ``Field`` suffix; the
caller's resolver maps it to the stored name. Strings are double-quoted with
``\\"`` or ``""`` for a quote. Evaluation follows the SQL Server backend:
string comparisons ignore case, and any comparison with a null value is false
except ``is null``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from simulators.token_cursor import TokenCursor


class FilterError(ValueError):
    """A malformed filter. ``field_name`` is set when an unknown field caused it."""

    def __init__(self, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_name = field_name


@dataclass(frozen=True)
class Token:
    kind: str  # FIELD, STRING, NUMBER, WORD, OP, LPAREN, RPAREN, COMMA, END
    value: Any
    pos: int


@dataclass(frozen=True)
class Comparison:
    field: str
    op: str  # eq ne gt lt ge le in not_in contains is_null not_null
    value: Any = None


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Node, ...]


Node = Comparison | BoolOp

_SYMBOL_OPS = {"=": "eq", "<>": "ne", ">": "gt", "<": "lt", ">=": "ge", "<=": "le"}
_PUNCTUATION = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA"}


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in _PUNCTUATION:
            tokens.append(Token(_PUNCTUATION[char], char, i))
            i += 1
        elif char == "[":
            end = text.find("]", i)
            name = text[i + 1 : end] if end != -1 else ""
            if end == -1 or not name.replace("_", "").isalnum():
                raise FilterError(f"Invalid field reference at position {i}.")
            tokens.append(Token("FIELD", name, i))
            i = end + 1
        elif char == '"':
            value, end = _read_string(text, i)
            tokens.append(Token("STRING", value, i))
            i = end
        elif char.isdigit() or (char == "-" and text[i + 1 : i + 2].isdigit()):
            value, end = _read_number(text, i)
            tokens.append(Token("NUMBER", value, i))
            i = end
        elif text.startswith(("<>", ">=", "<="), i):
            tokens.append(Token("OP", text[i : i + 2], i))
            i += 2
        elif char in "=<>":
            tokens.append(Token("OP", char, i))
            i += 1
        elif char.isalpha():
            start = i
            while i < len(text) and (text[i].isalpha() or text[i] == "_"):
                i += 1
            tokens.append(Token("WORD", text[start:i].lower(), start))
        else:
            raise FilterError(f"Unexpected character {char!r} at position {i}.")
    tokens.append(Token("END", None, len(text)))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read a quoted string at ``start``; returns its value and the index after it."""
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            chars.append(text[i + 1])
            i += 2
        elif char == '"' and text[i + 1 : i + 2] == '"':
            chars.append('"')
            i += 2
        elif char == '"':
            return "".join(chars), i + 1
        else:
            chars.append(char)
            i += 1
    raise FilterError(f"Unterminated string starting at position {start}.")


def _read_number(text: str, start: int) -> tuple[int | float, int]:
    i = start + 1
    while i < len(text) and (text[i].isdigit() or text[i] == "."):
        i += 1
    literal = text[start:i]
    try:
        return (float(literal) if "." in literal else int(literal)), i
    except ValueError:
        raise FilterError(f"Invalid number {literal!r} at position {start}.") from None


class _Parser(TokenCursor):
    def __init__(self, tokens: list[Token], resolve: Callable[[str], str]) -> None:
        super().__init__(tokens)
        self.resolve = resolve

    def at_word(self, *words: str) -> bool:
        return self.current.kind == "WORD" and self.current.value in words

    def expect_word(self, word: str) -> None:
        if not self.at_word(word):
            self.fail(f"expected '{word}'")
        self.advance()

    def error(self, expectation: str, token: Token) -> FilterError:
        found = "end of filter" if token.kind == "END" else repr(str(token.value))
        return FilterError(
            f"Invalid filter: {expectation} but found {found} at position {token.pos}."
        )

    def parse(self) -> Node:
        node = self.expr()
        if self.current.kind != "END":
            self.fail("expected AND, OR or the end of the filter")
        return node

    def expr(self) -> Node:
        operands = [self.term()]
        while self.at_word("or"):
            self.advance()
            operands.append(self.term())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands))

    def term(self) -> Node:
        operands = [self.factor()]
        while self.at_word("and"):
            self.advance()
            operands.append(self.factor())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands))

    def factor(self) -> Node:
        if self.current.kind == "LPAREN":
            self.advance()
            node = self.expr()
            self.expect("RPAREN", "')'")
            return node
        field_name = self.expect("FIELD", "a [Field] or '('").value
        return self.predicate(self.resolve(field_name))

    def predicate(self, field_name: str) -> Comparison:
        if self.current.kind == "OP":
            op = _SYMBOL_OPS[self.advance().value]
            return Comparison(field_name, op, self.value())
        if self.at_word("contains"):
            self.advance()
            return Comparison(field_name, "contains", self.value())
        if self.at_word("in", "not"):
            negated = self.advance().value == "not"
            if negated:
                self.expect_word("in")
            return Comparison(field_name, "not_in" if negated else "in", self.value_list())
        if self.at_word("is"):
            self.advance()
            return self.is_predicate(field_name)
        self.fail("expected an operator")

    def is_predicate(self, field_name: str) -> Comparison:
        negated = self.at_word("not")
        if negated:
            self.advance()
        if self.at_word("null"):
            self.advance()
            return Comparison(field_name, "not_null" if negated else "is_null")
        if self.at_word("equal"):
            self.advance()
            self.expect_word("to")
            return Comparison(field_name, "ne" if negated else "eq", self.value())
        if not negated and self.at_word("greater", "less"):
            op = "gt" if self.advance().value == "greater" else "lt"
            self.expect_word("than")
            return Comparison(field_name, op, self.value())
        self.fail("expected 'null', 'equal to', 'greater than' or 'less than'")

    def value(self) -> Any:
        token = self.current
        if token.kind in ("STRING", "NUMBER"):
            return self.advance().value
        if self.at_word("true", "false"):
            return self.advance().value == "true"
        self.fail("expected a value (a quoted string, a number, true or false)")

    def value_list(self) -> tuple[Any, ...]:
        self.expect("LPAREN", "'(' to open the list")
        values = [self.value()]
        while self.current.kind == "COMMA":
            self.advance()
            values.append(self.value())
        self.expect("RPAREN", "')' to close the list")
        return tuple(values)


def parse_filter(text: str, resolve: Callable[[str], str]) -> Node:
    """Parse ``text``; ``resolve`` maps a bracketed name to a stored field name
    (raising :class:`FilterError` for unknown fields)."""
    return _Parser(tokenize(text), resolve).parse()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    """Numbers compare as numbers (also a numeric string against a number); all
    else compares as case-insensitive text."""
    if _is_number(left) or _is_number(right):
        try:
            return float(left), float(right)
        except (TypeError, ValueError):
            pass
    return str(left).casefold(), str(right).casefold()


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None:
        return False
    a, b = _comparable(left, right)
    return {
        "eq": a == b,
        "ne": a != b,
        "gt": a > b,
        "lt": a < b,
        "ge": a >= b,
        "le": a <= b,
    }[op]


@functools.cache
def _number_set(values: tuple[Any, ...]) -> frozenset[float] | None:
    """The list as a set of numbers when every item is one (an `[Oid] in (...)`
    batch), so membership is a lookup rather than a scan, as a database would do."""
    if values and all(_is_number(v) for v in values):
        return frozenset(float(v) for v in values)
    return None


@functools.cache
def _text_set(values: tuple[Any, ...]) -> frozenset[str] | None:
    """The list as a set of case-folded texts when every item is text (an
    external-id batch): text against text compares case-insensitively."""
    if values and all(isinstance(v, str) for v in values):
        return frozenset(v.casefold() for v in values)
    return None


def _member(value: Any, values: tuple[Any, ...]) -> bool:
    numbers = _number_set(values)
    if numbers is not None and _is_number(value):
        return float(value) in numbers
    texts = _text_set(values)
    if texts is not None and isinstance(value, str):
        return value.casefold() in texts
    return any(_compare("eq", value, v) for v in values)


def evaluate(node: Node, record: Mapping[str, Any]) -> bool:
    if isinstance(node, BoolOp):
        results = (evaluate(operand, record) for operand in node.operands)
        return all(results) if node.op == "and" else any(results)
    value = record.get(node.field)
    if node.op == "is_null":
        return value is None
    if node.op == "not_null":
        return value is not None
    if value is None:
        return False
    if node.op in ("in", "not_in"):
        found = _member(value, node.value)
        return found if node.op == "in" else not found
    if node.op == "contains":
        return str(node.value).casefold() in str(value).casefold()
    return _compare(node.op, value, node.value)
