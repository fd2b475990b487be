"""Images: Product image gallery, uploads and optimisation. Not built yet; the page says what it will hold."""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP

from backoffice.ui.views.base import PlaceholderPage


class ImagesView(PlaceholderPage):
    key = "images"
    TITLE = QT_TRANSLATE_NOOP("Views", "Images")
    DESCRIPTION = QT_TRANSLATE_NOOP("Views", "Product image gallery, uploads and optimisation.")
    icon_name = "images"

    def planned(self) -> tuple[str, list[str]]:
        return (
            self.tr("Every product image in one gallery."),
            [
                self.tr("Browse and reorder images per product and variant"),
                self.tr("Upload hundreds of images at once, matched by SKU"),
                self.tr("Optimise size and format automatically before publishing"),
            ],
        )
