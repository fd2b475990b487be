"""The store set-up dialogs: locations, the category tree and the product form, on a real database, their
reads and writes on worker threads, problems shown on the row they concern."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QComboBox
from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import Category, Product, Variant
from backoffice.services import catalog, inventory
from backoffice.services.inventory import MoveLine
from backoffice.ui.dialogs.categories import CategoriesDialog
from backoffice.ui.dialogs.locations import LocationsDialog
from backoffice.ui.views.products.product_form import ProductFormDialog


def idle(qtbot, tasks) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)


class ThreadRecorder:
    """Stands for a service module inside an operations area's module: every database call made through it
    is recorded with the thread it ran on (the test's own calls go to the real module)."""

    def __init__(self, module, seen: dict[str, set[str]]) -> None:  # type: ignore[no-untyped-def]
        self._module, self._seen = module, seen

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        real = getattr(self._module, name)
        if not callable(real):
            return real

        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            if args and isinstance(args[0], Database):   # a database call (pure helpers may run anywhere)
                self._seen.setdefault(name, set()).add(threading.current_thread().name)
            return real(*args, **kwargs)

        return wrapper


@pytest.fixture
def service_threads(monkeypatch):  # type: ignore[no-untyped-def]
    """The threads each service function the dialogs' operations call ran on."""
    from backoffice.operations import catalog as catalog_area
    from backoffice.operations import store as store_area

    seen: dict[str, set[str]] = {}
    monkeypatch.setattr(store_area, "inventory", ThreadRecorder(inventory, seen))
    monkeypatch.setattr(store_area, "catalog", ThreadRecorder(catalog, seen))
    monkeypatch.setattr(catalog_area, "catalog", ThreadRecorder(catalog, seen))
    return seen


def test_locations_added_edited_and_archive_refused_on_its_row(qtbot, db: Database, actor, tasks,  # type: ignore[no-untyped-def]
                                                               connected_context, service_threads, store) -> None:
    dialog = LocationsDialog(connected_context(db, actor), tasks)
    qtbot.addWidget(dialog)
    idle(qtbot, tasks)
    assert [dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())] == ["CUS", "LOSS", "SHOP", "SUP", "WH1"]
    dialog.start_add()
    dialog.code.setText("wh2")
    dialog.name.setText("Overflow")
    dialog.kind.setCurrentIndex(dialog.kind.findData("warehouse"))
    dialog.save_form()
    idle(qtbot, tasks)
    assert {r["code"]: r["name"] for r in inventory.list_locations(db)}["WH2"] == "Overflow"
    assert dialog.selected()["code"] == "WH2" and not dialog.form.isVisible()
    # edit the name of the selected one
    dialog.start_edit()
    dialog.name.setText("Overflow hall")
    dialog.save_form()
    idle(qtbot, tasks)
    assert {r["code"]: r["name"] for r in inventory.list_locations(db)}["WH2"] == "Overflow hall"
    # WH1 holds stock: archiving it is refused, on its row
    inventory.post_moves(db, actor, operation_id="in-1", reason="receipt",
                         lines=[MoveLine(store.variant_ids[0], store.locations["SUP"], store.locations["WH1"], 5)])
    dialog.reload()
    idle(qtbot, tasks)
    row = next(r for r in range(dialog.table.rowCount()) if dialog.table.item(r, 0).text() == "WH1")
    dialog.table.selectRow(row)
    dialog.archive_selected()
    idle(qtbot, tasks)
    assert dialog.table.item(row, 4).text() == "location WH1 stock: holds 5 units of 1 variant; transfer or adjust them to zero first"
    assert dialog.table.item(row, 3).text() == "5"
    assert {r["code"]: r["active"] for r in inventory.list_locations(db)}["WH1"] is True
    assert threading.main_thread().name not in set().union(*service_threads.values())
    assert {"list_locations", "create_location", "update_location", "archive_location"} <= set(service_threads)


