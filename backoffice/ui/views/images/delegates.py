"""How the Images view draws its lists: gallery cards (thumbnail, badges, caption) and two-line
product rows. Painting only: every value comes from the model's roles."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from backoffice.ui import theme
from backoffice.ui.views.images.models import MAIN_ROLE, MISSING_ALT_ROLE, SUBTITLE_ROLE, THUMB_MISSING_ROLE, tr

Index = QModelIndex | QPersistentModelIndex
CARD = QSize(160, 200)
THUMB_EDGE = 136


def _pill(painter: QPainter, rect: QRect, text: str, colour: str, font: QFont) -> int:
    """A small rounded label at ``rect``'s top-left; returns its width."""
    fm = QFontMetrics(font)
    w = fm.horizontalAdvance(text) + 12
    box = QRectF(rect.left(), rect.top(), w, fm.height() + 4)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(colour))
    painter.drawRoundedRect(box, 8, 8)
    painter.setPen(QColor("#ffffff"))
    painter.setFont(font)
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
    return w


class GalleryDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return CARD

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        card = QRectF(option.rect.adjusted(4, 4, -4, -4))
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(QPen(QColor(theme.ACCENT if selected else theme.BORDER), 2 if selected else 1))
        painter.setBrush(QColor(theme.ACCENT_SOFT if selected else theme.SURFACE))
        painter.drawRoundedRect(card, 8, 8)

        area = QRect(int(card.left()) + 8, int(card.top()) + 8, int(card.width()) - 16, THUMB_EDGE)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            scaled = pixmap.scaled(area.size() * painter.device().devicePixelRatioF(), Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
            scaled.setDevicePixelRatio(painter.device().devicePixelRatioF())
            size = scaled.deviceIndependentSize().toSize()
            painter.drawPixmap(area.left() + (area.width() - size.width()) // 2,
                               area.top() + (area.height() - size.height()) // 2, scaled)
        else:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(theme.SURFACE_ALT))
            painter.drawRoundedRect(QRectF(area), 6, 6)
            missing = bool(index.data(THUMB_MISSING_ROLE))
            painter.setPen(QColor(theme.DANGER if missing else theme.TEXT_DISABLED))
            painter.drawText(area.adjusted(8, 0, -8, 0), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             tr("Not in the image store") if missing else tr("Loading…"))

        small = QFont(option.font)
        small.setPointSizeF(max(7.0, option.font.pointSizeF() - 1.5))
        small.setBold(True)
        badge = area.adjusted(4, 4, 0, 0)
        if index.data(MAIN_ROLE):
            badge.setLeft(badge.left() + _pill(painter, badge, tr("Main"), theme.ACCENT, small) + 4)
        if index.data(MISSING_ALT_ROLE):
            _pill(painter, badge, tr("No alt text"), theme.WARNING, small)

        text_rect = QRect(area.left(), area.bottom() + 6, area.width(), 18)
        fm = QFontMetrics(option.font)
        painter.setFont(option.font)
        painter.setPen(QColor(theme.TEXT))
        name = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         fm.elidedText(name, Qt.TextElideMode.ElideMiddle, text_rect.width()))
        sub_font = QFont(option.font)
        sub_font.setPointSizeF(max(7.0, option.font.pointSizeF() - 1))
        painter.setFont(sub_font)
        painter.setPen(QColor(theme.TEXT_MUTED))
        sub_rect = text_rect.translated(0, 18)
        painter.drawText(sub_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         QFontMetrics(sub_font).elidedText(str(index.data(SUBTITLE_ROLE) or ""),
                                                           Qt.TextElideMode.ElideRight, sub_rect.width()))
        painter.restore()


class ProductDelegate(QStyledItemDelegate):
    """Title over "handle · N images", and a dot when some images lack alt text."""

    HEIGHT = 48

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(200, self.HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = option.rect
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, QColor(theme.SELECTION))
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(rect, QColor(theme.SURFACE_ALT))
        missing = int(index.data(MISSING_ALT_ROLE) or 0)
        right = rect.right() - (22 if missing else 10)
        fm = QFontMetrics(option.font)
        painter.setFont(option.font)
        painter.setPen(QColor(theme.TEXT))
        title_rect = QRect(rect.left() + 12, rect.top() + 6, right - rect.left() - 12, fm.height())
        painter.drawText(title_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         fm.elidedText(str(index.data(Qt.ItemDataRole.DisplayRole) or ""), Qt.TextElideMode.ElideRight,
                                       title_rect.width()))
        sub_font = QFont(option.font)
        sub_font.setPointSizeF(max(7.0, option.font.pointSizeF() - 1))
        sfm = QFontMetrics(sub_font)
        painter.setFont(sub_font)
        painter.setPen(QColor(theme.TEXT_MUTED))
        sub_rect = QRect(title_rect.left(), title_rect.bottom() + 3, title_rect.width(), sfm.height())
        painter.drawText(sub_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         sfm.elidedText(str(index.data(SUBTITLE_ROLE) or ""), Qt.TextElideMode.ElideMiddle,
                                        sub_rect.width()))
        if missing:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(theme.WARNING))
            painter.drawEllipse(QRectF(rect.right() - 16, rect.center().y() - 4, 8, 8))
        painter.setPen(QColor(theme.BORDER))
        painter.drawLine(rect.left() + 12, rect.bottom(), rect.right(), rect.bottom())
        painter.restore()
