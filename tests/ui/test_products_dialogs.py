"""The Products view's dialogs and panels on a real database: bulk edit (preview, invalid rows, live find
and replace, apply), the changesets panel (revert with conflicts), the history dialog, the import wizard
(column mapping, dry run, error report, cancel, apply) and the export dialog."""

from __future__ import annotations

import csv
import statistics
import threading
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from sqlalchemy import select

from backoffice.db import Database
from backoffice.models import Product, Role, Variant
from backoffice.services import bulk, catalog, catalog_grid, changesets
from backoffice.services import importexport as ie
from backoffice.services.base import Actor
from backoffice.services.bulk import BulkOperation, PriceStep, Target, compute_money
from backoffice.services.catalog_grid import VariantFilter
from backoffice.services.demo import generate_demo
from backoffice.services.users import ensure_user
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products.bulk_dialog import BulkEditDialog
from backoffice.ui.views.products.changesets_panel import ChangesetsPanel
from backoffice.ui.format import format_change, format_money
from backoffice.ui.views.products.export_dialog import ExportDialog
from backoffice.ui.views.products.history_dialog import HistoryDialog
from backoffice.ui.views.products.import_wizard import (
    STEP_CHECK,
    STEP_COLUMNS,
    STEP_RESULT,
    ImportWizard,
)

D = Decimal
WAIT = 15_000


def prices(db: Database, f: VariantFilter | None = None) -> dict[str, tuple[Decimal, Decimal | None]]:
    ids = catalog_grid.ordered_ids(db, f or VariantFilter())
    return {r.sku: (r.price, r.cost) for r in catalog_grid.rows_by_id(db, ids).values()}


def open_bulk(qtbot, tasks, context, target: Target, label: str = "3 selected variants") -> BulkEditDialog:  # type: ignore[no-untyped-def]
    dialog = BulkEditDialog(context, tasks, target, label)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def wait_plan(qtbot, dialog: BulkEditDialog) -> bulk.Plan:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: dialog.plan is not None and not dialog._planning and not dialog._debounce.isActive(),
                    timeout=WAIT)
    assert dialog.plan is not None
    return dialog.plan


# -- bulk edit ------------------------------------------------------------------------------------------
def test_bulk_price_raise_then_round_previews_and_applies(qtbot, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                                         db: Database, actor: Actor) -> None:
    generate_demo(db, actor, products=100, seed=1)
    vendor = catalog_grid.facets(db)["vendors"][0]
    flt = VariantFilter(vendors=(vendor,))
    before = prices(db, flt)
    others = prices(db, VariantFilter(vendors=tuple(v for v in catalog_grid.facets(db)["vendors"] if v != vendor)))
    steps = (PriceStep("percent", D("7")), PriceStep("round_ending", D("0.99")))
    expected = {sku: compute_money(p, steps, c) for sku, (p, c) in before.items()}
    changed = {sku: new for sku, new in expected.items() if new != before[sku][0]}
    context = connected_context(db, actor)
    dialog = open_bulk(qtbot, tasks, context, Target(filter=flt), f"all {len(before)} variants matching the filter")

    assert dialog.kind_key == "price"
    dialog.money.rows[0].value.setText("7")
    dialog.money.add_step("round_ending", ".99")
    plan = wait_plan(qtbot, dialog)

    assert plan.considered == len(before) and plan.affected == len(changed) and plan.invalid == []
    assert dialog.summary.text() == f"{len(changed)} of {len(before)} variants will change"
    first = dialog.sample_model.rows[0]
    sku = first[0].removeprefix("SKU ")
    assert first == (f"SKU {sku}", "Price", format_money(before[sku][0]), format_money(expected[sku]))
    assert first[2].startswith("€") and "." in first[2]   # the store currency, as the grid shows it
    assert len(dialog.sample_model.rows) == min(50, len(changed))
    deltas = [expected[s] - before[s][0] for s in changed]
    median = D(statistics.median(deltas)).quantize(D("0.01"))
    assert f"median {format_change(median)}" in dialog.stats.text()
    assert f"lowest {format_change(min(deltas))}" in dialog.stats.text()
    assert dialog.apply_button.isEnabled() and dialog.apply_button.text() == f"Apply to {len(changed)} rows"

    with qtbot.waitSignal(context.data_changed, timeout=WAIT):
        dialog.apply_button.click()
        assert not dialog.apply_button.isEnabled()   # while the write runs
    assert dialog.result is not None and dialog.result.applied_rows == len(changed)
    after = prices(db, flt)
    assert {s: p for s, (p, _) in after.items()} == expected
    assert {s: p for s, (p, _) in prices(db).items() if s in others} == {s: p for s, (p, _) in others.items()}
    latest = changesets.list_changesets(db, limit=1)[0]
    assert (latest.id, latest.kind, latest.row_count) == (dialog.result.changeset_id, "bulk", len(changed))
    assert latest.description == f"Price: raise by 7 %, then round to ending .99 · all {len(before)} variants matching the filter"
    assert f"changeset #{latest.id}" in dialog.banner.text.text()
    assert not dialog.apply_button.isEnabled()   # applied: no second write of the same plan


