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

from backoffice.services import images
from backoffice.services.image_processing import ASPECT_PRESETS, RenditionSettings, aspect_box
from backoffice.services.image_store import ImageStore
from backoffice.services.images import GalleryImage, VersionInfo
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.images.crop_canvas import CropCanvas
from backoffice.ui.views.images.models import VersionsModel
from backoffice.ui.thumbnails import ThumbnailLoader
from backoffice.ui.views.inventory.common import error_text
from backoffice.ui.widgets.banner import MessageBanner


def load_preview(store: ImageStore, content_hash: str) -> QImage:
    return QImage.fromData(store.read_bytes(content_hash))


class ImageEditorDialog(QDialog):
    changed = Signal(object)        # the GalleryImage after a saved edit or a restore

    def __init__(self, context: AppContext, tasks: TaskManager, store: ImageStore, image: GalleryImage,
                 thumbnails: ThumbnailLoader, parent: QWidget | None = None,
                 settings: RenditionSettings | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.store, self.image = context, tasks, store, image
        self.thumbnails = thumbnails
        self.settings = settings
        self.base = QImage()                      # the current version's web rendition
        self.pending: list[dict[str, Any]] = []   # rotate / flip edits not saved yet
        self.busy = 0
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
        db = self.context.db
        if db is None:
            return
        image_id, store = self.image.id, self.store

        def task() -> tuple[GalleryImage, list[VersionInfo], QImage]:
            current = images.get_image(db, image_id)
            preview = load_preview(store, current.web_hash) if current.web_hash else QImage()
            return current, images.list_versions(db, image_id), preview

        self._start(task, self._on_loaded)

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
        db, actor, edits = self.context.db, self.context.actor, self.edits()
        if db is None or actor is None or not edits or self.busy:
            return
        image_id, version, store, settings = self.image.id, self.image.version, self.store, self.settings
        self._start(lambda: (images.edit_image(db, actor, image_id, edits, expected_version=version, store=store,
                                               settings=settings), images.get_image(db, image_id)), self._on_saved)

    def restore_selected(self) -> None:
        db, actor = self.context.db, self.context.actor
        chosen = self.versions.row_at(self.versions_list.currentIndex().row())
        if db is None or actor is None or chosen is None or self.busy:
            return
        image_id, version = self.image.id, self.image.version
        self._start(lambda: (images.restore_version(db, actor, image_id, chosen.number, expected_version=version),
                             images.get_image(db, image_id)), self._on_saved)

    def _on_saved(self, result: tuple[Any, GalleryImage]) -> None:
        change, current = result
        self.banner.show_message(self.tr("Saved as version {n}.").format(n=current.current_version), "success")
        self.image = current
        self.changed.emit(current)
        self.context.notify_data_changed()
        self.reset_after_save()

    def reset_after_save(self) -> None:
        self.pending.clear()
        self.aspect_buttons["free"].setChecked(True)
        self.canvas.set_ratio(None)
        self.load()

    # -- plumbing ----------------------------------------------------------------------------------------
    def _start(self, task, on_done) -> None:  # type: ignore[no-untyped-def]
        self.busy += 1
        self._refresh()

        def done(value: Any) -> None:
            self.busy -= 1
            on_done(value)
            self._refresh()

        def failed(exc: BaseException) -> None:
            self.busy -= 1
            self.banner.show_message(error_text(exc), "error")
            self._refresh()

        self.tasks.run_in_background(task, done, failed, context=self)

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
