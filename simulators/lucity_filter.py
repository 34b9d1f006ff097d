"""Lucity's ``FILTER=`` (a SQL ``WHERE`` clause) and ``ORDERBY=``: tokenizer, parser, evaluator.

Grammar (keywords and column names case-insensitive)::

    filter     := [TABLE "WHERE"] expr
    expr       := term ("OR" term)*
    term       := unary ("AND" unary)*
    unary      := "NOT" unary | "(" expr ")" | predicate
    predicate  := COLUMN cmp value
                | COLUMN ["NOT"] "IN" "(" value ("," value)* ")"
                | COLUMN ["NOT"] "LIKE" STRING
                | COLUMN ["NOT"] "BETWEEN" value "AND" value
                | COLUMN "IS" ["NOT"] "NULL"
    cmp        := "=" | "<>" | "!=" | "<" | "<=" | ">" | ">="
    value      := STRING | NUMBER

* ``TABLE`` (``WKREQ`` in ``WKREQ WHERE RQ_STAT_CD < 950``) is optional; when
  given it must name the table being listed.
* ``COLUMN`` is a database column name (``RQ_NUMBER``), optionally in brackets
  (``[RQ_NUMBER]``); the table's column map turns it into the JSON property.
* ``STRING`` is single-quoted, ``''`` stands for one quote (``'O''Brien'``);
  an ``N`` prefix (``N'...'``) is accepted. ``NUMBER`` is ``-12``, ``3.5``.
  There is no ``NULL`` literal: ``= NULL`` is an error, write ``IS NULL``.

Evaluation follows SQL Server: text compares case-insensitively; a number
column converts its literal (``RQ_STAT_CD = '950'`` works, ``= 'abc'`` is a
conversion error, reported when parsing); a date column parses its literal
(``'2026-03-01'``, ``'2026-03-01 08:30'``, ``'2026-03-01T08:30:00'``,
``'03/01/2026'``); ``LIKE`` knows ``%`` and ``_``. Three-valued logic: any
comparison with a NULL is UNKNOWN, ``NOT UNKNOWN`` is UNKNOWN, and only rows
whose filter is TRUE are returned.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simulators.token_cursor import TokenCursor

NUMBER, TEXT, DATE, BOOL = "number", "text", "date", "bool"
KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "IS", "NULL", "BETWEEN", "WHERE"})
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
)


class FilterError(ValueError):
    """A malformed ``FILTER``/``ORDERBY``; the message is what the 400 body says."""


@dataclass(frozen=True)
class Column:
    """A database column (``RQ_STAT_CD``) and the JSON property it holds (``StatusCode``)."""

    name: str
    prop: str
    kind: str = TEXT


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column:
        wanted = name.upper()
        for column in self.columns:
            if column.name == wanted:
                return column
        raise FilterError(f"Invalid column name '{name}' for table {self.name}.")

    def sort_property(self, name: str) -> str:
        """``ORDERBY`` accepts a JSON property (``StatusCode``) or a column (``RQ_STAT_CD``)."""
        for column in self.columns:
            if column.prop.lower() == name.lower():
                return column.prop
        return self.column(name).prop


@dataclass(frozen=True)
class Token:
    kind: str  # IDENT, KEYWORD, STRING, NUMBER, OP, LPAREN, RPAREN, COMMA, END
    value: Any
    pos: int


@dataclass(frozen=True)
class Predicate:
    column: Column
    op: str  # eq ne lt le gt ge in not_in like not_like between not_between is_null not_null
    value: Any = None


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Node, ...]


Node = Predicate | Not | BoolOp

_SYMBOL_OPS = {"=": "eq", "<>": "ne", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_PUNCTUATION = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA"}
_NUMBER_RE = re.compile(r"-?\d+(\.\d+)?")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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
        elif char == "'" or (char in "Nn" and text[i + 1 : i + 2] == "'"):
            start = i + 1 if char != "'" else i
            value, i = _read_string(text, start)
            tokens.append(Token("STRING", value, start))
        elif char.isdigit() or (char == "-" and text[i + 1 : i + 2].isdigit()):
            match = _NUMBER_RE.match(text, i)
            assert match is not None
            literal = match.group()
            tokens.append(Token("NUMBER", float(literal) if "." in literal else int(literal), i))
            i = match.end()
        elif text.startswith(("<>", "!=", "<=", ">="), i):
            tokens.append(Token("OP", text[i : i + 2], i))
            i += 2
        elif char in "=<>":
            tokens.append(Token("OP", char, i))
            i += 1
        elif char == "[":
            end = text.find("]", i)
            match = _IDENT_RE.fullmatch(text, i + 1, end) if end != -1 else None
            if match is None:
                raise FilterError(f"Invalid column reference at position {i}.")
            tokens.append(Token("IDENT", match.group(), i))
            i = end + 1
        elif char.isalpha() or char == "_":
            match = _IDENT_RE.match(text, i)
            assert match is not None
            word = match.group()
            if word.upper() in KEYWORDS:
                tokens.append(Token("KEYWORD", word.upper(), i))
            else:
                tokens.append(Token("IDENT", word, i))
            i = match.end()
        else:
            raise FilterError(f"Incorrect syntax near '{char}' at position {i}.")
    tokens.append(Token("END", None, len(text)))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read the quoted string at ``start``; returns its value and the index after it."""
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        if text[i] == "'":
            if text[i + 1 : i + 2] == "'":
                chars.append("'")
                i += 2
                continue
            return "".join(chars), i + 1
        chars.append(text[i])
        i += 1
    raise FilterError(f"Unclosed quotation mark starting at position {start}.")


