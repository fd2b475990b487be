"""Reports with returns, on both engines: refunds and net sales in the sales reports, the return rate of
the sales lines, and "Returns by product and reason" (run from the command line, exported to XLSX and
read back), each compared with the tables themselves after orders, shipments and returns went through
the real services."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from backoffice.cli import main
from backoffice.db import Database
from backoffice.models import Order, OrderLine, Product, Return, ReturnLine, Variant
from backoffice.reports.builtin import BUILTIN
from backoffice.reports.definition import Column, GroupBy, ReportDefinition
from backoffice.reports.exporters import export_report
from backoffice.reports.runner import run
from backoffice.services import catalog, inventory, orders, returns
from backoffice.services.inventory import MoveLine
from backoffice.services.returns import REASONS

RETURNS_REPORT = "returns-by-product-and-reason"
ALL = {"sales_period": "all_time"}


def op() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def returned(db: Database, actor, store):  # type: ignore[no-untyped-def]
    """Merino Crew (S, M) and a Linen Shirt, all sold today and shipped from WH1 except one order:
    o1 4 S at 50.00; o2 2 S at 50.00 and 1 M at 60.00; o3 3 shirts at 40.00; o4 2 shirts, reserved only.
    Returns: R1 (o1) 2 S wrong size, refund 100.00, received and refunded; R2 (o2) 1 S defective
    (written off) and 1 M wrong size, refund 90.00, received and refunded; R3 (o3) 1 shirt changed
    mind, authorised only; R4 (o3) 1 shirt late, received, its refund declined."""
    a, b, _ = store.variant_ids
    wh = store.locations["WH1"]
    shirt = catalog.create_product(db, actor, values={"handle": "linen-shirt", "title": "Linen Shirt",
                                                      "vendor": "Orla", "status": "active"},
                                   variants=[{"sku": "LS-1", "price": "40.00", "cost": "15.00"}]).children[0].entity_id
    inventory.post_moves(db, actor, operation_id=op(), reason="receipt", lines=[
        MoveLine(a, store.locations["SUP"], wh, 20), MoveLine(b, store.locations["SUP"], wh, 5),
        MoveLine(shirt, store.locations["SUP"], wh, 10)])
    o1 = orders.place_order(db, actor, lines=[(a, 4, "50.00")])
    o2 = orders.place_order(db, actor, lines=[(a, 2, "50.00"), (b, 1, "60.00")])
    o3 = orders.place_order(db, actor, lines=[(shirt, 3, "40.00")])
    orders.place_order(db, actor, lines=[(shirt, 2, "40.00")])
    for o in (o1, o2, o3):
        orders.fulfil(db, actor, o, location_id=wh, operation_id=op())
    line = {(o, ln.variant_id): ln.id for o in (o1, o2, o3) for ln in orders.get_order(db, o).lines}

    def rma(order: int, lines: list[tuple[int, int, str, str]], refund: str, *, receive: bool = True,
            refund_status: str | None = "refunded") -> None:
        r = returns.authorise(db, actor, order, lines=lines, refund_amount=refund)
        if receive:
            returns.receive(db, actor, r.id, location_id=wh, operation_id=op())
        if refund_status:
            returns.record_refund(db, actor, r.id, status=refund_status)

    rma(o1, [(line[(o1, a)], 2, "wrong_size", "restock")], "100.00")
    rma(o2, [(line[(o2, a)], 1, "defective", "damaged"), (line[(o2, b)], 1, "wrong_size", "restock")], "90.00")
    rma(o3, [(line[(o3, shirt)], 1, "changed_mind", "restock")], "40.00", receive=False, refund_status=None)
    rma(o3, [(line[(o3, shirt)], 1, "late", "restock")], "40.00", refund_status="declined")
    return store


def _sql_returns(db: Database) -> dict[tuple[str, str], int]:
    """Units received back per (product, reason label), straight from the tables."""
    with db.read() as s:
        rows = s.execute(select(Product.title, ReturnLine.reason, func.sum(ReturnLine.quantity))
                         .join(Return, Return.id == ReturnLine.return_id)
                         .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
                         .join(Variant, Variant.id == OrderLine.variant_id)
                         .join(Product, Product.id == Variant.product_id)
                         .where(Return.state == "received")
                         .group_by(Product.title, ReturnLine.reason)).all()
    return {(title, REASONS[reason]): int(q) for title, reason, q in rows}


def _sql_shipped(db: Database) -> dict[str, int]:
    with db.read() as s:
        return {title: int(q) for title, q in s.execute(
            select(Product.title, func.sum(OrderLine.fulfilled)).join(Variant, Variant.id == OrderLine.variant_id)
            .join(Product, Product.id == Variant.product_id).group_by(Product.title))}


def _sql_refunded(db: Database) -> Decimal:
    with db.read() as s:
        return Decimal(str(s.scalar(select(func.sum(Return.refund_amount)).where(Return.refund_status == "refunded"))))


def test_returns_by_product_and_reason_agree_with_the_tables(db: Database, returned) -> None:
    result = run(db, BUILTIN[RETURNS_REPORT], ALL)
    assert [c.label for c in result.columns] == ["Product", "Reason", "Returned units", "Units shipped", "Return rate",
                                                 "Refunds"]
    rows = result.frame.values.tolist()
    # the refund of R2 (90.00) shared by what its units cost: 50.00 of S, 60.00 of M
    assert rows == [
        ["Merino Crew", "Wrong size or fit", 3, 7, pytest.approx(3 / 7), Decimal("149.09")],
        ["Linen Shirt", "Arrived too late", 1, 3, pytest.approx(1 / 3), Decimal("0.00")],
        ["Merino Crew", "Defective", 1, 7, pytest.approx(1 / 7), Decimal("40.91")],
    ]
    sql = _sql_returns(db)
    shipped = _sql_shipped(db)
    assert {(p, r): units for p, r, units, *_ in rows} == sql
    assert all(units_shipped == shipped[p] and rate == pytest.approx(units / shipped[p])
               for p, _, units, units_shipped, rate, _ in rows)
    assert sum(r[5] for r in rows) == _sql_refunded(db) == Decimal("190.00")   # the declined refund is no money back
    # the period is the orders': none placed last year, nothing to show
    assert run(db, BUILTIN[RETURNS_REPORT], {"sales_period": "last_year"}).frame.empty


def test_sales_reports_subtract_refunds(db: Database, returned) -> None:
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    by_day = run(db, BUILTIN["sales-by-day"], today=tomorrow).frame
    labels = [c.label for c in run(db, BUILTIN["sales-by-day"], today=tomorrow).columns]
    assert labels[-2:] == ["Refunds", "Net sales"]
    with db.read() as s:
        revenue = Decimal(str(s.scalar(select(func.sum(OrderLine.quantity * OrderLine.unit_price - OrderLine.discount))
                                       .join(Order, Order.id == OrderLine.order_id).where(Order.status == "paid"))))
    assert revenue == Decimal("560.00")
    assert by_day["sum_revenue"].sum() == revenue
    assert by_day["sum_refunds"].sum() == _sql_refunded(db) == Decimal("190.00")
    assert by_day["sum_net_revenue"].sum() == revenue - Decimal("190.00")
    top = run(db, BUILTIN["top-products"], {"period": "all_time"}).frame.set_index("product")
    assert top.loc["Merino Crew", "sum_returned"] == 4 and top.loc["Linen Shirt", "sum_returned"] == 1
    assert top.loc["Merino Crew", "sum_net_revenue"] == Decimal("360.00") - Decimal("190.00")
    assert top.loc["Linen Shirt", "sum_net_revenue"] == Decimal("200.00")   # the declined refund not subtracted
    # the sales lines' return rate: returned over shipped units, whatever the grouping
    rate = ReportDefinition(name="rate", source="sales_lines", group_by=[GroupBy("product")],
                            columns=[Column("returned", "sum"), Column("shipped", "sum"), Column("return_rate")])
    got = {r[0]: tuple(r[1:]) for r in run(db, rate).frame.values.tolist()}
    assert got == {"Merino Crew": (4, 7, pytest.approx(4 / 7)), "Linen Shirt": (1, 3, pytest.approx(1 / 3))}


def test_returns_report_from_the_command_line_to_xlsx(db: Database, returned, tmp_path) -> None:
    out = tmp_path / "returns.xlsx"
    ran = CliRunner().invoke(main, ["--user", "tester", "reports", "run", RETURNS_REPORT, "--out", str(out),
                                    "--param", "sales_period=all_time",
                                    "--db", db.engine.url.render_as_string(hide_password=False)])
    assert ran.exit_code == 0, ran.output + ran.stderr
    ws = openpyxl.load_workbook(out)["Report"]
    assert [c.value for c in ws[1]] == ["Product", "Reason", "Returned units", "Units shipped", "Return rate", "Refunds"]
    body = [[c.value for c in row] for row in ws.iter_rows(min_row=2) if row[0].value not in (None, "Total")]
    sql, shipped = _sql_returns(db), _sql_shipped(db)
    assert {(p, r): units for p, r, units, *_ in body} == sql
    for product, _, units, units_shipped, rate, refund in body:
        assert units_shipped == shipped[product] and rate == pytest.approx(units / shipped[product])
    assert sum(Decimal(str(r[5])) for r in body) == _sql_refunded(db)
    # and the same through the exporter directly
    export_report(db, BUILTIN[RETURNS_REPORT], tmp_path / "direct.xlsx", params=ALL)
    again = openpyxl.load_workbook(tmp_path / "direct.xlsx")["Report"]
    assert [[c.value for c in row] for row in again.iter_rows(min_row=2)
            if row[0].value not in (None, "Total")] == body


def test_an_order_refunded_since_keeps_its_sale_and_the_refund_is_subtracted_once(db: Database, actor, returned) -> None:  # type: ignore[no-untyped-def]
    """The store reports o1 partly refunded and o2 refunded: their sales stay in gross sales (the refunds
    column takes the money back), so net sales are the same as before the store said so."""
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    before = run(db, BUILTIN["sales-by-day"], today=tomorrow).frame[["sum_revenue", "sum_refunds", "sum_net_revenue"]].sum()
    with db.read() as s:
        first, second = s.scalars(select(Order.id).order_by(Order.id).limit(2)).all()
    orders.record_payment(db, actor, first, status="partially_refunded")
    orders.record_payment(db, actor, second, status="refunded")
    after = run(db, BUILTIN["sales-by-day"], today=tomorrow).frame[["sum_revenue", "sum_refunds", "sum_net_revenue"]].sum()
    assert list(after) == list(before) == [Decimal("560.00"), Decimal("190.00"), Decimal("370.00")]
    top = run(db, BUILTIN["top-products"], {"period": "all_time"}).frame.set_index("product")
    assert top.loc["Merino Crew", "sum_net_revenue"] == Decimal("170.00")
    # a store-cancelled order is no sale
    orders.record_payment(db, actor, second, status="cancelled")
    assert run(db, BUILTIN["sales-by-day"], today=tomorrow).frame["sum_revenue"].sum() == Decimal("560.00") - Decimal("160.00")