def test_invalid_rows_block_apply_and_are_listed(qtbot, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                                 db: Database, actor: Actor, store) -> None:
    cap = catalog.create_product(db, actor, values={"handle": "cap", "title": "Wool Cap"},
                                 variants=[{"sku": "CAP-1", "price": "15.00", "compare_at_price": "16.00"}])
    ids = (*store.variant_ids, cap.children[0].entity_id)
    dialog = open_bulk(qtbot, tasks, connected_context(db, actor), Target(variant_ids=ids), "4 selected")
    dialog.money.rows[0].value.setText("10")   # 15.00 + 10 % = 16.50, above the compare-at 16.00
    plan = wait_plan(qtbot, dialog)
    assert plan.invalid == [("SKU CAP-1", "price", "compare-at 16.00 would be below the price 16.50")]
    assert dialog.invalid_model.rows == [("SKU CAP-1", "Price", "compare-at 16.00 would be below the price 16.50")]
    assert dialog.tabs.isTabVisible(1) and dialog.tabs.currentWidget() is dialog.invalid_table
    assert not dialog.apply_button.isEnabled()
    assert dialog.reason.text() == "1 row cannot take this change; see Problems."
    assert "cannot take this change" in dialog.banner.text.text()
    dialog.apply()   # refused without a write
    assert changesets.list_changesets(db) == []

    # lowering below zero is invalid too; a floor step makes it valid again, and the preview follows
    dialog.money.rows[0].kind.setCurrentIndex(dialog.money.rows[0].kind.findData("subtract"))
    dialog.money.rows[0].value.setText("100")
    plan = wait_plan(qtbot, dialog)
    assert len(plan.invalid) == 4 and all("below zero" in r[2] for r in dialog.invalid_model.rows)
    dialog.money.add_step("floor", "1.00")
    plan = wait_plan(qtbot, dialog)
    assert plan.invalid == [] and plan.affected == 4 and dialog.apply_button.isEnabled()
    assert not dialog.tabs.isTabVisible(1)
    assert {r[3] for r in dialog.sample_model.rows} == {format_money(D("1.00"))}

    # an incomplete step is not previewed and says why
    dialog.money.rows[1].value.setText("abc")
    assert dialog.plan is None and not dialog.apply_button.isEnabled()
    assert "Step 2" in dialog.reason.text()


