"""The Products view's "Merchandising" menu: the tools that work on the catalog as a whole (price events,
description templates and content checks, category suggestions, product templates). Each entry opens its
own dialog, which talks only to the operations contract."""

from __future__ import annotations

from functools import partial

from PySide6.QtWidgets import QMenu, QWidget

from backoffice.ui.views.products.category_suggestions import open_category_suggestions
from backoffice.ui.views.products.content_checks import open_content_dialogs
from backoffice.ui.views.products.price_events import open_price_events
from backoffice.ui.views.products.product_templates import open_product_templates


def fill_merchandising_menu(view: QWidget, menu: QMenu) -> None:
    """Add the merchandising entries to ``menu`` (called once, when the Products view builds its toolbar)."""
    menu.addAction(view.tr("Price events…"), partial(open_price_events, view))
    menu.addSeparator()
    menu.addAction(view.tr("Description templates…"), partial(open_content_dialogs, view, "templates"))
    menu.addAction(view.tr("Content checks…"), partial(open_content_dialogs, view, "checks"))
    menu.addAction(view.tr("Suggest categories…"), partial(open_category_suggestions, view))
    menu.addSeparator()
    menu.addAction(view.tr("Product templates…"), partial(open_product_templates, view))
