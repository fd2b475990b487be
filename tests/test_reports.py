"""Reports: definitions compile to parameterised SQL, aggregate in the database with known answers on a
crafted sales history (SQLite and PostgreSQL), date buckets, pivot, built-ins, the forecast, saved
reports, and the XLSX / CSV / PDF exports read back."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import numpy as np
import openpyxl
import pandas as pd
import pytest
from sqlalchemy.dialects import postgresql, sqlite

from backoffice.db import Database
from backoffice.models import Customer, Order, OrderLine, Product
from backoffice.reports import library
from backoffice.reports.builtin import BUILTIN
from backoffice.reports.compiler import compile_report
from backoffice.reports.dates import relative_range
from backoffice.reports.definition import (
    ChartSpec,
    Column,
    DefinitionError,
    Filter,
    GroupBy,
    ReportDefinition,
    Sort,
)
from backoffice.reports.exporters import export_report
from backoffice.reports.forecast import forecast_monthly
from backoffice.reports.runner import run
from backoffice.services import report_state
from backoffice.services.base import ConflictError, ValidationError

UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def sales(db: Database, store):  # type: ignore[no-untyped-def]
    """Six orders: paid ones in Dec 2025, Jan, Feb and Apr 2026, one cancelled, one from a guest."""
    s, m, l_ = store.variant_ids
    with db.write() as session:
        session.add_all([Customer(id=1, email="a@x.test", country="DE", age_band="25-34", created_at=at("2025-06-01")),
                         Customer(id=2, email="b@x.test", country="FR", age_band="35-44", created_at=at("2025-07-01"))])
        session.flush()
        orders = [  # id, customer, when, status, lines (variant, qty, price, discount)
            (1, 1, "2026-01-15T10:00", "paid", [(s, 2, "50.00", "0"), (m, 1, "60.00", "10.00")]),
            (2, 2, "2026-01-20T09:00", "paid", [(s, 1, "50.00", "0")]),
            (3, 1, "2026-02-03T12:00", "paid", [(l_, 3, "40.00", "5.00")]),
            (4, 2, "2026-02-10T12:00", "cancelled", [(s, 10, "50.00", "0")]),
            (5, 2, "2026-04-01T00:30", "paid", [(m, 1, "60.00", "0")]),
            (6, None, "2025-12-31T23:30", "paid", [(l_, 1, "40.00", "0")]),
        ]
        for oid, cid, when, status, lines in orders:
            total = sum(Decimal(p) * q - Decimal(d) for _, q, p, d in lines)
            session.add(Order(id=oid, number=f"#{1000 + oid}", customer_id=cid, ordered_at=at(when), status=status,
                              total=total))
            session.flush()
            for vid, q, p, d in lines:
                session.add(OrderLine(order_id=oid, variant_id=vid, quantity=q, unit_price=Decimal(p),
                                      discount=Decimal(d)))
    return store


def monthly() -> ReportDefinition:
    return ReportDefinition(
        name="monthly", source="sales_lines", group_by=[GroupBy("ordered_at", "month")],
        columns=[Column("revenue", "sum"), Column("order_id", "count_distinct", "Orders"), Column("quantity", "sum"),
                 Column("gross_profit"), Column("avg_order_value")],
        filters=[Filter("order_status", "eq", "paid")])


# -- compilation ----------------------------------------------------------------------------------------
def test_user_values_are_bound_parameters_never_sql_text() -> None:
    hostile = "Norda'; DROP TABLE orders; --"
    defn = ReportDefinition(
        name="x", source="sales_lines", group_by=[GroupBy("ordered_at", "week"), GroupBy("country")],
        columns=[Column("revenue", "sum")],
        filters=[Filter("vendor", "contains", hostile), Filter("country", "in", ["DE", "FR"]),
                 Filter("ordered_at", "range", "last_month"), Filter("quantity", "gte", 3)],
        limit=17)
    for dialect, name in ((postgresql.dialect(), "postgresql"), (sqlite.dialect(), "sqlite")):
        compiled = compile_report(defn, name, today=dt.date(2026, 3, 10)).statement.compile(dialect=dialect)
        text = str(compiled)
        for literal in ("DROP", "Norda", "'DE'", "2026", "17", "'3'"):
            assert literal not in text, (name, literal)
        values = list(compiled.params.values())
        assert any(hostile.lower() in str(v) for v in values)
        assert ["DE", "FR"] in values and 17 in values and 3 in values
        assert at("2026-02-01") in values and at("2026-03-01") in values
        assert "GROUP BY 1, 2" in text


def test_unknown_names_are_one_clear_error() -> None:
    with pytest.raises(DefinitionError, match="has no field 'colour'"):
        compile_report(ReportDefinition(name="x", source="sales_lines", columns=[Column("revenue", "sum")],
                                        filters=[Filter("colour", "eq", "red")]), "sqlite")
    with pytest.raises(DefinitionError, match="unknown source"):
        compile_report(ReportDefinition(name="x", source="weather", columns=[Column("x")]), "sqlite")
    with pytest.raises(DefinitionError, match="unknown aggregate"):
        compile_report(ReportDefinition(name="x", source="orders", columns=[Column("total", "median")]), "sqlite")
    with pytest.raises(DefinitionError, match="cannot be bucketed"):
        compile_report(ReportDefinition(name="x", source="orders", group_by=[GroupBy("status", "month")],
                                        columns=[Column("total", "sum")]), "sqlite")
    with pytest.raises(DefinitionError, match="not a valid int"):
        compile_report(ReportDefinition(name="x", source="sales_lines", columns=[Column("revenue", "sum")],
                                        filters=[Filter("quantity", "gt", "lots")]), "sqlite")


def test_definitions_round_trip_through_json() -> None:
    for defn in [*BUILTIN.values(), monthly()]:
        again = ReportDefinition.from_json(defn.to_json())
        assert again.to_dict() == defn.to_dict()


def test_relative_ranges() -> None:
    today = dt.date(2026, 3, 10)  # a Tuesday
    assert relative_range("last_month", today) == (dt.date(2026, 2, 1), dt.date(2026, 3, 1))
    assert relative_range("last_week", today) == (dt.date(2026, 3, 2), dt.date(2026, 3, 9))
    assert relative_range("last_quarter", today) == (dt.date(2025, 10, 1), dt.date(2026, 1, 1))
    assert relative_range("last_7_days", today) == (dt.date(2026, 3, 4), dt.date(2026, 3, 11))
    assert relative_range("last_month", dt.date(2026, 1, 5)) == (dt.date(2025, 12, 1), dt.date(2026, 1, 1))


# -- known answers on both engines ----------------------------------------------------------------------
def test_monthly_totals_aggregate_in_the_database(db: Database, sales) -> None:
    result = run(db, monthly())
    frame = result.frame
    assert [d.isoformat() for d in frame["ordered_at_month"]] == ["2025-12-01", "2026-01-01", "2026-02-01", "2026-04-01"]
    assert frame["sum_revenue"].round(2).tolist() == [40.0, 200.0, 115.0, 60.0]
    assert frame["count_distinct_order_id"].tolist() == [1, 2, 1, 1]
    assert frame["sum_quantity"].tolist() == [1, 4, 3, 1]
    assert frame["gross_profit"].tolist() == [Decimal("19.00"), Decimal("116.00"), Decimal("52.00"),
                                              Decimal("39.00")]  # cost 21.00 a unit
    assert frame["avg_order_value"].round(2).tolist() == [40.0, 100.0, 115.0, 60.0]
    assert [c.label for c in result.columns] == ["Month", "Revenue", "Orders", "Units", "Gross profit",
                                                 "Average order value"]
    # money is Decimal rounded to the currency's places, never a float with binary noise
    assert all(type(v) is Decimal and v.as_tuple().exponent == -2 for v in frame["sum_revenue"])
    # a definition saved when the amount was called "margin" still runs, under its honest name
    legacy = run(db, monthly().copy(columns=[Column("margin"), Column("margin_pct")]))
    assert [c.label for c in legacy.columns] == ["Month", "Gross profit", "Margin %"]
    assert legacy.frame["margin"].tolist() == frame["gross_profit"].tolist()
    assert legacy.frame["margin_pct"].round(4).tolist() == [round(19 / 40, 4), round(116 / 200, 4),
                                                             round(52 / 115, 4), round(39 / 60, 4)]


@pytest.mark.parametrize(("bucket", "expected"), [
    ("day", {"2025-12-31": 40, "2026-01-15": 150, "2026-01-20": 50, "2026-02-03": 115, "2026-04-01": 60}),
    ("week", {"2025-12-29": 40, "2026-01-12": 150, "2026-01-19": 50, "2026-02-02": 115, "2026-03-30": 60}),
    ("quarter", {"2025-10-01": 40, "2026-01-01": 315, "2026-04-01": 60}),
    ("year", {"2025-01-01": 40, "2026-01-01": 375}),
])
def test_date_buckets(db: Database, sales, bucket: str, expected: dict[str, int]) -> None:
    defn = ReportDefinition(name="b", source="sales_lines", group_by=[GroupBy("ordered_at", bucket)],
                            columns=[Column("revenue", "sum")], filters=[Filter("order_status", "eq", "paid")])
    frame = run(db, defn).frame
    assert {d.isoformat(): round(v, 2) for d, v in zip(frame.iloc[:, 0], frame["sum_revenue"])} == expected


def test_filters_relative_range_and_parameters(db: Database, sales) -> None:
    defn = monthly().copy(filters=[Filter("order_status", "eq", "paid"),
                                   Filter("ordered_at", "range", "last_month", param="period")],
                          params={"period": "last_month"})
    frame = run(db, defn, today=dt.date(2026, 2, 15)).frame
    assert frame["sum_revenue"].round(2).tolist() == [200.0]
    frame = run(db, defn, {"period": "2026-02-01..2026-05-01"}, today=dt.date(2026, 2, 15)).frame
    assert frame["sum_revenue"].round(2).tolist() == [115.0, 60.0]
    with pytest.raises(DefinitionError, match="no parameter wrong"):
        run(db, defn, {"wrong": "x"})
    listing = ReportDefinition(name="l", source="sales_lines",
                               columns=[Column("order_number"), Column("sku"), Column("quantity")],
                               filters=[Filter("country", "in", "DE, FR"), Filter("quantity", "gte", 2),
                                        Filter("order_status", "ne", "cancelled")],
                               sort=[Sort("quantity", True)])
    assert run(db, listing).frame.values.tolist() == [["#1003", "MC-L", 3], ["#1001", "MC-S", 2]]


def test_several_group_by_levels_pivot_sort_limit_and_having(db: Database, sales) -> None:
    defn = ReportDefinition(
        name="p", source="sales_lines", group_by=[GroupBy("ordered_at", "month"), GroupBy("country")],
        columns=[Column("revenue", "sum")],
        filters=[Filter("order_status", "eq", "paid"), Filter("country", "not_null")], pivot="country")
    result = run(db, defn)
    frame = result.frame
    assert list(frame.columns) == ["ordered_at_month", "DE", "FR"]
    assert frame.fillna(0).round(2).values[:, 1:].tolist() == [[150.0, 50.0], [115.0, 0.0], [0.0, 60.0]]
    assert [c.label for c in result.columns] == ["Month", "DE", "FR"]

    top = ReportDefinition(name="t", source="sales_lines", group_by=[GroupBy("sku")],
                           columns=[Column("quantity", "sum"), Column("revenue", "sum")],
                           filters=[Filter("order_status", "eq", "paid"), Filter("sum_revenue", "gt", 50)],
                           sort=[Sort("revenue", True)], limit=2)
    assert run(db, top).frame.round(2).values.tolist() == [["MC-L", 4, 155.0], ["MC-S", 3, 150.0]]

    customers = ReportDefinition(name="c", source="orders", group_by=[GroupBy("customer_type")],
                                 columns=[Column("*", "count"), Column("total", "sum")],
                                 filters=[Filter("status", "eq", "paid")])
    frame = run(db, customers).frame
    assert {r[0]: (r[1], round(r[2], 2)) for r in frame.values.tolist()} == {
        "guest": (1, 40.0), "new": (2, 200.0), "returning": (2, 175.0)}


def test_every_builtin_report_runs(db: Database, sales) -> None:
    assert {"sales-by-day", "sales-by-week", "sales-by-month", "revenue-forecast", "top-products", "top-variants",
            "customers-by-country", "customers-by-age", "new-vs-returning", "inventory-valuation", "low-stock",
            "slow-movers", "stock-movements", "transfers-in-transit", "purchase-orders"} <= set(BUILTIN)
    for name, defn in BUILTIN.items():
        if defn.post == "forecast":
            continue  # six months of history is too little; tested on a synthetic series below
        result = run(db, defn, today=dt.date(2026, 4, 20))
        assert list(result.frame.columns) == [c.key for c in result.columns], name
    top = run(db, BUILTIN["top-products"], {"period": "all_time"})
    assert [c.label for c in top.columns] == ["Product", "Vendor", "Revenue", "Units", "Gross profit", "Margin %",
                                              "Returned units", "Net sales"]
    assert top.frame.values.tolist() == [["Merino Crew", "Norda", Decimal("415.00"), 9, Decimal("226.00"),
                                          pytest.approx(226 / 415), 0, Decimal("415.00")]]   # nothing came back


# -- forecast ---------------------------------------------------------------------------------------------
def _seasonal(months: int, seed: int = 7) -> pd.Series:
    t = np.arange(months)
    season = 1 + 0.35 * np.sin(2 * np.pi * (t % 12) / 12)
    noise = 1 + np.random.default_rng(seed).normal(0, 0.02, months)
    return pd.Series((50_000 + 800 * t) * season * noise, index=pd.date_range("2023-01-01", periods=months, freq="MS"))


@pytest.mark.parametrize("months", [36, 24])
def test_forecast_on_a_seasonal_series_is_within_its_backtest_bound(months: int) -> None:
    series = _seasonal(months + 3)
    history, future = series[:months], series[months:]
    fc = forecast_monthly(history)
    assert list(fc.forecast.index) == list(future.index)
    assert fc.mape is not None and fc.mape < 0.08
    assert len(fc.backtest) == 3
    error = float(np.mean(np.abs(fc.forecast.to_numpy() - future.to_numpy()) / future.to_numpy()))
    assert error < 0.08
    assert "Holt-Winters" in fc.method


def test_forecast_report_shows_backtest_error(db: Database, sales) -> None:
    with db.write() as session:  # two years of monthly orders on top of the crafted ones
        for i, value in enumerate(_seasonal(26).to_numpy()):
            when = pd.Timestamp("2024-01-10") + pd.DateOffset(months=i)
            session.add(Order(id=100 + i, number=f"#S{i}", ordered_at=when.to_pydatetime().replace(tzinfo=UTC),
                              status="paid", total=Decimal("0")))
            session.flush()
            session.add(OrderLine(order_id=100 + i, variant_id=sales.variant_ids[0], quantity=1,
                                  unit_price=Decimal(f"{value:.2f}"), discount=Decimal("0")))
    result = run(db, BUILTIN["revenue-forecast"].copy(filters=[Filter("order_status", "eq", "paid"),
                                                                Filter("ordered_at", "range",
                                                                       {"from": "2024-01-01", "to": "2026-03-01"})]),
                 today=dt.date(2026, 3, 15))
    assert [c.key for c in result.columns] == ["month", "actual", "forecast", "backtest"]
    assert result.frame["forecast"].notna().sum() == 3
    assert result.frame["backtest"].notna().sum() == 3
    assert result.forecast.mape is not None
    assert any(n.startswith("Backtest error (MAPE)") for n in result.notes)


# -- saved reports ----------------------------------------------------------------------------------------
def test_save_duplicate_delete_and_conflicts(db: Database, actor, sales) -> None:
    defn = monthly().copy(name="my-monthly", title="My monthly")
    version = report_state.save_report(db, actor, defn)
    assert library.get_report(db, "my-monthly").to_dict() == defn.to_dict()
    with pytest.raises(ValidationError, match="already exists"):
        report_state.save_report(db, actor, defn)
    changed = defn.copy(limit=2)
    new_version = report_state.save_report(db, actor, changed, expected_version=version)
    with pytest.raises(ConflictError):
        report_state.save_report(db, actor, changed, expected_version=version)
    assert new_version == version + 1
    copy = report_state.duplicate_report(db, actor, "sales-by-month")
    assert copy.name == "sales-by-month-copy" and not copy.builtin
    assert report_state.duplicate_report(db, actor, "sales-by-month").name == "sales-by-month-copy-2"
    names = [e.name for e in library.list_reports(db)]
    assert {"my-monthly", "sales-by-month-copy", "sales-by-month-copy-2"} <= set(names)
    report_state.delete_report(db, actor, "my-monthly")
    with pytest.raises(ValidationError, match="built in"):
        report_state.delete_report(db, actor, "sales-by-month")
    with pytest.raises(ValidationError, match="has no field"):
        report_state.save_report(db, actor, defn.copy(name="bad", columns=[Column("nothing")]))


# -- exports --------------------------------------------------------------------------------------------
def _hostile_title(db: Database) -> None:
    with db.write() as session:
        session.query(Product).update({"title": "=HYPERLINK(\"http://evil.test\",\"x\")"})


def test_xlsx_export_reads_back(db: Database, sales, tmp_path) -> None:
    _hostile_title(db)
    defn = ReportDefinition(
        name="by-product", title="By product", source="sales_lines",
        group_by=[GroupBy("ordered_at", "month"), GroupBy("product")],
        columns=[Column("revenue", "sum"), Column("quantity", "sum"), Column("avg_order_value")],
        filters=[Filter("order_status", "eq", "paid")], chart=ChartSpec("bar", y=["revenue"]))
    result = export_report(db, defn, tmp_path / "r.xlsx")
    assert (result.rows, result.sheets) == (4, 1)
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert wb.sheetnames == ["Report", "Chart", "Parameters", "Chart data"]
    assert wb["Chart data"].sheet_state == "hidden"
    ws = wb["Report"]
    assert [c.value for c in ws[1]] == ["Month", "Product", "Revenue", "Units", "Average order value"]
    assert ws[1][0].font.b and ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:E5"
    assert ws["A2"].number_format == "mmm yyyy" and ws["A2"].value == dt.datetime(2025, 12, 1)
    assert ws["C2"].number_format == '"€"#,##0.00;-"€"#,##0.00' and ws["D2"].number_format == "#,##0"
    title = ws["B2"]   # text, never a formula, and no apostrophe added to it: the style says "text"
    assert title.data_type == "s" and title.value == '=HYPERLINK("http://evil.test","x")' and title.quotePrefix
    assert ws["A6"].value == "Total" if ws["A6"].value else ws["B6"].value == "Total"
    assert ws["C6"].value == "=SUBTOTAL(109,C2:C5)" and ws["E6"].value is None   # averages are not totalled
    assert ws.column_dimensions["B"].width >= 30
    cached = openpyxl.load_workbook(tmp_path / "r.xlsx", data_only=True)["Report"]
    assert cached["C6"].value == pytest.approx(415.0) and cached["D6"].value == 9
    assert len(wb["Chart"]._charts) == 1
    params = {r[0].value: r[1].value for r in wb["Parameters"].iter_rows(min_row=2)}
    assert params["Report"] == "By product" and params["Filter"] == "Order status is paid" and params["Rows"] == "4"
    assert params["Currency"] == "EUR" and params["Time zone"].startswith("Dates and periods are in UTC")


def test_xlsx_continues_on_further_sheets_past_the_row_limit(db: Database, sales, tmp_path) -> None:
    listing = ReportDefinition(name="lines", source="sales_lines",
                               columns=[Column("order_number"), Column("sku"), Column("quantity"), Column("revenue")],
                               sort=[Sort("order_number"), Sort("sku")])
    result = export_report(db, listing, tmp_path / "lines.xlsx", max_sheet_rows=4)   # 2 data rows a sheet
    assert (result.rows, result.sheets) == (7, 4)
    wb = openpyxl.load_workbook(tmp_path / "lines.xlsx")
    data = [s for s in wb.sheetnames if s.startswith("Report")]
    assert data == ["Report", "Report (2)", "Report (3)", "Report (4)"]
    rows = [r for name in data for r in wb[name].iter_rows(min_row=2, values_only=True) if r[0] != "Total"]
    assert [r[0] for r in rows] == ["#1001", "#1001", "#1002", "#1003", "#1004", "#1005", "#1006"]
    last = wb["Report (4)"]
    assert all(wb[n].freeze_panes == "A2" and wb[n]["A1"].value == "Order" for n in data)
    assert last["C3"].value.startswith("=SUM(") and "'Report (2)'!C2:C3" in last["C3"].value
    assert openpyxl.load_workbook(tmp_path / "lines.xlsx", data_only=True)["Report (4)"]["C3"].value == 19


def test_csv_and_pdf_exports(db: Database, sales, tmp_path) -> None:
    _hostile_title(db)
    defn = ReportDefinition(name="p", source="sales_lines", group_by=[GroupBy("product")],
                            columns=[Column("revenue", "sum"), Column("margin_pct")],
                            filters=[Filter("order_status", "eq", "paid")], chart=ChartSpec("pie"))
    export_report(db, defn, tmp_path / "p.csv")
    with open(tmp_path / "p.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["Product", "Revenue", "Margin %"]
    assert rows[1][0].startswith("'=HYPERLINK") and rows[1][1] == "415.00"
    assert float(rows[1][2]) == pytest.approx(226 / 415)
    pdf = export_report(db, defn, tmp_path / "p.pdf")
    assert (tmp_path / "p.pdf").read_bytes()[:5] == b"%PDF-" and pdf.rows == 1
    empty = defn.copy(filters=[Filter("order_status", "eq", "nothing-like-this")])
    for fmt in ("csv", "xlsx", "pdf"):
        out = export_report(db, empty, tmp_path / f"empty.{fmt}")
        assert out.rows == 0 and out.path.stat().st_size > 0
    with open(tmp_path / "empty.csv", encoding="utf-8") as fh:
        assert fh.read().strip() == "Product,Revenue,Margin %"
    assert [c.value for c in openpyxl.load_workbook(tmp_path / "empty.xlsx")["Report"][1]] == \
        ["Product", "Revenue", "Margin %"]
    assert not list(tmp_path.glob(".*part"))  # no temporary files left behind


def test_csv_reads_the_same_from_either_path(db: Database, sales, tmp_path) -> None:
    """On PostgreSQL CSV comes from COPY with the formatting done in SQL; it must read back exactly as
    the Python writer's output of the same rows does."""
    from backoffice.reports.exporters import write
    from backoffice.reports.runner import ReportResult, stream

    _hostile_title(db)
    defn = ReportDefinition(
        name="lines", source="sales_lines",
        columns=[Column("order_number"), Column("ordered_at"), Column("product"), Column("quantity"),
                 Column("unit_price"), Column("revenue")],
        filters=[Filter("country", "in", ["DE", "FR"]), Filter("ordered_at", "range", "all_time")],
        sort=[Sort("order_number"), Sort("quantity")])
    fast = export_report(db, defn, tmp_path / "fast.csv")
    compiled = compile_report(defn, db.dialect)
    plain = write(ReportResult(compiled, pd.DataFrame(), list(compiled.outputs)), stream(db, compiled),
                  tmp_path / "plain.csv", "csv")
    assert fast.rows == plain.rows == 6

    def rows(name: str) -> list[list[str]]:
        with open(tmp_path / name, newline="", encoding="utf-8") as fh:
            return list(csv.reader(fh))

    assert rows("fast.csv") == rows("plain.csv")
    assert rows("fast.csv")[1] == ["#1001", "2026-01-15 10:00:00", "'=HYPERLINK(\"http://evil.test\",\"x\")", "1",
                                   "60.00", "50.00"]


