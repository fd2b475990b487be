"""The Images view's Qt item models: products to pick from, a product's gallery, the bulk-upload review
and an image's versions. Rows are handed in as plain service values; no queries in here. Thumbnails are
handed in too, by content hash, once the loader has read them off the GUI thread."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QAbstractListModel, QAbstractTableModel, QMimeData, QModelIndex, Qt
from PySide6.QtGui import QColor, QIcon

from backoffice.operations.images import (
    GalleryImage,
    PlannedFile,
    ProductHit,
    UploadPlan,
    UploadTarget,
    VersionInfo,
    describe_size,
)
from backoffice.ui import theme
from backoffice.ui.format import plural, translator
from backoffice.ui.thumbnails import ThumbnailSource
from backoffice.ui.widgets.records import OBJECT_ROLE, ROOT, Index

CONTEXT = "Images"
tr = translator(CONTEXT)
MISSING_ALT_ROLE = Qt.ItemDataRole.UserRole + 2
MAIN_ROLE = Qt.ItemDataRole.UserRole + 3
SUBTITLE_ROLE = Qt.ItemDataRole.UserRole + 4
THUMB_MISSING_ROLE = Qt.ItemDataRole.UserRole + 5
IMAGE_IDS_MIME = "application/x-backoffice-image-ids"


# -- products ------------------------------------------------------------------------------------------
class ProductListModel(QAbstractListModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[ProductHit] = []

    def set_rows(self, rows: Sequence[ProductHit]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row_at(self, row: int) -> ProductHit | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, product_id: int) -> int:
        return next((i for i, r in enumerate(self._rows) if r.id == product_id), -1)

    def update_counts(self, product_id: int, images: int, missing_alt: int) -> None:
        row = self.row_of(product_id)
        if row >= 0:
            old = self._rows[row]
            self._rows[row] = ProductHit(old.id, old.handle, old.title, images, missing_alt)
            self.dataChanged.emit(self.index(row), self.index(row))

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        hit = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return hit.title
        if role == SUBTITLE_ROLE:
            images = plural(hit.images, tr("{n} image"), tr("{n} images")) if hit.images else tr("no images")
            return f"{hit.handle} · {images}"
        if role == MISSING_ALT_ROLE:
            return hit.missing_alt
        if role == Qt.ItemDataRole.ToolTipRole:
            text = f"{hit.title}\n{hit.handle}"
            if hit.missing_alt:
                text += "\n" + plural(hit.missing_alt, tr("{n} image without alt text"), tr("{n} images without alt text"))
            return text
        if role == OBJECT_ROLE:
            return hit
        return None


# -- the gallery ---------------------------------------------------------------------------------------
class GalleryModel(QAbstractListModel):
    """A product's images in gallery order. Moving rows (drag and drop) changes only this order; the
    view then asks the service to store it."""

    def __init__(self, thumbnails: ThumbnailSource, parent: Any = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self._rows: list[GalleryImage] = []
        self.variant_labels: dict[int, str] = {}

    def set_rows(self, rows: Sequence[GalleryImage]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    @property
    def rows(self) -> list[GalleryImage]:
        return list(self._rows)

    def row_at(self, row: int) -> GalleryImage | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, image_id: int) -> int:
        return next((i for i, r in enumerate(self._rows) if r.id == image_id), -1)

    def ids(self) -> list[int]:
        return [r.id for r in self._rows]

    def thumbnail_hashes(self) -> list[str]:
        return [r.thumb_hash for r in self._rows if r.thumb_hash]

    def thumbnail_arrived(self, content_hash: str) -> None:
        for i, r in enumerate(self._rows):
            if r.thumb_hash == content_hash:
                self.dataChanged.emit(self.index(i), self.index(i), [Qt.ItemDataRole.DecorationRole])

    def move_ids(self, ids: list[int], before_row: int) -> bool:
        """Move these images, in their current order, in front of ``before_row`` (the end: rowCount)."""
        chosen = set(ids)
        moving = [r for r in self._rows if r.id in chosen]
        if not moving:
            return False
        rest = [r for r in self._rows if r.id not in chosen]
        anchor = next((r.id for r in self._rows[max(0, before_row):] if r.id not in chosen), None)
        at = next(i for i, r in enumerate(rest) if r.id == anchor) if anchor is not None else len(rest)
        order = rest[:at] + moving + rest[at:]
        if [r.id for r in order] == self.ids():
            return False
        self.beginResetModel()
        self._rows = order
        self.endResetModel()
        return True

    # -- Qt model interface -------------------------------------------------------------------------
    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsDropEnabled
        if not index.isValid():
            return base
        return base | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction | Qt.DropAction.CopyAction

    def mimeTypes(self) -> list[str]:
        return [IMAGE_IDS_MIME, "text/uri-list"]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        mime = QMimeData()
        ids = [self._rows[i.row()].id for i in sorted(indexes, key=lambda i: i.row()) if i.isValid()]
        mime.setData(IMAGE_IDS_MIME, json.dumps(ids).encode())
        return mime

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        img = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return img.filename or tr("Image {id}").format(id=img.id)
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbnails.get(img.thumb_hash)
        if role == SUBTITLE_ROLE:
            size = f"{img.web_width}×{img.web_height}" if img.web_width else ""
            version = f"v{img.current_version}" if img.current_version > 1 else ""
            return " · ".join(p for p in (size, describe_size(img.web_bytes) if img.web_bytes else "", version) if p)
        if role == MISSING_ALT_ROLE:
            return img.missing_alt
        if role == MAIN_ROLE:
            return img.is_main
        if role == THUMB_MISSING_ROLE:
            return (img.thumb_hash or "") in self.thumbnails.missing
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [img.filename, img.alt_text or tr("No alt text yet")]
            if img.variant_ids:
                names = [self.variant_labels.get(v, str(v)) for v in img.variant_ids]
                lines.append(tr("Variants: {names}").format(names=", ".join(names)))
            return "\n".join(lines)
        if role == OBJECT_ROLE:
            return img
        return None


# -- the bulk upload review ---------------------------------------------------------------------------
STATUS_LABELS = {
    "matched": QT_TRANSLATE_NOOP("Images", "Matched"),
    "ambiguous": QT_TRANSLATE_NOOP("Images", "Ambiguous"),
    "unmatched": QT_TRANSLATE_NOOP("Images", "Unmatched"),
    "rejected": QT_TRANSLATE_NOOP("Images", "Rejected"),
    "added": QT_TRANSLATE_NOOP("Images", "Added"),
    "duplicate": QT_TRANSLATE_NOOP("Images", "Already there"),
    "failed": QT_TRANSLATE_NOOP("Images", "Failed"),
}
STATUS_COLOURS = {"matched": theme.SUCCESS, "added": theme.SUCCESS, "ambiguous": theme.WARNING,
                  "duplicate": theme.TEXT_MUTED, "unmatched": theme.TEXT_MUTED, "rejected": theme.DANGER,
                  "failed": theme.DANGER}
REVIEW_HEADERS = (QT_TRANSLATE_NOOP("Images", "File"), QT_TRANSLATE_NOOP("Images", "Status"),
                  QT_TRANSLATE_NOOP("Images", "Goes to"), QT_TRANSLATE_NOOP("Images", "Note"))
COL_FILE, COL_STATUS, COL_TARGET, COL_NOTE = range(4)


class ReviewRow:
    """One file of the review: where it goes (or why not), and after the ingest what happened."""

    __slots__ = ("path", "name", "status", "target", "note", "candidates", "n")

    def __init__(self, path: str, name: str, status: str, target: UploadTarget | None = None, note: str = "",
                 candidates: tuple[UploadTarget, ...] = (), n: int | None = None) -> None:
        self.path, self.name, self.status, self.target, self.note = path, name, status, target, note
        self.candidates, self.n = candidates, n


class ReviewModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[ReviewRow] = []

    def set_plan(self, plan: UploadPlan) -> None:
        rows = [ReviewRow(f.path, f.name, "matched", f.target, _match_note(f), n=f.n) for f in plan.matched]
        rows += [ReviewRow(a.path, a.name, "ambiguous", None, tr("Several fit: choose one"), a.candidates, a.n)
                 for a in plan.ambiguous]
        rows += [ReviewRow(s.path, s.name, "unmatched", None, s.reason) for s in plan.unmatched]
        rows += [ReviewRow(s.path, s.name, "rejected", None, s.reason) for s in plan.rejected]
        order = {"ambiguous": 0, "unmatched": 1, "rejected": 2, "matched": 3}
        rows.sort(key=lambda r: (order[r.status], r.name.lower()))
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    @property
    def rows(self) -> list[ReviewRow]:
        return list(self._rows)

    def choose(self, row: int, target: UploadTarget | None) -> None:
        """The user picked where an ambiguous or unmatched file goes (None: skip it)."""
        r = self._rows[row]
        r.target = target
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(REVIEW_HEADERS) - 1))

    def planned(self) -> list[PlannedFile]:
        """Every file that has somewhere to go: matched ones and those the user chose a product for."""
        return [PlannedFile(r.path, r.name, r.target, r.n, "choice" if r.status != "matched" else "")
                for r in self._rows if r.target is not None and r.status in ("matched", "ambiguous", "unmatched")]

    def record_outcomes(self, outcomes: Sequence[Any]) -> None:
        by_path = {o.path: o for o in outcomes}
        for r in self._rows:
            o = by_path.get(r.path)
            if o is not None:
                r.status = o.status
                r.note = (f"{describe_size(o.original_bytes)} → {describe_size(o.web_bytes)}"
                          if o.status == "added" else o.message)
        self.dataChanged.emit(self.index(0, 0), self.index(max(0, len(self._rows) - 1), len(REVIEW_HEADERS) - 1))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self._rows:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(REVIEW_HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return tr(REVIEW_HEADERS[section])
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        r, col = self._rows[index.row()], index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if col == COL_FILE:
                return r.name if role == Qt.ItemDataRole.DisplayRole else r.path
            if col == COL_STATUS:
                return tr(STATUS_LABELS[r.status])
            if col == COL_TARGET:
                return r.target.label() if r.target else ("" if r.candidates else "—")
            return r.note
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_STATUS:
            return QColor(STATUS_COLOURS[r.status])
        if role == OBJECT_ROLE:
            return r
        return None


def _match_note(f: PlannedFile) -> str:
    by = {"sku": tr("by SKU"), "handle": tr("by handle"), "product": tr("to the chosen product")}.get(f.matched_by, "")
    return f"{by} · #{f.n}" if f.n is not None and by else by


# -- versions ------------------------------------------------------------------------------------------
class VersionsModel(QAbstractListModel):
    def __init__(self, thumbnails: ThumbnailSource, parent: Any = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self._rows: list[VersionInfo] = []
        self.current = 0

    def set_rows(self, rows: Sequence[VersionInfo], current: int) -> None:
        self.beginResetModel()
        self._rows, self.current = list(rows), current
        self.endResetModel()

    def row_at(self, row: int) -> VersionInfo | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def thumbnail_arrived(self, content_hash: str) -> None:
        for i, r in enumerate(self._rows):
            if r.thumb_hash == content_hash:
                self.dataChanged.emit(self.index(i), self.index(i), [Qt.ItemDataRole.DecorationRole])

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        v = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            title = tr("Version {n}").format(n=v.number)
            if v.number == self.current:
                title += " · " + tr("current")
            note = v.note or tr("uploaded")
            return f"{title}\n{note} · {v.web_width}×{v.web_height}"
        if role == Qt.ItemDataRole.DecorationRole:
            pixmap = self.thumbnails.get(v.thumb_hash)
            return QIcon(pixmap) if pixmap is not None else None   # an icon is scaled to the list's icon size
        if role == Qt.ItemDataRole.ToolTipRole:
            who = f" · {v.created_by}" if v.created_by else ""
            return f"{v.created_at:%Y-%m-%d %H:%M}{who}" if v.created_at else who
        if role == OBJECT_ROLE:
            return v
        return None

