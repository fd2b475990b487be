"""The Purchasing view's item models: suggestions with every input that explains them, purchase orders,
an order's lines, suppliers and supplier items. Plain rows handed in; no queries."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP

from backoffice.operations.purchase_orders import OrderLineInfo, OrderSummary
from backoffice.operations.replenishment import Suggestion
from backoffice.operations.suppliers import SupplierItemRow, SupplierRow
from backoffice.ui import theme
from backoffice.ui.format import format_amount, format_qty
from backoffice.ui.views.purchasing.common import LATE_BG, PROBLEM_BG, MoneyRecordsModel, state_label, tr
from backoffice.ui.widgets.records import Column

N = QT_TRANSLATE_NOOP

# -- suggestions ----------------------------------------------------------------------------------------
SUGGESTION_COLUMNS = (    # the line total and every input are in the line under the table and the tooltip
    Column(N("Purchasing", "SKU"), lambda r: r.sku, "sku", 156),
    Column(N("Purchasing", "Product"), lambda r: r.title, width=150),
    Column(N("Purchasing", "Location"), lambda r: r.location, width=76),
    # available + in transit + on order (drafts included), what is compared with the reorder point; the
    # split, the lead time and the safety stock are in the line under the table and the tooltip
    Column(N("Purchasing", "Position"), lambda r: r.position, "qty", 76),
    Column(N("Purchasing", "Per day"), lambda r: f"{r.daily_demand:.2f}", "num", 64),
    Column(N("Purchasing", "ROP"), lambda r: _marked(r.reorder_point, r.reorder_point_override), "num", 56),
    Column(N("Purchasing", "Up to"), lambda r: _marked(r.order_up_to, r.order_up_to_override), "num", 60),
    Column(N("Purchasing", "Order"), lambda r: r.quantity, "qty", 58),
    Column(N("Purchasing", "Cover"), lambda r: _cover(r), "num", 92),
    Column(N("Purchasing", "Supplier"), lambda r: r.supplier or tr("no supplier item"), width=124),
)
COL_SKU, COL_PRODUCT, COL_REORDER, COL_UP_TO, COL_ORDER, COL_COVER, COL_SUPPLIER = 0, 1, 5, 6, 7, 8, 9


def _cover(s: Suggestion) -> str:
    """Days of demand the order lasts; a flagged line (more than the setting, or no demand) carries ⚑."""
    days = "∞" if s.cover_days is None else tr("{n} d").format(n=format_qty(round(s.cover_days)))
    return f"⚑ {days}" if s.flag else days


def _marked(value: int, overridden: bool) -> str:
    """A buyer's override is marked with a pencil so it reads apart from a computed value."""
    return f"✎ {format_qty(value)}" if overridden else format_qty(value)


def suggestion_tooltip(s: Suggestion, column: int) -> str:
    lines = [s.title, tr("Available {available} + in transit {transit} + on order {on_order} = position {position}").format(
        available=format_qty(s.available), transit=format_qty(s.in_transit), on_order=format_qty(s.on_order + s.drafted),
        position=format_qty(s.position)),
        tr("Demand {mean} a day (σ {sigma}) over a lead time of {lead} days ({source})").format(
            mean=f"{s.daily_demand:.2f}", sigma=f"{s.demand_sigma:.2f}", lead=s.lead_time_days, source=s.lead_time_source),
        tr("Safety stock {ss}; reorder at {rop}; order up to {s}").format(ss=f"{s.safety_stock:.1f}",
                                                                           rop=format_qty(s.reorder_point),
                                                                           s=format_qty(s.order_up_to))]
    if s.reorder_point_override or s.order_up_to_override:
        lines.append(tr("✎ set by hand, wins over the computed value"))
    if s.orderable:
        lines.append(tr("Need {need}, ordered as {qty} (minimum {moq}, packs of {pack}) at {cost}: {total}").format(
            need=format_qty(s.need), qty=format_qty(s.quantity), moq=format_qty(s.min_order_qty),
            pack=format_qty(s.pack_size), cost=format_amount(s.unit_cost, s.currency),
            total=format_amount(s.line_total, s.currency)))
    lines += list(s.notes)
    if s.flag:
        lines.append("⚑ " + s.flag)
    if s.problem:
        lines.append(s.problem)
    return "\n".join(lines)


