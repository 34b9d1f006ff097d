"""The agency configuration file: YAML text in, validated objects out.

This module is the file -> validated-object step only. It knows nothing of
Flask or the database; ``crosswalk config load`` (and the tests) call
:func:`load_agency_config` and store the result.

Every problem in the file is collected before anything is reported, each with
the dotted path of the key and the line it is on::

    integrations[0].endpoints.test: not a URL (line 14)
    crm.tokn: unknown key (did you mean 'token_env'?) (line 9)

Integrations are validated by ``kind``: the registry gives the connector
class, whose ``settings_model`` holds the kind's keys and whose ``supports``
lists the feature switches it can honour. Secrets never live in the file, only
the names of the environment variables holding them.
"""

from __future__ import annotations

import difflib
import os
import re
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from geo.boundary import BoundaryError, load_boundary
from integrations.errors import IntegrationConfigError
from integrations.registry import connector_class
from integrations.settings import (
    EnvVarName,
    HttpUrl,
    IntegrationSettings,
    StrictModel,
)

__all__ = [
    "DEFAULT_GEOCODER_URL",
    "AgencyConfig",
    "AgencySettings",
    "ConfigError",
    "ConfigProblem",
    "CrmSettings",
    "GeocoderSettings",
    "load_agency_config",
    "parse_agency_config",
]

DEFAULT_GEOCODER_URL = "https://geocode.arcgis.com/arcgis/rest/services/World/GeocodeServer"

# Keys that look like a secret value rather than the name of a variable.
_SECRET_KEY = re.compile(r"(?:^|_)(?:token|password|passwd|secret|api_?key)$", re.IGNORECASE)
_MERGE_TAG = "tag:yaml.org,2002:merge"
# A YAML alias may repeat a subtree; refuse documents that expand absurdly.
_MAX_NODES = 100_000


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


def _custom(kind: str, message: str) -> PydanticCustomError:
    # The message goes through the context so braces in it are never a template.
    return PydanticCustomError(kind, "{message}", {"message": message})