def test_find_and_replace_previews_matches_while_typing(qtbot, monkeypatch, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                                        db: Database, actor: Actor, store) -> None:
    catalog.create_product(db, actor, values={"handle": "cap", "title": "Wool Cap"},
                           variants=[{"sku": "CAP-1", "price": "15.00"}])
    planned_on: list[int] = []
    original = bulk.plan

    def counting_plan(*args, **kwargs):  # type: ignore[no-untyped-def]
        planned_on.append(threading.get_ident())
        return original(*args, **kwargs)

    monkeypatch.setattr(bulk, "plan", counting_plan)
    context = connected_context(db, actor)
    dialog = open_bulk(qtbot, tasks, context, Target(filter=VariantFilter()), "all 4 variants")
    dialog.select("replace")
    assert dialog.summary.text() == "Nothing to preview yet" and not dialog.apply_button.isEnabled()
    planned_on.clear()
    qtbot.keyClicks(dialog.replace.find, "merino")
    qtbot.keyClicks(dialog.replace.replace, "Alpaca")
    plan = wait_plan(qtbot, dialog)
    assert 1 <= len(planned_on) < len("merinoAlpaca"), "typing was not debounced"
    assert threading.get_ident() not in planned_on
    assert plan.affected == 1 and plan.considered == 2
    assert dialog.summary.text() == "1 of 2 products will change"
    assert dialog.sample_model.rows == [("product merino-crew", "Title", "Merino Crew", "Alpaca Crew")]
    assert dialog.highlight.pattern is not None and dialog.highlight.pattern.search("Merino Crew")

    dialog.replace.case.setChecked(True)   # "merino" no longer matches "Merino"
    plan = wait_plan(qtbot, dialog)
    assert plan.affected == 0 and not dialog.apply_button.isEnabled()
    assert "Nothing to change" in dialog.reason.text()
    dialog.replace.regex.setChecked(True)
    dialog.replace.find.setText("(")
    assert dialog.replace.error.isVisibleTo(dialog) and "regular expression" in dialog.replace.error.text()
    assert dialog.plan is None and not dialog.apply_button.isEnabled()
    dialog.replace.find.setText(r"^(\w+) Crew$")
    dialog.replace.replace.setText(r"\1 Crewneck")
    plan = wait_plan(qtbot, dialog)
    assert dialog.sample_model.rows == [("product merino-crew", "Title", "Merino Crew", "Merino Crewneck")]
    with qtbot.waitSignal(context.data_changed, timeout=WAIT):
        dialog.apply()
    assert catalog.get_product(db, store.product.entity_id)["title"] == "Merino Crewneck"


def test_category_replace_shows_names_and_applies(qtbot, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                                  db: Database, actor: Actor, store) -> None:
    apparel = catalog.create_category(db, actor, name="Apparel").entity_id
    knit = catalog.create_category(db, actor, name="Knitwear", parent_id=apparel).entity_id
    product = catalog.get_product(db, store.product.entity_id)
    catalog.update_product(db, actor, store.product.entity_id, expected_version=product["version"],
                           values={"category_id": apparel})
    dialog = open_bulk(qtbot, tasks, connected_context(db, actor), Target(filter=VariantFilter()), "all")
    dialog.select("category")
    qtbot.waitUntil(lambda: dialog.category.new.count() == 3, timeout=WAIT)   # categories loaded in the background
    assert [dialog.category.new.itemText(i) for i in range(3)] == ["Choose a category…", "Apparel", "Apparel > Knitwear"]
    dialog.category.mode.setCurrentIndex(dialog.category.mode.findData("replace"))
    dialog.category.old.setCurrentIndex(dialog.category.old.findData(apparel))
    dialog.category.new.setCurrentIndex(dialog.category.new.findData(knit))
    assert dialog.operation() == BulkOperation("category_replace", value=knit, find=str(apparel))
    wait_plan(qtbot, dialog)
    assert dialog.sample_model.rows == [("product merino-crew", "Category", "Apparel", "Apparel > Knitwear")]
    dialog.apply()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=WAIT)
    assert catalog.get_product(db, store.product.entity_id)["category_id"] == knit


