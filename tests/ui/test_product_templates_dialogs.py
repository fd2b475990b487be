"""The product templates dialog (save a template from the form, preview and create a product from it) and
"Revert to this date…" from a product's History (preview with conflicts, apply, nothing left to do)."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtWidgets import QDialogButtonBox

from backoffice.db import Database
from backoffice.services import catalog, changesets, product_templates
from backoffice.services.base import Actor
from backoffice.services.changesets import RowChange
from backoffice.ui.format import format_money
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products.history_dialog import HistoryDialog
from backoffice.ui.views.products.product_templates import NewProductDialog, ProductTemplatesDialog, parse_options

WAIT = 15_000


def test_options_field_is_read_or_explained() -> None:
    assert parse_options("size=S, M; color=Red") == {"size": ["S", "M"], "color": ["Red"]}
    assert parse_options("") == {}
    assert "size=S,M,L" in parse_options("size")


def test_save_a_template_then_create_a_product_from_it(qtbot, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                                       sqlite_db: Database, sqlite_actor: Actor) -> None:
    catalog.create_attribute(sqlite_db, sqlite_actor, code="size", name="Size", values=["S", "M", "L"])
    context = connected_context(sqlite_db, sqlite_actor)
    dialog = ProductTemplatesDialog(context, tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: not dialog.is_loading(), timeout=WAIT)
    assert dialog.empty.isVisible() and dialog.list.count() == 0

    form = dialog.form
    form.name.setText("Tees")
    form.vendor.setText("Norda")
    form.options.setText("size=S,M")
    form.price.setText("-5")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: not dialog.is_loading(), timeout=WAIT)
    assert "default_price" in dialog.banner.text.text() and product_templates.list_templates(sqlite_db) == []

    form.price.setText("15.00")
    form.description.setPlainText("{{ title }} in {{ attributes.size }}")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: dialog.list.count() == 1 and not dialog.is_loading(), timeout=WAIT)
    saved = product_templates.find_template(sqlite_db, "Tees")
    assert (saved.vendor, saved.attributes, saved.default_price) == ("Norda", {"size": ["S", "M"]}, Decimal("15.00"))
    assert dialog.make_button.isEnabled()

    maker = NewProductDialog(context, tasks, saved, dialog)
    qtbot.addWidget(maker)
    maker.show()
    maker.title.setText("Cotton Tee")
    maker.preview()
    qtbot.waitUntil(lambda: maker.plan is not None and not maker.runner.busy, timeout=WAIT)
    assert maker.model.rows == [("COTTON-TEE-S", "S", format_money(Decimal("15.00")), "—"),
                                ("COTTON-TEE-M", "M", format_money(Decimal("15.00")), "—")]
    assert maker.description.toPlainText() == "Cotton Tee in S, M"
    assert maker.create_button.isEnabled()
    maker.create_button.click()
    qtbot.waitUntil(lambda: not maker.isVisible(), timeout=WAIT)
    with sqlite_db.read() as s:
        from sqlalchemy import select

        from backoffice.models import Product

        made = s.scalars(select(Product).where(Product.handle == "cotton-tee")).one()
        assert len(made.variants) == 2 and made.vendor == "Norda"


def test_revert_to_a_date_from_the_history(qtbot, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                           sqlite_db: Database, sqlite_actor: Actor) -> None:
    from tests.conftest import SmallStore

    store = SmallStore(sqlite_db, sqlite_actor)
    pid = store.product.entity_id
    v1 = store.variant_ids[0]
    changesets.apply_changes(sqlite_db, sqlite_actor, [RowChange("variant", v1, 1, {"price": "45.00"}),
                                                       RowChange("product", pid, 1, {"vendor": "Other"})],
                             description="later")
    catalog.add_variant(sqlite_db, sqlite_actor, pid, values={"sku": "MC-XL", "price": "64.99",
                                                              "options": {"size": "L"}})
    context = connected_context(sqlite_db, sqlite_actor)
    history = HistoryDialog(context, tasks, pid, None)
    qtbot.addWidget(history)
    history.show()
    qtbot.waitUntil(lambda: bool(history.lines) and not history.is_loading(), timeout=WAIT)
    # the oldest change after the product's creation: the changeset; revert to just before it
    row = next(i for i, line in enumerate(history.lines) if line.source.startswith("changeset"))
    history.table.selectRow(history.proxy.mapFromSource(history.model.index(row, 0)).row())
    history.revert_button.click()
    dialog = history.revert_dialog
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.plan is not None and not dialog.is_loading(), timeout=WAIT)
    assert sorted(dialog.model.rows) == sorted([
        ("product merino-crew", "Vendor", "Other", "Norda"),
        ("SKU MC-S", "Price", format_money(Decimal("45.00")), format_money(Decimal("59.99")))])
    assert [(r[0], r[1]) for r in dialog.conflicts.rows] == [("SKU MC-XL", "Created since")]
    assert dialog.conflicts_table.isVisibleTo(dialog)
    assert dialog.apply_button.isEnabled()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Close)   # the dialog keeps a Close button
    dialog.apply_button.click()
    qtbot.waitUntil(lambda: getattr(dialog, "result", None) is not None and not dialog.is_loading(), timeout=WAIT)
    assert "Reverted as changeset" in dialog.banner.text.text()
    data = catalog.get_product(sqlite_db, pid)
    assert data["vendor"] == "Norda" and {v["sku"]: v["price"] for v in data["variants"]}["MC-S"] == "59.99"
    dialog.preview()            # twice: nothing left to do
    qtbot.waitUntil(lambda: not dialog.is_loading() and dialog.model.rowCount() == 0, timeout=WAIT)
    assert "Nothing to revert" in dialog.summary.text() and not dialog.apply_button.isEnabled()


def test_the_merchandising_menu_opens_the_templates(qtbot, tasks: TaskManager, connected_context,  # type: ignore[no-untyped-def]
                                                   sqlite_db: Database, sqlite_actor: Actor) -> None:
    from PySide6.QtWidgets import QMenu, QWidget

    from backoffice.ui.views.products.merchandising import fill_merchandising_menu

    product_templates.save_template(sqlite_db, sqlite_actor, {"name": "Caps", "default_price": "9.00"})

    class FakeView(QWidget):
        def __init__(self) -> None:
            super().__init__()
            self.context = connected_context(sqlite_db, sqlite_actor)
            self.tasks = tasks
            self.loader = type("L", (), {"filter": None})()
            self.model = type("M", (), {"total": 0})()
            self.dialog = None

        def selected_variant_ids(self) -> list[int]:
            return []

    view = FakeView()
    qtbot.addWidget(view)
    menu = QMenu()
    fill_merchandising_menu(view, menu)  # type: ignore[arg-type]
    next(a for a in menu.actions() if a.text() == "Product templates…").trigger()
    dialog = view.dialog
    assert isinstance(dialog, ProductTemplatesDialog)
    qtbot.waitUntil(lambda: dialog.list.count() == 1 and not dialog.is_loading(), timeout=WAIT)
    assert dialog.form.name.text() == "Caps" and dialog.form.price.text() == "9.00"
    dialog.done(0)
