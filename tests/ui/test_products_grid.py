"""The Products view on a real database: opening without waiting, filters, sorting, inline edits applied
through the changeset service, paste / copy / fill-down, conflicts with another user's writes, jumping to
the last row, column layouts, the empty state and errors."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from PySide6.QtWidgets import QApplication, QComboBox, QMessageBox

from backoffice.db import Database
from backoffice.models import Variant
from backoffice.services import catalog, catalog_grid, changesets
from backoffice.services.base import Actor
from backoffice.services.bulk import Target
from backoffice.services.catalog_grid import VariantFilter
from backoffice.services.demo import generate_demo
from backoffice.services.changesets import RowChange
from backoffice.services.users import ensure_user
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products import ProductsView
from backoffice.ui.views.products.columns import INDEX
from backoffice.ui.views.products.conflicts import REBASE, SKIP, THEIRS
from backoffice.ui.views.products.delegates import CategoryPicker, MoneyEdit
from backoffice.ui.views.products.models import STAGED_ROLE

D = Decimal
PRICE, COST, TITLE, STOCK, STATUS, CATEGORY, SKU = (
    INDEX[k] for k in ("price", "cost", "title", "stock", "status", "category", "sku"))
CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def open_grid(qtbot, tasks: TaskManager, connected_context, ui_settings):  # type: ignore[no-untyped-def]
    """``open_grid(db, actor)``: a ProductsView shown, activated and done with its first load."""

    def open_(db: Database, actor: Actor, *, wait: bool = True) -> ProductsView:
        view = ProductsView(connected_context(db, actor), tasks, settings=ui_settings)
        qtbot.addWidget(view)
        view.resize(1300, 800)
        view.show()
        view.activate()
        if wait:
            qtbot.waitUntil(lambda: not view.is_loading() and view.model.total is not None, timeout=15_000)
        return view

    return open_


@pytest.fixture
def demo_db(sqlite_db: Database, sqlite_actor: Actor) -> Database:
    generate_demo(sqlite_db, sqlite_actor, products=40, seed=2)
    return sqlite_db


def price_of(db: Database, vid: int) -> Decimal:
    with db.read() as s:
        return s.get(Variant, vid).price


def wait_rows(qtbot, view: ProductsView, *rows: int) -> None:  # type: ignore[no-untyped-def]
    view.model.request_rows(min(rows), max(rows))
    qtbot.waitUntil(lambda: all(view.model.row_at(r) is not None for r in rows), timeout=10_000)


def wait_applied(qtbot, view: ProductsView) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not view.applier.busy, timeout=15_000)


def select(view: ProductsView, top: int, left: int, bottom: int, right: int) -> None:
    selection = QItemSelection(view.model.index(top, left), view.model.index(bottom, right))
    view.table.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    view.table.selectionModel().setCurrentIndex(view.model.index(top, left), QItemSelectionModel.SelectionFlag.NoUpdate)


# -- opening ----------------------------------------------------------------------------------------------
def test_opening_shows_the_first_page_at_once_and_never_queries_on_the_gui_thread(  # type: ignore[no-untyped-def]
        qtbot, monkeypatch, demo_db, sqlite_actor, open_grid) -> None:
    total = catalog_grid.count(demo_db)
    gui = threading.get_ident()
    reads_on_gui: list[str] = []
    original_read = Database.read

    def watched_read(self):  # type: ignore[no-untyped-def]
        if threading.get_ident() == gui:
            reads_on_gui.append("read")
        return original_read(self)

    monkeypatch.setattr(Database, "read", watched_read)
    release = threading.Event()
    original_ids = catalog_grid.ordered_ids
    monkeypatch.setattr(catalog_grid, "ordered_ids", lambda *a, **k: (release.wait(10), original_ids(*a, **k))[1])

    view = open_grid(demo_db, sqlite_actor, wait=False)
    assert view.is_loading() and view.count_label.text() == "Loading…"
    qtbot.waitUntil(lambda: view.model.rowCount() > 0, timeout=10_000)
    qtbot.waitUntil(lambda: not view.is_loading(), timeout=10_000)
    assert view.model.total == total and not view.model.ids_loaded   # count known, ids still loading
    assert view.count_label.text() == f"{total} variants"
    release.set()
    qtbot.waitUntil(lambda: view.model.ids_loaded, timeout=10_000)
    view.table.scrollToBottom()
    qtbot.waitUntil(lambda: view.model.row_at(total - 1) is not None, timeout=10_000)
    assert reads_on_gui == []


def test_empty_catalog_shows_how_to_get_products(qtbot, sqlite_db, sqlite_actor, open_grid) -> None:  # type: ignore[no-untyped-def]
    view = open_grid(sqlite_db, sqlite_actor)
    assert view.model.total == 0
    assert view.results.currentWidget() is view.empty
    assert "backoffice demo" in view.empty.text.text() and "Import" in view.empty.text.text()
    assert view.empty.action.text() == "Import…"


def test_a_failing_load_is_an_error_banner_not_a_crash(qtbot, monkeypatch, demo_db, sqlite_actor, open_grid) -> None:  # type: ignore[no-untyped-def]
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the database went away")

    monkeypatch.setattr(catalog_grid, "first_page", broken)
    view = open_grid(demo_db, sqlite_actor, wait=False)
    qtbot.waitUntil(lambda: view.banner.isVisible(), timeout=10_000)
    assert "the database went away" in view.banner.text.text()
    assert not view.is_loading()


# -- filters and sorting -------------------------------------------------------------------------------
def test_filters_narrow_the_rows_and_can_be_saved(qtbot, demo_db, sqlite_actor, open_grid, ui_settings) -> None:  # type: ignore[no-untyped-def]
    view = open_grid(demo_db, sqlite_actor)
    everything = view.model.total
    status = view.filters.status
    status.setCurrentIndex(status.findData("draft"))
    drafts = catalog_grid.count(demo_db, VariantFilter(statuses=("draft",)))
    qtbot.waitUntil(lambda: view.model.total == drafts and not view.is_loading(), timeout=10_000)
    assert 0 < drafts < everything and view.count_label.text() == f"{drafts} variants"
    wait_rows(qtbot, view, 0, drafts - 1)
    assert {view.model.row_at(r).status for r in range(drafts)} == {"draft"}

    view.filters.save_current_as("Drafts")
    sku = view.model.row_at(0).sku
    view.filters.search.setText(sku)
    qtbot.waitUntil(lambda: view.model.total == 1, timeout=10_000)
    assert view.model.row_at(0).sku == sku

    view.filters.clear()
    qtbot.waitUntil(lambda: view.model.total == everything, timeout=10_000)
    assert view.filters.saved.names() == ["Drafts"]
    assert view.filters.apply_saved("Drafts")
    qtbot.waitUntil(lambda: view.model.total == drafts, timeout=10_000)

    qtbot.waitUntil(lambda: len(view.model.categories) > 0, timeout=10_000)   # facets arrived
    node = next(n for n in view.model.categories.nodes.values() if n.parent_id is None)
    view.filters.category.popup.picked.emit(node.id)
    in_category = catalog_grid.count(demo_db, VariantFilter(statuses=("draft",), category_id=node.id))
    qtbot.waitUntil(lambda: view.model.total == in_category and not view.is_loading(), timeout=10_000)


def test_clicking_a_header_sorts_in_the_database(qtbot, demo_db, sqlite_actor, open_grid) -> None:  # type: ignore[no-untyped-def]
    view = open_grid(demo_db, sqlite_actor)
    view.table.horizontalHeader().setSortIndicator(PRICE, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: view.loader.sort_key == "price" and not view.is_loading(), timeout=10_000)
    expected = list(catalog_grid.ordered_ids(demo_db, sort_key="price", descending=True))
    qtbot.waitUntil(lambda: view.model.ids_loaded, timeout=10_000)
    assert [view.model.id_at(r) for r in range(view.model.rowCount())] == expected
    prices = [view.model.row_at(r).price for r in range(20)]
    assert prices == sorted(prices, reverse=True)


# -- editing and applying ---------------------------------------------------------------------------------
def test_inline_edit_is_staged_then_applied_as_one_changeset(qtbot, db, actor, open_grid) -> None:  # type: ignore[no-untyped-def]
    generate_demo(db, actor, products=30, seed=4)
    view = open_grid(db, actor)
    model = view.model
    first = model.row_at(0)
    vid, old_price, old_version = first.variant_id, first.price, first.variant_version
    index = model.index(0, PRICE)
    view.table.setCurrentIndex(index)
    view.table.edit(index)
    editor = view.table.findChild(MoneyEdit)
    assert editor is not None
    editor.setText("19.37")
    qtbot.keyClick(editor, Qt.Key.Key_Return)      # the delegate commits on the next event loop turn
    qtbot.waitUntil(lambda: model.data(index, STAGED_ROLE), timeout=2_000)
    assert model.data(index) == "€19.37"
    assert price_of(db, vid) == old_price          # staged, not written

    status_index = model.index(1, STATUS)
    new_status = next(s for s in ("archived", "draft") if s != model.row_at(1).status)
    view.table.edit(status_index)
    combo = view.table.findChild(QComboBox)
    combo.setCurrentIndex(combo.findData(new_status))
    combo.activated.emit(combo.currentIndex())
    assert view.pending_panel.count_label.text() == "2 pending changes"

    view.pending_panel.apply_button.click()
    wait_applied(qtbot, view)
    assert len(model.pending) == 0
    assert price_of(db, vid) == D("19.37")
    assert catalog.get_product(db, model.row_at(1).product_id)["status"] == new_status
    (changeset,) = changesets.list_changesets(db)
    assert changeset.kind == "edit" and changeset.row_count == 2
    entries = {(e["entity"], e["entity_id"]): e for e in changesets.changeset_entries(db, changeset.id)}
    assert entries[("variant", vid)]["before"] == {"price": str(old_price)}
    assert entries[("variant", vid)]["after"] == {"price": "19.37"}
    assert model.row_at(0).variant_version == old_version + 1   # the new version, for the next edit
    assert "changeset #" in view.banner.text.text()


def test_category_is_edited_in_a_tree_picker(qtbot, demo_db, sqlite_actor, open_grid) -> None:  # type: ignore[no-untyped-def]
    view = open_grid(demo_db, sqlite_actor)
    qtbot.waitUntil(lambda: len(view.model.categories) > 0, timeout=10_000)
    index = view.model.index(0, CATEGORY)
    view.table.edit(index)
    picker = view.table.findChild(CategoryPicker)
    qtbot.waitUntil(lambda: picker.popup.isVisible(), timeout=2_000)
    leaf = next(n for n in view.model.categories.nodes.values() if n.parent_id is not None
                and n.id != view.model.row_at(0).category_id)
    picker.popup._on_item(picker.popup.item_for(leaf.id))
    assert view.model.data(index) == leaf.path and " › " in leaf.path
    (edit,) = view.model.pending.edits()
    assert (edit.entity, edit.field, edit.new) == ("product", "category_id", leaf.id)


def test_paste_from_the_clipboard_fills_a_range_as_one_undo_step(qtbot, demo_db, sqlite_actor, open_grid) -> None:  # type: ignore[no-untyped-def]
    view = open_grid(demo_db, sqlite_actor)
    model = view.model
    QApplication.clipboard().setText("12.50\t9.00\r\n13.00\t8.00\r\n")
    view.table.setCurrentIndex(model.index(2, PRICE))     # price then cost: compare-at is hidden between them
    qtbot.keyClick(view.table, Qt.Key.Key_V, CTRL)
    qtbot.waitUntil(lambda: len(model.pending) == 4, timeout=5_000)
    assert [model.data(model.index(r, c)) for r in (2, 3) for c in (PRICE, COST)] == \
        ["€12.50", "€9.00", "€13.00", "€8.00"]
    assert model.undo_stack.count() == 1
    qtbot.keyClick(view.table, Qt.Key.Key_Z, CTRL)
    assert len(model.pending) == 0
    qtbot.keyClick(view.table, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert len(model.pending) == 4
    qtbot.keyClick(view.table, Qt.Key.Key_Z, CTRL)
    qtbot.keyClick(view.table, Qt.Key.Key_Y, CTRL)
    assert len(model.pending) == 4


def test_invalid_paste_is_reported_by_row_and_column_and_stages_nothing(qtbot, demo_db, sqlite_actor, open_grid) -> None:  # type: ignore[no-untyped-def]
    view = open_grid(demo_db, sqlite_actor)
    model = view.model
    QApplication.clipboard().setText("5.00\nabc\n-1\n7.00")
    view.table.setCurrentIndex(model.index(0, PRICE))
    qtbot.keyClick(view.table, Qt.Key.Key_V, CTRL)
    qtbot.waitUntil(lambda: bool(view.last_problems), timeout=5_000)
    assert len(model.pending) == 0 and model.undo_stack.count() == 0
    texts = [p.text() for p in view.last_problems]
    assert texts == [f"Row 2 (SKU {model.row_at(1).sku}), Price: “abc” is not an amount",
                     f"Row 3 (SKU {model.row_at(2).sku}), Price: -1 is negative"]
    assert view.banner.isVisible() and "Nothing was pasted" in view.banner.text.text()
    assert isinstance(view.dialog, QMessageBox) and "Row 2" in view.dialog.informativeText()
    view.dialog.close()

    view.last_problems = []
    QApplication.clipboard().setText("3")
    view.table.setCurrentIndex(model.index(0, STOCK))
    view.table.selectionModel().clearSelection()
    qtbot.keyClick(view.table, Qt.Key.Key_V, CTRL)
    qtbot.waitUntil(lambda: bool(view.last_problems), timeout=5_000)
    assert "On hand is computed" in view.last_problems[0].text() and len(model.pending) == 0


def test_copy_puts_the_selected_block_on_the_clipboard(qtbot, demo_db, sqlite_actor, open_grid) -> None:  # type: ignore[no-untyped-def]
    view = open_grid(demo_db, sqlite_actor)
    model = view.model
    select(view, 0, SKU, 2, SKU)
    view.table.selectionModel().select(QItemSelection(model.index(0, PRICE), model.index(2, PRICE)),
                                       QItemSelectionModel.SelectionFlag.Select)
    qtbot.keyClick(view.table, Qt.Key.Key_C, CTRL)
    expected = "\n".join(f"{model.row_at(r).sku}\t{model.row_at(r).price:.2f}" for r in range(3))
    qtbot.waitUntil(lambda: QApplication.clipboard().text() == expected, timeout=5_000)


def test_fill_down_copies_the_top_cell_down_the_selection(qtbot, demo_db, sqlite_actor, open_grid) -> None:  # type: ignore[no-untyped-def]
    view = open_grid(demo_db, sqlite_actor)
    model = view.model
    top = model.row_at(0)
    model.setData(model.index(0, COST), D("1.23"))       # a staged value is what gets filled
    select(view, 0, PRICE, 5, COST)
    qtbot.keyClick(view.table, Qt.Key.Key_D, CTRL)
    qtbot.waitUntil(lambda: all(model.data(model.index(r, COST), Qt.ItemDataRole.EditRole) == D("1.23")
                                for r in range(6)), timeout=5_000)
    assert all(model.data(model.index(r, PRICE), Qt.ItemDataRole.EditRole) == top.price for r in range(6))
    assert model.undo_stack.count() == 2
    model.undo_stack.undo()
    assert [e.entity_id for e in model.pending.edits()] == [top.variant_id]


# -- writes made elsewhere ----------------------------------------------------------------------------------
def test_a_price_write_elsewhere_refetches_only_its_rows_without_resetting_the_grid(  # type: ignore[no-untyped-def]
        qtbot, monkeypatch, tasks, demo_db, sqlite_actor, open_grid) -> None:
    view = open_grid(demo_db, sqlite_actor)
    model = view.model
    qtbot.waitUntil(lambda: model.ids_loaded and not view.is_loading(), timeout=10_000)
    wait_rows(qtbot, view, *range(10))
    written = [model.row_at(r) for r in (2, 5)]
    new_price = {row.variant_id: (row.compare_at_price or row.price + D("1.00")) for row in written}
    new_price = {vid: price if price != row.price else price - D("0.01")
                 for (vid, price), row in zip(new_price.items(), written, strict=True)}
    fetched: list[int] = []
    resets: list[bool] = []
    id_reads: list[tuple] = []
    model.fetch_requested.connect(fetched.extend)
    model.modelReset.connect(lambda: resets.append(True))
    original_ids = catalog_grid.ordered_ids
    monkeypatch.setattr(catalog_grid, "ordered_ids", lambda *a, **k: (id_reads.append(a), original_ids(*a, **k))[1])
    # another part of the application writes the prices of two rows through the contract
    other = Runner(view.context, tasks, view)
    rows = [RowChange("variant", r.variant_id, r.variant_version, {"price": new_price[r.variant_id]},
                      {"price": r.price}) for r in written]
    with qtbot.waitSignal(view.context.data_changed, timeout=10_000) as announced:
        other.write(lambda ops: ops.catalog.save_edits(rows, description="Prices from elsewhere"))
    assert announced.args[0].ids_of("variant") == {r.variant_id for r in written}
    qtbot.waitUntil(lambda: all(model.row_at(r).price == new_price[model.row_at(r).variant_id] for r in (2, 5)),
                    timeout=10_000)
    assert sorted(fetched) == sorted(r.variant_id for r in written)     # those two rows, nothing else
    assert resets == [] and id_reads == []                              # no reset, the ids are not read again
    assert all(model.is_fresh(r) for r in range(10))
    assert model.data(model.index(2, PRICE)) == f"€{new_price[written[0].variant_id]}"
    assert model.row_at(2).variant_version == written[0].variant_version + 1

    # a write of something the grid does not show: nothing is read again
    fetched.clear()
    other.write(lambda ops: ops.store.add_location("WH9", "Overflow", "warehouse"))
    qtbot.waitUntil(lambda: not other.busy, timeout=10_000)
    assert fetched == [] and id_reads == [] and resets == []

    # sorted by price, the order may change: the rows are refetched and the ids read again
    view.table.horizontalHeader().setSortIndicator(PRICE, Qt.SortOrder.AscendingOrder)
    qtbot.waitUntil(lambda: view.loader.sort_key == "price" and model.ids_loaded and not view.is_loading(),
                    timeout=10_000)
    wait_rows(qtbot, view, 0)
    cheapest = model.row_at(0)
    id_reads.clear()
    resets.clear()
    rows = [RowChange("variant", cheapest.variant_id, cheapest.variant_version,
                      {"price": max(cheapest.compare_at_price or D("0"), cheapest.price) + D("500.00"),
                       "compare_at_price": None}, {"price": cheapest.price})]
    other.write(lambda ops: ops.catalog.save_edits(rows, description="Dearer"))
    qtbot.waitUntil(lambda: len(id_reads) == 1 and model.id_at(0) != cheapest.variant_id, timeout=10_000)
    assert resets == []


# -- conflicts ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("choice", [THEIRS, REBASE, SKIP])
def test_rows_changed_by_someone_else_go_to_the_conflict_dialog(qtbot, db, actor, open_grid, choice) -> None:  # type: ignore[no-untyped-def]
    generate_demo(db, actor, products=20, seed=6)
    view = open_grid(db, actor)
    model = view.model
    mine, theirs_row = model.row_at(0), model.row_at(1)
    model.setData(model.index(0, PRICE), D("31.00"))
    model.setData(model.index(1, PRICE), D("32.00"))
    other = ensure_user(db, "other")
    catalog.update_variant(db, other, theirs_row.variant_id, expected_version=theirs_row.variant_version,
                           values={"price": "77.00"})

    view.apply_pending()
    qtbot.waitUntil(lambda: view.applier.conflict_dialog is not None, timeout=15_000)
    dialog = view.applier.conflict_dialog
    assert price_of(db, mine.variant_id) == D("31.00")            # the other row was applied anyway
    assert [e.entity_id for e in model.pending.edits()] == [theirs_row.variant_id]
    item = dialog.tree.topLevelItem(0)
    assert [item.text(c) for c in range(5)] == [theirs_row.sku, "Price", "€77.00", "€32.00", f"€{theirs_row.price}"]

    dialog.set_resolution("variant", theirs_row.variant_id, choice)
    dialog.accept()
    if choice == THEIRS:
        assert len(model.pending) == 0
        assert price_of(db, theirs_row.variant_id) == D("77.00")
        qtbot.waitUntil(lambda: model.row_at(1).price == D("77.00"), timeout=10_000)   # refreshed
    elif choice == REBASE:
        wait_applied(qtbot, view)
        qtbot.waitUntil(lambda: len(model.pending) == 0, timeout=15_000)
        assert price_of(db, theirs_row.variant_id) == D("32.00")
        assert len(changesets.list_changesets(db)) == 2
    else:
        assert [e.new for e in model.pending.edits()] == [D("32.00")]
        assert price_of(db, theirs_row.variant_id) == D("77.00")


def test_an_invalid_apply_writes_nothing_and_says_why(qtbot, demo_db, sqlite_actor, open_grid) -> None:  # type: ignore[no-untyped-def]
    view = open_grid(demo_db, sqlite_actor)
    model = view.model
    first, second = model.row_at(0), model.row_at(1)
    model.setData(model.index(0, SKU), second.sku)      # a SKU another variant has
    view.apply_pending()
    wait_applied(qtbot, view)
    assert "Nothing was applied" in view.banner.text.text() and "already used" in view.banner.text.text()
    assert len(model.pending) == 1 and changesets.list_changesets(demo_db) == []
    with demo_db.read() as s:
        assert s.get(Variant, first.variant_id).sku == first.sku


def test_writes_elsewhere_refresh_the_visible_rows(qtbot, demo_db, sqlite_actor, open_grid) -> None:  # type: ignore[no-untyped-def]
    view = open_grid(demo_db, sqlite_actor)
    row = view.model.row_at(0)
    catalog.update_variant(demo_db, sqlite_actor, row.variant_id, expected_version=row.variant_version,
                           values={"price": "55.55"})
    view.context.notify_data_changed()
    qtbot.waitUntil(lambda: view.model.row_at(0).price == D("55.55"), timeout=10_000)
    assert view.model.row_at(0).variant_version == row.variant_version + 1


# -- big grids: the end without the ids ------------------------------------------------------------------
def test_ctrl_end_loads_the_last_row_by_a_reverse_keyset_page(qtbot, monkeypatch, demo_db, sqlite_actor,  # type: ignore[no-untyped-def]
                                                               open_grid) -> None:
    release = threading.Event()
    original_ids = catalog_grid.ordered_ids
    expected = list(original_ids(demo_db, sort_key="title", descending=True))
    monkeypatch.setattr(catalog_grid, "ordered_ids", lambda *a, **k: (release.wait(15), original_ids(*a, **k))[1])
    last_pages: list[tuple] = []
    original_last = catalog_grid.last_page
    monkeypatch.setattr(catalog_grid, "last_page", lambda *a, **k: (last_pages.append(a), original_last(*a, **k))[1])
    view = open_grid(demo_db, sqlite_actor)
    view.table.horizontalHeader().setSortIndicator(TITLE, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: view.loader.sort_key == "title" and not view.is_loading(), timeout=10_000)
    total = view.model.total
    assert total == len(expected) and not view.model.ids_loaded
    view.table.setFocus()
    qtbot.keyClick(view.table, Qt.Key.Key_End, CTRL)
    qtbot.waitUntil(lambda: view.model.row_at(total - 1) is not None, timeout=10_000)
    assert view.model.row_at(total - 1).variant_id == expected[-1]
    assert view.table.currentIndex().row() == total - 1 and not view.model.ids_loaded
    assert len(last_pages) == 1
    release.set()
    qtbot.waitUntil(lambda: view.model.ids_loaded, timeout=10_000)


# -- columns and other dialogs ------------------------------------------------------------------------------
def test_column_layouts_are_saved_by_name_and_restored(qtbot, demo_db, sqlite_actor, open_grid) -> None:  # type: ignore[no-untyped-def]
    view = open_grid(demo_db, sqlite_actor)
    header = view.table.horizontalHeader()
    assert not header.isSectionHidden(COST) and header.isSectionHidden(INDEX["handle"])
    view.layouts.set_visible(COST, False)
    view.layouts.set_visible(INDEX["handle"], True)
    view.layouts.save_as("Handles")
    view.layouts._reset()
    assert not header.isSectionHidden(COST)
    assert view.layouts.apply("Handles")
    assert header.isSectionHidden(COST) and not header.isSectionHidden(INDEX["handle"])
    again = open_grid(demo_db, sqlite_actor)          # a new view reads the same settings
    assert again.table.horizontalHeader().isSectionHidden(COST)
    assert again.layouts.names() == ["Handles"]


def test_bulk_edit_history_and_export_open_with_the_right_targets(qtbot, monkeypatch, demo_db, sqlite_actor,  # type: ignore[no-untyped-def]
                                                                  open_grid) -> None:
    from backoffice.ui.views.products import bulk_dialog, export_dialog, history_dialog

    opened: list[tuple] = []

    class Recorder:
        def __init__(self, *args) -> None:  # type: ignore[no-untyped-def]
            opened.append(args)

        def open(self) -> None:
            pass

    for module, name in ((bulk_dialog, "BulkEditDialog"), (history_dialog, "HistoryDialog"),
                         (export_dialog, "ExportDialog")):
        monkeypatch.setattr(module, name, Recorder)
    view = open_grid(demo_db, sqlite_actor)
    select(view, 2, TITLE, 4, SKU)
    view.bulk_edit_selected()
    view.bulk_edit_all()
    view.open_history(3)
    view.open_export()
    ids = tuple(view.model.id_at(r) for r in (2, 3, 4))
    row = view.model.row_at(3)
    assert opened[0][2] == Target(variant_ids=ids) and opened[0][3] == "3 selected variants"
    assert opened[1][2] == Target(filter=VariantFilter()) and "matching the filter" in opened[1][3]
    assert opened[2][2:4] == (row.product_id, row.variant_id)
    assert opened[3][2:4] == (VariantFilter(), view.model.total)


def test_title_cells_show_the_rows_picture(qtbot, db, actor, store, open_grid, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    from backoffice.services import image_matching, images
    from backoffice.services.image_store import ENV_IMAGE_STORE, ImageStore

    monkeypatch.setenv(ENV_IMAGE_STORE, str(tmp_path / "image-store"))
    red = tmp_path / "MC-M.jpg"   # matched to the variant MC-M by its SKU
    Image.new("RGB", (400, 400), (220, 20, 20)).save(red, "JPEG")
    plan = image_matching.plan_upload(db, [str(red)])
    assert [f.target.variant_id for f in plan.matched] == [store.variant_ids[1]]
    images.ingest(db, actor, plan.matched, store=ImageStore(tmp_path / "image-store"))

    view = open_grid(db, actor)
    thumb = view.model.row_at(0).thumb_hash
    assert thumb is not None  # every row of the product shows its only image
    qtbot.waitUntil(lambda: view.thumbnails.loader.source.get(thumb) is not None, timeout=10_000)
    view.table.viewport().repaint()
    shot = view.table.viewport().grab().toImage()
    cell = view.table.visualRect(view.model.index(1, TITLE))
    colour = shot.pixelColor(cell.left() + 6 + 12, cell.center().y())
    assert colour.red() > 180 and colour.green() < 80 and colour.blue() < 80


# -- prices below cost ----------------------------------------------------------------------------------
def _has_colour(image, rect, colour: str, tolerance: int = 40) -> bool:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QColor

    want = QColor(colour)
    for x in range(rect.left(), rect.right()):
        for y in range(rect.top(), rect.bottom()):
            c = image.pixelColor(x, y)
            if abs(c.red() - want.red()) + abs(c.green() - want.green()) + abs(c.blue() - want.blue()) < tolerance:
                return True
    return False


def test_a_price_staged_below_cost_is_painted_as_a_warning_and_still_applies(qtbot, demo_db, sqlite_actor,  # type: ignore[no-untyped-def]
                                                                            open_grid) -> None:
    from backoffice.ui import theme

    view = open_grid(demo_db, sqlite_actor)
    model = view.model
    wait_rows(qtbot, view, 0, 1)
    row = model.row_at(0)
    assert row.cost is not None and row.price > row.cost
    view.table.clearSelection()
    view.table.setCurrentIndex(model.index(5, TITLE))
    rect = view.table.visualRect(model.index(0, PRICE))
    assert not _has_colour(view.table.viewport().grab().toImage(), rect, theme.WARNING)
    below = (row.cost - D("1.00")).quantize(D("0.01"))
    model.setData(model.index(0, PRICE), below)
    assert model.cell(0, PRICE).below_cost
    assert _has_colour(view.table.viewport().grab().toImage(), rect, theme.WARNING)   # icon and figures
    assert "Below cost" in model.data(model.index(0, PRICE), Qt.ItemDataRole.ToolTipRole)
    view.apply_pending()                      # a warning, not a block: it is written like any edit
    wait_applied(qtbot, view)
    assert price_of(demo_db, row.variant_id) == below


def test_skus_in_a_narrowed_column_are_cut_in_the_middle_and_still_differ(qtbot, demo_db, sqlite_actor, open_grid) -> None:  # type: ignore[no-untyped-def]
    view = open_grid(demo_db, sqlite_actor)
    model = view.model
    wait_rows(qtbot, view, 0, 7)
    skus = [model.row_at(r).sku for r in range(8)]
    assert len(set(skus)) == 8 and len({s[:8] for s in skus}) < 8     # they share their start
    view.table.setColumnWidth(SKU, 110)                                 # narrowed by the user
    metrics = view.table.fontMetrics()
    assert all(metrics.horizontalAdvance(s) > 110 - 12 for s in skus)  # too narrow for them whole
    view.table.clearSelection()
    view.table.setCurrentIndex(model.index(12, TITLE))
    image = view.table.viewport().grab().toImage()
    cells = [image.copy(view.table.visualRect(model.index(r, SKU))) for r in range(8)]
    assert all(cells[0].size() == c.size() for c in cells)
    assert len({bytes(c.constBits()) for c in cells}) == 8              # no two rows painted alike
