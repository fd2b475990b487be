"""The Bundles view on a real database: the list shows what the service computes (price, component cost,
margin as money, availability per location as quantities), a clear empty state, a bundle made and then
changed in the editor (the save runs off the GUI thread and the list reloads), a bad component named in
the editor without writing anything, and the mix-and-match rules tab."""

from __future__ import annotations

import uuid

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSpinBox

from sqlalchemy import select

from backoffice.db import Database
from backoffice.models import Product
from backoffice.services import bundles, catalog, inventory
from backoffice.services.base import Actor
from backoffice.services.bundles import ComponentSpec
from backoffice.services.inventory import MoveLine
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.bundles import BundlesView
from backoffice.ui.views.bundles.dialogs import BundleDialog, RuleDialog
from backoffice.ui.views.bundles.models import COL_AVAILABLE, COL_COST, COL_MARGIN, COL_MARGIN_PCT, COL_PRICE, COL_SKU


def wait_idle(qtbot, view) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not view.is_loading() and view.tasks.pending == 0, timeout=10_000)


def stock_up(db: Database, actor: Actor) -> dict[str, int]:
    made = catalog.create_product(db, actor, values={"handle": "tea", "title": "Tea", "status": "active"},
                                  variants=[{"sku": "TEA-G", "price": "8.00", "cost": "3.00"},
                                            {"sku": "TEA-B", "price": "6.00", "cost": "2.50"}])
    loc = {code: inventory.create_location(db, actor, code=code, name=code, kind=kind).entity_id
           for code, kind in (("WH1", "warehouse"), ("SHOP", "store"), ("SUP", "supplier"))}
    ids = [c.entity_id for c in made.children]
    inventory.post_moves(db, actor, operation_id=uuid.uuid4().hex, reason="receipt", lines=[
        MoveLine(ids[0], loc["SUP"], loc["WH1"], 9), MoveLine(ids[1], loc["SUP"], loc["WH1"], 5),
        MoveLine(ids[0], loc["SUP"], loc["SHOP"], 2)])
    return loc


@pytest.fixture
def open_view(qtbot, tasks: TaskManager, connected_context):  # type: ignore[no-untyped-def]
    def open_(db: Database, actor: Actor) -> BundlesView:
        view = BundlesView(connected_context(db, actor), tasks)
        qtbot.addWidget(view)
        view.resize(1200, 800)
        view.show()
        view.activate()
        wait_idle(qtbot, view)
        return view

    return open_


def test_the_list_shows_what_the_service_computes(qtbot, sqlite_db, sqlite_actor, open_view) -> None:  # type: ignore[no-untyped-def]
    view = open_view(sqlite_db, sqlite_actor)
    assert view.results.currentWidget() is view.empty and view.empty.title.text() == "No bundles yet"
    assert view.rules_stack.currentWidget() is view.rules_empty
    stock_up(sqlite_db, sqlite_actor)
    bundles.save_bundle(sqlite_db, sqlite_actor, sku="TEA-DUO", pricing="discount", percent_off="10",
                        components=[ComponentSpec("TEA-G", 2), ComponentSpec("TEA-B", 1)])
    view.reload()
    wait_idle(qtbot, view)
    row = bundles.get_bundle(sqlite_db, "TEA-DUO")
    m = view.model
    assert m.rowCount() == 1 and m.display(0, COL_SKU) == "TEA-DUO"
    # (2 × 8 + 6) × 0.9 = 19.80; cost 2 × 3 + 2.5 = 8.50
    assert (m.display(0, COL_PRICE), m.display(0, COL_COST), m.display(0, COL_MARGIN)) == ("€19.80", "€8.50", "€11.30")
    assert m.display(0, COL_MARGIN_PCT) == "57.1 %" and str(row.margin_percent) == "57.1"
    assert m.display(0, COL_AVAILABLE) == "4" and row.available == {"SHOP": 0, "WH1": 4}
    assert [m.headerData(i, Qt.Orientation.Horizontal) for i in range(COL_AVAILABLE + 1, m.columnCount())] == ["SHOP", "WH1"]
    assert view.components.rowCount() == 2 and view.count_label.text() == "1 bundle"


def test_the_editor_saves_off_the_gui_thread_and_names_bad_input(qtbot, sqlite_db, sqlite_actor, open_view) -> None:  # type: ignore[no-untyped-def]
    stock_up(sqlite_db, sqlite_actor)
    view = open_view(sqlite_db, sqlite_actor)
    dialog = view._open_bundle(None)
    assert isinstance(dialog, BundleDialog)
    dialog.sku.setText("TEA-SET")
    dialog.title_edit.setText("Tea set")
    dialog.pricing.setCurrentIndex(1)                 # fixed
    dialog.amount.setText("12.50")
    dialog.components.item(0, 0).setText("NOPE")
    dialog.save()
    qtbot.waitUntil(lambda: dialog.buttons.isEnabled(), timeout=10_000)
    assert "component NOPE: no variant has this SKU" in dialog.banner.text.text()
    assert bundles.list_bundles(sqlite_db) == []      # nothing written
    dialog.components.item(0, 0).setText("TEA-G")
    dialog._add_component("TEA-B", 3)
    dialog.save()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10_000)
    wait_idle(qtbot, view)
    saved = bundles.get_bundle(sqlite_db, "TEA-SET")
    assert saved.price == 12.5 and [(c.sku, c.quantity) for c in saved.components] == [("TEA-B", 3), ("TEA-G", 1)]
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=10_000)
    assert view.model.display(0, COL_AVAILABLE) == "1"     # WH1: min(9 // 1, 5 // 3)
    # edit: the components are read into the editor; a quantity changed is saved
    editor = view._open_bundle(view.current_bundle())
    box = editor.components.cellWidget(0, 1)
    assert isinstance(box, QSpinBox) and editor.components.item(0, 0).text() == "TEA-B"
    box.setValue(1)
    editor.save()
    qtbot.waitUntil(lambda: not editor.isVisible(), timeout=10_000)
    wait_idle(qtbot, view)
    qtbot.waitUntil(lambda: view.model.display(0, COL_AVAILABLE) == "5", timeout=10_000)


def test_a_rule_is_made_in_its_dialog(qtbot, sqlite_db, sqlite_actor, open_view) -> None:  # type: ignore[no-untyped-def]
    stock_up(sqlite_db, sqlite_actor)
    view = open_view(sqlite_db, sqlite_actor)
    dialog = view._open_rule(None)
    assert isinstance(dialog, RuleDialog)
    dialog.name.setText("Any 2 teas for 12")
    dialog.quantity.setValue(2)
    dialog.amount.setText("12")
    dialog.products.setText("x")
    dialog.save()
    assert "whole numbers" in dialog.banner.text.text()
    with sqlite_db.read() as s:
        product_id = s.scalar(select(Product.id).where(Product.handle == "tea"))
    dialog.products.setText(str(product_id))
    dialog.save()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10_000)
    wait_idle(qtbot, view)
    qtbot.waitUntil(lambda: view.rules.rowCount() == 1, timeout=10_000)
    assert view.rules.display(0, 1) == "any 2 for €12.00" and view.rules.display(0, 2) == "tea"
    assert bundles.quote(sqlite_db, "Any 2 teas for 12", ["TEA-G", "TEA-G", "TEA-B"]).total == 18
