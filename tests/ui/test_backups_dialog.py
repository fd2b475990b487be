"""Back up and restore from the window: the copy is real and checked, the restore shows what the backup
holds, asks, brings back exactly its rows, keeps the file it replaced, and tells every view."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from backoffice.db import Database
from backoffice.services import catalog
from backoffice.services.users import ensure_user
from backoffice.ui.dialogs.backups import BackupsDialog, may_back_up
from backoffice.ui.tasks import TaskManager
from tests.conftest import SmallStore


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.fixture
def shop(sqlite_db: Database):  # type: ignore[no-untyped-def]
    actor = ensure_user(sqlite_db, "owner")
    store = SmallStore(sqlite_db, actor)
    return sqlite_db, actor, store


def _dialog(qtbot, tasks: TaskManager, context) -> BackupsDialog:  # type: ignore[no-untyped-def]
    dialog = BackupsDialog(context, tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_back_up_then_restore_brings_back_exactly_the_backup(qtbot, tasks, shop, connected_context, tmp_path,
                                                             monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db, actor, _store = shop
    context = connected_context(db, actor)
    assert may_back_up(context)
    store_file = Path(db.url.database)
    dialog = _dialog(qtbot, tasks, context)
    target = tmp_path / "backups" / "before-the-sale.sqlite"
    target.parent.mkdir()
    dialog.backup_path.setText(str(target))
    dialog.back_up()
    qtbot.waitUntil(lambda: dialog.made is not None, timeout=10_000)
    assert target.is_file() and _count(target, "variants") == _count(store_file, "variants") == 3
    assert "Backed up to" in dialog.banner.text.text() and "3 variants" in dialog.banner.text.text()

    # Backing up to the same name again never overwrites it.
    made_first = target.read_bytes()
    dialog.made = None
    dialog.back_up()
    qtbot.waitUntil(lambda: "exists" in dialog.banner.text.text(), timeout=10_000)
    assert target.read_bytes() == made_first

    # The store changes after the backup; the restore brings the backup's rows back.
    catalog.create_product(db, actor, values={"handle": "late", "title": "Late", "status": "active"},
                           variants=[{"sku": "LATE-1", "price": "5.00"}])
    assert _count(store_file, "products") == 2
    seen = []
    context.data_changed.connect(lambda changes: seen.append(changes))
    dialog.restore_path.setText(str(target))
    dialog.check_backup()
    qtbot.waitUntil(lambda: dialog.restore_button.isEnabled(), timeout=10_000)
    assert "1 product, 3 variants" in dialog.details.text() and "integrity checked" in dialog.details.text()

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Cancel)
    dialog.restore()
    assert dialog.restored is None and _count(store_file, "products") == 2   # asked, and refused: nothing done

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    dialog.restore()
    qtbot.waitUntil(lambda: dialog.restored is not None, timeout=10_000)
    assert _count(store_file, "products") == 1 and _count(store_file, "variants") == 3
    kept = Path(dialog.restored.kept)
    assert kept.is_file() and _count(kept, "products") == 2   # the file as it was is kept
    assert seen, "the views were told the store changed"
    assert "Restored" in dialog.banner.text.text() and str(kept) in dialog.banner.text.text()


def test_a_damaged_backup_is_refused_before_anything_is_asked(qtbot, tasks, shop, connected_context,
                                                              tmp_path) -> None:  # type: ignore[no-untyped-def]
    db, actor, _store = shop
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 50 + b"garbage" * 200)
    dialog = _dialog(qtbot, tasks, connected_context(db, actor))
    dialog.restore_path.setText(str(bad))
    dialog.check_backup()
    qtbot.waitUntil(lambda: dialog.banner.isVisible() and dialog.banner.level == "error", timeout=10_000)
    assert not dialog.restore_button.isEnabled()
    assert str(bad) in dialog.banner.text.text()