def suggestions_model(parent: Any = None) -> MoneyRecordsModel:
    def foreground(s: Suggestion, column: int) -> str | None:
        if column == COL_SUPPLIER and not s.orderable:
            return theme.DANGER
        if column in (COL_REORDER, COL_UP_TO) and (s.reorder_point_override if column == COL_REORDER
                                                   else s.order_up_to_override):
            return theme.ACCENT
        if column in (COL_ORDER, COL_COVER) and s.flag:
            return theme.WARNING
        if column == COL_ORDER:
            return theme.TEXT
        return None

    return MoneyRecordsModel(SUGGESTION_COLUMNS, parent, foreground=foreground, tooltip=suggestion_tooltip,
                             background=lambda s: PROBLEM_BG if s.problem else None)


# -- totals per supplier and currency --------------------------------------------------------------------
TOTAL_COLUMNS = (
    Column(N("Purchasing", "Supplier"), lambda t: t.supplier or tr("no supplier item"), width=200),
    Column(N("Purchasing", "Lines"), lambda t: t.lines, "qty", 70),
    Column(N("Purchasing", "Units"), lambda t: t.units, "qty", 80),
    Column(N("Purchasing", "Value"), lambda t: (t.value if t.supplier else None, t.currency), "money", 140),
    Column(N("Purchasing", "Flagged ⚑"), lambda t: t.flagged, "qty", 84),
)


def totals_model(parent: Any = None) -> MoneyRecordsModel:
    return MoneyRecordsModel(TOTAL_COLUMNS, parent,
                             foreground=lambda t, c: theme.WARNING if c == 4 and t.flagged else None)


# -- purchase orders ------------------------------------------------------------------------------------
ORDER_COLUMNS = (    # lines, units and what is still open are in the editor and the tooltip
    Column(N("Purchasing", "Number"), lambda r: r.number, width=92),
    Column(N("Purchasing", "State"), lambda r: state_label(r.state), width=118),
    Column(N("Purchasing", "Supplier"), lambda r: r.supplier, width=120),
    Column(N("Purchasing", "To"), lambda r: r.destination, width=84),
    Column(N("Purchasing", "Total"), lambda r: (r.total, r.currency), "money", 108),
    Column(N("Purchasing", "Expected"), lambda r: r.expected_on.isoformat() if r.expected_on else "", width=92),
)
COL_STATE, COL_EXPECTED = 1, 5


