"""The selected image's panel: a larger preview, sizes before and after optimisation, alt text (flagged
when missing) and the variants that show it. It emits what the user asks for; the view does the writes."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QLineEdit, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from backoffice.operations.images import GalleryImage, describe_size
from backoffice.ui import theme

PREVIEW_EDGE = 208
PREVIEW_HEIGHT = 132


class ImageDetails(QFrame):
    alt_text_saved = Signal(int, int, str)     # image id, its version, the new text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        self.image: GalleryImage | None = None
        self.preview = QLabel()
        self.preview.setFixedSize(PREVIEW_EDGE, PREVIEW_HEIGHT)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setStyleSheet(f"background: {theme.SURFACE_ALT}; border-radius: 6px;")
        self.name = QLabel()
        self.name.setObjectName("DetailsTitle")
        self.sizes = QLabel()
        self.sizes.setObjectName("Muted")
        self.alt_label = QLabel(self.tr("Alt text"))
        self.alt_flag = QLabel(self.tr("Missing alt text"))
        self.alt_flag.setToolTip(self.tr("Describe the image for screen readers and search engines."))
        self.alt_flag.setStyleSheet(f"color: {theme.WARNING}; font-weight: 600;")
        self.alt_text = QLineEdit()
        self.alt_text.setMaxLength(500)
        self.alt_text.setPlaceholderText(self.tr("e.g. Linen tee in white, front view"))
        self.alt_text.textChanged.connect(self._refresh)
        self.alt_text.returnPressed.connect(self.save_alt_text)
        self.save_alt = QPushButton(self.tr("Save alt text"))
        self.save_alt.clicked.connect(self.save_alt_text)
        self.variants = QLabel()
        self.variants.setObjectName("Muted")
        self.placeholder = QLabel(self.tr("Select an image to see its details."))
        self.placeholder.setObjectName("Muted")
        # Single lines, elided, no word wrap: the panel's height does not depend on its width, so the
        # variants list below can never squeeze it.

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 14, 14, 14)
        layout.setSpacing(8)
        layout.addWidget(self.preview, 0, Qt.AlignmentFlag.AlignHCenter)
        for w in (self.name, self.sizes, self.alt_label, self.alt_flag, self.alt_text, self.save_alt, self.variants,
                  self.placeholder):
            layout.addWidget(w)
        self.setFixedWidth(PREVIEW_EDGE + 30)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Minimum)   # never squeezed by the variants list
        self.show_image(None, {})

    def show_image(self, image: GalleryImage | None, variant_labels: dict[int, str],
                   pixmap: QPixmap | None = None, *, missing: bool = False) -> None:
        same = image is not None and self.image is not None and image.id == self.image.id
        self.image = image
        shown = image is not None
        for w in (self.preview, self.name, self.sizes, self.alt_label, self.alt_text, self.save_alt, self.variants):
            w.setVisible(shown)
        self.placeholder.setVisible(not shown)
        if image is None:
            self.alt_flag.hide()
            return
        self.set_pixmap(pixmap, missing=missing)
        self._set_line(self.name, image.filename)
        original = self.tr("{fmt} {w}×{h}, {size}").format(
            size=describe_size(image.original_bytes), fmt=image.original_format, w=image.width, h=image.height)
        web = self.tr("Web {w}×{h}, {size}").format(size=describe_size(image.web_bytes), w=image.web_width,
                                                    h=image.web_height)
        saved = image.original_bytes - image.web_bytes
        parts = [self.tr("version {n}").format(n=image.current_version)]
        if saved > 0 and image.original_bytes:
            parts.insert(0, self.tr("{pct}% smaller").format(pct=round(100 * saved / image.original_bytes)))
        if image.is_main:
            parts.append(self.tr("main"))
        text = f"{original}\n{web}\n" + " · ".join(parts)
        self.sizes.setText(text)
        if not same or not self.alt_text.isModified():
            self.alt_text.setText(image.alt_text)
            self.alt_text.setCursorPosition(0)
            self.alt_text.setModified(False)
        if image.variant_ids:
            names = ", ".join(variant_labels.get(v, str(v)) for v in image.variant_ids)
            self._set_line(self.variants, self.tr("Shown for: {names}").format(names=names))
        else:
            self._set_line(self.variants, self.tr("Shown for all variants"))
        self._refresh()

    def _set_line(self, label: QLabel, text: str) -> None:
        label.setText(label.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, PREVIEW_EDGE))
        label.setToolTip(text)

    def set_pixmap(self, pixmap: QPixmap | None, *, missing: bool = False) -> None:
        if pixmap is None or pixmap.isNull():
            self.preview.setPixmap(QPixmap())
            self.preview.setText(self.tr("Not in the image store") if missing else self.tr("Loading…"))
            return
        self.preview.setPixmap(pixmap.scaled(PREVIEW_EDGE, PREVIEW_HEIGHT, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation))

    def save_alt_text(self) -> None:
        if self.image is not None and self.alt_text.text().strip() != self.image.alt_text:
            self.alt_text_saved.emit(self.image.id, self.image.version, self.alt_text.text())
            self.alt_text.setModified(False)

    def _refresh(self) -> None:
        image = self.image
        self.alt_flag.setVisible(image is not None and not self.alt_text.text().strip())
        self.save_alt.setEnabled(image is not None and self.alt_text.text().strip() != image.alt_text)