# --------------------------------------------------------------------------
# The models
# --------------------------------------------------------------------------
class AgencySettings(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    # Display name on the comments Crosswalk posts; defaults to ``name``, so
    # after validation it is always a str.
    integration_user: str | None = Field(None, min_length=1, max_length=200)
    # A GeoJSON file relative to the configuration file (used by importers).
    boundary: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _default_integration_user(self) -> AgencySettings:
        if self.integration_user is None:
            self.integration_user = self.name
        return self


class CrmSettings(StrictModel):
    kind: Literal["seeclickfix"]
    base_url: HttpUrl
    organization_id: int = Field(gt=0)
    token_env: EnvVarName
    webhook_secret_env: EnvVarName | None = None
    poll_interval: int = Field(60, ge=10, le=86400)
    archive_after_days: int = Field(14, ge=1, le=365)
    per_page: int = Field(100, ge=1, le=100)


class GeocoderSettings(StrictModel):
    url: HttpUrl = DEFAULT_GEOCODER_URL
    token_env: EnvVarName | None = None
    timeout: float = Field(10.0, gt=0, le=300)
    enabled: bool = True


def _integration_by_kind(value: Any) -> Any:
    """Validate one integration with its kind's settings model.

    Collects the kind problem and the kind model's errors (unsupported feature
    switches among them) together, each at its own location.
    """
    if isinstance(value, IntegrationSettings):
        return value  # built (and so validated) by its own kind's model
    if not isinstance(value, Mapping):
        return value  # the IntegrationSettings schema reports "should be a mapping"

    errors: list[dict[str, Any]] = []
    connector = None
    kind = value.get("kind")
    if "kind" not in value:
        errors.append({"type": "missing", "loc": ("kind",), "input": dict(value)})
    elif not isinstance(kind, str):
        errors.append({"type": "string_type", "loc": ("kind",), "input": kind})
    else:
        try:
            connector = connector_class(kind)
        except IntegrationConfigError as exc:
            errors.append(
                {"type": _custom("unknown_kind", str(exc)), "loc": ("kind",), "input": kind}
            )

    # Without a known kind, still check the keys every kind shares; the
    # kind-specific keys cannot be judged, so "unknown key" is not reported.
    model = connector.settings_model if connector is not None else IntegrationSettings
    result = None
    try:
        result = model.model_validate(value)
    except ValidationError as exc:
        for err in exc.errors():
            unjudged = err["type"] == "extra_forbidden" or err["loc"][:1] == ("kind",)
            if connector is None and unjudged:
                continue
            errors.append(_line_error(err))

    if errors:
        raise ValidationError.from_exception_data(model.__name__, errors)
    return result


def _line_error(err: Mapping[str, Any]) -> dict[str, Any]:
    """An ``errors()`` entry as ``from_exception_data`` wants it back."""
    line: dict[str, Any] = {"type": err["type"], "loc": err["loc"], "input": err.get("input")}
    if "ctx" in err:
        line["ctx"] = err["ctx"]
    try:  # a known pydantic type: keep it (its ctx feeds the messages)
        ValidationError.from_exception_data("probe", [line])
    except Exception:  # a custom type raised by a settings model: keep its text
        line = {
            "type": _custom(err["type"], err["msg"]),
            "loc": err["loc"],
            "input": err.get("input"),
        }
    return line


IntegrationEntry = Annotated[IntegrationSettings, BeforeValidator(_integration_by_kind)]


class AgencyConfig(StrictModel):
    """The whole file. ``source_path`` and ``boundary_path`` are set by the loader."""

    agency: AgencySettings
    crm: CrmSettings
    geocoder: GeocoderSettings = Field(default_factory=GeocoderSettings)
    integrations: list[IntegrationEntry] = Field(default_factory=list)

    _source_path: Path | None = PrivateAttr(default=None)
    _boundary_path: Path | None = PrivateAttr(default=None)

    @field_validator("geocoder", "integrations", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any, info: Any) -> Any:
        # `geocoder:` or `integrations:` with nothing after it reads as null.
        if value is None:
            return GeocoderSettings() if info.field_name == "geocoder" else []
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> AgencyConfig:
        seen: set[str] = set()
        for integration in self.integrations:
            if integration.name in seen:
                raise _custom("duplicate_name", f"duplicate integration name {integration.name!r}")
            seen.add(integration.name)
        return self

    @property
    def source_path(self) -> Path:
        """The file this configuration came from (``Path(source)`` for a string)."""
        return self._source_path if self._source_path is not None else Path("<string>")

    @property
    def boundary_path(self) -> Path | None:
        """``agency.boundary`` resolved against the configuration file's directory."""
        return self._boundary_path

    def integration(self, name: str) -> IntegrationSettings:
        for integration in self.integrations:
            if integration.name == name:
                return integration
        raise KeyError(name)


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------
def load_agency_config(path: str | os.PathLike[str]) -> AgencyConfig:
    """Read, parse and validate the configuration file at ``path``.

    Raises :class:`ConfigError` listing every problem found.
    """
    file = Path(path)
    source = str(file)
    if not file.exists():
        raise ConfigError([ConfigProblem("", f"file does not exist: {file}")], source=source)
    if not file.is_file():
        raise ConfigError([ConfigProblem("", f"not a file: {file}")], source=source)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [ConfigProblem("", f"cannot read {file}: not UTF-8 text ({exc.reason})")],
            source=source,
        ) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(
            [ConfigProblem("", f"cannot read {file}: {reason}")], source=source
        ) from None
    config = parse_agency_config(text, source=source, base_dir=file.resolve().parent)
    config._source_path = file.resolve()
    return config


def parse_agency_config(
    text: str, *, source: str = "<string>", base_dir: Path | None = None
) -> AgencyConfig:
    """Parse and validate configuration ``text``.

    ``base_dir`` is where relative paths (``agency.boundary``) are resolved;
    by default the current directory.
    """
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    document = _read_yaml(text, source)
    problems = list(document.problems)
    data = document.data

    if data is None:
        problems.append(
            ConfigProblem(
                "", "the file is empty: expected a mapping with agency, crm and integrations"
            )
        )
        raise ConfigError(problems, source=source)
    if not isinstance(data, dict):
        problems.append(
            ConfigProblem(
                "",
                f"the top level must be a mapping with agency, crm and integrations, "
                f"not {_describe(data)}",
                document.lines.get(()),
            )
        )
        raise ConfigError(problems, source=source)

    config: AgencyConfig | None = None
    try:
        config = AgencyConfig.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            if err["type"] == "duplicate_name":
                continue  # reported below, with both lines
            problems.append(_problem_from_error(err, data, document.lines))

    problems.extend(_duplicate_names(data, document.lines))
    boundary_path, boundary_problem = _check_boundary(data, base, document.lines)
    if boundary_problem is not None:
        problems.append(boundary_problem)

    if problems or config is None:
        raise ConfigError(_in_file_order(problems), source=source)
    config._source_path = Path(source)
    config._boundary_path = boundary_path
    return config


