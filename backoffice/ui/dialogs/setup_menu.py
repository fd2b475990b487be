"""The Store menu of the main window: setting up a store from nothing (locations, the category tree, a
product with its variants) without a file import. Enabled while a database is open. The dialogs' writes
reach the views as typed changes (locations, categories, products): each view reloads what it shows of
them."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QPushButton

from backoffice.ui.context import ConnectionState
from backoffice.ui.format import translator

_tr = translator("StoreMenu")


def install_store_menu(window: QMainWindow) -> QMenu:
    """Add the Store menu to the menu bar; its dialogs open on ``window.context`` and ``window.tasks``."""
    menu = QMenu(_tr("&Store"), window)
    window.new_product_action = menu.addAction(_tr("&New product…"))
    window.new_product_action.setShortcut(QKeySequence("Ctrl+Shift+N"))
    window.new_product_action.triggered.connect(lambda: open_product_form(window))
    menu.addSeparator()
    window.locations_action = menu.addAction(_tr("&Locations…"))
    window.locations_action.triggered.connect(lambda: open_locations(window))
    window.categories_action = menu.addAction(_tr("&Categories…"))
    window.categories_action.triggered.connect(lambda: open_categories(window))
    window.menuBar().addMenu(menu)

    def follow() -> None:
        connected = window.context.state is ConnectionState.CONNECTED
        for action in (window.new_product_action, window.locations_action, window.categories_action):
            action.setEnabled(connected)

    window.context.changed.connect(follow)
    follow()
    _empty_catalog_button(window)
    return menu


def _empty_catalog_button(window: QMainWindow) -> None:
    """"New product…" beside the Products view's "Import…" while the catalog is empty."""
    view = getattr(window, "views", {}).get("products")
    signal = getattr(view, "catalog_empty_changed", None)
    empty = getattr(view, "empty", None)
    if signal is None or empty is None or empty.action.parentWidget() is None:
        return
    button = QPushButton(_tr("New product…"))
    button.hide()
    empty.action.parentWidget().layout().addWidget(button)
    button.clicked.connect(lambda: open_product_form(window))
    signal.connect(button.setVisible)
    window.empty_catalog_new_product = button


def _open(window: QMainWindow, attribute: str, make: Any) -> Any:
    """One dialog of each kind at a time, deleted when closed."""
    dialog = getattr(window, attribute, None)
    if dialog is not None:
        dialog.raise_()
        return dialog
    dialog = make()
    setattr(window, attribute, dialog)

    def closed() -> None:
        setattr(window, attribute, None)
        dialog.deleteLater()

    dialog.finished.connect(closed)
    dialog.open()
    return dialog


def open_locations(window: QMainWindow) -> Any:
    from backoffice.ui.dialogs.locations import LocationsDialog

    return _open(window, "locations_dialog", lambda: LocationsDialog(window.context, window.tasks, window))


def open_categories(window: QMainWindow) -> Any:
    from backoffice.ui.dialogs.categories import CategoriesDialog

    return _open(window, "categories_dialog", lambda: CategoriesDialog(window.context, window.tasks, window))


def open_product_form(window: QMainWindow) -> Any:
    from backoffice.ui.views.products.product_form import ProductFormDialog

    def new_form() -> Any:
        dialog = ProductFormDialog(window.context, window.tasks, window)
        dialog.created.connect(lambda _pid: _product_created(window))
        return dialog

    return _open(window, "product_form", new_form)


def _product_created(window: QMainWindow) -> None:
    show = getattr(window, "show_message", None)
    if show is not None:
        show(_tr("Product created."), "success", 4000)
