"""The token walking both vendor filter parsers share (Cartegraph's bracket
grammar and Lucity's SQL-like FILTER); each says its errors its own way."""

from __future__ import annotations

from typing import Any, NoReturn, Protocol


class _Token(Protocol):
    kind: str
    value: Any
    pos: int


class TokenCursor:
    """A position in a token list ending with an ``END`` token."""

    def __init__(self, tokens: list[Any]) -> None:
        self.tokens = tokens
        self.index = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.current
        self.index += 1
        return token

    def expect(self, kind: str, what: str) -> _Token:
        if self.current.kind != kind:
            self.fail(f"expected {what}")
        return self.advance()

    def fail(self, expectation: str) -> NoReturn:
        raise self.error(expectation, self.current)

    def error(self, expectation: str, token: _Token) -> Exception:
        """The vendor's way of saying the filter is malformed."""
        raise NotImplementedError
