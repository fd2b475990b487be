"""The data sources a report can read: their fields, the joins each field needs, computed measures.

A source is a root table plus the joins its fields may need; a query only joins what the chosen
columns, group-by levels and filters use, so "monthly revenue" reads order lines and orders and nothing
else. Field expressions are SQLAlchemy Core built per query (some sources join derived tables whose
window depends on the report's options, such as the sales period of sell-through).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Float, case, cast, func, literal, select
from sqlalchemy.orm import aliased

from backoffice.models import (
    Category,
    Customer,
    Location,
    Order,
    OrderLine,
    Product,
    Return,
    ReturnLine,
    ReturnState,
    StockLevel,
    StockMove,
    StockOperation,
    Supplier,
    Transfer,
    TransferLine,
    Variant,
)
from backoffice.reports.dates import at_midnight, resolve_range
from backoffice.reports.definition import DefinitionError

try:  # purchase orders are a source when the purchasing models are installed
    from backoffice.models import PurchaseOrder, PurchaseOrderLine
except ImportError:  # pragma: no cover
    PurchaseOrder = PurchaseOrderLine = None  # type: ignore[assignment,misc]

KINDS = ("text", "int", "number", "money", "percent", "date", "datetime")
NUMERIC_KINDS = ("int", "number", "money", "percent")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str
    expr: Callable[[dict[str, Any]], Any]
    joins: tuple[str, ...] = ()

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    @property
    def temporal(self) -> bool:
        return self.kind in ("date", "datetime")


@dataclass(frozen=True)
class ComputedSpec:
    """A measure computed from aggregates of the source's fields: ``build(agg)`` where ``agg(field, fn)``
    gives the SQL of that aggregate."""

    name: str
    label: str
    kind: str
    build: Callable[[Callable[[str, str], Any]], Any]
    uses: tuple[str, ...]
    additive: bool = False
    hidden: bool = False   # kept so saved definitions still compile, not offered in the builder


@dataclass(frozen=True)
class JoinSpec:
    key: str
    build: Callable[[dict[str, Any]], tuple[Any, Any]]   # ns -> (target, onclause)
    requires: tuple[str, ...] = ()
    outer: bool = False


@dataclass
class Source:
    name: str
    title: str
    description: str
    root: Any
    fields: list[FieldSpec]
    joins: list[JoinSpec] = field(default_factory=list)
    computed: list[ComputedSpec] = field(default_factory=list)
    namespace: Callable[[dict[str, Any]], dict[str, Any]] = lambda ctx: {}
    date_field: str | None = None
    options: dict[str, str] = field(default_factory=dict)   # option name -> label

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise DefinitionError(f"source {self.name!r} has no field {name!r}; its fields: "
                              f"{', '.join(f.name for f in self.fields)}")

    def computed_measure(self, name: str) -> ComputedSpec | None:
        return next((c for c in self.computed if c.name == name), None)

    def join_order(self, needed: set[str]) -> list[JoinSpec]:
        by_key = {j.key: j for j in self.joins}
        closed: set[str] = set()

        def add(key: str) -> None:
            if key in closed:
                return
            for r in by_key[key].requires:
                add(r)
            closed.add(key)

        for key in needed:
            if key not in by_key:
                raise AssertionError(f"source {self.name}: unknown join {key}")
            add(key)
        return [j for j in self.joins if j.key in closed]


def F(name: str, label: str, kind: str, expr: Callable[[dict[str, Any]], Any], *joins: str) -> FieldSpec:
    return FieldSpec(name, label, kind, expr, tuple(joins))


def _ratio(a: Any, b: Any) -> Any:
    return cast(a, Float) / func.nullif(cast(b, Float), 0.0)


# -- refunds --------------------------------------------------------------------------------------------
# A return's refund is one amount for the whole return (what the store paid back); it is shared out over
# the return's lines in proportion to what their units cost the customer (the line's net price), so
# refunds add up by product, category or order exactly to the amounts refunded. Only refunds the store
# reports as made count ("refunded"); a pending or declined one is no money back.
_RETURNED_VALUE = ReturnLine.quantity * (OrderLine.quantity * OrderLine.unit_price - OrderLine.discount) / OrderLine.quantity


def _refund_shares() -> Any:
    """Per return line: (return_line_id, order_line_id, amount) of the refunds made."""
    totals = (select(ReturnLine.return_id.label("return_id"), func.sum(_RETURNED_VALUE).label("value"),
                     func.count().label("lines"))
              .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
              .group_by(ReturnLine.return_id).subquery("return_values"))
    share = case((totals.c.value > 0, _RETURNED_VALUE / totals.c.value), else_=1.0 / totals.c.lines)
    return (select(ReturnLine.id.label("return_line_id"), ReturnLine.order_line_id.label("order_line_id"),
                   (Return.refund_amount * share).label("amount"))
            .join(Return, Return.id == ReturnLine.return_id)
            .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
            .join(totals, totals.c.return_id == ReturnLine.return_id)
            .where(Return.refund_status == "refunded", Return.state != ReturnState.CANCELLED.value))


# -- sales lines ----------------------------------------------------------------------------------------
def _sales_ns(ctx: dict[str, Any]) -> dict[str, Any]:
    first = (select(Order.customer_id.label("customer_id"), func.min(Order.ordered_at).label("first_at"))
             .where(Order.customer_id.is_not(None)).group_by(Order.customer_id).subquery("first_orders"))
    shares = _refund_shares().subquery("refund_shares")
    refunds = (select(shares.c.order_line_id.label("order_line_id"), func.sum(shares.c.amount).label("amount"))
               .group_by(shares.c.order_line_id).subquery("line_refunds"))
    return {"first": first, "refunds": refunds}


def _customer_type(ns: dict[str, Any]) -> Any:
    return case((Order.customer_id.is_(None), literal("guest")),
                (Order.ordered_at == ns["first"].c.first_at, literal("new")), else_=literal("returning"))


_REVENUE = OrderLine.quantity * OrderLine.unit_price - OrderLine.discount

SALES_LINES = Source(
    "sales_lines", "Sales lines", "Every line of every order: revenue, units, cost, gross profit and margin %, units "
    "shipped and returned, refunds and net sales (revenue less refunds).",
    OrderLine,
    fields=[
        F("ordered_at", "Ordered", "datetime", lambda ns: Order.ordered_at, "order"),
        F("order_number", "Order", "text", lambda ns: Order.number, "order"),
        F("order_id", "Order id", "int", lambda ns: OrderLine.order_id),
        F("order_status", "Order status", "text", lambda ns: Order.status, "order"),
        F("currency", "Currency", "text", lambda ns: Order.currency, "order"),
        F("customer_id", "Customer id", "int", lambda ns: Order.customer_id, "order"),
        F("country", "Country", "text", lambda ns: Customer.country, "customer"),
        F("age_band", "Age band", "text", lambda ns: Customer.age_band, "customer"),
        F("customer_type", "New or returning", "text", _customer_type, "first"),
        F("sku", "SKU", "text", lambda ns: Variant.sku, "variant"),
        F("variant", "Variant", "text", lambda ns: Variant.title, "variant"),
        F("product", "Product", "text", lambda ns: Product.title, "product"),
        F("vendor", "Vendor", "text", lambda ns: Product.vendor, "product"),
        F("product_type", "Product type", "text", lambda ns: Product.product_type, "product"),
        F("category", "Category", "text", lambda ns: func.coalesce(Category.name, literal("(none)")), "category"),
        F("quantity", "Units", "int", lambda ns: OrderLine.quantity),
        F("unit_price", "Unit price", "money", lambda ns: OrderLine.unit_price),
        F("discount", "Discount", "money", lambda ns: OrderLine.discount),
        F("revenue", "Revenue", "money", lambda ns: _REVENUE),
        F("cost_amount", "Cost", "money", lambda ns: OrderLine.quantity * func.coalesce(Variant.cost, 0), "variant"),
        F("shipped", "Shipped units", "int", lambda ns: OrderLine.fulfilled),
        F("returned", "Returned units", "int", lambda ns: OrderLine.returned),
        F("refunds", "Refunds", "money", lambda ns: func.coalesce(ns["refunds"].c.amount, 0), "refunds"),
        F("net_revenue", "Net sales", "money", lambda ns: _REVENUE - func.coalesce(ns["refunds"].c.amount, 0),
          "refunds"),
    ],
    joins=[
        JoinSpec("order", lambda ns: (Order, Order.id == OrderLine.order_id)),
        JoinSpec("customer", lambda ns: (Customer, Customer.id == Order.customer_id), ("order",), outer=True),
        JoinSpec("first", lambda ns: (ns["first"], ns["first"].c.customer_id == Order.customer_id), ("order",),
                 outer=True),
        JoinSpec("variant", lambda ns: (Variant, Variant.id == OrderLine.variant_id)),
        JoinSpec("product", lambda ns: (Product, Product.id == Variant.product_id), ("variant",)),
        JoinSpec("category", lambda ns: (Category, Category.id == Product.category_id), ("product",), outer=True),
        JoinSpec("refunds", lambda ns: (ns["refunds"], ns["refunds"].c.order_line_id == OrderLine.id), outer=True),
    ],
    computed=[
        ComputedSpec("return_rate", "Return rate", "percent",
                     lambda a: _ratio(a("returned", "sum"), a("shipped", "sum")), ("returned", "shipped")),
        ComputedSpec("gross_profit", "Gross profit", "money",
                     lambda a: a("revenue", "sum") - a("cost_amount", "sum"), ("revenue", "cost_amount"), additive=True),
        # The amount was once called "margin"; definitions saved with that name read as gross profit.
        ComputedSpec("margin", "Gross profit", "money", lambda a: a("revenue", "sum") - a("cost_amount", "sum"),
                     ("revenue", "cost_amount"), additive=True, hidden=True),
        ComputedSpec("margin_pct", "Margin %", "percent",
                     lambda a: _ratio(a("revenue", "sum") - a("cost_amount", "sum"), a("revenue", "sum")),
                     ("revenue", "cost_amount")),
        ComputedSpec("avg_order_value", "Average order value", "money",
                     lambda a: _ratio(a("revenue", "sum"), a("order_id", "count_distinct")), ("revenue", "order_id")),
    ],
    namespace=_sales_ns,
    date_field="ordered_at",
)

# -- returns --------------------------------------------------------------------------------------------
def _returns_ns(ctx: dict[str, Any]) -> dict[str, Any]:
    start, end = resolve_range(ctx["options"].get("sales_period", "last_12_months"), ctx["today"])
    shipped = (select(Variant.product_id.label("product_id"), func.sum(OrderLine.fulfilled).label("units"))
               .join(Variant, Variant.id == OrderLine.variant_id).join(Order, Order.id == OrderLine.order_id))
    if start is not None:
        shipped = shipped.where(Order.ordered_at >= at_midnight(start))
    if end is not None:
        shipped = shipped.where(Order.ordered_at < at_midnight(end))
    return {"shipped": shipped.group_by(Variant.product_id).subquery("product_shipped"),
            "refunds": _refund_shares().subquery("refund_shares")}


def _reason_label(ns: dict[str, Any]) -> Any:
    from backoffice.services.returns import REASONS

    return case(*[(ReturnLine.reason == code, literal(label)) for code, label in REASONS.items()],
                else_=ReturnLine.reason)


_RETURN_LOCATION = aliased(Location, name="return_location")

RETURNS = Source(
    "returns", "Returns", "Every line of every return: units, reason, condition, the refund made and the return "
    "rate of its product (returned units over the units shipped on the orders of the sales period).",
    ReturnLine,
    fields=[
        F("return_number", "Return", "text", lambda ns: Return.number, "return"),
        F("state", "State", "text", lambda ns: Return.state, "return"),
        F("authorised_at", "Authorised", "datetime", lambda ns: Return.created_at, "return"),
        F("received_at", "Received", "datetime", lambda ns: Return.received_at, "return"),
        F("location", "Received at", "text", lambda ns: _RETURN_LOCATION.code, "location"),
        F("reason", "Reason", "text", _reason_label),
        F("reason_code", "Reason code", "text", lambda ns: ReturnLine.reason),
        F("condition", "Condition", "text", lambda ns: ReturnLine.condition),
        F("order_number", "Order", "text", lambda ns: Order.number, "order"),
        F("ordered_at", "Ordered", "datetime", lambda ns: Order.ordered_at, "order"),
        F("sku", "SKU", "text", lambda ns: Variant.sku, "variant"),
        F("product", "Product", "text", lambda ns: Product.title, "product"),
        F("vendor", "Vendor", "text", lambda ns: Product.vendor, "product"),
        F("category", "Category", "text", lambda ns: func.coalesce(Category.name, literal("(none)")), "category"),
        F("quantity", "Returned units", "int", lambda ns: ReturnLine.quantity),
        F("refund", "Refunds", "money", lambda ns: func.coalesce(ns["refunds"].c.amount, 0), "refunds"),
        F("product_shipped", "Units shipped (product)", "int", lambda ns: func.coalesce(ns["shipped"].c.units, 0),
          "shipped"),
    ],
    joins=[
        JoinSpec("return", lambda ns: (Return, Return.id == ReturnLine.return_id)),
        JoinSpec("location", lambda ns: (_RETURN_LOCATION, _RETURN_LOCATION.id == Return.location_id), ("return",),
                 outer=True),
        JoinSpec("order_line", lambda ns: (OrderLine, OrderLine.id == ReturnLine.order_line_id)),
        JoinSpec("order", lambda ns: (Order, Order.id == OrderLine.order_id), ("order_line",)),
        JoinSpec("variant", lambda ns: (Variant, Variant.id == OrderLine.variant_id), ("order_line",)),
        JoinSpec("product", lambda ns: (Product, Product.id == Variant.product_id), ("variant",)),
        JoinSpec("category", lambda ns: (Category, Category.id == Product.category_id), ("product",), outer=True),
        JoinSpec("refunds", lambda ns: (ns["refunds"], ns["refunds"].c.return_line_id == ReturnLine.id), outer=True),
        JoinSpec("shipped", lambda ns: (ns["shipped"], ns["shipped"].c.product_id == Product.id), ("product",),
                 outer=True),
    ],
    computed=[
        # The units shipped are the product's (one figure per product): meaningful for rows of one product.
        ComputedSpec("return_rate", "Return rate", "percent",
                     lambda a: _ratio(a("quantity", "sum"), a("product_shipped", "max")), ("quantity", "product_shipped")),
    ],
    namespace=_returns_ns,
    date_field="ordered_at",
    options={"sales_period": "Orders placed in (return rate)"},
)

# -- orders ---------------------------------------------------------------------------------------------
ORDERS = Source(
    "orders", "Orders", "One row per order: totals, status and the customer's country and age band.",
    Order,
    fields=[
        F("ordered_at", "Ordered", "datetime", lambda ns: Order.ordered_at),
        F("number", "Order", "text", lambda ns: Order.number),
        F("order_id", "Order id", "int", lambda ns: Order.id),
        F("status", "Status", "text", lambda ns: Order.status),
        F("currency", "Currency", "text", lambda ns: Order.currency),
        F("total", "Total", "money", lambda ns: Order.total),
        F("customer_id", "Customer id", "int", lambda ns: Order.customer_id),
        F("country", "Country", "text", lambda ns: Customer.country, "customer"),
        F("age_band", "Age band", "text", lambda ns: Customer.age_band, "customer"),
        F("customer_type", "New or returning", "text", _customer_type, "first"),
    ],
    joins=[
        JoinSpec("customer", lambda ns: (Customer, Customer.id == Order.customer_id), outer=True),
        JoinSpec("first", lambda ns: (ns["first"], ns["first"].c.customer_id == Order.customer_id), outer=True),
    ],
    namespace=_sales_ns,
    date_field="ordered_at",
)

# -- customers ------------------------------------------------------------------------------------------
CUSTOMERS = Source(
    "customers", "Customers", "Customers by country, age band and when they signed up.",
    Customer,
    fields=[
        F("customer_id", "Customer id", "int", lambda ns: Customer.id),
        F("email", "E-mail", "text", lambda ns: Customer.email),
        F("country", "Country", "text", lambda ns: Customer.country),
        F("age_band", "Age band", "text", lambda ns: Customer.age_band),
        F("created_at", "Signed up", "datetime", lambda ns: Customer.created_at),
    ],
    date_field="created_at",
)


# -- stock levels and valuation -------------------------------------------------------------------------
def _threshold(ns: dict[str, Any]) -> Any:
    # The same effective low-stock threshold as the alerts use (own, then category/location defaults).
    from backoffice.services.alerts import effective_threshold

    return effective_threshold(StockLevel.low_stock_threshold, StockLevel.location_id, Product)


STOCK = Source(
    "stock", "Stock levels and valuation", "On hand per variant and location, valued at cost and at retail.",
    StockLevel,
    fields=[
        F("location", "Location", "text", lambda ns: Location.code, "location"),
        F("location_name", "Location name", "text", lambda ns: Location.name, "location"),
        F("location_kind", "Location kind", "text", lambda ns: Location.kind, "location"),
        F("sku", "SKU", "text", lambda ns: Variant.sku, "variant"),
        F("variant_id", "Variant id", "int", lambda ns: StockLevel.variant_id),
        F("product", "Product", "text", lambda ns: Product.title, "product"),
        F("vendor", "Vendor", "text", lambda ns: Product.vendor, "product"),
        F("category", "Category", "text", lambda ns: func.coalesce(Category.name, literal("(none)")), "category"),
        F("on_hand", "On hand", "int", lambda ns: StockLevel.on_hand),
        F("reserved", "Reserved", "int", lambda ns: StockLevel.reserved),
        F("available", "Available", "int", lambda ns: StockLevel.on_hand - StockLevel.reserved),
        F("threshold", "Low-stock threshold", "int", _threshold, "product"),
        F("shortfall", "Below threshold by", "int",
          lambda ns: _threshold(ns) - (StockLevel.on_hand - StockLevel.reserved), "product"),
        F("reorder_point", "Reorder point", "int", lambda ns: StockLevel.reorder_point),
        F("unit_cost", "Unit cost", "money", lambda ns: Variant.cost, "variant"),
        F("stock_value", "Value at cost", "money",
          lambda ns: StockLevel.on_hand * func.coalesce(Variant.cost, 0), "variant"),
        F("retail_value", "Value at retail", "money", lambda ns: StockLevel.on_hand * Variant.price, "variant"),
    ],
    joins=[
        JoinSpec("location", lambda ns: (Location, Location.id == StockLevel.location_id)),
        JoinSpec("variant", lambda ns: (Variant, Variant.id == StockLevel.variant_id)),
        JoinSpec("product", lambda ns: (Product, Product.id == Variant.product_id), ("variant",)),
        JoinSpec("category", lambda ns: (Category, Category.id == Product.category_id), ("product",), outer=True),
    ],
)


# -- variants (catalog with stock and sales) --------------------------------------------------------------
def _variants_ns(ctx: dict[str, Any]) -> dict[str, Any]:
    start, end = resolve_range(ctx["options"].get("sales_period", "last_90_days"), ctx["today"])
    sold = select(OrderLine.variant_id.label("variant_id"), func.sum(OrderLine.quantity).label("units"),
                  func.sum(_REVENUE).label("revenue"), func.max(Order.ordered_at).label("last_at")
                  ).join(Order, Order.id == OrderLine.order_id).where(Order.status.in_(("paid", "partially_refunded", "refunded")))
    if start is not None:
        sold = sold.where(Order.ordered_at >= at_midnight(start))
    if end is not None:
        sold = sold.where(Order.ordered_at < at_midnight(end))
    stock = (select(StockLevel.variant_id.label("variant_id"), func.sum(StockLevel.on_hand).label("on_hand"))
             .group_by(StockLevel.variant_id).subquery("stock_totals"))
    return {"sold": sold.group_by(OrderLine.variant_id).subquery("sold"), "stock": stock}


VARIANTS = Source(
    "variants", "Products and variants",
    "Every variant with its price, cost, stock on hand and what sold in the sales period.",
    Variant,
    fields=[
        F("sku", "SKU", "text", lambda ns: Variant.sku),
        F("variant", "Variant", "text", lambda ns: Variant.title),
        F("status", "Status", "text", lambda ns: Variant.status),
        F("product", "Product", "text", lambda ns: Product.title, "product"),
        F("vendor", "Vendor", "text", lambda ns: Product.vendor, "product"),
        F("product_type", "Product type", "text", lambda ns: Product.product_type, "product"),
        F("category", "Category", "text", lambda ns: func.coalesce(Category.name, literal("(none)")), "category"),
        F("price", "Price", "money", lambda ns: Variant.price),
        F("cost", "Cost", "money", lambda ns: Variant.cost),
        F("on_hand", "On hand", "int", lambda ns: func.coalesce(ns["stock"].c.on_hand, 0), "stock"),
        F("units_sold", "Units sold", "int", lambda ns: func.coalesce(ns["sold"].c.units, 0), "sold"),
        F("revenue", "Revenue", "money", lambda ns: func.coalesce(ns["sold"].c.revenue, 0), "sold"),
        F("last_sold_at", "Last sold", "datetime", lambda ns: ns["sold"].c.last_at, "sold"),
        F("product_created_at", "Product created", "datetime", lambda ns: Product.created_at, "product"),
    ],
    joins=[
        JoinSpec("product", lambda ns: (Product, Product.id == Variant.product_id)),
        JoinSpec("category", lambda ns: (Category, Category.id == Product.category_id), ("product",), outer=True),
        JoinSpec("stock", lambda ns: (ns["stock"], ns["stock"].c.variant_id == Variant.id), outer=True),
        JoinSpec("sold", lambda ns: (ns["sold"], ns["sold"].c.variant_id == Variant.id), outer=True),
    ],
    computed=[
        ComputedSpec("sell_through", "Sell-through", "percent",
                     lambda a: _ratio(a("units_sold", "sum"), a("units_sold", "sum") + a("on_hand", "sum")),
                     ("units_sold", "on_hand")),
    ],
    namespace=_variants_ns,
    options={"sales_period": "Sales period (units sold, sell-through)"},
)

# -- stock moves ----------------------------------------------------------------------------------------
_FROM, _TO = aliased(Location, name="from_location"), aliased(Location, name="to_location")

STOCK_MOVES = Source(
    "stock_moves", "Stock movements", "The stock ledger: every move between locations.",
    StockMove,
    fields=[
        F("at", "When", "datetime", lambda ns: StockOperation.created_at, "operation"),
        F("reason", "Reason", "text", lambda ns: StockOperation.reason, "operation"),
        F("document", "Document", "text", lambda ns: StockOperation.document, "operation"),
        F("from_location", "From", "text", lambda ns: _FROM.code, "from"),
        F("to_location", "To", "text", lambda ns: _TO.code, "to"),
        F("sku", "SKU", "text", lambda ns: Variant.sku, "variant"),
        F("product", "Product", "text", lambda ns: Product.title, "product"),
        F("quantity", "Units", "int", lambda ns: StockMove.quantity),
    ],
    joins=[
        JoinSpec("operation", lambda ns: (StockOperation, StockOperation.id == StockMove.operation_pk)),
        JoinSpec("from", lambda ns: (_FROM, _FROM.id == StockMove.from_location_id)),
        JoinSpec("to", lambda ns: (_TO, _TO.id == StockMove.to_location_id)),
        JoinSpec("variant", lambda ns: (Variant, Variant.id == StockMove.variant_id)),
        JoinSpec("product", lambda ns: (Product, Product.id == Variant.product_id), ("variant",)),
    ],
    date_field="at",
)

# -- transfers ------------------------------------------------------------------------------------------
_SRC, _DST = aliased(Location, name="source_location"), aliased(Location, name="destination_location")

TRANSFERS = Source(
    "transfers", "Transfers", "Transfer lines: shipped, received, lost and still in transit.",
    TransferLine,
    fields=[
        F("number", "Transfer", "text", lambda ns: Transfer.number, "transfer"),
        F("state", "State", "text", lambda ns: Transfer.state, "transfer"),
        F("source", "From", "text", lambda ns: _SRC.code, "source"),
        F("destination", "To", "text", lambda ns: _DST.code, "destination"),
        F("shipped_at", "Shipped", "datetime", lambda ns: Transfer.shipped_at, "transfer"),
        F("received_at", "Received", "datetime", lambda ns: Transfer.received_at, "transfer"),
        F("sku", "SKU", "text", lambda ns: Variant.sku, "variant"),
        F("quantity", "Planned", "int", lambda ns: TransferLine.quantity),
        F("shipped", "Shipped units", "int", lambda ns: TransferLine.shipped),
        F("received", "Received units", "int", lambda ns: TransferLine.received),
        F("lost", "Lost", "int", lambda ns: TransferLine.lost),
        F("in_transit", "In transit", "int", lambda ns: TransferLine.shipped - TransferLine.received
          - TransferLine.lost - TransferLine.returned),
        F("transit_value", "In transit at cost", "money", lambda ns: (
            TransferLine.shipped - TransferLine.received - TransferLine.lost - TransferLine.returned)
          * func.coalesce(Variant.cost, 0), "variant"),
    ],
    joins=[
        JoinSpec("transfer", lambda ns: (Transfer, Transfer.id == TransferLine.transfer_id)),
        JoinSpec("source", lambda ns: (_SRC, _SRC.id == Transfer.source_location_id), ("transfer",)),
        JoinSpec("destination", lambda ns: (_DST, _DST.id == Transfer.destination_location_id), ("transfer",)),
        JoinSpec("variant", lambda ns: (Variant, Variant.id == TransferLine.variant_id)),
    ],
    date_field="shipped_at",
)

SOURCES: dict[str, Source] = {s.name: s for s in (SALES_LINES, ORDERS, CUSTOMERS, STOCK, VARIANTS, STOCK_MOVES,
                                                  TRANSFERS, RETURNS)}

# -- purchase orders ------------------------------------------------------------------------------------
if PurchaseOrder is not None:
    _PO_DEST = aliased(Location, name="po_destination")
    _OUTSTANDING = case((PurchaseOrderLine.quantity > PurchaseOrderLine.received,
                         PurchaseOrderLine.quantity - PurchaseOrderLine.received), else_=0)
    PURCHASE_ORDERS = Source(
        "purchase_orders", "Purchase orders", "Purchase order lines by supplier and state: ordered, received, "
        "outstanding and their value.",
        PurchaseOrderLine,
        fields=[
            F("number", "Purchase order", "text", lambda ns: PurchaseOrder.number, "order"),
            F("state", "State", "text", lambda ns: PurchaseOrder.state, "order"),
            F("supplier", "Supplier", "text", lambda ns: Supplier.name, "supplier"),
            F("destination", "Destination", "text", lambda ns: _PO_DEST.code, "destination"),
            F("currency", "Currency", "text", lambda ns: PurchaseOrder.currency, "order"),
            F("created_at", "Created", "datetime", lambda ns: PurchaseOrder.created_at, "order"),
            F("expected_on", "Expected", "date", lambda ns: PurchaseOrder.expected_on, "order"),
            F("order_id", "Order id", "int", lambda ns: PurchaseOrderLine.order_id),
            F("sku", "SKU", "text", lambda ns: Variant.sku, "variant"),
            F("quantity", "Ordered", "int", lambda ns: PurchaseOrderLine.quantity),
            F("received", "Received", "int", lambda ns: PurchaseOrderLine.received),
            F("outstanding", "Outstanding", "int", lambda ns: _OUTSTANDING),
            F("unit_cost", "Unit cost", "money", lambda ns: PurchaseOrderLine.unit_cost),
            F("line_value", "Value", "money", lambda ns: PurchaseOrderLine.quantity * PurchaseOrderLine.unit_cost),
            F("outstanding_value", "Outstanding value", "money",
              lambda ns: _OUTSTANDING * PurchaseOrderLine.unit_cost),
        ],
        joins=[
            JoinSpec("order", lambda ns: (PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.order_id)),
            JoinSpec("supplier", lambda ns: (Supplier, Supplier.id == PurchaseOrder.supplier_id), ("order",)),
            JoinSpec("destination", lambda ns: (_PO_DEST, _PO_DEST.id == PurchaseOrder.destination_location_id),
                     ("order",)),
            JoinSpec("variant", lambda ns: (Variant, Variant.id == PurchaseOrderLine.variant_id)),
        ],
        date_field="created_at",
    )
    SOURCES[PURCHASE_ORDERS.name] = PURCHASE_ORDERS


def source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise DefinitionError(f"unknown source {name!r}; sources: {', '.join(SOURCES)}") from None


def context(options: dict[str, Any], today: dt.date) -> dict[str, Any]:
    return {"options": options, "today": today}