def test_rows_changed_after_the_preview_are_reported_not_overwritten(qtbot, tasks: TaskManager,  # type: ignore[no-untyped-def]
                                                                    connected_context, db: Database, actor: Actor,
                                                                    store) -> None:
    dialog = open_bulk(qtbot, tasks, connected_context(db, actor), Target(variant_ids=tuple(store.variant_ids)))
    dialog.money.rows[0].kind.setCurrentIndex(dialog.money.rows[0].kind.findData("set"))
    dialog.money.rows[0].value.setText("55.00")
    assert wait_plan(qtbot, dialog).affected == 3
    mc_m = next(v for v in catalog.get_product(db, store.product.entity_id)["variants"] if v["sku"] == "MC-M")
    catalog.update_variant(db, actor, mc_m["id"], expected_version=mc_m["version"], values={"price": "61.00"})
    dialog.apply()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=WAIT)
    assert dialog.result.applied_rows == 2
    assert dialog.conflict_model.rows == [("SKU MC-M", "Price", format_money(D("61.00")), format_money(D("55.00")))]
    assert dialog.tabs.isTabVisible(2) and dialog.tabs.currentWidget() is dialog.conflict_table
    assert dialog.banner.property("level") == "warning" and "Applied to 2 rows" in dialog.banner.text.text()
    variants = {v["sku"]: v["price"] for v in catalog.get_product(db, store.product.entity_id)["variants"]}
    assert variants == {"MC-S": "55.00", "MC-M": "61.00", "MC-L": "55.00"}


def test_errors_are_shown_in_the_dialogs_not_raised(qtbot, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                                    sqlite_db: Database, sqlite_actor: Actor, tmp_path: Path) -> None:
    catalog.create_product(sqlite_db, sqlite_actor, values={"handle": "cap", "title": "Wool Cap"},
                           variants=[{"sku": "CAP-1", "price": "15.00"}])
    clerk = ensure_user(sqlite_db, "clerk", Role.WAREHOUSE)   # may not edit the catalog
    dialog = open_bulk(qtbot, tasks, connected_context(sqlite_db, clerk), Target(filter=VariantFilter()), "all")
    dialog.money.rows[0].value.setText("5")
    # the permission table refuses the preview already: the dialog says why and offers nothing to apply
    qtbot.waitUntil(lambda: dialog.banner.property("level") == "error", timeout=WAIT)
    assert "may not run bulk.preview" in dialog.banner.text.text()
    assert "merchandiser, manager or admin" in dialog.banner.text.text()
    assert dialog.plan is None and not dialog.apply_button.isEnabled()
    assert changesets.list_changesets(sqlite_db) == []

    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    wizard = ImportWizard(connected_context(sqlite_db, sqlite_actor), tasks)
    qtbot.addWidget(wizard)
    wizard.file_page.path.setText(str(empty))
    wizard.next()
    qtbot.waitUntil(lambda: not wizard.busy and wizard.file_page.banner.isVisibleTo(wizard), timeout=WAIT)
    assert wizard.step == 0 and "empty.csv is empty" in wizard.file_page.banner.text.text()
    no_sku = write_supplier(tmp_path / "no-sku.csv", [["tote", "", "Tote", "19.00", ""]])
    wizard.file_page.path.setText(str(no_sku))
    wizard.next()
    qtbot.waitUntil(lambda: wizard.step == STEP_COLUMNS and not wizard.busy, timeout=WAIT)
    wizard.mapping_page.set_target("Notes", "price")   # Retail and Notes both price
    assert not wizard.next_button.isEnabled()
    assert "'Retail' and 'Notes' are both mapped to price" in wizard.mapping_page.problems.text()


