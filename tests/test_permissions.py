"""The permission table decides, for every client: each operation of the contract has an entry, and each
role gets exactly what the table says (refused with PermissionDenied, or let through to the operation)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import backoffice.operations as operations_package
from backoffice.db import Database
from backoffice.models import Role
from backoffice.operations.base import Area, PermissionDenied
from backoffice.operations.local import LocalOperations
from backoffice.services import permissions
from backoffice.services.users import ensure_user


def _areas() -> dict[str, type[Area]]:
    found: dict[str, type[Area]] = {}
    for info in pkgutil.iter_modules(operations_package.__path__):
        module = importlib.import_module(f"backoffice.operations.{info.name}")
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Area) and cls is not Area and cls.__module__ == module.__name__:
                found[info.name] = cls
    return found


def _operations() -> list[tuple[str, str]]:
    ops = []
    for area, cls in sorted(_areas().items()):
        for name, member in vars(cls).items():
            if not name.startswith("_") and inspect.isfunction(member):
                ops.append((area, name))
    return ops


OPERATIONS = _operations()


def test_every_operation_has_an_entry_and_every_entry_an_operation() -> None:
    names = {f"{a}.{m}" for a, m in OPERATIONS}
    assert len(names) > 150
    assert sorted(names - set(permissions.PERMISSIONS)) == [], "operations without a permission entry"
    assert sorted(set(permissions.PERMISSIONS) - names) == [], "entries naming no operation"


def test_every_operation_checks_the_table() -> None:
    unguarded = [f"{a}.{m}" for a, m in OPERATIONS
                 if getattr(vars(_areas()[a])[m], "operation", None) != f"{a}.{m}"]
    assert unguarded == []


@pytest.fixture
def role_operations(sqlite_db: Database) -> dict[Role, LocalOperations]:
    ensure_user(sqlite_db, "first-admin", Role.ADMIN)     # the first account of a database is an admin
    made = {role: ensure_user(sqlite_db, f"u-{role.value}", role) for role in Role}
    assert {role: actor.role for role, actor in made.items()} == {role: role for role in Role}
    return {role: LocalOperations(sqlite_db, actor) for role, actor in made.items()}


def test_each_role_gets_what_the_table_says(role_operations: dict[Role, LocalOperations]) -> None:
    """Each role × each operation: refused exactly where the table refuses (called with no arguments,
    so an allowed call fails later, on its arguments, never on its permission)."""
    wrong = []
    for area, method in OPERATIONS:
        op = f"{area}.{method}"
        if not permissions.needs_sign_in(op) or op == "catalog.close":
            continue
        for role, ops in role_operations.items():
            bound = getattr(getattr(ops, area), method)
            refused = _refused(bound)
            if refused != (not permissions.allowed(op, role)):
                wrong.append((op, role.value, "refused" if refused else "let through"))
    assert wrong == [], "\n".join(map(str, wrong))


def _refused(bound) -> bool:  # type: ignore[no-untyped-def]
    try:
        bound(*[_Poison()] * _required_positional(bound))
    except PermissionDenied as exc:
        return "may not run" in str(exc)
    except Exception:  # noqa: BLE001  (an allowed call fails on its poisoned arguments)
        return False
    return False


class _Poison:
    """An argument no operation accepts: an allowed call stops on it before it writes anything."""

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        raise TypeError("poison")

    def __iter__(self):  # type: ignore[no-untyped-def]
        raise TypeError("poison")


def _required_positional(bound) -> int:  # type: ignore[no-untyped-def]
    sig = inspect.signature(bound.__wrapped__)
    return sum(1 for p in list(sig.parameters.values())[1:]
               if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)


def test_the_measured_defects_are_decided_by_the_table(role_operations: dict[Role, LocalOperations]) -> None:
    assert not permissions.allowed("users.add", Role.WAREHOUSE)
    assert not permissions.allowed("audit.page", Role.PURCHASER)
    assert not permissions.allowed("bulk.apply", Role.PURCHASER)
    assert not permissions.allowed("importexport.apply", Role.PURCHASER)
    with pytest.raises(PermissionDenied, match="needs the role"):
        role_operations[Role.WAREHOUSE].users.add("mallory", role="admin")
    with pytest.raises(PermissionDenied):
        role_operations[Role.MERCHANDISER].audit.page()


def test_the_committed_permissions_document_is_the_table() -> None:
    """docs/permissions.md is generated from the table; regenerate it with
    ``backoffice users permissions --markdown > docs/permissions.md``."""
    from pathlib import Path

    committed = (Path(__file__).resolve().parent.parent / "docs" / "permissions.md").read_text(encoding="utf-8")
    assert committed == permissions.markdown()


def test_the_permissions_command_lists_what_a_role_may_run() -> None:
    from click.testing import CliRunner

    from backoffice.cli import main

    result = CliRunner().invoke(main, ["users", "permissions", "--role", "warehouse"])
    assert result.exit_code == 0, result.output
    listed = set(result.output.split())
    assert listed == {op for op in permissions.PERMISSIONS if permissions.allowed(op, Role.WAREHOUSE)}
    assert "transfers.ship" in listed and "catalog.save_edits" not in listed
