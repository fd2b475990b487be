"""The import wizard's dry-run page shows rows someone else changed since the export (row, field, the
file's and the store's value, who and when), blocks Import until the user chooses to skip or overwrite
them, and the import does what was chosen; an import checked before another one landed sees it."""

from __future__ import annotations

import csv
import io
import threading
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from backoffice.db import Database
from backoffice.models import Variant
from backoffice.services import catalog, changesets
from backoffice.services import importexport as ie
from backoffice.services.base import Actor
from backoffice.services.changesets import RowChange
from backoffice.services.users import ensure_user
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products.import_wizard import STEP_CHECK, STEP_COLUMNS, STEP_RESULT, ImportWizard

WAIT = 15_000


def prices(db: Database) -> dict[str, Decimal]:
    with db.read() as s:
        return dict(s.execute(select(Variant.sku, Variant.price)).all())


def bob_sets(db: Database, sku: str, price: str) -> None:
    bob = ensure_user(db, "bob")
    with db.read() as s:
        vid, version = s.execute(select(Variant.id, Variant.version).where(Variant.sku == sku)).one()
    changesets.apply_changes(db, bob, [RowChange("variant", vid, version, {"price": Decimal(price)})],
                             description="price edit")


def edited_export(db: Database, tmp_path: Path, new: dict[str, str]) -> Path:
    out = tmp_path / "export.csv"
    ie.export_products(db, out, "csv")
    reader = csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig")))
    rows = list(reader)
    for r in rows:
        r["price"] = new.get(r["sku"], r["price"])
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=reader.fieldnames or [], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path = tmp_path / "edited.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def check(qtbot, wizard: ImportWizard, path: Path) -> None:  # type: ignore[no-untyped-def]
    wizard.file_page.path.setText(str(path))
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.step == STEP_COLUMNS and not wizard.busy, timeout=WAIT)
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.report is not None and not wizard.busy, timeout=WAIT)
    assert wizard.step == STEP_CHECK


def test_conflicts_are_shown_and_the_user_chooses(qtbot, monkeypatch, tasks: TaskManager,  # type: ignore[no-untyped-def]
                                                  connected_context, sqlite_db: Database, sqlite_actor: Actor,
                                                  tmp_path: Path) -> None:
    db = sqlite_db
    catalog.create_product(db, sqlite_actor, values={"handle": "tee", "title": "Tee", "status": "active"},
                           variants=[{"sku": f"T-{i}", "price": "10.00"} for i in (1, 2, 3)])
    path = edited_export(db, tmp_path, {"T-1": "15.00", "T-2": "11.00"})
    bob_sets(db, "T-1", "12.00")
    gui_thread = threading.get_ident()
    seen_threads: list[int] = []
    original = ie.dry_run

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen_threads.append(threading.get_ident())
        return original(*args, **kwargs)

    monkeypatch.setattr(ie, "dry_run", spy)   # the check runs in the background, not on the GUI thread
    wizard = ImportWizard(connected_context(db, sqlite_actor), tasks)
    qtbot.addWidget(wizard)
    wizard.show()
    check(qtbot, wizard, path)
    assert seen_threads and gui_thread not in seen_threads
    page = wizard.check_page
    assert page.conflicts_table.isVisibleTo(wizard) and not page.problems_table.isVisibleTo(wizard)
    assert page.conflicts_model.rows == [("2", "price (T-1)", "15.00", "12.00", "bob",
                                          page.conflicts_model.rows[0][5])]
    assert page.conflicts_model.rows[0][5]   # when
    assert page.conflicts_title.text() == "Conflicts: 1 rows, 1 cells"
    assert not wizard.next_button.isEnabled()
    assert wizard.reason.text() == "Choose what to do with the conflicting rows."

    page.conflict_choice.setCurrentIndex(page.conflict_choice.findData("skip"))
    assert wizard.next_button.isEnabled() and "will be skipped" in page.banner.text.text()
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.step == STEP_RESULT and wizard.result is not None and not wizard.busy, timeout=WAIT)
    assert prices(db) == {"T-1": Decimal("12.00"), "T-2": Decimal("11.00"), "T-3": Decimal("10.00")}
    assert "1 conflicting rows skipped" in wizard.result_page.text.text()


def test_a_change_landing_after_the_check_is_a_conflict_then_overwritten(qtbot, tasks: TaskManager,  # type: ignore[no-untyped-def]
                                                                         connected_context, sqlite_db: Database,
                                                                         sqlite_actor: Actor, tmp_path: Path) -> None:
    db = sqlite_db
    catalog.create_product(db, sqlite_actor, values={"handle": "mug", "title": "Mug", "status": "active"},
                           variants=[{"sku": "M-1", "price": "7.00"}])
    path = tmp_path / "prices.csv"
    path.write_text("sku,price\nM-1,9.00\n", encoding="utf-8")   # no version column: the check is the baseline
    wizard = ImportWizard(connected_context(db, sqlite_actor), tasks)
    qtbot.addWidget(wizard)
    wizard.show()
    check(qtbot, wizard, path)
    assert wizard.report.ok and wizard.next_button.isEnabled()
    bob_sets(db, "M-1", "8.00")   # lands between the check and the import
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.step == STEP_CHECK and not wizard.busy and bool(wizard.report.conflicts), timeout=WAIT)
    assert prices(db)["M-1"] == Decimal("8.00")
    assert wizard.check_page.conflicts_model.rows[0][:5] == ("2", "price (M-1)", "9.00", "8.00", "bob")
    page = wizard.check_page
    page.conflict_choice.setCurrentIndex(page.conflict_choice.findData("overwrite"))
    assert wizard.next_button.isEnabled()
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.step == STEP_RESULT and wizard.result is not None and not wizard.busy, timeout=WAIT)
    assert prices(db)["M-1"] == Decimal("9.00")
