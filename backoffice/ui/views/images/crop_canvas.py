"""The editor's canvas: the image fitted to the widget with a crop box to draw, move and resize, held
to an aspect ratio when one is chosen. It knows only pixels; the dialog turns the box into an edit."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from backoffice.ui import theme

MARGIN = 12
MIN_CROP = 8            # image pixels


class CropCanvas(QWidget):
    crop_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(QSize(360, 300))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.image = QImage()
        self._pixmap = QPixmap()
        self.ratio: float | None = None        # width / height of the crop, None = free
        self.crop: QRectF | None = None        # in image pixels; None = the whole image
        self._drag: str = ""                   # "new", "move" or ""
        self._anchor = QPointF()
        self._grab = QPointF()

    # -- state -------------------------------------------------------------------------------------------
    def set_image(self, image: QImage) -> None:
        self.image = image
        self._pixmap = QPixmap.fromImage(image) if not image.isNull() else QPixmap()
        self.crop = None
        self.update()
        self.crop_changed.emit()

    def set_ratio(self, ratio: float | None) -> None:
        self.ratio = ratio

    def set_crop(self, rect: QRectF | None) -> None:
        self.crop = rect.intersected(self._bounds()) if rect is not None else None
        self.update()
        self.crop_changed.emit()

    def crop_fractions(self) -> dict[str, float] | None:
        """The crop box as fractions of the image (the service's crop edit), None if nothing is cut off."""
        if self.crop is None or self.image.isNull():
            return None
        w, h = self.image.width(), self.image.height()
        c = self.crop
        if c.width() >= w - 0.5 and c.height() >= h - 0.5:
            return None
        return {"left": max(0.0, c.left() / w), "top": max(0.0, c.top() / h),
                "width": min(1.0, c.width() / w), "height": min(1.0, c.height() / h)}

    # -- geometry ----------------------------------------------------------------------------------------
    def _bounds(self) -> QRectF:
        return QRectF(0, 0, self.image.width(), self.image.height())

    def _scale(self) -> float:
        if self.image.isNull():
            return 1.0
        return min((self.width() - 2 * MARGIN) / self.image.width(), (self.height() - 2 * MARGIN) / self.image.height())

    def _target(self) -> QRectF:
        s = self._scale()
        w, h = self.image.width() * s, self.image.height() * s
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def to_image(self, pos: QPointF) -> QPointF:
        t, s = self._target(), self._scale()
        x = min(max((pos.x() - t.left()) / s, 0.0), float(self.image.width()))
        y = min(max((pos.y() - t.top()) / s, 0.0), float(self.image.height()))
        return QPointF(x, y)

    def to_widget(self, rect: QRectF) -> QRectF:
        t, s = self._target(), self._scale()
        return QRectF(t.left() + rect.left() * s, t.top() + rect.top() * s, rect.width() * s, rect.height() * s)

    def _box(self, a: QPointF, b: QPointF) -> QRectF:
        """The box from anchor ``a`` towards ``b``, held to the ratio and inside the image."""
        dx, dy = b.x() - a.x(), b.y() - a.y()
        if self.ratio:
            w = max(abs(dx), abs(dy) * self.ratio)
            h = w / self.ratio
            room_x = a.x() if dx < 0 else self.image.width() - a.x()
            room_y = a.y() if dy < 0 else self.image.height() - a.y()
            fit = min(1.0, room_x / w if w else 1.0, room_y / h if h else 1.0)
            w, h = w * fit, h * fit
            dx, dy = (w if dx >= 0 else -w), (h if dy >= 0 else -h)
        return QRectF(a, QPointF(a.x() + dx, a.y() + dy)).normalized().intersected(self._bounds())

    # -- events ------------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.image.isNull() or event.button() != Qt.MouseButton.LeftButton:
            return
        p = self.to_image(event.position())
        if self.crop is not None and self.crop.contains(p):
            self._drag, self._grab = "move", p - self.crop.topLeft()
        else:
            self._drag, self._anchor = "new", p

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if not self._drag:
            inside = self.crop is not None and self.crop.contains(self.to_image(event.position()))
            self.setCursor(Qt.CursorShape.SizeAllCursor if inside else Qt.CursorShape.CrossCursor)
            return
        p = self.to_image(event.position())
        if self._drag == "new":
            box = self._box(self._anchor, p)
            if box.width() >= MIN_CROP and box.height() >= MIN_CROP:
                self.crop = box
        elif self.crop is not None:
            top_left = p - self._grab
            x = min(max(top_left.x(), 0.0), self.image.width() - self.crop.width())
            y = min(max(top_left.y(), 0.0), self.image.height() - self.crop.height())
            self.crop = QRectF(QPointF(x, y), self.crop.size())
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag:
            self._drag = ""
            self.crop_changed.emit()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#e9ecf1"))
        if self._pixmap.isNull():
            painter.setPen(QColor(theme.TEXT_MUTED))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.tr("Loading the image…"))
            painter.end()
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        target = self._target()
        painter.drawPixmap(target, self._pixmap, QRectF(self._pixmap.rect()))
        if self.crop is not None:
            box = self.to_widget(self.crop)
            shade = QColor(17, 24, 39, 120)
            for part in (QRectF(target.left(), target.top(), target.width(), box.top() - target.top()),
                         QRectF(target.left(), box.bottom(), target.width(), target.bottom() - box.bottom()),
                         QRectF(target.left(), box.top(), box.left() - target.left(), box.height()),
                         QRectF(box.right(), box.top(), target.right() - box.right(), box.height())):
                if part.width() > 0 and part.height() > 0:
                    painter.fillRect(part, shade)
            painter.setPen(QPen(QColor(255, 255, 255, 140), 1))
            for i in (1, 2):
                x = box.left() + box.width() * i / 3
                y = box.top() + box.height() * i / 3
                painter.drawLine(QPointF(x, box.top()), QPointF(x, box.bottom()))
                painter.drawLine(QPointF(box.left(), y), QPointF(box.right(), y))
            painter.setPen(QPen(QColor("#ffffff"), 2))
            painter.drawRect(box)
        painter.end()