def parse_date(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        raise FilterError(
            f"Conversion failed when converting date and/or time from character string '{text}'."
        ) from None


def _convert(column: Column, value: Any) -> Any:
    """A literal in the column's type, as SQL Server's implicit conversion would make it."""
    if column.kind == NUMBER:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise FilterError(
                f"Conversion failed when converting the varchar value '{value}' "
                f"to data type int (column {column.name})."
            ) from None
    if column.kind == BOOL:
        text = str(value).strip().lower()
        if text in ("1", "1.0", "true"):
            return True
        if text in ("0", "0.0", "false"):
            return False
        raise FilterError(
            f"Conversion failed when converting the value '{value}' to data type bit "
            f"(column {column.name})."
        )
    if column.kind == DATE:
        return parse_date(value)
    return str(value).casefold()


def _like_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


class _Parser(TokenCursor):
    def __init__(self, tokens: list[Token], table: Table) -> None:
        super().__init__(tokens)
        self.table = table

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def at(self, *keywords: str) -> bool:
        return self.current.kind == "KEYWORD" and self.current.value in keywords

    def expect_keyword(self, keyword: str) -> None:
        if not self.at(keyword):
            self.fail(f"expected {keyword}")
        self.advance()

    def error(self, expectation: str, token: Token) -> FilterError:
        found = "the end of the filter" if token.kind == "END" else f"'{token.value}'"
        return FilterError(
            f"Incorrect syntax: {expectation} but found {found} at position {token.pos}."
        )

    def parse(self) -> Node:
        if (
            self.current.kind == "IDENT"
            and self.peek().kind == "KEYWORD"
            and (self.peek().value == "WHERE")
        ):
            table_name = self.advance().value
            if table_name.upper() != self.table.name:
                raise FilterError(f"Invalid table name '{table_name}'; expected {self.table.name}.")
            self.advance()
        node = self.expr()
        if self.current.kind != "END":
            self.fail("expected AND, OR or the end of the filter")
        return node

    def expr(self) -> Node:
        operands = [self.term()]
        while self.at("OR"):
            self.advance()
            operands.append(self.term())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands))

    def term(self) -> Node:
        operands = [self.unary()]
        while self.at("AND"):
            self.advance()
            operands.append(self.unary())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands))

    def unary(self) -> Node:
        if self.at("NOT"):
            self.advance()
            return Not(self.unary())
        if self.current.kind == "LPAREN":
            self.advance()
            node = self.expr()
            self.expect("RPAREN", "')'")
            return node
        column = self.table.column(self.expect("IDENT", "a column name or '('").value)
        return self.predicate(column)

    def predicate(self, column: Column) -> Predicate:
        if self.current.kind == "OP":
            op = _SYMBOL_OPS[self.advance().value]
            return Predicate(column, op, self.value(column))
        if self.at("IS"):
            self.advance()
            negated = self.at("NOT")
            if negated:
                self.advance()
            self.expect_keyword("NULL")
            return Predicate(column, "not_null" if negated else "is_null")
        negated = self.at("NOT")
        if negated:
            self.advance()
        prefix = "not_" if negated else ""
        if self.at("IN"):
            self.advance()
            return Predicate(column, prefix + "in", self.value_list(column))
        if self.at("LIKE"):
            self.advance()
            pattern = self.expect("STRING", "a quoted LIKE pattern").value
            return Predicate(column, prefix + "like", _like_regex(pattern))
        if self.at("BETWEEN"):
            self.advance()
            low = self.value(column)
            self.expect_keyword("AND")
            return Predicate(column, prefix + "between", (low, self.value(column)))
        self.fail("expected a comparison operator, IN, LIKE, BETWEEN or IS")

    def value(self, column: Column) -> Any:
        if self.at("NULL"):
            self.fail("expected a value (use IS NULL or IS NOT NULL to test for NULL)")
        if self.current.kind not in ("STRING", "NUMBER"):
            self.fail("expected a quoted string or a number")
        return _convert(column, self.advance().value)

    def value_list(self, column: Column) -> frozenset[Any]:
        self.expect("LPAREN", "'(' to open the IN list")
        values = [self.value(column)]
        while self.current.kind == "COMMA":
            self.advance()
            values.append(self.value(column))
        self.expect("RPAREN", "')' to close the IN list")
        return frozenset(values)


