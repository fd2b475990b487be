"""The audit item models on their own: rows handed in, no window, no database."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QModelIndex, Qt

from backoffice.services.audit import AuditRow
from backoffice.ui.views.audit.details import (
    CHANGED_ROLE,
    COL_AFTER,
    COL_BEFORE,
    COL_FIELD,
    AuditDiffModel,
    diff_lines,
)
from backoffice.ui.views.audit.models import (
    COL_ACTION,
    COL_ENTITY,
    COL_ID,
    COL_SUMMARY,
    COL_USER,
    COL_WHEN,
    COLUMN_COUNT,
    OBJECT_ROLE,
    SORT_ROLE,
    AuditTableModel,
    format_timestamp,
)

AT = dt.datetime(2025, 3, 14, 9, 26, 53, tzinfo=dt.UTC)


def row(entry_id: int, *, entity: str = "product", entity_id: str | None = None, action: str = "update",
        before: dict | None = None, after: dict | None = None) -> AuditRow:
    return AuditRow(entry_id, AT + dt.timedelta(minutes=entry_id), "alice", entity, entity_id or str(entry_id), action,
                    None, before if before is not None else {"price": "10.00", "title": "Shirt"},
                    after if after is not None else {"price": "12.50", "title": "Shirt"})


def test_columns_and_display(qapp) -> None:
    model = AuditTableModel()
    entry = row(7, entity="stock_operation")
    model.set_rows([entry], has_more=False)
    assert model.rowCount() == 1 and model.columnCount() == COLUMN_COUNT
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(COLUMN_COUNT)]
    assert headers == ["When", "User", "Entity", "Item", "Action", "Summary"]

    def cell(col: int, role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        return model.data(model.index(0, col), role)

    assert cell(COL_WHEN) == format_timestamp(entry.at)
    assert cell(COL_WHEN) == entry.at.astimezone().strftime("%Y-%m-%d %H:%M:%S")  # local time
    assert cell(COL_USER) == "alice"
    assert cell(COL_ENTITY) == "Stock operation"
    assert cell(COL_ID) == "7"
    assert cell(COL_ACTION) == "Update"
    assert cell(COL_SUMMARY) == entry.summary() == "price: 10.00 → 12.50"
    assert cell(COL_SUMMARY, OBJECT_ROLE) is entry
    assert model.data(QModelIndex()) is None
    assert model.data(model.index(5, 0)) is None


def test_sort_role_gives_natural_order(qapp) -> None:
    model = AuditTableModel()
    rows = [row(1, entity_id="9"), row(2, entity_id="10"), row(3, entity_id="SKU-1")]
    model.set_rows(rows, has_more=False)
    ids = [model.data(model.index(i, COL_ID), SORT_ROLE) for i in range(3)]
    assert sorted(ids) == ids  # 9 < 10 < text ids
    whens = [model.data(model.index(i, COL_WHEN), SORT_ROLE) for i in range(3)]
    assert whens == sorted(whens) and all(isinstance(w, float) for w in whens)


def test_fetch_more_asks_for_the_page_before_the_last_id(qapp, qtbot) -> None:
    model = AuditTableModel()
    model.set_rows([row(30), row(29), row(28)], has_more=True)
    assert model.canFetchMore(QModelIndex())
    with qtbot.waitSignal(model.more_requested, timeout=1_000) as blocker:
        model.fetchMore(QModelIndex())
    assert blocker.args == [28]
    # While that page loads, no second request goes out.
    assert model.fetching and not model.canFetchMore(QModelIndex())
    with qtbot.assertNotEmitted(model.more_requested):
        model.fetchMore(QModelIndex())

    with qtbot.waitSignal(model.rowsInserted, timeout=1_000):
        model.append_rows([row(27), row(26)], has_more=False)
    assert [r.id for r in model.rows] == [30, 29, 28, 27, 26]
    assert model.last_id() == 26
    assert not model.canFetchMore(QModelIndex())


def test_reset_and_failure_states(qapp) -> None:
    model = AuditTableModel()
    assert not model.canFetchMore(QModelIndex())  # nothing loaded yet
    model.set_rows([row(5)], has_more=True)
    model.set_fetching(True)
    assert not model.canFetchMore(QModelIndex())
    model.set_rows([row(9), row(8)], has_more=True)  # a reload ends the fetching state
    assert model.canFetchMore(QModelIndex())
    model.stop_fetching()
    assert not model.canFetchMore(QModelIndex())
    assert model.row_of_id(8) == 1 and model.row_of_id(99) == -1
    model.clear()
    assert model.rowCount() == 0 and model.row_at(0) is None


def test_diff_lines_put_changed_fields_first(qapp) -> None:
    entry = row(1, before={"title": "Shirt", "price": "10.00", "status": "draft"},
                after={"title": "Shirt", "price": "12.50", "status": "active", "vendor": "Acme"})
    lines = diff_lines(entry)
    assert [(line.field, line.changed) for line in lines] == [
        ("price", True), ("status", True), ("vendor", True), ("title", False)]
    assert lines[2].before is None and lines[2].after == "Acme"
    assert [line.field for line in diff_lines(entry, include_unchanged=False)] == ["price", "status", "vendor"]


def test_diff_model_shows_before_and_after_and_highlights_changes(qapp) -> None:
    model = AuditDiffModel()
    model.set_entry(row(1, before={"price": "10.00", "title": "Shirt", "active": True},
                        after={"price": "12.50", "title": "Shirt", "active": False}))
    table = [[model.data(model.index(r, c)) for c in (COL_FIELD, COL_BEFORE, COL_AFTER)] for r in range(model.rowCount())]
    assert table == [["active", "yes", "no"], ["price", "10.00", "12.50"], ["title", "Shirt", "Shirt"]]
    assert [model.data(model.index(r, 0), CHANGED_ROLE) for r in range(3)] == [True, True, False]
    assert model.data(model.index(0, 0), Qt.ItemDataRole.BackgroundRole) is not None
    assert model.data(model.index(2, 0), Qt.ItemDataRole.BackgroundRole) is None
    assert model.data(model.index(0, 0), Qt.ItemDataRole.FontRole).bold()

    model.set_include_unchanged(False)
    assert model.rowCount() == 2

    created = row(2, action="create", before={}, after={"title": "New", "sku": None})
    model.set_entry(created)
    assert [model.data(model.index(r, COL_BEFORE)) for r in range(model.rowCount())] == ["—", "—"]
    model.set_entry(None)
    assert model.rowCount() == 0
