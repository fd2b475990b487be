"""The navigation sidebar: the application's name, then sections of views with icons."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from backoffice import __version__
from backoffice.ui import resources

KEY_ROLE = Qt.ItemDataRole.UserRole + 1
BADGE_ROLE = Qt.ItemDataRole.UserRole + 2  # int: a count drawn as a pill at the right of the item
BADGE_BG = "#dc2626"


DESCRIPTION_ROLE = Qt.ItemDataRole.UserRole + 3  # the item's own tooltip, before any badge line


def badge_text(count: int) -> str:
    """The pill's text: the exact number up to 999, then compact and rounded to the nearest (6,892 -> 6.9k,
    12,400 -> 12k, 1,250,000 -> 1.3M). The exact number is in the item's tooltip."""
    if count < 1000:
        return str(count)
    for unit, size in (("k", 1_000), ("M", 1_000_000)):
        value = count / size
        if round(value, 1) < 10:
            return f"{round(value, 1):g}{unit}"
        if round(value) < 1000:
            return f"{round(value)}{unit}"
    return f"{round(count / 1_000_000_000, 1):g}G"


class _BadgeDelegate(QStyledItemDelegate):
    """The usual item, plus a red count pill on the right when the item has a badge."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        super().paint(painter, option, index)
        count = index.data(BADGE_ROLE)
        if not count:
            return
        text = badge_text(int(count))
        font = QFont(option.font)  # type: ignore[attr-defined]
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.8))
        font.setBold(True)
        painter.save()
        painter.setFont(font)
        metrics = painter.fontMetrics()
        height = metrics.height() + 4
        width = max(height, metrics.horizontalAdvance(text) + 12)
        rect: QRect = option.rect  # type: ignore[attr-defined]
        pill = QRect(rect.right() - width - 10, rect.center().y() - height // 2 + 1, width, height)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(BADGE_BG))
        painter.drawRoundedRect(pill, height / 2, height / 2)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


class Sidebar(QFrame):
    current_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Sidebar")
        self.setFixedWidth(216)

        logo = QLabel()
        logo.setPixmap(resources.app_icon().pixmap(30, 30))
        name = QLabel(self.tr("Backoffice"))
        name.setObjectName("AppName")
        tagline = QLabel(self.tr("Store operations"))
        tagline.setObjectName("AppTagline")
        title_box = QVBoxLayout()
        title_box.setSpacing(0)
        title_box.addWidget(name)
        title_box.addWidget(tagline)
        header = QHBoxLayout()
        header.setContentsMargins(18, 16, 12, 10)
        header.setSpacing(10)
        header.addWidget(logo)
        header.addLayout(title_box, 1)

        self.list = QListWidget()
        self.list.setObjectName("SidebarList")
        self.list.setIconSize(QSize(18, 18))
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.list.currentItemChanged.connect(self._on_current)
        self.list.setItemDelegate(_BadgeDelegate(self.list))

        version = QLabel(self.tr("Version {version}").format(version=__version__))
        version.setObjectName("AppTagline")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 12)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.list, 1)
        layout.addWidget(version, 0, Qt.AlignmentFlag.AlignLeft)
        version.setContentsMargins(18, 0, 0, 0)

    def add_section(self, title: str) -> None:
        item = QListWidgetItem(title.upper())
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom)
        item.setSizeHint(QSize(0, 26 if self.list.count() == 0 else 38))
        self.list.addItem(item)

    def add_item(self, key: str, title: str, icon: QIcon, tooltip: str = "") -> None:
        item = QListWidgetItem(icon, title)
        item.setData(KEY_ROLE, key)
        item.setSizeHint(QSize(0, 36))
        if tooltip:
            item.setToolTip(tooltip)
        item.setData(DESCRIPTION_ROLE, tooltip)
        self.list.addItem(item)

    def keys(self) -> list[str]:
        return [k for i in range(self.list.count()) if (k := self.list.item(i).data(KEY_ROLE))]

    def item_for(self, key: str) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(KEY_ROLE) == key:
                return item
        return None

    def set_badge(self, key: str, count: int, what: str | None = None) -> None:
        """Show ``count`` on the view's item (0 hides it). The pill may be compact ("6.9k"); the item's
        tooltip gives the exact number and what it counts (``what``, e.g. "{n} open low-stock alerts")."""
        item = self.item_for(key)
        if item is None:
            return
        count = max(0, int(count))
        item.setData(BADGE_ROLE, count)
        description = item.data(DESCRIPTION_ROLE) or ""
        if count:
            line = (what or self.tr("{n} open alerts")).format(n=f"{count:,}")
            item.setToolTip(f"{description}\n{line}" if description else line)
        else:
            item.setToolTip(description)

    def badge_tooltip(self, key: str) -> str:
        item = self.item_for(key)
        return item.toolTip() if item is not None else ""

    def badge(self, key: str) -> int:
        item = self.item_for(key)
        return int(item.data(BADGE_ROLE) or 0) if item is not None else 0

    def current_key(self) -> str:
        item = self.list.currentItem()
        return item.data(KEY_ROLE) if item is not None else ""

    def set_current(self, key: str) -> None:
        item = self.item_for(key)
        if item is not None and item is not self.list.currentItem():
            self.list.setCurrentItem(item)

    def _on_current(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if current is not None and current.data(KEY_ROLE):
            self.current_changed.emit(current.data(KEY_ROLE))