class OrderListModel(MoneyRecordsModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(ORDER_COLUMNS, parent, foreground=self._foreground,
                         background=lambda r: LATE_BG if r.late else None, tooltip=self._tooltip)
        self.has_more = False

    @staticmethod
    def _foreground(r: OrderSummary, column: int) -> str | None:
        return theme.DANGER if r.late and column == COL_EXPECTED else None

    @staticmethod
    def _tooltip(r: OrderSummary, column: int) -> str | None:
        text = tr("{supplier} → {destination}: {lines} lines, {units} units, {open} still open").format(
            supplier=r.supplier, destination=r.destination, lines=format_qty(r.lines), units=format_qty(r.units),
            open=format_qty(r.outstanding))
        if r.late:
            text += "\n" + tr("Late: expected {day} and still open").format(day=r.expected_on.isoformat())
        return text

    def row_of_id(self, order_id: int) -> int:
        return next((i for i, r in enumerate(self._rows) if r.id == order_id), -1)

    def last_id(self) -> int | None:
        return self._rows[-1].id if self._rows else None


@dataclass(frozen=True)
class EditLine:
    """A purchase-order line as the editor shows it."""

    variant_id: int
    sku: str
    barcode: str | None
    title: str
    supplier_sku: str
    quantity: int
    unit_cost: Decimal
    received: int = 0

    @property
    def outstanding(self) -> int:
        return max(0, self.quantity - self.received)

    @property
    def line_total(self) -> Decimal:
        return (self.unit_cost * self.quantity).quantize(Decimal("0.01"))

    @classmethod
    def from_info(cls, ln: OrderLineInfo) -> EditLine:
        return cls(ln.variant_id, ln.sku, ln.barcode, ln.title, ln.supplier_sku, ln.quantity, ln.unit_cost, ln.received)


def line_columns(currency: Any) -> tuple[Column, ...]:
    """``currency()`` gives the order's currency when a row is drawn."""
    return (
        Column(N("Purchasing", "SKU"), lambda r: r.sku, "sku", 150),
        Column(N("Purchasing", "Their SKU"), lambda r: r.supplier_sku, width=90),
        Column(N("Purchasing", "Product"), lambda r: r.title, width=120),
        Column(N("Purchasing", "Quantity"), lambda r: r.quantity, "qty", 70, editable=True),
        Column(N("Purchasing", "Unit cost"), lambda r: (r.unit_cost, currency()), "money", 96, editable=True),
        Column(N("Purchasing", "Received"), lambda r: r.received, "qty", 70),
        Column(N("Purchasing", "Total"), lambda r: (r.line_total, currency()), "money", 104),
    )


COL_LINE_QTY, COL_LINE_COST, COL_LINE_RECEIVED = 3, 4, 5


# -- suppliers and their items --------------------------------------------------------------------------
SUPPLIER_COLUMNS = (    # e-mail, contact and terms are in the tooltip
    Column(N("Purchasing", "Supplier"), lambda r: r.name, width=150),
    Column(N("Purchasing", "Currency"), lambda r: r.currency, width=70),
    Column(N("Purchasing", "Lead time"), lambda r: tr("{n} d").format(n=r.lead_time_days), "num", 74),
    Column(N("Purchasing", "Items"), lambda r: r.items, "qty", 60),
)


def supplier_tooltip(r: SupplierRow, column: int) -> str:
    parts = [r.name, r.email or tr("no e-mail address"), r.contact_name, r.phone, r.payment_terms]
    return "\n".join(p for p in parts if p)


def item_columns() -> tuple[Column, ...]:
    return (
        Column(N("Purchasing", "Pref."), lambda r: "★" if r.preferred else "", width=44),
        Column(N("Purchasing", "SKU"), lambda r: r.sku, "sku", 140),
        Column(N("Purchasing", "Product"), lambda r: r.title, width=170),
        Column(N("Purchasing", "Supplier SKU"), lambda r: r.supplier_sku, width=110, editable=True),
        Column(N("Purchasing", "Unit cost"), lambda r: (r.unit_cost, r.currency), "money", 100, editable=True),
        Column(N("Purchasing", "MOQ"), lambda r: r.min_order_qty, "qty", 56, editable=True),
        Column(N("Purchasing", "Pack"), lambda r: r.pack_size, "qty", 56, editable=True),
        Column(N("Purchasing", "Lead time"), lambda r: r.lead_time_days, "qty", 76, editable=True),
    )


ITEM_FIELDS = {3: "supplier_sku", 4: "unit_cost", 5: "min_order_qty", 6: "pack_size", 7: "lead_time_days"}


def items_model(parent: Any, on_edit: Any, changed: Any) -> MoneyRecordsModel:
    """``changed(row)`` says which fields of a row have unsaved edits (drawn on the changed colour)."""
    columns = item_columns()

    def background(r: SupplierItemRow) -> str | None:
        return theme.CHANGED_BG if changed(r) else None

    def tooltip(r: SupplierItemRow, column: int) -> str | None:
        if column == 7 and r.lead_time_days is None:
            return tr("Empty: the supplier's default of {n} days applies").format(n=r.effective_lead_time)
        return None

    return MoneyRecordsModel(columns, parent, background=background, tooltip=tooltip, on_edit=on_edit)
