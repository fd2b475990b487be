"""What the stock screens (Inventory, Transfers and their dialogs) share: their translation context.
Formats live in ``ui.format``, the records model and table setup in ``ui.widgets.records``, the table
writer in ``reports.exporters``; the names below are kept for the modules that still import them here."""

from __future__ import annotations

from backoffice.reports.exporters import write_table
from backoffice.ui.format import (
    error_text,
    format_qty,
    format_signed,
    format_when,
    plural,
    translator,
    ui_locale,
)
from backoffice.ui.widgets.records import (
    HEADER_PADDING,
    LEFT,
    MAX_QTY,
    OBJECT_ROLE,
    RIGHT,
    ROW_HEIGHT,
    SORT_ROLE,
    Column,
    QuantityDelegate,
    RecordsModel,
    setup_table,
)

CONTEXT = "Stock"
tr = translator(CONTEXT)

__all__ = ["CONTEXT", "HEADER_PADDING", "LEFT", "MAX_QTY", "OBJECT_ROLE", "RIGHT", "ROW_HEIGHT", "SORT_ROLE",
           "Column", "QuantityDelegate", "RecordsModel", "error_text", "format_qty", "format_signed",
           "format_when", "plural", "setup_table", "tr", "ui_locale", "write_table"]