# --------------------------------------------------------------------------
# YAML with line numbers
# --------------------------------------------------------------------------
@dataclass
class _Document:
    data: Any
    lines: dict[tuple[Any, ...], int]
    problems: list[ConfigProblem]


def _read_yaml(text: str, source: str) -> _Document:
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise ConfigError([_yaml_problem(exc, text)], source=source) from None
        if node is None:
            return _Document(None, {}, [])
        problems: list[ConfigProblem] = []
        _find_duplicate_keys(loader, node, (), problems, set())
        try:
            data = loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise ConfigError([_yaml_problem(exc, text)], source=source) from None
        lines: dict[tuple[Any, ...], int] = {(): node.start_mark.line + 1}
        try:
            _index_lines(loader, node, (), lines, set())
        except _TooLarge:
            raise ConfigError(
                [
                    ConfigProblem(
                        "",
                        f"the document is too large (more than {_MAX_NODES} values "
                        "once aliases are expanded)",
                    )
                ],
                source=source,
            ) from None
        return _Document(data, lines, problems)
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.YAMLError, text: str) -> ConfigProblem:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = exc.problem or exc.context or "not valid YAML"
        if exc.context and exc.problem:
            where = ""
            if exc.context_mark is not None and exc.context_mark.line + 1 != line:
                where = f" at line {exc.context_mark.line + 1}"
            message = f"{message} ({exc.context}{where})"
        if "\\t" in message or "\t" in message:
            message += "; indent with spaces, not tabs"
        return ConfigProblem("", f"invalid YAML: {message}", line)
    if isinstance(exc, yaml.reader.ReaderError):
        line = text[: exc.position].count("\n") + 1
        return ConfigProblem(
            "",
            f"invalid YAML: {exc.reason} (character #x{exc.character:04x})"
            if isinstance(exc.character, int)
            else f"invalid YAML: {exc.reason}",
            line,
        )
    return ConfigProblem("", f"invalid YAML: {exc}")


def _key(loader: yaml.SafeLoader, node: Node) -> Any:
    if isinstance(node, ScalarNode):
        try:
            return loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            return node.value
    return f"<{node.id}>"


def _find_duplicate_keys(
    loader: yaml.SafeLoader,
    node: Node,
    path: tuple[Any, ...],
    problems: list[ConfigProblem],
    visited: set[int],
) -> None:
    # An alias reuses a node: check each node once (and survive recursion).
    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, MappingNode):
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                _find_duplicate_keys(loader, value_node, path, problems, visited)
                continue
            key = _key(loader, key_node)
            line = key_node.start_mark.line + 1
            try:
                first = first_line.get(key)
            except TypeError:  # unhashable: the constructor reports it
                continue
            if first is not None:
                problems.append(
                    ConfigProblem(
                        _format_path((*path, key)),
                        f"duplicate key {key!r} (first at line {first})",
                        line,
                    )
                )
            else:
                first_line[key] = line
            _find_duplicate_keys(loader, value_node, (*path, key), problems, visited)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _find_duplicate_keys(loader, item, (*path, index), problems, visited)


class _TooLarge(Exception):
    pass