# -- changesets -----------------------------------------------------------------------------------------
def test_changesets_panel_reverts_and_reports_rows_changed_since(qtbot, monkeypatch, tasks: TaskManager,  # type: ignore[no-untyped-def]
                                                                 connected_context, db: Database, actor: Actor,
                                                                 store) -> None:
    target = Target(variant_ids=tuple(store.variant_ids))
    for tag in ("a", "b"):   # two older changesets, for paging
        bulk.apply_plan(db, actor, BulkOperation("tags_add", tags=(tag,)), target)
    applied = bulk.apply_plan(db, actor, BulkOperation("money", "price", steps=(PriceStep("add", D("4")),)), target)
    mc_s = next(v for v in catalog.get_product(db, store.product.entity_id)["variants"] if v["sku"] == "MC-S")
    catalog.update_variant(db, actor, mc_s["id"], expected_version=mc_s["version"], values={"price": "70.00"})

    context = connected_context(db, actor)
    panel = ChangesetsPanel(context, tasks, page_size=2)
    qtbot.addWidget(panel)
    panel.resize(1000, 700)
    panel.show()
    qtbot.waitUntil(lambda: panel.list_model.rowCount() == 2 and not panel.is_loading(), timeout=WAIT)
    assert [r[0] for r in panel.list_model.rows] == [str(applied.changeset_id), str(applied.changeset_id - 1)]
    assert panel.more_button.isVisible()
    panel.more_button.click()
    qtbot.waitUntil(lambda: panel.list_model.rowCount() == 3 and not panel.is_loading(), timeout=WAIT)
    assert panel.list_model.rows[2][3] == "Bulk edit"

    assert panel.selected().id == applied.changeset_id   # the newest is selected
    qtbot.waitUntil(lambda: panel.entries_model.rowCount() == 3, timeout=WAIT)
    assert sorted(panel.entries_model.rows) == sorted(
        (f"SKU MC-{s}", "Price", format_money(D("59.99")), format_money(D("63.99"))) for s in "SML")

    asked: list[str] = []

    def answer_yes(parent, title, text, *args):  # type: ignore[no-untyped-def]
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer_yes)
    with qtbot.waitSignal(context.data_changed, timeout=WAIT):
        panel.revert_button.click()
    assert asked and f"#{applied.changeset_id}" in asked[0]
    result = panel.last_revert
    assert result is not None and result.applied_rows == 2
    variants = {v["sku"]: v["price"] for v in catalog.get_product(db, store.product.entity_id)["variants"]}
    assert variants == {"MC-S": "70.00", "MC-M": "59.99", "MC-L": "59.99"}   # the row changed since is left alone
    assert panel.conflicts_model.rows == [("SKU MC-S", "Price", format_money(D("70.00")), format_money(D("59.99")))]
    assert panel.conflicts_table.isVisibleTo(panel)
    assert f"as changeset #{result.changeset_id}" in panel.banner.text.text() and "left as it is" in panel.banner.text.text()

    # the list reloaded: the revert on top, the original marked as reverted and no longer revertible
    qtbot.waitUntil(lambda: panel.list_model.rowCount() >= 1 and panel.list_model.rows[0][0] == str(result.changeset_id),
                    timeout=WAIT)
    qtbot.waitUntil(lambda: not panel.is_loading(), timeout=WAIT)
    assert panel.list_model.rows[0][3] == "Revert"
    original = next(r for r in panel.list_model.rows if r[0] == str(applied.changeset_id))
    assert original[6] == f"#{result.changeset_id}"
    assert panel.select_changeset(applied.changeset_id)
    assert not panel.revert_button.isEnabled() and f"#{result.changeset_id}" in panel.revert_button.toolTip()
    assert panel.conflicts_model.rowCount() == 1   # still shown for the changeset it belongs to


# -- history --------------------------------------------------------------------------------------------
def test_history_lists_edits_newest_first(qtbot, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                          db: Database, actor: Actor, store) -> None:
    vid = store.variant_ids[0]
    product = catalog.get_product(db, store.product.entity_id)
    catalog.update_product(db, actor, store.product.entity_id, expected_version=product["version"],
                           values={"vendor": "Norda Studio"})
    result = bulk.apply_plan(db, actor, BulkOperation("money", "price", steps=(PriceStep("set", D("49.00")),)),
                             Target(variant_ids=(vid,)))
    other = store.variant_ids[1]   # another variant's edits are not this variant's history
    bulk.apply_plan(db, actor, BulkOperation("money", "cost", steps=(PriceStep("set", D("1.00")),)),
                    Target(variant_ids=(other,)))

    dialog = HistoryDialog(connected_context(db, actor), tasks, store.product.entity_id, vid)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: bool(dialog.lines) and not dialog.is_loading(), timeout=WAIT)
    assert dialog.title.text() == "History of Merino Crew"
    rows = dialog.model.rows
    assert rows[0][1] == "tester"
    assert rows[0][2].startswith(f"Changeset #{result.changeset_id} (bulk)")
    assert rows[0][3:] == ("SKU MC-S", "Price", format_money(D("59.99")), format_money(D("49.00")))
    assert ("product merino-crew", "Vendor", "Norda", "Norda Studio") in [r[3:] for r in rows]
    vendor_row = next(r for r in rows if r[4] == "Vendor")
    assert vendor_row[2] == "Edit (update)"
    assert format_money(D("1.00")) not in [r[6] for r in rows]   # the other variant's cost
    whens = [line.at for line in dialog.lines]
    assert whens == sorted(whens, reverse=True)
    dialog.search.setText("norda studio")
    assert dialog.proxy.rowCount() == 1
    dialog.search.setText("vendor")
    assert dialog.proxy.rowCount() == 2   # created with a vendor, then changed


