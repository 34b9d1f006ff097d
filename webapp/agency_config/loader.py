"""Loading: the file (or text) through YAML, the models and the checks that
need the file itself, into an :class:`AgencyConfig` or one :class:`ConfigError`
listing every problem, in file order.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from geo.boundary import BoundaryError, load_boundary

from .models import AgencyConfig
from .problems import (
    ConfigError,
    ConfigProblem,
    describe,
    format_path,
    in_file_order,
    line_for,
    problem_from_error,
)
from .yaml_lines import read_yaml

# The database keeps the configuration file's path and the boundary's in
# String(1000) columns (Agency.config_source, Agency.boundary_path).
MAX_STORED_PATH = 1000
_SURROGATE = re.compile("[\ud800-\udfff]")


def load_agency_config(path: str | os.PathLike[str]) -> AgencyConfig:
    """Read, parse and validate the configuration file at ``path``.

    Raises :class:`ConfigError` listing every problem found.
    """
    file = Path(path)
    source = str(file)
    if (problem := _unusable_path(file, "file does not exist")) is not None:
        raise ConfigError([ConfigProblem("", problem)], source=source)
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
    resolved = file.resolve()
    config = parse_agency_config(text, source=source, base_dir=resolved.parent)
    config._source_path = resolved
    return config


def _unusable_path(path: Path, missing: str) -> str | None:
    """Why ``path`` cannot be the file it should be, or None when it can.

    A name with NUL, with a surrogate the file system cannot encode, or too
    long for it makes ``os`` raise instead of answering: each becomes a
    one-line reason like every other problem, never a traceback."""
    try:
        resolved = path.resolve()
        if not resolved.exists():
            return f"{missing}: {_shown_path(resolved)}"
        if not resolved.is_file():
            return f"not a file: {_shown_path(resolved)}"
    except ValueError:  # embedded NUL
        return f"the path contains a NUL character: {_shown_path(path)}"
    except UnicodeError:
        return f"the path has characters the file system cannot encode: {_shown_path(path)}"
    except OSError as exc:
        return f"cannot use {_shown_path(path)}: {exc.strerror or exc}"
    if len(str(resolved)) > MAX_STORED_PATH:
        return f"the path is longer than {MAX_STORED_PATH} characters, which cannot be stored"
    return None


def _shown_path(path: Path | str, limit: int = 120) -> str:
    """A path as a one-line message can show it: control characters and
    surrogates escaped, cut short."""
    text = str(path).encode("unicode_escape", "backslashreplace").decode("ascii")
    return text if len(text) <= limit else text[:limit] + "…"


def parse_agency_config(
    text: str, *, source: str = "<string>", base_dir: Path | None = None
) -> AgencyConfig:
    """Parse and validate configuration ``text``.

    ``base_dir`` is where relative paths (``agency.boundary``) are resolved;
    by default the current directory.
    """
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    document = read_yaml(text, source)
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
                f"not {describe(data)}",
                document.lines.get(()),
            )
        )
        raise ConfigError(problems, source=source)

    # Text the database cannot store is reported once, at its key; the other
    # checks of that key would only add noise about the same character.
    text_problems = list(_unstorable_text(data, document.lines))
    problems.extend(text_problems)
    said = {problem.path for problem in text_problems}

    config: AgencyConfig | None = None
    try:
        config = AgencyConfig.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            if err["type"] == "duplicate_name":
                continue  # reported below, with both lines
            problem = problem_from_error(err, data, document.lines, AgencyConfig)
            if problem.path not in said:
                problems.append(problem)

    problems.extend(_duplicate_names(data, document.lines))
    problems.extend(_shared_request_types(data, document.lines))
    boundary_path, boundary_problem = _check_boundary(data, base, document.lines)
    if boundary_problem is not None and boundary_problem.path not in said:
        problems.append(boundary_problem)

    if problems or config is None:
        raise ConfigError(in_file_order(problems), source=source)
    config._source_path = Path(source)
    config._boundary_path = boundary_path
    config._warnings = _warnings(config, document.lines)
    config._lines = document.lines
    return config


def _warnings(config: AgencyConfig, lines: Mapping[tuple[Any, ...], int]) -> list[ConfigProblem]:
    """What loads but will not work as the operator expects: reported, not refused."""
    loc = ("geocoder", "token_env")
    return [
        ConfigProblem(format_path(loc), message, line_for(loc, lines))
        for message in config.geocoder.token_warnings()
    ]


# --------------------------------------------------------------------------
# Text the database cannot store
# --------------------------------------------------------------------------
def _unstorable_text(data: Any, lines: Mapping[tuple[Any, ...], int]) -> Iterator[ConfigProblem]:
    """A problem for every key or value holding NUL (PostgreSQL text cannot)
    or an unpaired surrogate (YAML's "\\ud800" escape: no character at all)."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), data)]
    seen: set[int] = set()  # an alias repeats a subtree, or holds itself: visit each once
    while stack:
        loc, value = stack.pop()
        if isinstance(value, Mapping | list):
            if id(value) in seen:
                continue
            seen.add(id(value))
        if isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str) and (reason := _unstorable(key)):
                    yield ConfigProblem(format_path(loc), f"a key {reason}", line_for(loc, lines))
                else:
                    stack.append(((*loc, key), item))
        elif isinstance(value, list):
            stack.extend(((*loc, index), item) for index, item in enumerate(value))
        elif isinstance(value, str) and (reason := _unstorable(value)):
            yield ConfigProblem(format_path(loc, data), reason, line_for(loc, lines))


