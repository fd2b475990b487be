"""The Bundles view's item models: bundles (price, component cost, margin, availability per location),
one bundle's components, and the mix-and-match rules. Plain rows handed in; no queries."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP as N
from PySide6.QtCore import Qt

from backoffice.operations.bundles import BundleRow, RuleRow
from backoffice.ui import theme
from backoffice.ui.format import NO_VALUE, format_money, format_percent, translator
from backoffice.ui.views.orders.models import SalesRecordsModel
from backoffice.ui.widgets.records import RIGHT, Column

tr = translator("Bundles")


def pricing_text(row: BundleRow) -> str:
    if row.pricing == "fixed":
        return tr("Fixed")
    parts = []
    if row.percent_off:
        parts.append(f"−{format_percent(row.percent_off)}")
    if row.amount:
        parts.append(f"−{format_money(row.amount)}")
    return tr("Sum") + (" " + " ".join(parts) if parts else "")


def bundle_columns(locations: Sequence[str]) -> list[Column]:
    """The fixed columns, then one per selling location (bundles sellable there)."""
    columns = [
        Column(N("Bundles", "SKU"), lambda r: r.sku, "sku", 120),
        Column(N("Bundles", "Title"), lambda r: r.title, width=170),
        Column(N("Bundles", "Pricing"), pricing_text, width=110),
        Column(N("Bundles", "Price"), lambda r: (r.price, ""), "money", 96),
        Column(N("Bundles", "Component cost"), lambda r: (r.component_cost, ""), "money", 120),
        Column(N("Bundles", "Margin"), lambda r: (r.margin, ""), "money", 96),
        Column(N("Bundles", "Margin %"), lambda r: NO_VALUE if r.margin_percent is None else format_percent(r.margin_percent),
               width=80),
        Column(N("Bundles", "Available"), lambda r: r.available_total, "qty", 80),
    ]
    for code in locations:
        columns.append(Column(code, lambda r, code=code: r.available.get(code, 0), "qty", 64))
    return columns


COL_SKU, COL_TITLE, COL_PRICING, COL_PRICE, COL_COST, COL_MARGIN, COL_MARGIN_PCT, COL_AVAILABLE = range(8)


class BundleListModel(SalesRecordsModel):
    """A negative margin reads in the danger colour; a price the rule no longer gives (a component's price
    changed since the bundle was saved) is muted, with a tooltip saying so."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(bundle_columns([]), parent, foreground=self._foreground, tooltip=self._tooltip)
        self.context = "Bundles"
        self.locations: list[str] = []

    def data(self, index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: ANN401
        if role == Qt.ItemDataRole.TextAlignmentRole and index.isValid() and index.column() == COL_MARGIN_PCT:
            return RIGHT     # a number: right-aligned like the money beside it
        return super().data(index, role)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole and section == COL_MARGIN_PCT and orientation == Qt.Orientation.Horizontal:
            return RIGHT
        return super().headerData(section, orientation, role)

    def set_bundles(self, rows: list[BundleRow]) -> bool:
        """Show ``rows``; True when the location columns changed."""
        locations = sorted({code for r in rows for code in r.available})
        changed = locations != self.locations
        if changed:
            self.beginResetModel()
            self.columns = bundle_columns(locations)
            self.locations = locations
            self.endResetModel()
        self.set_rows(rows)
        return changed

    @staticmethod
    def _foreground(row: BundleRow, column: int) -> str | None:
        if column in (COL_MARGIN, COL_MARGIN_PCT) and row.margin is not None and row.margin < 0:
            return theme.DANGER
        if column == COL_PRICE and row.price != row.rule_price:
            return theme.WARNING
        if column >= COL_AVAILABLE and not (row.available_total if column == COL_AVAILABLE
                                            else row.available.get(_location_of(row, column), 0)):
            return theme.TEXT_MUTED
        return None

    @staticmethod
    def _tooltip(row: BundleRow, column: int) -> str | None:
        if column == COL_PRICE and row.price != row.rule_price:
            return tr("The rule gives {price} with today's component prices: save the bundle to update it.").format(
                price=format_money(row.rule_price))
        if column == COL_COST and row.component_cost is None:
            return tr("A component has no cost: the margin cannot be told.")
        return None


def _location_of(row: BundleRow, column: int) -> str:
    codes = sorted(row.available)
    i = column - COL_AVAILABLE - 1
    return codes[i] if 0 <= i < len(codes) else ""


COMPONENT_COLUMNS = (
    Column(N("Bundles", "Qty"), lambda c: c.quantity, "qty", 48),
    Column(N("Bundles", "SKU"), lambda c: c.sku, "sku", 120),
    Column(N("Bundles", "Component"), lambda c: c.title, width=240),
    Column(N("Bundles", "Price"), lambda c: (c.price, ""), "money", 90),
    Column(N("Bundles", "Cost"), lambda c: (c.cost, ""), "money", 90),
    Column(N("Bundles", "Line cost"), lambda c: (None if c.cost is None else c.cost * c.quantity, ""), "money", 96),
)


def components_model(parent: Any = None) -> SalesRecordsModel:
    model = SalesRecordsModel(COMPONENT_COLUMNS, parent)
    model.context = "Bundles"
    return model


def deal_text(rule: RuleRow) -> str:
    if rule.kind == "price":
        return tr("any {n} for {price}").format(n=rule.quantity, price=format_money(rule.amount))
    return tr("any {n} at {percent} off").format(n=rule.quantity, percent=format_percent(Decimal(rule.amount)))


def members_text(rule: RuleRow) -> str:
    parts = [*rule.products, *(tr("category {name}").format(name=c) for c in rule.categories)]
    return ", ".join(parts) or NO_VALUE


RULE_COLUMNS = (
    Column(N("Bundles", "Name"), lambda r: r.name, width=200),
    Column(N("Bundles", "Deal"), deal_text, width=180),
    Column(N("Bundles", "Products and categories"), members_text, width=320),
    Column(N("Bundles", "Active"), lambda r: tr("yes") if r.active else tr("no"), width=64),
)


def rules_model(parent: Any = None) -> SalesRecordsModel:
    model = SalesRecordsModel(RULE_COLUMNS, parent, foreground=lambda r, _c: None if r.active else theme.TEXT_MUTED)
    model.context = "Bundles"
    return model
