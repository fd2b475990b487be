"""The layers of DESIGN.md hold: the GUI and the CLI reach the data only through the operations
contract, no module borrows another module's private names, and no modules import each other in a
circle (at import time or for type checking).

``python tests/test_architecture.py`` prints the numbers of the import graph (modules, imports,
circles) and the circles themselves."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "backoffice"
FORBIDDEN = ("backoffice.services", "backoffice.db", "backoffice.models")


def _modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (PACKAGE / folder).rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import in the file, at any depth (lazy imports count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module, [a.name for a in node.names]))
    return found


def _rel(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


@pytest.mark.parametrize("path", _modules("ui", "cli", "server"), ids=_rel)
def test_clients_use_only_the_operations_contract(path: Path) -> None:
    bad = [f"line {line}: {module}" for line, module, names in _imports(path)
           if any(module == f or module.startswith(f + ".") for f in FORBIDDEN)
           or (module == "backoffice" and set(names) & {"services", "db", "models"})]
    assert bad == [], f"{_rel(path)} imports below the contract: {bad}"


@pytest.mark.parametrize("path", _modules("."), ids=_rel)
def test_no_private_names_are_borrowed_across_modules(path: Path) -> None:
    bad = [f"line {line}: from {module} import {', '.join(n for n in names if n.startswith('_'))}"
           for line, module, names in _imports(path)
           if module.startswith("backoffice") and any(n.startswith("_") and not n.startswith("__") for n in names)]
    assert bad == [], f"{_rel(path)} imports private names: {bad}"


def import_graph_numbers() -> tuple[int, int, list[list[str]]]:
    """(modules, imports between them, the groups of modules that import each other in a circle), lazy
    and type-checking imports included."""
    import grimp

    graph = grimp.build_graph("backoffice", include_external_packages=False, cache_dir=None)
    modules = {m for m in graph.modules if m.startswith("backoffice")}
    edges = {m: {w for w in graph.find_modules_directly_imported_by(m) if w in modules} for m in modules}
    return len(modules), sum(map(len, edges.values())), _circles(edges)


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_circle_finder_finds_circles() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert _circles(edges) == [["a", "b", "c"]]


def test_no_modules_import_each_other_in_a_circle() -> None:
    _, _, circles = import_graph_numbers()
    assert circles == []


if __name__ == "__main__":
    sys.path.insert(0, str(PACKAGE.parent))
    n_modules, n_imports, found = import_graph_numbers()
    print(f"modules {n_modules}, imports {n_imports}, import circles {len(found)}, "
          f"modules in circles {sum(map(len, found))}")
    for group in found:
        print("  circle: " + ", ".join(group))