# -- import ---------------------------------------------------------------------------------------------
SUPPLIER = ["Handle", "Item code", "Name", "Retail", "Notes"]


def write_supplier(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(SUPPLIER)
        w.writerows(rows)
    return path


def test_import_wizard_maps_checks_reports_and_applies(qtbot, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                                       db: Database, actor: Actor, tmp_path: Path) -> None:
    bad = [["linen-shirt", "LS-1", "Linen Shirt", "49.90", "x"], ["linen-shirt", "LS-2", "Linen Shirt", "abc", ""],
           ["tote", "TT-1", "Tote", "19.00", ""]]
    path = write_supplier(tmp_path / "supplier.csv", bad)
    context = connected_context(db, actor)
    wizard = ImportWizard(context, tasks)
    qtbot.addWidget(wizard)
    wizard.show()
    assert not wizard.next_button.isEnabled()
    wizard.file_page.path.setText(str(path))
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.step == STEP_COLUMNS and not wizard.busy, timeout=WAIT)
    assert wizard.mapping_page.mapping() == {"Handle": "handle", "Item code": "sku", "Name": "title",
                                             "Retail": "price", "Notes": None}
    assert wizard.mapping_page.table.item(3, 1).text() == "49.90 · abc · 19.00"
    wizard.mapping_page.set_target("Item code", None)   # sku is required
    assert not wizard.next_button.isEnabled() and "sku" in wizard.mapping_page.problems.text()
    wizard.mapping_page.set_target("Item code", "sku")
    assert wizard.next_button.isEnabled()

    wizard.next_button.click()   # dry run
    qtbot.waitUntil(lambda: wizard.report is not None and not wizard.busy, timeout=WAIT)
    assert wizard.step == STEP_CHECK
    assert [(r[0], r[1]) for r in wizard.check_page.problems_model.rows] == [("3", "Retail")]
    assert wizard.check_page.problems_table.isVisibleTo(wizard)
    assert not wizard.next_button.isEnabled() and wizard.reason.text() == "Fix the problems first."
    assert wizard.check_page.count_labels["new_products"].text() == "2"
    report_path = tmp_path / "errors.xlsx"
    wizard.save_error_report(str(report_path))
    qtbot.waitUntil(lambda: report_path.exists() and not wizard.busy, timeout=WAIT)
    sheet = openpyxl.load_workbook(report_path).worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header[-1] == "errors" and "Retail" in sheet.cell(3, len(header)).value
    with db.read() as s:
        assert s.scalar(select(Variant.id)) is None   # the dry run wrote nothing

    bad[1][3] = "59.00"   # fix the file, check it again, import
    write_supplier(path, bad)
    wizard.recheck_button.click()
    qtbot.waitUntil(lambda: wizard.report is not None and not wizard.busy, timeout=WAIT)
    assert wizard.report.problems == [] and wizard.next_button.text() == "Import"
    assert wizard.next_button.isEnabled()
    with qtbot.waitSignal(context.data_changed, timeout=WAIT):
        wizard.next_button.click()
    assert wizard.step == STEP_RESULT and wizard.result is not None
    assert wizard.result_page.title.text() == f"Imported as changeset #{wizard.result.changeset_id}"
    with db.read() as s:
        assert {sku: price for sku, price in s.execute(select(Variant.sku, Variant.price))} == {"LS-1": D("49.90"), "LS-2": D("59.00"),
                                                                       "TT-1": D("19.00")}
        assert s.scalar(select(Product.title).where(Product.handle == "linen-shirt")) == "Linen Shirt"
    assert wizard.close_button.text() == "Done"