def _unstorable(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\0), which cannot be stored"
    if _SURROGATE.search(text):
        return "contains an unpaired surrogate (\\ud800-\\udfff), which is not a character"
    return None


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
            where = line_for(("integrations", first[name], "name"), lines)
            problems.append(
                ConfigProblem(
                    format_path(loc),
                    f"duplicate name {name!r} (first at line {where})",
                    line_for(loc, lines),
                )
            )
        else:
            first[name] = index
    return problems


def _shared_request_types(
    data: Mapping[str, Any], lines: Mapping[tuple[Any, ...], int]
) -> list[ConfigProblem]:
    """Two categories mapped to one CRM request type: each CRM issue goes to
    one category, so the second would never receive one. Refused, naming both."""
    integrations = data.get("integrations")
    if not isinstance(integrations, list):
        return []
    problems: list[ConfigProblem] = []
    first: dict[int, tuple[Any, ...]] = {}
    for i, item in enumerate(integrations):
        categories = item.get("categories") if isinstance(item, Mapping) else None
        for j, category in enumerate(categories if isinstance(categories, list) else ()):
            type_id = category.get("crm_request_type_id") if isinstance(category, Mapping) else None
            if isinstance(type_id, bool) or not isinstance(type_id, int):
                continue
            loc = ("integrations", i, "categories", j, "crm_request_type_id")
            if type_id not in first:
                first[type_id] = loc
                continue
            earlier = first[type_id]
            problems.append(
                ConfigProblem(
                    format_path(loc, data),
                    f"CRM request type {type_id} is already mapped by "
                    f"{format_path(earlier, data)} (line {line_for(earlier, lines)}): each CRM "
                    "issue goes to one category, so this one would never receive an issue",
                    line_for(loc, lines),
                )
            )
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
    path = base / boundary.strip()

    def problem(message: str) -> tuple[None, ConfigProblem]:
        return None, ConfigProblem(format_path(loc), message, line_for(loc, lines))

    if (reason := _unusable_path(path, "file not found")) is not None:
        return problem(reason)
    resolved = path.resolve()
    try:
        with resolved.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        return problem(f"cannot read {_shown_path(resolved)}: {exc.strerror or exc}")
    try:
        # One polygon without cutouts, valid, in WGS84: the importer needs it.
        load_boundary(resolved)
    except BoundaryError as exc:
        return problem(f"{_shown_path(resolved.name)}: {exc}")
    except RecursionError:  # thousands of nested brackets: no GIS exports that
        return problem(f"{_shown_path(resolved.name)}: nested too deeply to read")
    return resolved, None
