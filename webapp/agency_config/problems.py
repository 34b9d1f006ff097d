"""What is wrong with the file: :class:`ConfigProblem`, the :class:`ConfigError`
that carries every one of them, and the translation of pydantic's errors into
problems a person can act on (dotted path, plain message, line).
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from integrations.errors import IntegrationConfigError
from integrations.registry import connector_class
from integrations.settings import IntegrationSettings

# Keys that look like a secret value rather than the name of a variable.
_SECRET_KEY = re.compile(r"(?:^|_)(?:token|password|passwd|secret|api_?key)$", re.IGNORECASE)


# --------------------------------------------------------------------------
# Problems and the error that carries them
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the file: ``path`` like ``integrations[0].name``."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        return f"{text} (line {self.line})" if self.line is not None else text


class ConfigError(Exception):
    """The configuration file is unusable; ``problems`` lists every reason."""

    def __init__(self, problems: Iterable[ConfigProblem], *, source: str | None = None) -> None:
        self.problems: list[ConfigProblem] = list(problems)
        self.source = source
        super().__init__(str(self.problems[0]) if self.problems else "invalid configuration")

    def __str__(self) -> str:
        return str(self.problems[0]) if self.problems else "invalid configuration"

    def format(self) -> str:
        """Every problem, one per line, in file order."""
        return "\n".join(str(p) for p in self.problems) or "invalid configuration"


def in_file_order(problems: Iterable[ConfigProblem]) -> list[ConfigProblem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.line is None, p.line or 0))


# --------------------------------------------------------------------------
# Raising errors pydantic can collect
# --------------------------------------------------------------------------
def custom_error(kind: str, message: str) -> PydanticCustomError:
    # The message goes through the context so braces in it are never a template.
    return PydanticCustomError(kind, "{message}", {"message": message})


def line_error(err: Mapping[str, Any]) -> dict[str, Any]:
    """An ``errors()`` entry as ``from_exception_data`` wants it back."""
    line: dict[str, Any] = {"type": err["type"], "loc": err["loc"], "input": err.get("input")}
    if "ctx" in err:
        line["ctx"] = err["ctx"]
    try:  # a known pydantic type: keep it (its ctx feeds the messages)
        ValidationError.from_exception_data("probe", [line])
    except Exception:  # a custom type raised by a settings model: keep its text
        line = {
            "type": custom_error(err["type"], err["msg"]),
            "loc": err["loc"],
            "input": err.get("input"),
        }
    return line


# --------------------------------------------------------------------------
# From pydantic errors to problems
# --------------------------------------------------------------------------
def format_path(loc: Sequence[Any], data: Any = None) -> str:
    """``("a", "b", 0, "c")`` as ``a.b[0].c``.

    With ``data``, an index is written ``[i]`` only inside a list, so a
    mapping key that YAML read as a number or null still reads as a key.
    """
    out = ""
    for part in loc:
        in_list = isinstance(data, list) if data is not None else isinstance(part, int)
        if in_list and isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            text = describe(part) if not isinstance(part, str) else part
            out += f".{text}" if out else text
        try:
            data = data[part] if data is not None else None
        except (KeyError, IndexError, TypeError):
            data = None
    return out


def line_for(loc: Sequence[Any], lines: Mapping[tuple[Any, ...], int]) -> int | None:
    """The line of ``loc``, else of its nearest existing parent."""
    parts = tuple(loc)
    for end in range(len(parts), -1, -1):
        try:
            line = lines.get(parts[:end])
        except TypeError:
            continue
        if line is not None:
            return line
    return None


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return repr(shown)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return str(value)


def problem_from_error(
    err: Mapping[str, Any],
    data: Any,
    lines: Mapping[tuple[Any, ...], int],
    root: type[BaseModel],
) -> ConfigProblem:
    """The problem for one pydantic ``errors()`` entry.

    ``root`` is the model that validated ``data`` (``AgencyConfig``); it is
    passed in rather than imported because :mod:`.models` imports this module
    (for :func:`custom_error` and :func:`line_error`), and importing it back
    would be a cycle.
    """
    loc = tuple(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")

    if loc and loc[-1] == "[key]":  # a mapping key itself is wrong
        loc = loc[:-1]
        message = "key " + _message(kind, err["msg"], ctx, value)
    elif kind == "missing":
        message = "required"
    elif kind == "extra_forbidden":
        message = _unknown_key_message(loc, data, root)
    elif kind == "invalid_key":  # pydantic may write the key itself as text in loc
        loc = (*loc[:-1], value) if loc else (value,)
        message = f"keys must be text, not {describe(value)}"
    else:
        message = _message(kind, err["msg"], ctx, value)
    return ConfigProblem(format_path(loc, data), message, line_for(loc, lines))


_NO_INPUT_SHOWN = {
    "value_error",
    "assertion_error",
    "unknown_kind",
    "unsupported_feature",
    "duplicate_name",
}


def _message(kind: str, msg: str, ctx: Mapping[str, Any], value: Any) -> str:
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "assertion_error":
        return msg.removeprefix("Assertion failed, ")
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"should be a mapping of keys, not {describe(value)}"
    if kind == "list_type":
        return f"should be a list, not {describe(value)}"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "should not be empty"
    if kind in _NO_INPUT_SHOWN or not isinstance(value, str | int | float | bool | None):
        text = msg
    else:
        text = f"{msg} (got {describe(value)})"
    for prefix in ("Input should", "String should", "List should", "Value should"):
        if text.startswith(prefix):
            return "should" + text[len(prefix) :]
    return text


def _unknown_key_message(loc: tuple[Any, ...], data: Any, root: type[BaseModel]) -> str:
    key = loc[-1] if loc else ""
    model = _model_at(root, loc[:-1], data)
    fields = list(model.model_fields) if model is not None else []
    if isinstance(key, str) and _SECRET_KEY.search(key) and not key.lower().endswith("_env"):
        env_fields = [f for f in fields if f.endswith("_env")]
        best = difflib.get_close_matches(f"{key}_env", env_fields, n=1, cutoff=0.0)
        use = best[0] if best else f"{key}_env"
        return f"unknown key; secrets are read from environment variables: use {use}"
    if isinstance(key, str) and fields:
        close = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
        if close:
            return f"unknown key (did you mean {close[0]!r}?)"
    return "unknown key"


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin is Union or origin is types.UnionType:
            args = [a for a in get_args(tp) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            if models:
                tp = models[0]
            elif len(args) == 1:
                tp = args[0]
            else:
                return tp
        else:
            return tp


def _model_at(root: type[BaseModel], loc: Sequence[Any], data: Any) -> type[BaseModel] | None:
    """The model validating the mapping at ``loc`` (following integration kinds)."""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            tp = field.annotation
        else:
            origin, args = get_origin(tp), get_args(tp)
            if origin in (list, tuple, Sequence) and isinstance(part, int):
                tp = args[0] if args else Any
            elif origin in (dict, Mapping) and len(args) == 2:
                tp = args[1]
            else:
                return None
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            data = None
    tp = _unwrap(tp)
    if not (isinstance(tp, type) and issubclass(tp, BaseModel)):
        return None
    if issubclass(tp, IntegrationSettings) and isinstance(data, Mapping):
        try:
            return connector_class(str(data.get("kind"))).settings_model
        except IntegrationConfigError:
            return tp
    return tp