def test_stock_transfer_and_purchase_reports_with_known_answers(db: Database, actor, store) -> None:
    from backoffice.models import PurchaseOrder, PurchaseOrderLine, Supplier
    from backoffice.services import alerts, inventory, transfers
    from backoffice.services.inventory import MoveLine

    s, m, l_ = store.variant_ids
    wh, shop, sup = store.locations["WH1"], store.locations["SHOP"], store.locations["SUP"]
    inventory.post_moves(db, actor, operation_id="in-1", reason="receipt",
                         lines=[MoveLine(s, sup, wh, 10), MoveLine(m, sup, wh, 2), MoveLine(l_, sup, shop, 5)])
    alerts.set_threshold(db, actor, variant_id=m, location_id=wh, threshold=3)
    transfers.create_and_ship(db, actor, source_location_id=wh, destination_location_id=shop, lines=[(s, 4)],
                              operation_id="ship-1")

    valuation = run(db, BUILTIN["inventory-valuation"]).frame
    by_location = valuation.groupby("location")[["sum_on_hand", "sum_stock_value"]].sum().round(2)
    assert by_location.loc["WH1"].tolist() == [8.0, 168.0] and by_location.loc["SHOP"].tolist() == [5.0, 105.0]
    low = run(db, BUILTIN["low-stock"]).frame
    assert low[["location", "sku", "available", "threshold", "shortfall"]].values.tolist() == [["WH1", "MC-M", 2, 3, 1]]
    transit = run(db, BUILTIN["transfers-in-transit"]).frame
    assert transit[["source", "destination", "sku", "in_transit"]].values.tolist() == [["WH1", "SHOP", "MC-S", 4]]
    assert transit["transit_value"].round(2).tolist() == [84.0]
    moves = run(db, BUILTIN["stock-movements"], {"period": "all_time"}).frame
    assert set(moves.columns) >= {"receipt"} and int(moves["receipt"].sum()) == 17

    with db.write() as session:
        session.add(Supplier(id=1, name="Norda Mills"))
        session.flush()
        for pid, state, qty, received in ((1, "sent", 10, 0), (2, "partial", 6, 4), (3, "received", 5, 5)):
            session.add(PurchaseOrder(id=pid, number=f"PO-{pid}", state=state, supplier_id=1,
                                      destination_location_id=wh, currency="EUR"))
            session.flush()
            session.add(PurchaseOrderLine(order_id=pid, variant_id=s, quantity=qty, unit_cost=Decimal("20.00"),
                                          received=received))
    po = run(db, BUILTIN["purchase-orders"]).frame.round(2)
    assert po.values.tolist() == [["Norda Mills", "partial", 1, 120.0, 40.0], ["Norda Mills", "received", 1, 100.0, 0.0],
                                  ["Norda Mills", "sent", 1, 200.0, 200.0]]
    slow = run(db, BUILTIN["slow-movers"]).frame
    assert set(slow["sku"]) == {"MC-S", "MC-M", "MC-L"} and (slow["sell_through"].fillna(0) == 0).all()
    with db.write() as session:  # 2 of MC-L sold last week: 2 / (2 + 5 on hand)
        session.add(Order(id=9, number="#9", ordered_at=dt.datetime.now(UTC) - dt.timedelta(days=7), status="paid",
                          total=Decimal("80.00")))
        session.flush()
        session.add(OrderLine(order_id=9, variant_id=l_, quantity=2, unit_price=Decimal("40.00")))
    slow = run(db, BUILTIN["slow-movers"], {"sales_period": "last_30_days"}).frame.set_index("sku")
    assert slow.loc["MC-L", "sell_through"] == pytest.approx(2 / 7) and slow.loc["MC-L", "sum_units_sold"] == 2
    assert run(db, BUILTIN["slow-movers"], {"sales_period": "yesterday"}).frame["sum_units_sold"].sum() == 0
