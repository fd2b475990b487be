"""The audit table's item model: rows handed in page by page, no queries.

The model only holds ``AuditRow`` values, described by the service (``row.view``: names instead of ids),
so the Item and Summary columns read "TR-000012" and "state: draft → shipped", not ids and dicts. When the view scrolls to the end it calls ``fetchMore``; the
model answers by emitting :attr:`AuditTableModel.more_requested` with the keyset cursor (the last row's
id), and whoever loads pages (the view, in the background) hands the next page to :meth:`append_rows`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QCoreApplication, QModelIndex, Qt, Signal

from backoffice.operations.audit import AuditRow
from backoffice.ui.widgets.records import OBJECT_ROLE, ROOT, SORT_ROLE, Index

__all__ = ["COLUMN_COUNT", "COL_ACTION", "COL_ENTITY", "COL_ID", "COL_SUMMARY", "COL_USER", "COL_WHEN", "OBJECT_ROLE",
           "SORT_ROLE", "AuditTableModel", "action_label", "entity_label", "format_timestamp"]

COL_WHEN, COL_USER, COL_ENTITY, COL_ID, COL_ACTION, COL_SUMMARY = range(6)
COLUMN_COUNT = 6
# OBJECT_ROLE gives the AuditRow itself; SORT_ROLE a value that sorts naturally (datetimes, numbers)

_HEADERS = ("When", "User", "Entity", "Item", "Action", "Summary")


def format_timestamp(at: dt.datetime) -> str:
    """A timestamp in the user's local time zone, to the second."""
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def entity_label(entity: str) -> str:
    """``stock_operation`` -> ``Stock operation``."""
    return entity.replace("_", " ").capitalize()


def action_label(action: str) -> str:
    return action.replace("_", " ").capitalize()


def _entity_id_key(entity_id: str) -> str:
    """Numeric ids in numeric order, before text ids; one string type so any two keys compare."""
    return f"0{int(entity_id):020d}" if entity_id.isdigit() else f"1{entity_id}"


class AuditTableModel(QAbstractTableModel):
    more_requested = Signal(int)  # before_id: load the page of entries older than this id

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[AuditRow] = []
        self._has_more = False
        self._fetching = False

    # -- feeding rows -------------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[AuditRow], *, has_more: bool) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._has_more = has_more
        self._fetching = False
        self.endResetModel()

    def append_rows(self, rows: Sequence[AuditRow], *, has_more: bool) -> None:
        self._fetching = False
        self._has_more = has_more
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._rows.extend(rows)
        self.endInsertRows()

    def clear(self) -> None:
        self.set_rows([], has_more=False)

    def set_fetching(self, fetching: bool) -> None:
        """While a load is under way, no further page is requested."""
        self._fetching = fetching

    def stop_fetching(self) -> None:
        """A page failed to load: stop asking for more until the next reload."""
        self._fetching = False
        self._has_more = False

    @property
    def has_more(self) -> bool:
        return self._has_more

    @property
    def fetching(self) -> bool:
        return self._fetching

    @property
    def rows(self) -> list[AuditRow]:
        return list(self._rows)

    def row_at(self, row: int) -> AuditRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def last_id(self) -> int | None:
        return self._rows[-1].id if self._rows else None

    def row_of_id(self, entry_id: int) -> int:
        for i, r in enumerate(self._rows):
            if r.id == entry_id:
                return i
        return -1

    # -- lazy loading -------------------------------------------------------------------------------
    def canFetchMore(self, parent: Index = ROOT) -> bool:
        return not parent.isValid() and self._has_more and not self._fetching and bool(self._rows)

    def fetchMore(self, parent: Index = ROOT) -> None:
        if not self.canFetchMore(parent):
            return
        self._fetching = True
        self.more_requested.emit(self._rows[-1].id)

    # -- Qt model interface -------------------------------------------------------------------------
    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else COLUMN_COUNT

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < COLUMN_COUNT:
            return QCoreApplication.translate("AuditTableModel", _HEADERS[section])
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, col = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, col)
        if role == OBJECT_ROLE:
            return row
        if role == SORT_ROLE:
            return self._sort_key(row, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_WHEN:
                return row.at.astimezone().isoformat(sep=" ", timespec="seconds")
            if col == COL_SUMMARY:
                return row.view.summary if row.view is not None else ("\n".join(row.changed_fields()) or None)
            if col == COL_ID:
                subject = row.view.subject if row.view is not None else ""
                return QCoreApplication.translate("AuditTableModel", "{subject}\n{entity} id {id}").format(
                    subject=subject, entity=entity_label(row.entity), id=row.entity_id).strip()
            if col == COL_ACTION and row.operation_id:
                return QCoreApplication.translate("AuditTableModel", "Operation {id}").format(id=row.operation_id)
        return None

    @staticmethod
    def _display(row: AuditRow, col: int) -> str:
        if col == COL_WHEN:
            return format_timestamp(row.at)
        if col == COL_USER:
            return row.username
        if col == COL_ENTITY:
            return entity_label(row.entity)
        if col == COL_ID:
            return row.view.item if row.view is not None else row.entity_id
        if col == COL_ACTION:
            return action_label(row.action)
        if col == COL_SUMMARY:
            return row.view.summary if row.view is not None else row.summary()
        return ""

    @staticmethod
    def _sort_key(row: AuditRow, col: int) -> Any:
        if col == COL_WHEN:
            return row.at.timestamp()
        if col == COL_USER:
            return row.username.lower()
        if col == COL_ENTITY:
            return row.entity
        if col == COL_ID:
            return row.view.item.lower() if row.view is not None else _entity_id_key(row.entity_id)
        if col == COL_ACTION:
            return row.action
        return (row.view.summary if row.view is not None else row.summary()).lower()
