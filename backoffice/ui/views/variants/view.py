"""Variants: Attributes, combinations and variant pricing. Not built yet; the page says what it will hold."""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP

from backoffice.ui.views.base import PlaceholderPage


class VariantsView(PlaceholderPage):
    key = "variants"
    TITLE = QT_TRANSLATE_NOOP("Views", "Variants")
    DESCRIPTION = QT_TRANSLATE_NOOP("Views", "Attributes, combinations and variant pricing.")
    icon_name = "variants"

    def planned(self) -> tuple[str, list[str]]:
        return (
            self.tr("Sizes, colours and every combination of them."),
            [
                self.tr("Manage attributes and their values, shared across products"),
                self.tr("Generate all variant combinations in one step"),
                self.tr("Price variants individually or by rule"),
            ],
        )