def _index_lines(
    loader: yaml.SafeLoader,
    node: Node,
    path: tuple[Any, ...],
    lines: dict[tuple[Any, ...], int],
    stack: set[int],
) -> None:
    """Map each key path to the line of its key (or list item).

    Runs after construction, when merge keys (``<<``) are already flattened;
    a later pair overrides an earlier one, as in the constructed mapping.
    """
    if id(node) in stack:  # a recursive alias
        return
    if len(lines) > _MAX_NODES:
        raise _TooLarge
    stack.add(id(node))
    if isinstance(node, MappingNode):
        last: dict[Any, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = _key(loader, key_node)
            try:
                last.pop(key, None)
                last[key] = (key_node, value_node)
            except TypeError:
                continue
        for key, (key_node, value_node) in last.items():
            child = (*path, key)
            lines[child] = key_node.start_mark.line + 1
            _index_lines(loader, value_node, child, lines, stack)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _index_lines(loader, item, child, lines, stack)
    stack.discard(id(node))


# --------------------------------------------------------------------------
# From pydantic errors to problems
# --------------------------------------------------------------------------
def _format_path(loc: Sequence[Any], data: Any = None) -> str:
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
            text = _describe(part) if not isinstance(part, str) else part
            out += f".{text}" if out else text
        try:
            data = data[part] if data is not None else None
        except (KeyError, IndexError, TypeError):
            data = None
    return out


def _line_for(loc: Sequence[Any], lines: Mapping[tuple[Any, ...], int]) -> int | None:
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


def _describe(value: Any) -> str:
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


def _problem_from_error(
    err: Mapping[str, Any], data: Any, lines: Mapping[tuple[Any, ...], int]
) -> ConfigProblem:
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
        message = _unknown_key_message(loc, data)
    elif kind == "invalid_key":  # pydantic may write the key itself as text in loc
        loc = (*loc[:-1], value) if loc else (value,)
        message = f"keys must be text, not {_describe(value)}"
    else:
        message = _message(kind, err["msg"], ctx, value)
    return ConfigProblem(_format_path(loc, data), message, _line_for(loc, lines))


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
        return f"should be a mapping of keys, not {_describe(value)}"
    if kind == "list_type":
        return f"should be a list, not {_describe(value)}"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "should not be empty"
    if kind in _NO_INPUT_SHOWN or not isinstance(value, str | int | float | bool | None):
        text = msg
    else:
        text = f"{msg} (got {_describe(value)})"
    for prefix in ("Input should", "String should", "List should", "Value should"):
        if text.startswith(prefix):
            return "should" + text[len(prefix) :]
    return text


def _unknown_key_message(loc: tuple[Any, ...], data: Any) -> str:
    key = loc[-1] if loc else ""
    model = _model_at(AgencyConfig, loc[:-1], data)
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


# --------------------------------------------------------------------------
# Checks that need the file: duplicate names, the boundary file
# --------------------------------------------------------------------------
def _duplicate_names(
    data: Mapping[str, Any], lines: Mapping[tuple[Any, ...], int]
) -> list[ConfigProblem]:
    integrations = data.get("integrations")
    if not isinstance(integrations, list):
        return []
    problems: list[ConfigProblem] = []
    first: dict[str, int] = {}
    for index, item in enumerate(integrations):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            continue
        name = item["name"].strip()
        loc = ("integrations", index, "name")
        if name in first:
            where = _line_for(("integrations", first[name], "name"), lines)
            problems.append(
                ConfigProblem(
                    _format_path(loc),
                    f"duplicate name {name!r} (first at line {where})",
                    _line_for(loc, lines),
                )
            )
        else:
            first[name] = index
    return problems


def _check_boundary(
    data: Mapping[str, Any], base: Path, lines: Mapping[tuple[Any, ...], int]
) -> tuple[Path | None, ConfigProblem | None]:
    agency = data.get("agency")
    if not isinstance(agency, Mapping):
        return None, None
    boundary = agency.get("boundary")
    if not isinstance(boundary, str) or not boundary.strip():
        return None, None
    loc = ("agency", "boundary")
    resolved = (base / boundary.strip()).resolve()

    def problem(message: str) -> tuple[Path, ConfigProblem]:
        return resolved, ConfigProblem(_format_path(loc), message, _line_for(loc, lines))

    if not resolved.exists():
        return problem(f"file not found: {resolved}")
    if not resolved.is_file():
        return problem(f"not a file: {resolved}")
    try:
        with resolved.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        return problem(f"cannot read {resolved}: {exc.strerror or exc}")
    try:
        # One polygon without cutouts, valid, in WGS84: the importer needs it.
        load_boundary(resolved)
    except BoundaryError as exc:
        return problem(f"{resolved.name}: {exc}")
    return resolved, None


def _in_file_order(problems: Iterable[ConfigProblem]) -> list[ConfigProblem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.line is None, p.line or 0))