def test_category_tree_add_rename_and_move_by_drop_or_menu(qtbot, db: Database, actor, tasks,  # type: ignore[no-untyped-def]
                                                           connected_context, service_threads) -> None:
    dialog = CategoriesDialog(connected_context(db, actor), tasks)
    qtbot.addWidget(dialog)
    idle(qtbot, tasks)
    assert dialog.tree.topLevelItemCount() == 0
    for name in ("Clothing", "Sale"):
        dialog.name.setText(name)
        dialog.add_top()
        idle(qtbot, tasks)
    dialog.tree.setCurrentItem(dialog.items[catalog.find_category(db, "Clothing")["id"]])
    dialog.name.setText("Tops")
    dialog.add_child()
    idle(qtbot, tasks)
    tops = catalog.find_category(db, "Clothing/Tops")["id"]
    # a sibling of the same name is refused, shown in the banner, nothing written
    dialog.tree.setCurrentItem(dialog.items[catalog.find_category(db, "Clothing")["id"]])
    dialog.name.setText("tops")
    dialog.add_child()
    idle(qtbot, tasks)
    assert "already exists under Clothing" in dialog.banner.text.text()
    # a drop onto "Sale" asks for the move; the tree is redrawn from the database
    sale = catalog.find_category(db, "Sale")["id"]
    assert dialog.tree.drop_parent(dialog.items[sale], QAbstractItemView.DropIndicatorPosition.OnItem) == sale
    assert dialog.tree.drop_parent(dialog.items[tops], QAbstractItemView.DropIndicatorPosition.BelowItem) == \
        catalog.find_category(db, "Clothing")["id"]
    assert dialog.tree.drop_parent(None, QAbstractItemView.DropIndicatorPosition.OnViewport) is None
    dialog.tree.move_requested.emit(tops, sale)
    idle(qtbot, tasks)
    assert [r["full_name"] for r in catalog.list_categories(db)] == ["Clothing", "Sale", "Sale > Tops"]
    assert dialog.items[tops].parent() is dialog.items[sale]
    # "Move to": the category itself and what is below it are not offered; a cycle cannot be asked for
    dialog.tree.setCurrentItem(dialog.items[sale])
    offered = [dialog.move_target.itemText(i) for i in range(dialog.move_target.count())]
    assert offered == ["(top level)", "Clothing"]
    dialog.move_target.setCurrentIndex(1)
    dialog.move_to_chosen()
    idle(qtbot, tasks)
    dialog.tree.setCurrentItem(dialog.items[sale])
    dialog.name.setText("Outlet")
    dialog.rename()
    idle(qtbot, tasks)
    assert [r["full_name"] for r in catalog.list_categories(db)] == ["Clothing", "Clothing > Outlet",
                                                                    "Clothing > Outlet > Tops"]
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Category)) == 3
    assert threading.main_thread().name not in set().union(*service_threads.values())


def test_product_form_shows_problems_on_their_rows_then_creates_once(qtbot, db: Database, actor, tasks,  # type: ignore[no-untyped-def]
                                                                     connected_context, service_threads) -> None:
    catalog.create_attribute(db, actor, code="size", name="Size", values=["S", "M"])
    catalog.create_product(db, actor, values={"handle": "old", "title": "Old"}, variants=[{"sku": "TAKEN", "price": "1"}])
    catalog.add_category_path(db, actor, "Clothing/Shirts")
    dialog = ProductFormDialog(connected_context(db, actor), tasks)
    qtbot.addWidget(dialog)
    idle(qtbot, tasks)
    dialog.title.setText("Linen Shirt")
    assert dialog.handle.text() == "linen-shirt"
    dialog.category.setCurrentIndex(dialog.category.findText("Clothing > Shirts"))
    dialog.options.item(0).setCheckState(Qt.CheckState.Checked)   # size
    assert dialog.columns()[:2] == ["sku", "option:size"]
    dialog.table.item(0, 2).setText("39.00")                       # a price on the first row, then fill
    dialog.fill_combinations()
    rows = dialog.rows_data()
    assert [(r["sku"], r["options"], r["price"]) for r in rows] == [
        ("LINEN-SHIRT-S", {"size": "S"}, "39.00"), ("LINEN-SHIRT-M", {"size": "M"}, "39.00")]
    # two bad rows: a SKU of another product, a negative cost
    dialog.table.item(0, 0).setText("TAKEN")
    dialog.table.item(1, 3).setText("-4")
    dialog.save()
    idle(qtbot, tasks)
    problem = dialog.table.columnCount() - 1
    # the form's own checks come first: the negative cost, on its row
    assert [dialog.table.item(r, problem).text() for r in (0, 1)] == ["", "cost: -4 is negative"]
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Product)) == 1
    dialog.table.item(1, 3).setText("12.00")
    dialog.save()
    idle(qtbot, tasks)
    assert dialog.table.item(0, problem).text() == "sku: 'TAKEN' is already used by product 'old'"
    assert dialog.table.item(1, problem).text() == ""
    dialog.table.item(0, 0).setText("LS-S")
    with qtbot.waitSignal(dialog.created, timeout=10_000) as created:
        dialog.save()
    product = catalog.get_product(db, created.args[0])
    assert (product["handle"], product["category_id"]) == ("linen-shirt", catalog.find_category(db, "Clothing/Shirts")["id"])
    assert [(v["sku"], v["price"], v["cost"]) for v in product["variants"]] == [
        ("LS-S", "39.00", None), ("LINEN-SHIRT-M", "39.00", "12.00")]
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Variant)) == 3
    assert isinstance(dialog.table.cellWidget(0, 1), QComboBox)
    assert threading.main_thread().name not in set().union(*service_threads.values())
    assert "create_product" in service_threads


