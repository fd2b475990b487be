"""Copy, paste and fill-down over the grid, as a spreadsheet user expects them.

Copy puts the selected block on the clipboard as tab-separated text (quoted the way Excel quotes cells
holding tabs, line breaks or quotes). Paste reads such text into the block starting at the current cell
(or repeats a single value over the whole selection); fill-down copies the top cell of each selected
column down the selection. Pasted and filled values are staged edits, one undo step per action. Every
target cell is checked first: if any cannot take its value, nothing is staged and each problem is
reported with its row and column.

Rows that are not loaded yet are fetched first (the action then runs when they arrive).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QTableView

from backoffice.operations.catalog import Column
from backoffice.ui.format import format_count, translator
from backoffice.ui.views.products.columns import (
    CellError,
    clipboard_text,
    column_label,
    is_editable,
    parse_value,
)
from backoffice.ui.views.products.models import ProductGridModel

MAX_ROWS = 10_000   # rows one copy, paste or fill may span; Export… is the way to take more


tr = translator("GridClipboard")


# -- tab-separated text ----------------------------------------------------------------------------------
def to_tsv(rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        if any(ch in text for ch in '\t\n\r"'):
            return '"' + text.replace('"', '""') + '"'
        return text
    return "\n".join("\t".join(cell(c) for c in row) for row in rows)


def parse_tsv(text: str) -> list[list[str]]:
    """Rows of cells from spreadsheet clipboard text; quoted cells may hold tabs, quotes and line breaks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.removesuffix("\n")
    rows: list[list[str]] = []
    row: list[str] = []
    i, n = 0, len(text)
    while True:
        if i < n and text[i] == '"':
            value, i = _quoted(text, i)
            # text after the closing quote up to the separator belongs to the cell (lenient, as Excel)
            end = _next_separator(text, i)
            value += text[i:end]
            i = end
        else:
            end = _next_separator(text, i)
            value, i = text[i:end], end
        row.append(value)
        if i >= n:
            rows.append(row)
            return rows
        if text[i] == "\n":
            rows.append(row)
            row = []
        i += 1


def _quoted(text: str, i: int) -> tuple[str, int]:
    out, i = [], i + 1
    while i < len(text):
        if text[i] == '"':
            if i + 1 < len(text) and text[i + 1] == '"':
                out.append('"')
                i += 2
                continue
            return "".join(out), i + 1
        out.append(text[i])
        i += 1
    return '"' + "".join(out), i   # no closing quote: the quote was text


def _next_separator(text: str, i: int) -> int:
    tab, newline = text.find("\t", i), text.find("\n", i)
    ends = [p for p in (tab, newline) if p >= 0]
    return min(ends) if ends else len(text)


# -- problems ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CellProblem:
    row: int             # 0-based grid row
    column: Column | None
    label: str           # SKU of the row, when loaded
    message: str

    def text(self) -> str:
        where = tr("Row {n}").format(n=format_count(self.row + 1))
        if self.label:
            where += f" ({self.label})"
        if self.column is not None:
            where += f", {column_label(self.column)}"
        return f"{where}: {self.message}"


