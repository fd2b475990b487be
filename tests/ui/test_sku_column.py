"""SKU columns (widgets.sku_column): as wide as their widest SKU, elided in the middle beyond the cap, so
two variants never read the same; on a plain item model, independent of the stock screens."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QStyleOptionViewItem, QTableView

from backoffice.ui.widgets.sku_column import CELL_PADDING, fit_sku_column

TEXT_MARGINS = 20   # what a cell's text really loses to the style sheet padding and the style's margins


def drawn(table: QTableView, row: int, column: int) -> str:
    """The cell's text as painted: elided by the delegate's mode to the room the column leaves."""
    index = table.model().index(row, column)
    option = QStyleOptionViewItem()
    option.font = table.font()
    table.itemDelegateForColumn(column).initStyleOption(option, index)
    room = table.columnWidth(column) - TEXT_MARGINS
    return QFontMetrics(table.font()).elidedText(option.text, option.textElideMode, room)


def table_of(qtbot, skus: list[str]) -> tuple[QTableView, QStandardItemModel]:  # type: ignore[no-untyped-def]
    model = QStandardItemModel(0, 2)
    for sku in skus:
        model.appendRow([QStandardItem(sku), QStandardItem("a product")])
    table = QTableView()
    qtbot.addWidget(table)
    table.setModel(model)
    table.setColumnWidth(0, 90)
    return table, model


def test_column_grows_to_its_widest_sku_as_rows_arrive(qtbot) -> None:  # type: ignore[no-untyped-def]
    skus = ["MERINO-CREW-CHARCOAL-M", "MERINO-CREW-CHARCOAL-XL", "MERINO-CREW-NAVY-M"]
    table, model = table_of(qtbot, skus)
    fitter = fit_sku_column(table, 0)
    assert [drawn(table, r, 0) for r in range(3)] == skus
    model.appendRow([QStandardItem("MERINO-CREW-CHARCOAL-XXXL-LONG-TALL"), QStandardItem("")])   # a page more
    fitter.fit()   # what the event loop does right after the rows arrive
    assert [drawn(table, r, 0) for r in range(4)] == [*skus, "MERINO-CREW-CHARCOAL-XXXL-LONG-TALL"]
    width = QFontMetrics(table.font()).horizontalAdvance("MERINO-CREW-CHARCOAL-XXXL-LONG-TALL")
    assert table.columnWidth(0) == width + CELL_PADDING


def test_beyond_the_cap_both_ends_stay_visible(qtbot) -> None:  # type: ignore[no-untyped-def]
    stem = "VERY-LONG-PRODUCT-HANDLE-WITH-MANY-WORDS-IN-IT"
    skus = [f"{stem}-RED-XL", f"{stem}-RED-XXL", f"{stem}-BLUE-XL"]
    table, _ = table_of(qtbot, skus)
    fit_sku_column(table, 0, maximum=200)
    assert table.columnWidth(0) == 200
    shown = [drawn(table, r, 0) for r in range(3)]
    assert all("…" in s for s in shown)                 # cut, in the middle:
    assert [s.split("…")[-1] for s in shown] == [sku[-len(s.split("…")[-1]):] for sku, s in zip(skus, shown)]
    assert len(set(shown)) == 3                         # never two rows that read the same
    assert all(s.startswith("VERY") for s in shown)


def test_a_reset_shrinks_the_column_to_the_new_rows(qtbot) -> None:  # type: ignore[no-untyped-def]
    table, model = table_of(qtbot, ["A-RATHER-LONG-SKU-OF-SOME-PRODUCT-XL"])
    fitter = fit_sku_column(table, 0, minimum=40)
    wide = table.columnWidth(0)
    model.clear()
    model.appendRow([QStandardItem("AB-1"), QStandardItem("")])
    fitter.fit()
    assert 40 <= table.columnWidth(0) < wide
    assert drawn(table, 0, 0) == "AB-1"
    assert table.itemDelegateForColumn(0) is fitter.delegate
    opt = QStyleOptionViewItem()
    fitter.delegate.initStyleOption(opt, model.index(0, 0))
    assert opt.textElideMode == Qt.TextElideMode.ElideMiddle


def test_a_cut_sku_shows_whole_in_its_tooltip(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QToolTip

    sku = "VERY-LONG-PRODUCT-HANDLE-WITH-MANY-WORDS-IN-IT-RED-XXL"
    table, model = table_of(qtbot, [sku])
    model.item(0, 0).setToolTip("only 3 available")
    table.show()
    fitter = fit_sku_column(table, 0, maximum=150)
    index = model.index(0, 0)
    option = QStyleOptionViewItem()
    option.font = table.font()
    option.fontMetrics = QFontMetrics(table.font())
    option.rect = table.visualRect(index)
    event = QHelpEvent(QEvent.Type.ToolTip, option.rect.center(), table.viewport().mapToGlobal(option.rect.center()))
    assert fitter.delegate.helpEvent(event, table, option, index)
    qtbot.waitUntil(QToolTip.isVisible, timeout=2_000)
    assert QToolTip.text() == f"{sku}\nonly 3 available"
    QToolTip.hideText()
