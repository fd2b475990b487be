"""Fixtures of the Qt tests: a task manager drained after each test, windows on a connected context,
and audit rows written through the real services."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

import backoffice.ui  # noqa: F401 - installs the PySide6 6.12 guard before any Qt call
from backoffice.db import Database
from backoffice.operations import LocalOperations
from backoffice.services.base import Actor, audit
from backoffice.services.users import ensure_user
from backoffice.ui.context import AppContext
from backoffice.ui.tasks import TaskManager


@pytest.fixture(autouse=True)
def garbage_collected_between_tests() -> Iterator[None]:
    """Cyclic garbage (Qt wrappers, matplotlib canvases, engines of earlier tests) is collected between
    tests, once this test's background tasks have stopped, instead of at a random moment while the next
    test's workers run. Set up before, and so torn down after, the ``tasks`` fixture."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


@pytest.fixture
def tasks(qtbot) -> Iterator[TaskManager]:  # type: ignore[no-untyped-def]
    manager = TaskManager()
    yield manager
    manager.wait_idle(5_000)
    assert manager.shutdown(5_000), "background tasks still running at the end of the test"
    manager.deleteLater()


@pytest.fixture
def sqlite_actor(sqlite_db: Database) -> Actor:
    return ensure_user(sqlite_db, "tester")


@pytest.fixture
def ui_settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def connected_context():  # type: ignore[no-untyped-def]
    """``connected_context(db, actor, profile_name=...)``: an AppContext already connected (operations
    over ``db`` acting as ``actor``)."""
    return _connected_context


@pytest.fixture
def write_audit_rows():  # type: ignore[no-untyped-def]
    """``write_audit_rows(db, actor, count, entity=..., action=..., start=...)``."""
    return _write_audit_rows


def _connected_context(db: Database, actor: Actor, profile_name: str = "Test profile") -> AppContext:
    context = AppContext(profile_name=profile_name)
    context.set_connected(LocalOperations(db, actor))
    return context


def _write_audit_rows(db: Database, actor: Actor, count: int, *, entity: str = "product", action: str = "update",
                     start: int = 1) -> None:
    """``count`` audit rows in one transaction, as a service write would add them."""
    with db.write() as session:
        for i in range(start, start + count):
            before = {"title": f"Shirt {i}", "price": "10.00", "status": "draft"}
            after = {"title": f"Shirt {i}", "price": "12.50", "status": "active"}
            if action == "create":
                before = None
            audit(session, actor, entity, i, action, before, after)
