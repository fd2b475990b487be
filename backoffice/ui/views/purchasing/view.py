"""Purchasing: Suppliers, reorder suggestions and purchase orders. Not built yet; the page says what it will hold."""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP

from backoffice.ui.views.base import PlaceholderPage


class PurchasingView(PlaceholderPage):
    key = "purchasing"
    TITLE = QT_TRANSLATE_NOOP("Views", "Purchasing")
    DESCRIPTION = QT_TRANSLATE_NOOP("Views", "Suppliers, reorder suggestions and purchase orders.")
    icon_name = "purchasing"

    def planned(self) -> tuple[str, list[str]]:
        return (
            self.tr("Reorder before the shelves run empty."),
            [
                self.tr("Suppliers with lead times, currencies and terms"),
                self.tr("Reorder suggestions from sales and stock levels"),
                self.tr("Purchase orders from draft to received"),
            ],
        )