def test_import_wizard_cancel_writes_nothing(qtbot, monkeypatch, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                             sqlite_db: Database, sqlite_actor: Actor, tmp_path: Path) -> None:
    path = write_supplier(tmp_path / "supplier.csv", [["tote", "TT-1", "Tote", "19.00", ""]])
    started = threading.Event()

    def slow_dry_run(db, parsed, *, progress=None, cancel=None, **options):  # type: ignore[no-untyped-def]
        started.set()
        while not cancel():
            progress(0.5, "Checking rows")
            threading.Event().wait(0.01)
        raise ie.Cancelled()

    monkeypatch.setattr(ie, "dry_run", slow_dry_run)
    wizard = ImportWizard(connected_context(sqlite_db, sqlite_actor), tasks)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.file_page.path.setText(str(path))
    wizard.next()
    qtbot.waitUntil(lambda: wizard.step == STEP_COLUMNS, timeout=WAIT)
    wizard.next()
    qtbot.waitUntil(started.is_set, timeout=WAIT)
    qtbot.waitUntil(lambda: wizard.progress.value() >= 500, timeout=WAIT)
    assert wizard.cancel_button.isVisible() and wizard.status.text() == "Checking rows"
    qtbot.mouseClick(wizard.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not wizard.busy, timeout=WAIT)
    assert wizard.report is None and "cancelled" in wizard.check_page.banner.text.text()
    assert not wizard.next_button.isEnabled() and not wizard.cancel_button.isVisible()


# -- export ---------------------------------------------------------------------------------------------
def test_export_dialog_writes_the_filtered_rows_or_everything(qtbot, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                                              sqlite_db: Database, sqlite_actor: Actor,
                                                              tmp_path: Path) -> None:
    generate_demo(sqlite_db, sqlite_actor, products=30, seed=1)
    vendor = catalog_grid.facets(sqlite_db)["vendors"][0]
    flt = VariantFilter(vendors=(vendor,))
    n = catalog_grid.count(sqlite_db, flt)
    dialog = ExportDialog(connected_context(sqlite_db, sqlite_actor), tasks, flt, n)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.filtered.text() == f"The {n} rows matching the current filter" and dialog.filtered.isChecked()
    out = tmp_path / "products.csv"
    dialog.path.setText(str(out))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.written is not None, timeout=WAIT)
    assert dialog.written == n and f"Wrote {n} rows to {out}" in dialog.banner.text.text()
    with out.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n and {r["vendor"] for r in rows} == {vendor}
    assert {r["sku"] for r in rows} == set(prices(sqlite_db, flt))

    dialog.format.setCurrentIndex(dialog.format.findData("xlsx"))
    assert dialog.path.text() == str(tmp_path / "products.xlsx")
    dialog.everything.setChecked(True)
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.written is not None and not dialog.busy, timeout=WAIT)
    total = catalog_grid.count(sqlite_db)
    sheet = openpyxl.load_workbook(tmp_path / "products.xlsx", read_only=True).worksheets[0]
    data = list(sheet.iter_rows(values_only=True))
    assert dialog.written == total == len(data) - 1 and "sku" in data[0]

    dialog.path.setText(str(tmp_path / "missing" / "x.csv"))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: not dialog.busy and dialog.banner.property("level") == "error", timeout=WAIT)
    assert "does not exist" in dialog.banner.text.text()


@pytest.fixture(autouse=True)
def _no_modal_dialogs(monkeypatch):  # type: ignore[no-untyped-def]
    """A test that forgets to answer a question fails instead of hanging."""
    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("unexpected modal dialog")

    monkeypatch.setattr(QMessageBox, "question", refuse)
