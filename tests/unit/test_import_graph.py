"""The shape of the code: no import cycles, and dependencies one way.

Every ``import`` in the project's packages is read from the source (module
level and inside functions alike: a deferred import still ties two modules
together), except those under ``if TYPE_CHECKING:``, which never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("webapp", "workers", "integrations", "geo", "simulators")
# Which of our packages each may import (the layering of the design card).
ALLOWED = {
    "workers": {"webapp", "integrations", "geo"},
    "webapp": {"integrations", "geo", "simulators"},  # simulators: the demo and its CLI
    "integrations": {"geo"},
    "geo": set(),
    "simulators": set(),
}
# Third-party packages the outer layers own: vendor and geo code stays plain.
FORBIDDEN_THIRD_PARTY = {
    "integrations": {"flask", "flask_sqlalchemy", "sqlalchemy", "rq"},
    "geo": {"flask", "flask_sqlalchemy", "sqlalchemy", "rq", "requests"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {
    module_name(path): path
    for package in PACKAGES
    for path in sorted((ROOT / package).rglob("*.py"))
}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node)


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")
    is_package = MODULES[module].name == "__init__.py"
    base = package if is_package else package[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _ours(name: str) -> str | None:
    """The longest project module ``name`` is or lies in."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> set[str]:
    """Project modules and third-party top-level names ``module`` imports."""
    tree = ast.parse(MODULES[module].read_text(), filename=str(MODULES[module]))
    found: set[str] = set()
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        target = _resolve(module, node)
        found.add(target)
        # `from . import push` imports the module push, not a name in the package.
        found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


GRAPH = {
    module: {ours for name in imports_of(module) if (ours := _ours(name)) and ours != module}
    for module in MODULES
}


def _parents(module: str) -> set[str]:
    """Importing a.b.c runs a/__init__ and a/b/__init__ first."""
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))} & set(MODULES)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path, or None (iterative DFS)."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return [*path[path.index(child) :], child]
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph.get(child, ())))))
    return None


def test_the_project_has_modules_to_check():
    assert {"webapp.sync.engine", "workers.jobs", "integrations.base"} <= set(MODULES)


def test_no_module_import_cycle():
    # A package's __init__ importing its own submodules is how packages work,
    # not a cycle; everything else counts.
    graph = {
        module: {target for target in targets if module not in _parents(target)}
        for module, targets in GRAPH.items()
    }
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_no_package_import_cycle_and_layers_point_one_way():
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if (a := module.split(".")[0]) != (b := target.split(".")[0]) and b not in ALLOWED[a]
    )
    assert wrong == []


@pytest.mark.parametrize("package", sorted(FORBIDDEN_THIRD_PARTY))
def test_inner_layers_know_nothing_of_the_web_app_or_the_database(package):
    wrong = sorted(
        f"{module} imports {name}"
        for module in MODULES
        if module.split(".")[0] == package
        for name in imports_of(module)
        if name.split(".")[0] in FORBIDDEN_THIRD_PARTY[package]
    )
    assert wrong == []


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
