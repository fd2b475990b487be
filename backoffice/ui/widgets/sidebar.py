"""The navigation sidebar: the application's name, then sections of views with icons."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from backoffice import __version__
from backoffice.ui import resources

KEY_ROLE = Qt.ItemDataRole.UserRole + 1


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
        self.list.addItem(item)

    def keys(self) -> list[str]:
        return [k for i in range(self.list.count()) if (k := self.list.item(i).data(KEY_ROLE))]

    def item_for(self, key: str) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(KEY_ROLE) == key:
                return item
        return None

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
