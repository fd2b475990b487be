"""The category tree editor: add a top-level category or one under the selected node, rename, and move a
category (with everything below it) by dragging it onto another one or with "Move to…". The tree is
redrawn from the service after every write: a drag never rearranges the widget by itself, so what is
shown is always what the database holds. Reads and writes go through the operations contract in the
background (ui/operations.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Operations
from backoffice.operations.store import Change
from backoffice.ui.context import AppContext
from backoffice.ui.dialogs.setup_common import OperationIds
from backoffice.ui.format import error_text, format_count
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.banner import MessageBanner

ID_ROLE = Qt.ItemDataRole.UserRole
TOP_LEVEL = -1   # the "parent" of top-level categories in the Move to… list


class CategoryTree(QTreeWidget):
    """A tree whose drops are requests: ``move_requested(category id, new parent id or None)``."""

    move_requested = Signal(int, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)

    def drop_parent(self, target: QTreeWidgetItem | None, position: QAbstractItemView.DropIndicatorPosition) -> int | None:
        """The parent a drop at ``target``/``position`` asks for: onto an item, that item; between items,
        their parent; on empty space, the top level."""
        if target is None or position is QAbstractItemView.DropIndicatorPosition.OnViewport:
            return None
        if position is QAbstractItemView.DropIndicatorPosition.OnItem:
            return target.data(0, ID_ROLE)
        parent = target.parent()
        return parent.data(0, ID_ROLE) if parent is not None else None

    def dropEvent(self, event: QDropEvent) -> None:
        dragged = self.currentItem()
        target = self.itemAt(event.position().toPoint())
        parent_id = self.drop_parent(target, self.dropIndicatorPosition())
        event.setDropAction(Qt.DropAction.IgnoreAction)
        event.accept()   # the tree itself does not move: the move is asked for, then the tree reloaded
        if dragged is not None:
            current = dragged.parent().data(0, ID_ROLE) if dragged.parent() is not None else None
            if parent_id != current:
                self.move_requested.emit(dragged.data(0, ID_ROLE), parent_id)


class CategoriesDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.rows: list[dict[str, Any]] = []
        self.items: dict[int, QTreeWidgetItem] = {}
        self.op_ids = OperationIds()
        self.runner = Runner(context, tasks, self)
        self.setWindowTitle(self.tr("Categories"))
        self.resize(640, 560)

        heading = QLabel(self.tr("Categories"))
        heading.setObjectName("DetailsTitle")
        intro = QLabel(self.tr("Drag a category onto another to move it there with everything below it; drop it "
                               "on empty space to make it top-level. Names are unique among siblings."))
        intro.setObjectName("Muted")
        intro.setWordWrap(True)

        self.tree = CategoryTree()
        self.tree.setHeaderLabels([self.tr("Category"), self.tr("Products")])
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.tree.move_requested.connect(self.move)

        self.name = QLineEdit()
        self.name.setPlaceholderText(self.tr("Name, e.g. Tops"))
        self.name.setMaxLength(200)
        self.name.returnPressed.connect(self.add_child)
        self.add_top_button = QPushButton(self.tr("Add at top level"))
        self.add_child_button = QPushButton(self.tr("Add under selected"))
        self.rename_button = QPushButton(self.tr("Rename selected"))
        self.add_top_button.clicked.connect(self.add_top)
        self.add_child_button.clicked.connect(self.add_child)
        self.rename_button.clicked.connect(self.rename)
        name_row = QHBoxLayout()
        name_row.addWidget(self.name, 1)
        for b in (self.add_top_button, self.add_child_button, self.rename_button):
            name_row.addWidget(b)

        self.move_target = QComboBox()
        self.move_target.setMinimumContentsLength(24)
        self.move_button = QPushButton(self.tr("Move to"))
        self.move_button.clicked.connect(self.move_to_chosen)
        move_row = QHBoxLayout()
        move_row.addWidget(QLabel(self.tr("Move selected under")))
        move_row.addWidget(self.move_target, 1)
        move_row.addWidget(self.move_button)

        self.banner = MessageBanner()
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.addWidget(heading)
        layout.addWidget(intro)
        layout.addWidget(self.tree, 1)
        layout.addLayout(name_row)
        layout.addLayout(move_row)
        layout.addWidget(self.banner)
        layout.addWidget(close)
        self.runner.busy_changed.connect(self._set_busy)
        self.runner.succeeded.connect(lambda text: self.banner.show_message(text, "success", 4000))
        self._selection_changed()
        self.reload()

    # -- reading -----------------------------------------------------------------------------------------
    def reload(self, select_id: int | None = None) -> None:
        self.runner.read(lambda ops: ops.store.list_categories(), lambda rows: self._on_loaded(rows, select_id),
                         on_error=self._on_failed)

    def _on_loaded(self, rows: list[dict[str, Any]], select_id: int | None) -> None:
        self.rows = rows
        self.tree.clear()
        self.items = {}
        for r in rows:   # parents come before their children
            item = QTreeWidgetItem([r["name"], format_count(r["products"]) if r["products"] else ""])
            item.setData(0, ID_ROLE, r["id"])
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setToolTip(0, r["full_name"])
            parent = self.items.get(r["parent_id"])
            if parent is None:
                self.tree.addTopLevelItem(item)
            else:
                parent.addChild(item)
            self.items[r["id"]] = item
        self.tree.expandAll()
        if select_id in self.items:
            self.tree.setCurrentItem(self.items[select_id])

    def selected(self) -> dict[str, Any] | None:
        item = self.tree.currentItem()
        if item is None or not item.isSelected():
            return None
        cid = item.data(0, ID_ROLE)
        return next((r for r in self.rows if r["id"] == cid), None)

    def _selection_changed(self) -> None:
        chosen = self.selected()
        if chosen is not None:
            self.name.setText(chosen["name"])
        # "Move to…" offers every place except the category itself and what is below it
        self.move_target.clear()
        if chosen is not None:
            self.move_target.addItem(self.tr("(top level)"), TOP_LEVEL)
            for r in self.rows:
                if not r["path"].startswith(chosen["path"]):
                    self.move_target.addItem(r["full_name"], r["id"])
        self._update_buttons()

    def _update_buttons(self) -> None:
        chosen = self.selected() is not None
        for b, enabled in ((self.add_top_button, True), (self.add_child_button, chosen), (self.rename_button, chosen),
                           (self.move_button, chosen and self.move_target.count() > 0)):
            b.setEnabled(enabled and not self.runner.busy)

    # -- writes ------------------------------------------------------------------------------------------
    def add_top(self) -> None:
        self._add(None)

    def add_child(self) -> None:
        chosen = self.selected()
        if chosen is not None:
            self._add(chosen["id"])

    def _add(self, parent_id: int | None) -> None:
        name = self.name.text()
        if self.runner.busy:
            return
        op = self.op_ids.for_request(("add", parent_id, name))
        self._write_tree(lambda ops: ops.store.add_category(name, parent_id, op_id=op),
                         self.tr("Category {name} added."))

    def rename(self) -> None:
        chosen, name = self.selected(), self.name.text()
        if chosen is None or self.runner.busy:
            return
        op = self.op_ids.for_request(("rename", chosen["id"], chosen["version"], name))
        self._write_tree(lambda ops: ops.store.rename_category(chosen["id"], name, expected_version=chosen["version"],
                                                               op_id=op),
                         self.tr("Category renamed to {name}."))

    def move_to_chosen(self) -> None:
        chosen = self.selected()
        target = self.move_target.currentData()
        if chosen is not None and target is not None:
            self.move(chosen["id"], None if target == TOP_LEVEL else target)

    def move(self, category_id: int, parent_id: int | None) -> None:
        row = next((r for r in self.rows if r["id"] == category_id), None)
        if row is None or self.runner.busy:
            return
        op = self.op_ids.for_request(("move", category_id, row["version"], parent_id))
        self._write_tree(lambda ops: ops.store.move_category(category_id, parent_id, expected_version=row["version"],
                                                             op_id=op),
                         self.tr("Moved to {name}."))

    def _write_tree(self, action: Callable[[Operations], Change], text: str) -> None:
        """A tree write; the tree is read again after it, with the written category selected."""
        self.banner.hide()
        self.runner.write(action, self._on_written, on_error=self._on_failed,
                          success=lambda change: text.format(name=_name_of(change)))

    def _on_written(self, change: Change) -> None:
        self.op_ids.succeeded()
        self.reload(select_id=change.entity_id)

    def _on_failed(self, exc: BaseException) -> None:
        self.banner.show_message(error_text(exc), "error")

    def _set_busy(self, busy: bool) -> None:
        self.tree.setEnabled(not busy)
        self._update_buttons()


def _name_of(change: Change) -> str:
    after = change.after or {}
    return after.get("full_name") or after.get("name") or ""
