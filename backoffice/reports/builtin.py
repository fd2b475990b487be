"""The built-in reports: ordinary definitions (they compile like saved ones and can be duplicated into
the builder), plus the forecast step of the revenue forecast."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from backoffice.reports.compiler import OutputColumn
from backoffice.reports.definition import ChartSpec, Column, Filter, GroupBy, ReportDefinition, Sort
from backoffice.reports.formats import to_money


# Orders that were paid, refunded since or not: a refund is subtracted in the refunds column (net sales),
# never by dropping the order's sale.
SOLD = ["paid", "partially_refunded", "refunded"]
PAID = Filter("order_status", "in", SOLD)
SALES_MEASURES = [Column("revenue", "sum", "Revenue"), Column("order_id", "count_distinct", "Orders"),
                  Column("quantity", "sum", "Units"), Column("avg_order_value", None, "Average order value"),
                  Column("refunds", "sum", "Refunds"), Column("net_revenue", "sum", "Net sales")]


def _sales_by(bucket: str, period: str, chart: str) -> ReportDefinition:
    return ReportDefinition(
        name=f"sales-by-{bucket}", title=f"Sales by {bucket}", source="sales_lines",
        description=f"Revenue, orders, units, average order value, refunds and net sales (revenue less refunds) "
                    f"per {bucket} (paid orders, by order date).",
        group_by=[GroupBy("ordered_at", bucket)], columns=list(SALES_MEASURES),
        filters=[Filter("ordered_at", "range", period, param="period"), PAID],
        chart=ChartSpec(chart, y=["revenue"], title=f"Revenue by {bucket}"),
        params={"period": period}, builtin=True)


def _definitions() -> list[ReportDefinition]:
    period = Filter("ordered_at", "range", "last_90_days", param="period")
    return [
        _sales_by("day", "last_30_days", "line"),
        _sales_by("week", "last_12_months", "line"),
        _sales_by("month", "last_24_months", "bar"),
        ReportDefinition(
            name="revenue-forecast", title="Revenue forecast", source="sales_lines",
            description="Monthly revenue and the next 3 months forecast by Holt-Winters exponential smoothing, "
                        "with the error of a backtest on the last 3 months.",
            group_by=[GroupBy("ordered_at", "month")], columns=[Column("revenue", "sum", "Revenue")],
            filters=[PAID], chart=ChartSpec("line", title="Revenue and forecast"), post="forecast", builtin=True),
        ReportDefinition(
            name="top-products", title="Top-selling products", source="sales_lines",
            description="Products by revenue in the period, with the units returned and net sales (revenue less "
                        "refunds).",
            group_by=[GroupBy("product"), GroupBy("vendor")],
            columns=[Column("revenue", "sum", "Revenue"), Column("quantity", "sum", "Units"), Column("gross_profit"),
                     Column("margin_pct"), Column("returned", "sum", "Returned units"),
                     Column("net_revenue", "sum", "Net sales")],
            filters=[period, PAID], sort=[Sort("revenue", True)], limit=25,
            chart=ChartSpec("bar", y=["revenue"], title="Top products by revenue"),
            params={"period": "last_90_days"}, builtin=True),
        ReportDefinition(
            name="top-variants", title="Top-selling variants", source="sales_lines",
            description="Variants (SKUs) by units sold in the period.",
            group_by=[GroupBy("sku"), GroupBy("product")],
            columns=[Column("quantity", "sum", "Units"), Column("revenue", "sum", "Revenue")],
            filters=[period, PAID], sort=[Sort("quantity", True)], limit=50,
            chart=ChartSpec("bar", y=["quantity"], title="Top variants by units"),
            params={"period": "last_90_days"}, builtin=True),
        ReportDefinition(
            name="customers-by-country", title="Customers by country", source="sales_lines",
            description="Customers, orders, revenue and net sales (revenue less refunds) by the customer's country.",
            group_by=[GroupBy("country")],
            columns=[Column("customer_id", "count_distinct", "Customers"), Column("order_id", "count_distinct", "Orders"),
                     Column("revenue", "sum", "Revenue"), Column("net_revenue", "sum", "Net sales")],
            filters=[Filter("ordered_at", "range", "last_12_months", param="period"), PAID],
            sort=[Sort("revenue", True)], chart=ChartSpec("pie", y=["revenue"], title="Revenue by country"),
            params={"period": "last_12_months"}, builtin=True),
        ReportDefinition(
            name="customers-by-age", title="Customers by age band", source="sales_lines",
            description="Customers, orders, revenue, average order value and net sales (revenue less refunds) by "
                        "age band.",
            group_by=[GroupBy("age_band")],
            columns=[Column("customer_id", "count_distinct", "Customers"), Column("order_id", "count_distinct", "Orders"),
                     Column("revenue", "sum", "Revenue"), Column("avg_order_value", None, "Average order value"),
                     Column("net_revenue", "sum", "Net sales")],
            filters=[Filter("ordered_at", "range", "last_12_months", param="period"), PAID],
            chart=ChartSpec("bar", y=["revenue"], title="Revenue by age band"),
            params={"period": "last_12_months"}, builtin=True),
        ReportDefinition(
            name="new-vs-returning", title="New vs returning customers", source="orders",
            description="Orders and revenue per month from first-time and returning customers.",
            group_by=[GroupBy("ordered_at", "month"), GroupBy("customer_type")],
            columns=[Column("total", "sum", "Revenue")],
            filters=[Filter("ordered_at", "range", "last_12_months", param="period"), Filter("status", "in", SOLD)],
            pivot="customer_type", chart=ChartSpec("stacked_bar", title="Revenue: new and returning customers"),
            params={"period": "last_12_months"}, builtin=True),
        ReportDefinition(
            name="returns-by-product-and-reason", title="Returns by product and reason", source="returns",
            description="Units received back per product and reason, the refunds made, and the return rate: the "
                        "returned units over the units of the product shipped on the orders of the period "
                        "(returns of those orders, by order date).",
            group_by=[GroupBy("product"), GroupBy("reason")],
            columns=[Column("quantity", "sum", "Returned units"), Column("product_shipped", "max", "Units shipped"),
                     Column("return_rate", None, "Return rate"), Column("refund", "sum", "Refunds")],
            filters=[Filter("ordered_at", "range", "last_12_months", param="sales_period"),
                     Filter("state", "eq", "received")],
            sort=[Sort("quantity", True), Sort("product"), Sort("reason")],
            chart=ChartSpec("bar", y=["sum_quantity"], title="Returned units by product and reason"),
            options={"sales_period": "last_12_months"}, params={"sales_period": "last_12_months"}, builtin=True),
        ReportDefinition(
            name="inventory-valuation", title="Inventory valuation", source="stock",
            description="Units on hand and their value at cost and at retail, by location and category.",
            group_by=[GroupBy("location"), GroupBy("category")],
            columns=[Column("on_hand", "sum", "On hand"), Column("stock_value", "sum", "Value at cost"),
                     Column("retail_value", "sum", "Value at retail")],
            chart=ChartSpec("bar", y=["stock_value"], title="Value at cost by location"), builtin=True),
        ReportDefinition(
            name="low-stock", title="Low stock", source="stock",
            description="Variants at or below their low-stock threshold, by location.",
            columns=[Column("location"), Column("sku"), Column("product"), Column("available"),
                     Column("threshold"), Column("shortfall")],
            filters=[Filter("shortfall", "gte", 0), Filter("location_kind", "in", ["warehouse", "store"])],
            sort=[Sort("shortfall", True), Sort("sku")], builtin=True),
        ReportDefinition(
            name="slow-movers", title="Slow movers", source="variants",
            description="Variants in stock that sold least in the sales period, with their sell-through.",
            group_by=[GroupBy("sku"), GroupBy("product")],
            columns=[Column("on_hand", "sum", "On hand"), Column("units_sold", "sum", "Units sold"),
                     Column("sell_through"), Column("last_sold_at", "max", "Last sold")],
            filters=[Filter("on_hand", "gt", 0)], sort=[Sort("sell_through"), Sort("on_hand", True)], limit=100,
            options={"sales_period": "last_90_days"}, params={"sales_period": "last_90_days"}, builtin=True),
        ReportDefinition(
            name="stock-movements", title="Stock movements", source="stock_moves",
            description="Units moved per day and reason.",
            group_by=[GroupBy("at", "day"), GroupBy("reason")], columns=[Column("quantity", "sum", "Units")],
            filters=[Filter("at", "range", "last_90_days", param="period")], pivot="reason",
            chart=ChartSpec("stacked_bar", title="Units moved by reason"),
            params={"period": "last_90_days"}, builtin=True),
        ReportDefinition(
            name="transfers-in-transit", title="Transfers in transit", source="transfers",
            description="Shipped transfer lines not yet received, with their value at cost.",
            columns=[Column("number"), Column("source"), Column("destination"), Column("shipped_at"),
                     Column("sku"), Column("in_transit"), Column("transit_value")],
            filters=[Filter("state", "in", ["shipped", "partial"]), Filter("in_transit", "gt", 0)],
            sort=[Sort("shipped_at"), Sort("number")], builtin=True),
    ]


def _purchase_reports() -> list[ReportDefinition]:
    from backoffice.reports.sources import SOURCES

    if "purchase_orders" not in SOURCES:
        return []
    return [ReportDefinition(
        name="purchase-orders", title="Purchase orders by status and supplier", source="purchase_orders",
        description="Purchase orders, their value and what is still outstanding, by supplier and state.",
        group_by=[GroupBy("supplier"), GroupBy("state")],
        columns=[Column("order_id", "count_distinct", "Orders"), Column("line_value", "sum", "Value"),
                 Column("outstanding_value", "sum", "Outstanding value")],
        chart=ChartSpec("bar", y=["line_value"], title="Purchase order value by supplier"), builtin=True)]


BUILTIN: dict[str, ReportDefinition] = {d.name: d for d in (*_definitions(), *_purchase_reports())}


# -- the forecast step ------------------------------------------------------------------------------------
def _forecast_step(result: Any) -> None:  # a runner.ReportResult (the runner imports this module)
    from backoffice.reports.forecast import forecast_monthly

    frame = result.frame
    month_key, value_key = frame.columns[0], frame.columns[1]
    current = pd.Timestamp(result.compiled.today.replace(day=1))
    values = pd.to_numeric(frame[value_key], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    series = pd.Series(values, index=pd.to_datetime(frame[month_key]))
    notes = []
    if len(series) and series.index[-1] >= current:
        series = series[series.index < current]
        notes.append(f"The current month ({current:%B %Y}) is incomplete and left out of the model.")
    if len(series):
        series = series.reindex(pd.date_range(series.index[0], series.index[-1], freq="MS"), fill_value=0.0)
    fc = forecast_monthly(series)
    months = list(series.index) + list(fc.forecast.index)
    actual = list(series.to_numpy()) + [None] * len(fc.forecast)
    predicted = [None] * len(series) + list(fc.forecast.to_numpy())
    backtest = dict(zip(pd.to_datetime(fc.backtest["month"]), fc.backtest["predicted"])) if len(fc.backtest) else {}
    def money(values: list[Any]) -> pd.Series:
        return pd.Series([to_money(v, result.currency) for v in values], dtype=object)

    out = pd.DataFrame({
        "month": [m.date() for m in months],
        "actual": money(actual),
        "forecast": money(predicted),
        "backtest": money([backtest.get(m) for m in months]),
    })
    result.frame = out
    result.columns = [OutputColumn("month", "Month", "date", "dimension"),
                      OutputColumn("actual", "Revenue", "money", "measure", True),
                      OutputColumn("forecast", "Forecast", "money", "measure"),
                      OutputColumn("backtest", "Backtest prediction", "money", "measure")]
    if fc.mape is not None:
        notes.insert(0, f"Backtest error (MAPE) {fc.mape:.1%}: fitted without the last {len(fc.backtest)} "
                        "complete months, the model predicted them this closely.")
    else:
        notes.insert(0, "Not enough history for a backtest.")
    notes.append(f"Method: {fc.method}; forecast of {len(fc.forecast)} months.")
    # The model leaves the current month out, so the partial-period marks of the query do not apply.
    result.notes = [n for n in result.notes if n not in result.compiled.notes] + notes
    result.forecast = fc


POST_STEPS: dict[str, Callable[[Any], None]] = {"forecast": _forecast_step}
