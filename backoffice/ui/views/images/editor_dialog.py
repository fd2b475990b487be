"""Edit one image: crop (free or 1:1, 4:5, 16:9), rotate and flip, previewed here and saved as a new
version rendered from the original by the service; the versions list restores any earlier one. Reads
and writes run in the background; a stale image (edited elsewhere meanwhile) is reported, not overwritten."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF, QSize, Signal
from PySide6.QtGui import QImage, QTransform
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Operations
from backoffice.operations.images import ASPECT_PRESETS, Change, GalleryImage, RenditionSettings, VersionInfo, aspect_box
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.thumbnails import ThumbnailLoader
from backoffice.ui.views.images.crop_canvas import CropCanvas
from backoffice.ui.views.images.models import VersionsModel
from backoffice.ui.widgets.banner import MessageBanner


def load_image(ops: Operations, image_id: int) -> tuple[GalleryImage, list[VersionInfo], QImage]:
    """The image, its versions and its current web version's picture (runs on a worker: a QImage may be
    made off the GUI thread)."""
    current = ops.images.image(image_id)
    data = ops.images.read_files([current.web_hash]).get(current.web_hash) if current.web_hash else None
    return current, ops.images.versions(image_id), QImage() if data is None else QImage.fromData(data)


class ImageEditorDialog(QDialog):
    changed = Signal(object)        # the GalleryImage after a saved edit or a restore

    def __init__(self, context: AppContext, tasks: TaskManager, image: GalleryImage, thumbnails: ThumbnailLoader,
                 parent: QWidget | None = None, settings: RenditionSettings | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.image = context, tasks, image
        self.thumbnails = thumbnails
        self.settings = settings
        self.base = QImage()                      # the current version's web rendition
        self.pending: list[dict[str, Any]] = []   # rotate / flip edits not saved yet
        self.runner = Runner(context, tasks, self)
        self.runner.busy_changed.connect(lambda _busy: self._refresh())
        self.setWindowTitle(self.tr("Edit {name}").format(name=image.filename))
        self.resize(980, 640)

        self.canvas = CropCanvas()
        self.canvas.crop_changed.connect(self._refresh)
        self.aspects = QButtonGroup(self)
        self.aspects.setExclusive(True)
        aspect_row = QHBoxLayout()
        aspect_row.addWidget(QLabel(self.tr("Crop")))
        self.aspect_buttons: dict[str, QPushButton] = {}
        for key in ASPECT_PRESETS:
            button = QPushButton(self.tr("Free") if key == "free" else key)
            button.setCheckable(True)
            button.setStyleSheet(f"QPushButton:checked {{ background: {theme.ACCENT_SOFT}; border-color: {theme.ACCENT};"
                                 f" color: {theme.ACCENT}; font-weight: 600; }}")
            button.clicked.connect(lambda _=False, k=key: self.choose_aspect(k))
            self.aspects.addButton(button)
            self.aspect_buttons[key] = button
            aspect_row.addWidget(button)
        self.aspect_buttons["free"].setChecked(True)
        aspect_row.addSpacing(16)
        self.rotate_left = QPushButton(self.tr("Rotate left"))
        self.rotate_left.clicked.connect(lambda: self.add_edit({"op": "rotate", "degrees": 270}))
        self.rotate_right = QPushButton(self.tr("Rotate right"))
        self.rotate_right.clicked.connect(lambda: self.add_edit({"op": "rotate", "degrees": 90}))
        self.flip_h = QPushButton(self.tr("Flip horizontally"))
        self.flip_h.clicked.connect(lambda: self.add_edit({"op": "flip", "axis": "horizontal"}))
        self.flip_v = QPushButton(self.tr("Flip vertically"))
        self.flip_v.clicked.connect(lambda: self.add_edit({"op": "flip", "axis": "vertical"}))
        self.reset_button = QPushButton(self.tr("Reset"))
        self.reset_button.setProperty("flat", True)
        self.reset_button.clicked.connect(self.reset)
        for w in (self.rotate_left, self.rotate_right, self.flip_h, self.flip_v, self.reset_button):
            aspect_row.addWidget(w)
        aspect_row.addStretch(1)

        self.versions = VersionsModel(thumbnails.source, self)
        thumbnails.loaded.connect(self.versions.thumbnail_arrived)
        self.versions_list = QListView()
        self.versions_list.setModel(self.versions)
        self.versions_list.setIconSize(QSize(56, 56))
        self.versions_list.setSpacing(2)
        self.versions_list.setMinimumWidth(250)
        self.versions_list.selectionModel().currentChanged.connect(lambda *_: self._refresh())
        self.restore_button = QPushButton(self.tr("Restore this version"))
        self.restore_button.clicked.connect(self.restore_selected)
        side = QVBoxLayout()
        heading = QLabel(self.tr("Versions"))
        heading.setObjectName("DetailsTitle")
        side.addWidget(heading)
        side.addWidget(self.versions_list, 1)
        side.addWidget(self.restore_button)

        self.banner = MessageBanner()
        self.summary = QLabel()
        self.summary.setObjectName("Muted")
        self.close_button = QPushButton(self.tr("Close"))
        self.close_button.clicked.connect(self.accept)
        self.save_button = QPushButton(self.tr("Save as new version"))
        self.save_button.setProperty("primary", True)
        self.save_button.clicked.connect(self.save)

        left = QVBoxLayout()
        left.addLayout(aspect_row)
        left.addWidget(self.canvas, 1)
        body = QHBoxLayout()
        body.addLayout(left, 1)
        body.addLayout(side)
        buttons = QHBoxLayout()
        buttons.addWidget(self.summary, 1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(body, 1)
        layout.addLayout(buttons)
        self.load()

    # -- loading -----------------------------------------------------------------------------------------
    def load(self) -> None:
        image_id = self.image.id
        self.runner.read(lambda ops: load_image(ops, image_id), self._on_loaded, on_error=self._failed)

    def _on_loaded(self, loaded: tuple[GalleryImage, list[VersionInfo], QImage]) -> None:
        self.image, versions, self.base = loaded
        self.versions.set_rows(versions, self.image.current_version)
        self.thumbnails.request(v.thumb_hash for v in versions)
        self.pending.clear()
        self._show_preview()

    # -- editing -----------------------------------------------------------------------------------------
    def _show_preview(self) -> None:
        preview = self.base
        for edit in self.pending:
            if edit["op"] == "rotate":
                preview = preview.transformed(QTransform().rotate(edit["degrees"]))
            else:
                sx, sy = (-1, 1) if edit["axis"] == "horizontal" else (1, -1)
                preview = preview.transformed(QTransform().scale(sx, sy))
        self.canvas.set_image(preview)
        checked = self.aspects.checkedButton()
        key = next((k for k, b in self.aspect_buttons.items() if b is checked), "free")
        if key != "free":
            self.choose_aspect(key)
        self._refresh()

    def choose_aspect(self, key: str) -> None:
        """Hold the crop to this aspect and start from the largest centred box of it."""
        self.aspect_buttons[key].setChecked(True)
        ratio = ASPECT_PRESETS[key]
        self.canvas.set_ratio(ratio[0] / ratio[1] if ratio else None)
        image = self.canvas.image
        if image.isNull():
            return
        if ratio is None:
            self.canvas.set_crop(None)
            return
        box = aspect_box(image.width(), image.height(), key)
        w, h = image.width(), image.height()
        self.canvas.set_crop(QRectF(box["left"] * w, box["top"] * h, box["width"] * w, box["height"] * h))

    def add_edit(self, edit: dict[str, Any]) -> None:
        self.pending.append(edit)
        self._show_preview()

    def reset(self) -> None:
        self.pending.clear()
        self.aspect_buttons["free"].setChecked(True)
        self.canvas.set_ratio(None)
        self._show_preview()

    def edits(self) -> list[dict[str, Any]]:
        """What Save sends: the rotations and flips in order, then the crop of the result."""
        out = list(self.pending)
        crop = self.canvas.crop_fractions()
        if crop is not None:
            checked = self.aspects.checkedButton()
            aspect = next((k for k, b in self.aspect_buttons.items() if b is checked), "free")
            out.append({"op": "crop", **crop, "aspect": aspect})
        return out

    def save(self) -> None:
        edits = self.edits()
        if not edits or self.busy:
            return
        image_id, version, settings = self.image.id, self.image.version, self.settings
        self.runner.write(lambda ops: (ops.images.edit(image_id, edits, expected_version=version, settings=settings),
                                       ops.images.image(image_id)), self._on_saved, on_error=self._failed)

    def restore_selected(self) -> None:
        chosen = self.versions.row_at(self.versions_list.currentIndex().row())
        if chosen is None or self.busy:
            return
        image_id, version = self.image.id, self.image.version
        self.runner.write(lambda ops: (ops.images.restore_version(image_id, chosen.number, expected_version=version),
                                       ops.images.image(image_id)), self._on_saved, on_error=self._failed)

    def _on_saved(self, result: tuple[Change, GalleryImage]) -> None:
        change, current = result
        self.banner.show_message(self.tr("Saved as version {n}.").format(n=current.current_version), "success")
        self.image = current
        self.changed.emit(current)
        self.reset_after_save()

    def reset_after_save(self) -> None:
        self.pending.clear()
        self.aspect_buttons["free"].setChecked(True)
        self.canvas.set_ratio(None)
        self.load()

    # -- state -------------------------------------------------------------------------------------------
    @property
    def busy(self) -> int:
        """Reads and writes in flight."""
        return self.runner.inflight

    def _failed(self, exc: BaseException) -> None:
        self.banner.show_message(error_text(exc), "error")
        self._refresh()

    def _refresh(self) -> None:
        edits = self.edits() if not self.canvas.image.isNull() else []
        self.save_button.setEnabled(bool(edits) and not self.busy)
        chosen = self.versions.row_at(self.versions_list.currentIndex().row())
        self.restore_button.setEnabled(chosen is not None and chosen.number != self.image.current_version
                                       and not self.busy)
        image = self.canvas.image
        size = f"{image.width()}×{image.height()}" if not image.isNull() else ""
        crop = self.canvas.crop
        if crop is not None and not image.isNull():
            size += " → " + self.tr("crop {w}×{h}").format(w=round(crop.width()), h=round(crop.height()))
        pending = len(edits)
        state = (self.tr("{n} unsaved edits").format(n=pending) if pending > 1 else
                 self.tr("1 unsaved edit") if pending == 1 else self.tr("No unsaved edits"))
        self.summary.setText(self.tr("Version {v} · {size} · {state}").format(
            v=self.image.current_version, size=size, state=state))
