"""YAML with line numbers: the data, the line of every key (and list item),
and the problems a plain ``yaml.safe_load`` would hide or not survive:
duplicate keys (YAML keeps the last silently) and aliases that expand into
an absurdly large document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .problems import ConfigError, ConfigProblem, format_path

_MERGE_TAG = "tag:yaml.org,2002:merge"
# A YAML alias may repeat a subtree; refuse documents that expand absurdly.
_MAX_NODES = 100_000
# An agency file nests about six levels; thousands of "[" would exhaust the
# recursion of the YAML composer and of the checks below.
_MAX_DEPTH = 50


@dataclass
class Document:
    data: Any
    lines: dict[tuple[Any, ...], int]
    problems: list[ConfigProblem]


def read_yaml(text: str, source: str) -> Document:
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise ConfigError([_yaml_problem(exc, text)], source=source) from None
        except RecursionError:
            raise ConfigError([_too_deep()], source=source) from None
        if node is None:
            return Document(None, {}, [])
        if _depth(node) > _MAX_DEPTH:
            raise ConfigError([_too_deep()], source=source)
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
        return Document(data, lines, problems)
    finally:
        loader.dispose()


def _too_deep() -> ConfigProblem:
    return ConfigProblem("", f"the document is nested more than {_MAX_DEPTH} levels deep")


def _depth(root: Node) -> int:
    """How deep the node tree goes (iteratively; an alias's node counted once)."""
    deepest, stack, seen = 0, [(root, 1)], set()
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        deepest = max(deepest, depth)
        if deepest > _MAX_DEPTH:
            break
        if isinstance(node, MappingNode):
            stack.extend((child, depth + 1) for pair in node.value for child in pair)
        elif isinstance(node, SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
    return deepest


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
                        format_path((*path, key)),
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