class GridClipboard(QObject):
    """Copy / paste / fill-down for one table over a ProductGridModel.

    ``ensure_rows(rows, then)`` must load the given grid rows that are not cached yet and call ``then()``
    once they are (the view's loader does it in the background)."""

    problems = Signal(str, object)   # a title and the list of CellProblem: nothing was staged
    staged = Signal(str, int)        # what was done, and how many cells changed
    copied = Signal(int, int)        # rows, columns

    def __init__(self, table: QTableView, model: ProductGridModel,
                 ensure_rows: Callable[[list[int], Callable[[], None]], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.table = table
        self.model = model
        self.ensure_rows = ensure_rows

    # -- the selection ------------------------------------------------------------------------------------
    def visible_columns(self) -> list[int]:
        """Logical column indexes in the order the user sees them, hidden ones left out."""
        header = self.table.horizontalHeader()
        logical = [header.logicalIndex(v) for v in range(header.count())]
        return [c for c in logical if not header.isSectionHidden(c)]

    def selected_cells(self) -> set[tuple[int, int]]:
        cells: set[tuple[int, int]] = set()
        for rng in self.table.selectionModel().selection():
            for r in range(rng.top(), rng.bottom() + 1):
                for c in range(rng.left(), rng.right() + 1):
                    cells.add((r, c))
        return cells

    def _selected_rows(self) -> tuple[int, int] | None:
        ranges = list(self.table.selectionModel().selection())
        if not ranges:
            return None
        return min(r.top() for r in ranges), max(r.bottom() for r in ranges)

    def _too_many(self, first: int, last: int, action: str) -> bool:
        if last - first + 1 <= MAX_ROWS:
            return False
        self.problems.emit(action, [CellProblem(first, None, "", tr(
            "at most {n} rows at a time; use Export… or Bulk edit… for more").format(n=format_count(MAX_ROWS)))])
        return True

    # -- copy ------------------------------------------------------------------------------------------------
    def copy(self) -> None:
        bounds = self._selected_rows()
        if bounds is None:
            current = self.table.currentIndex()
            if not current.isValid():
                return
            bounds = (current.row(), current.row())
        first, last = bounds
        if self._too_many(first, last, tr("Nothing was copied")):
            return
        self.ensure_rows(list(range(first, last + 1)), lambda: self._copy_now(first, last))

    def _copy_now(self, first: int, last: int) -> None:
        selected = self.selected_cells()
        if not selected:
            current = self.table.currentIndex()
            selected = {(current.row(), current.column())}
        columns = [c for c in self.visible_columns() if any((r, c) in selected for r in range(first, last + 1))]
        lines: list[list[str]] = []
        for r in range(first, last + 1):
            row = self.model.row_at(r)
            line = []
            for c in columns:
                if row is None or (r, c) not in selected:
                    line.append("")
                    continue
                col = self.model.columns[c]
                value = self.model.data(self.model.index(r, c), Qt.ItemDataRole.EditRole)
                line.append(clipboard_text(col, value, self.model.categories))
            lines.append(line)
        QApplication.clipboard().setText(to_tsv(lines))
        self.copied.emit(len(lines), len(columns))

    # -- paste -----------------------------------------------------------------------------------------------
    def paste(self, text: str | None = None) -> None:
        if text is None:
            text = QApplication.clipboard().text()
        current = self.table.currentIndex()
        if not text or not current.isValid():
            return
        matrix = parse_tsv(text)
        columns = self.visible_columns()
        start = columns.index(current.column()) if current.column() in columns else 0
        selected = self.selected_cells()
        targets: list[tuple[int, int, str]] = []
        problems: list[CellProblem] = []
        if len(matrix) == 1 and len(matrix[0]) == 1 and len(selected) > 1:
            targets = [(r, c, matrix[0][0]) for r, c in sorted(selected)]   # one value over the selection
        else:
            for i, line in enumerate(matrix):
                for j, value in enumerate(line):
                    r, v = current.row() + i, start + j
                    if v >= len(columns):
                        problems.append(CellProblem(r, None, "", tr("the pasted block is wider than the grid")))
                        break
                    if r >= self.model.rowCount():
                        problems.append(CellProblem(r, None, "", tr("the pasted block goes past the last row")))
                        break
                    targets.append((r, columns[v], value))
        title = tr("Nothing was pasted")
        if problems:
            self.problems.emit(title, problems)
            return
        rows = sorted({r for r, _, _ in targets})
        if not rows or self._too_many(rows[0], rows[-1], title):
            return
        self.ensure_rows(rows, lambda: self._stage_texts(targets, title, tr("Paste")))

    def _stage_texts(self, targets: list[tuple[int, int, str]], title: str, action: str) -> None:
        cells: list[tuple[int, int, Any]] = []
        problems: list[CellProblem] = []
        for r, c, text in targets:
            col = self.model.columns[c]
            row = self.model.row_at(r)
            if row is None:
                problems.append(CellProblem(r, col, "", tr("this row is not loaded yet; try again in a moment")))
                continue
            try:
                cells.append((r, c, parse_value(col, text, self.model.categories)))
            except CellError as exc:
                problems.append(CellProblem(r, col, f"SKU {row.sku}", str(exc)))
        if problems:
            self.problems.emit(title, problems)
            return
        self.staged.emit(action, self.model.stage(cells, action))

    # -- fill down -------------------------------------------------------------------------------------------
    def fill_down(self) -> None:
        selected = self.selected_cells()
        by_column: dict[int, list[int]] = {}
        for r, c in selected:
            by_column.setdefault(c, []).append(r)
        title = tr("Nothing was filled")
        if not by_column or all(len(rows) < 2 for rows in by_column.values()):
            self.problems.emit(title, [CellProblem(self.table.currentIndex().row(), None, "",
                                                   tr("select the cell to copy and the cells below it"))])
            return
        problems = [CellProblem(min(rows), self.model.columns[c], "",
                                tr("{column} is computed and cannot be edited").format(
                                    column=column_label(self.model.columns[c])))
                    for c, rows in sorted(by_column.items())
                    if len(rows) > 1 and not is_editable(self.model.columns[c])]
        if problems:
            self.problems.emit(title, problems)
            return
        rows = sorted({r for r, _ in selected})
        if self._too_many(rows[0], rows[-1], title):
            return
        self.ensure_rows(rows, lambda: self._fill_now(by_column, title))

    def _fill_now(self, by_column: dict[int, list[int]], title: str) -> None:
        cells: list[tuple[int, int, Any]] = []
        problems: list[CellProblem] = []
        for c, rows in sorted(by_column.items()):
            rows.sort()
            top = self.model.row_at(rows[0])
            col = self.model.columns[c]
            if top is None:
                problems.append(CellProblem(rows[0], col, "", tr("this row is not loaded yet; try again in a moment")))
                continue
            value = self.model.data(self.model.index(rows[0], c), Qt.ItemDataRole.EditRole)
            for r in rows[1:]:
                if self.model.row_at(r) is None:
                    problems.append(CellProblem(r, col, "", tr("this row is not loaded yet; try again in a moment")))
                else:
                    cells.append((r, c, list(value) if isinstance(value, list) else value))
        if problems:
            self.problems.emit(title, problems)
            return
        self.staged.emit(tr("Fill down"), self.model.stage(cells, tr("Fill down")))

