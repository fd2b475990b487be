"""The history of one product (and one of its variants): every recorded change from changesets (bulk
edits, imports, grid saves, reverts) and from the audit trail (single edits), newest first, one line
per field: when, who, where it came from, field, old → new."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

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

from backoffice.db import Database
from backoffice.services import catalog, catalog_grid, changesets
from backoffice.ui.context import AppContext
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products.dialog_parts import (
    RowsModel,
    before_after_colours,
    category_paths,
    error_message,
    field_label,
    format_value,
    format_when,
    make_table,
    muted,
    plural,
    tr,
)
from backoffice.ui.widgets.banner import MessageBanner

_INTERNAL = frozenset({"id", "version", "created_at", "updated_at", "position", "product_id"})
COL_WHEN, COL_WHO, COL_SOURCE, COL_ROW, COL_FIELD, COL_BEFORE, COL_AFTER = range(7)


@dataclass(frozen=True)
class HistoryLine:
    at: dt.datetime
    username: str
    source: str        # "changeset #12 (bulk): …" or an audit action ("update")
    row: str           # "product merino-crew" / "SKU MC-S"
    field: str
    before: Any
    after: Any


def load_history(db: Database, product_id: int, variant_id: int | None) -> tuple[str, list[HistoryLine], dict[int, str]]:
    """The product's title and its (and the variant's) changes, newest first (worker thread)."""
    product = catalog.get_product(db, product_id)
    categories = category_paths(catalog_grid.facets(db)["categories"])
    skus = {v["id"]: v["sku"] for v in product.get("variants", [])}
    sources = [("product", product_id, f"product {product['handle']}")]
    if variant_id is not None:
        sources.append(("variant", variant_id, f"SKU {skus.get(variant_id, variant_id)}"))
    lines: list[HistoryLine] = []
    for entity, entity_id, label in sources:
        for h in changesets.history(db, entity, entity_id):
            before, after = h["before"] or {}, h["after"] or {}
            for f in sorted(set(before) | set(after)):
                if before.get(f) == after.get(f) or f in _INTERNAL:
                    continue
                if f not in before and after.get(f) in (None, "", [], {}):
                    continue   # a created row's empty fields say nothing
                name = "variant_status" if entity == "variant" and f == "status" else f
                lines.append(HistoryLine(h["at"], h["username"], h["source"], label, name, before.get(f), after.get(f)))
    lines.sort(key=lambda line: line.at, reverse=True)
    return product.get("title", ""), lines, categories


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
        context.data_changed.connect(self.reload)
        self.reload()

    def is_loading(self) -> bool:
        return self.busy.isVisible()

    def reload(self) -> None:
        db = self.context.db
        if db is None:
            self.busy.hide()
            self.banner.show_message(self.tr("Not connected to a database."), "error")
            return
        self.busy.show()
        pid, vid = self.product_id, self.variant_id
        self.tasks.run_in_background(lambda: load_history(db, pid, vid), self._on_loaded, self._on_error, context=self)

    def _on_loaded(self, loaded: tuple[str, list[HistoryLine], dict[int, str]]) -> None:
        title, lines, categories = loaded
        self.busy.hide()
        self.banner.hide()
        self.lines = lines
        self.title.setText(self.tr("History of {title}").format(title=title))
        self.subtitle.setText(plural(len(lines), self.tr("{n} change, newest first"),
                                     self.tr("{n} changes, newest first")))
        self.model.set_rows([(format_when(line.at), line.username, source_label(line.source), line.row,
                              field_label(line.field), format_value(line.field, line.before, categories),
                              format_value(line.field, line.after, categories)) for line in lines], lines)
        self.table.setVisible(bool(lines))
        self.empty.setVisible(not lines)

    def _on_error(self, exc: BaseException) -> None:
        self.busy.hide()
        self.subtitle.setText("")
        self.banner.show_message(self.tr("The history could not be loaded: {error}").format(error=error_message(exc)),
                                 "error")