def parse_filter(text: str, table: Table) -> Node | None:
    """Parse ``text`` against ``table``'s columns; ``None`` for a blank filter."""
    if not text.strip():
        return None
    return _Parser(tokenize(text), table).parse()


def _cell(column: Column, record: Mapping[str, Any]) -> Any:
    """The record's value in the column's type (``None`` stays NULL)."""
    value = record.get(column.prop)
    if value is None or (value == "" and column.kind != TEXT):
        return None
    if column.kind == NUMBER:
        return float(value)
    if column.kind == BOOL:
        return bool(value)
    if column.kind == DATE:
        return parse_date(value)
    return str(value).casefold()


def _predicate(node: Predicate, record: Mapping[str, Any]) -> bool | None:
    value = _cell(node.column, record)
    op = node.op
    if op == "is_null":
        return value is None
    if op == "not_null":
        return value is not None
    if value is None:
        return None
    if op in ("in", "not_in"):
        return (value in node.value) == (op == "in")
    if op in ("like", "not_like"):
        found = node.value.fullmatch(str(record.get(node.column.prop))) is not None
        return found == (op == "like")
    if op in ("between", "not_between"):
        low, high = node.value
        return (low <= value <= high) == (op == "between")
    other = node.value
    return {
        "eq": value == other,
        "ne": value != other,
        "lt": value < other,
        "le": value <= other,
        "gt": value > other,
        "ge": value >= other,
    }[op]


def evaluate(node: Node, record: Mapping[str, Any]) -> bool | None:
    """TRUE, FALSE or UNKNOWN (``None``), as SQL's three-valued logic gives."""
    if isinstance(node, Predicate):
        return _predicate(node, record)
    if isinstance(node, Not):
        result = evaluate(node.operand, record)
        return None if result is None else not result
    results = [evaluate(operand, record) for operand in node.operands]
    if node.op == "and":
        if False in results:
            return False
        return None if None in results else True
    if True in results:
        return True
    return None if None in results else False


def matches(node: Node | None, record: Mapping[str, Any]) -> bool:
    return node is None or evaluate(node, record) is True


def parse_orderby(text: str, table: Table) -> list[tuple[str, bool]]:
    """``StatusCode DESC, EntryDate`` → ``[("StatusCode", True), ("EntryDate", False)]``."""
    keys = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2:
            raise FilterError(f"Invalid ORDERBY clause '{text}'.")
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            raise FilterError(f"Invalid ORDERBY direction '{words[1]}'; use ASC or DESC.")
        keys.append((table.sort_property(words[0]), direction == "DESC"))
    return keys


def sort_records(
    rows: list[dict[str, Any]], keys: list[tuple[str, bool]], table: Table
) -> list[dict[str, Any]]:
    """Stable multi-key sort; NULLs first ascending (last descending), as SQL Server sorts."""
    kinds = {c.prop: c.kind for c in table.columns}

    def key_for(prop: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
        def key(row: dict[str, Any]) -> tuple[int, Any]:
            value = row.get(prop)
            if value is None:
                return (0, 0)
            if kinds.get(prop) == DATE:
                return (1, parse_date(value))
            if isinstance(value, bool | int | float):
                return (1, float(value))
            return (1, str(value).casefold())

        return key

    for prop, descending in reversed(keys):
        rows.sort(key=key_for(prop), reverse=descending)
    return rows
