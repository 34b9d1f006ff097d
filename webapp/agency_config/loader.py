"""Loading: the file (or text) through YAML, the models and the checks that
need the file itself, into an :class:`AgencyConfig` or one :class:`ConfigError`
listing every problem, in file order.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
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

    config: AgencyConfig | None = None
    try:
        config = AgencyConfig.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            if err["type"] == "duplicate_name":
                continue  # reported below, with both lines
            problems.append(problem_from_error(err, data, document.lines, AgencyConfig))

    problems.extend(_duplicate_names(data, document.lines))
    boundary_path, boundary_problem = _check_boundary(data, base, document.lines)
    if boundary_problem is not None:
        problems.append(boundary_problem)

    if problems or config is None:
        raise ConfigError(in_file_order(problems), source=source)
    config._source_path = Path(source)
    config._boundary_path = boundary_path
    return config


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
        return resolved, ConfigProblem(format_path(loc), message, line_for(loc, lines))

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
