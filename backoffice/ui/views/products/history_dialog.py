"""The history of one product (and one of its variants): every recorded change from changesets (bulk
edits, imports, grid saves, reverts) and from the audit trail (single edits), newest first, one line
per field: when, who, where it came from, field, old → new."""

from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.catalog import HistoryLine, ProductHistory
from backoffice.operations.changes import CATEGORIES, CHANGESETS, PRICES, PRODUCTS, VARIANTS, Changes
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message, format_when, plural, translator
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products.dialog_parts import category_paths, field_label, format_value
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.rows import RowsModel, before_after_colours, make_table, muted

COL_WHEN, COL_WHO, COL_SOURCE, COL_ROW, COL_FIELD, COL_BEFORE, COL_AFTER = range(7)
SHOWN = (PRODUCTS, PRICES, VARIANTS, CATEGORIES, CHANGESETS)   # what a product's history is made of
tr = translator("ProductsDialogs")


def source_label(source: str) -> str:
    """"changeset #12 (bulk): raise…" stays as it is; an audit action reads "Edit (update)"."""
    if source.startswith("changeset #"):
        return tr("Changeset") + source[len("changeset"):]
    return tr("Edit ({action})").format(action=source.replace("_", " "))


class HistoryDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, product_id: int, variant_id: int | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.product_id, self.variant_id = product_id, variant_id
        self.lines: list[HistoryLine] = []
        self.setWindowTitle(self.tr("History"))
        self.resize(1180, 620)

        self.title = QLabel(self.tr("History"))
        self.title.setObjectName("PageTitle")
        self.subtitle = muted(self.tr("Loading…"))
        self.banner = MessageBanner()
        self.search = QLineEdit()
        self.search.setPlaceholderText(self.tr("Filter by field, user, source or value"))
        self.search.setClearButtonEnabled(True)
        self.search.setFixedWidth(320)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setFixedWidth(100)
        self.runner = Runner(context, tasks, self)
        self.runner.busy_changed.connect(self.busy.setVisible)

        self.model = RowsModel([self.tr("When"), self.tr("Who"), self.tr("Source"), self.tr("Row"), self.tr("Field"),
                                self.tr("Before"), self.tr("After")],
                               colours=before_after_colours(COL_BEFORE, COL_AFTER), parent=self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = make_table(self.proxy, {COL_WHEN: 150, COL_WHO: 90, COL_SOURCE: 210, COL_ROW: 200,
                                             COL_FIELD: 120}, stretch=(COL_BEFORE, COL_AFTER))
        self.empty = muted(self.tr("No changes recorded for this product yet."))
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.hide()

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.revert_button = buttons.addButton(self.tr("Revert to this date…"), QDialogButtonBox.ButtonRole.ActionRole)
        self.revert_button.setToolTip(self.tr("Set the product back to how it was just before the selected change "
                                              "(or a moment you choose): previewed, with what cannot be reverted"))
        self.revert_button.clicked.connect(self._on_revert)
        top = QHBoxLayout()
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.subtitle)
        top.addLayout(text, 1)
        top.addWidget(self.busy)
        top.addWidget(self.search, 0, Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(12)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty, 1)
        layout.addWidget(buttons)
        context.data_changed.connect(self._on_data_changed)
        self.reload()

    def is_loading(self) -> bool:
        return self.busy.isVisible()

    def reload(self) -> None:
        pid, vid = self.product_id, self.variant_id
        if not self.runner.read(lambda ops: ops.catalog.product_history(pid, vid), self._on_loaded,
                                on_error=self._on_error):
            self.busy.hide()
            self.banner.show_message(self.tr("Not connected to a database."), "error")

    def _on_data_changed(self, changes: Changes) -> None:
        if changes.concerns(*SHOWN):
            self.reload()

    def _on_loaded(self, history: ProductHistory) -> None:
        title, lines, categories = history.title, history.lines, category_paths(history.categories)
        self.banner.hide()
        self.lines = lines
        self.product_title = title
        self.title.setText(self.tr("History of {title}").format(title=title))
        self.subtitle.setText(plural(len(lines), self.tr("{n} change, newest first"),
                                     self.tr("{n} changes, newest first")))
        self.model.set_rows([(format_when(line.at), line.username, source_label(line.source), line.row,
                              field_label(line.field), format_value(line.field, line.before, categories),
                              format_value(line.field, line.after, categories)) for line in lines], lines)
        self.table.setVisible(bool(lines))
        self.empty.setVisible(not lines)

    def _on_revert(self) -> None:
        """"Revert to this date…": the moment just before the selected change (or a day ago)."""
        import datetime as dt

        from backoffice.ui.views.products.revert_dialog import RevertDialog

        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        line = self.model.object_at(self.proxy.mapToSource(rows[0]).row()) if rows else None
        at = line.at - dt.timedelta(microseconds=1) if line is not None else None
        title = getattr(self, "product_title", "") or self.tr("this product")
        self.revert_dialog = RevertDialog(self.context, self.tasks, self.product_id, title, at, self)
        self.revert_dialog.open()

    def _on_error(self, exc: BaseException) -> None:
        self.subtitle.setText("")
        self.banner.show_message(self.tr("The history could not be loaded: {error}").format(error=error_message(exc)),
                                 "error")
