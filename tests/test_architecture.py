"""The layers of DESIGN.md hold: the GUI and the CLI reach the data only through the operations
contract, and no module borrows another module's private names."""

from __future__ import annotations

import ast
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


@pytest.mark.parametrize("path", _modules("ui", "cli"), ids=_rel)
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