def test_store_menu_opens_each_dialog_once_while_connected(qtbot, tasks, ui_settings, sqlite_db, sqlite_actor,  # type: ignore[no-untyped-def]
                                                          connected_context) -> None:
    from backoffice.config import ProfileStore
    from backoffice.secrets import SecretStore
    from backoffice.ui.context import AppContext
    from backoffice.ui.main_window import MainWindow

    offline = MainWindow(AppContext(profile_name="x"), tasks, settings=ui_settings, profiles=ProfileStore(),
                         secrets=SecretStore())
    qtbot.addWidget(offline)
    assert not offline.locations_action.isEnabled() and not offline.new_product_action.isEnabled()
    window = MainWindow(connected_context(sqlite_db, sqlite_actor), tasks, settings=ui_settings,
                        profiles=ProfileStore(), secrets=SecretStore())
    qtbot.addWidget(window)
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles.index("&Store") == titles.index("&Help") - 1
    for action, attribute, cls in ((window.locations_action, "locations_dialog", LocationsDialog),
                                   (window.categories_action, "categories_dialog", CategoriesDialog),
                                   (window.new_product_action, "product_form", ProductFormDialog)):
        assert action.isEnabled()
        action.trigger()
        first = getattr(window, attribute)
        action.trigger()   # a second click raises the open dialog instead of opening another
        assert isinstance(first, cls) and getattr(window, attribute) is first
        idle(qtbot, tasks)
        first.reject()
        assert getattr(window, attribute) is None


def test_empty_catalog_offers_new_product_and_shows_it_once_made(qtbot, tasks, ui_settings, sqlite_db,  # type: ignore[no-untyped-def]
                                                                 sqlite_actor, connected_context) -> None:
    from backoffice.config import ProfileStore
    from backoffice.secrets import SecretStore
    from backoffice.ui.main_window import MainWindow

    window = MainWindow(connected_context(sqlite_db, sqlite_actor), tasks, settings=ui_settings,
                        profiles=ProfileStore(), secrets=SecretStore())
    qtbot.addWidget(window)
    window.show()
    window.show_view("products")
    view = window.view("products")
    qtbot.waitUntil(lambda: not view.is_loading() and tasks.pending == 0, timeout=10_000)
    button = window.empty_catalog_new_product
    assert view.results.currentWidget() is view.empty and button.isVisible()
    button.click()
    form = window.product_form
    idle(qtbot, tasks)
    form.title.setText("Canvas Tote")
    form.table.item(0, 0).setText("TOTE-1")
    form.table.item(0, 1).setText("18.00")
    with qtbot.waitSignal(form.created, timeout=10_000):
        form.save()
    qtbot.waitUntil(lambda: view.model.total == 1 and tasks.pending == 0, timeout=10_000)
    assert view.results.currentWidget() is view.table and not button.isVisible()


def test_a_location_added_shows_in_the_inventory_filter_when_it_is_next_shown(qtbot, tasks, ui_settings, sqlite_db,  # type: ignore[no-untyped-def]
                                                                             sqlite_actor, connected_context) -> None:
    from backoffice.config import ProfileStore
    from backoffice.secrets import SecretStore
    from backoffice.ui.main_window import MainWindow

    window = MainWindow(connected_context(sqlite_db, sqlite_actor), tasks, settings=ui_settings,
                        profiles=ProfileStore(), secrets=SecretStore())
    qtbot.addWidget(window)
    window.show()
    window.show_view("inventory")
    inventory_view = window.view("inventory")
    qtbot.waitUntil(lambda: not inventory_view.is_loading() and tasks.pending == 0, timeout=10_000)
    choices = inventory_view.filters.location
    assert [choices.itemText(i) for i in range(1, choices.count())] == []
    window.show_view("products")
    window.locations_action.trigger()
    dialog = window.locations_dialog
    idle(qtbot, tasks)
    dialog.start_add()
    dialog.code.setText("WH1")
    dialog.name.setText("Main warehouse")
    dialog.save_form()
    idle(qtbot, tasks)
    dialog.reject()
    window.show_view("inventory")
    qtbot.waitUntil(lambda: not inventory_view.is_loading() and tasks.pending == 0, timeout=10_000)
    assert [choices.itemText(i) for i in range(1, choices.count())] == ["WH1 · Main warehouse"]
