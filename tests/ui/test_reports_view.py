"""The Reports view on a real database: a built-in report opens with its chart and table, a report built
by choosing fields (buttons and a drop) previews and charts, aggregates change the preview, exports,
save and delete, and a cancelled query stops."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import openpyxl
import pytest
from PySide6.QtCore import QModelIndex, Qt

from backoffice.db import Database
from backoffice.models import Customer, Order, OrderLine
from backoffice.reports.builtin import BUILTIN
from backoffice.reports.runner import QueryHandle, ReportCancelled, run
from backoffice.services.base import Actor
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.reports import ReportsView
from backoffice.ui.views.reports.builder import entry
from tests.conftest import SmallStore

UTC = dt.timezone.utc


@pytest.fixture
def sold(sqlite_db: Database, sqlite_actor: Actor) -> SmallStore:
    """Orders over the last three months from Germany and France, on the real clock (the built-in
    reports read "the last 24 months")."""
    store = SmallStore(sqlite_db, sqlite_actor)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    with sqlite_db.write() as session:
        session.add_all([Customer(id=1, email="a@x.test", country="DE", age_band="25-34", created_at=now),
                         Customer(id=2, email="b@x.test", country="FR", age_band="35-44", created_at=now)])
        session.flush()
        for oid, (cid, days, qty, price) in enumerate([(1, 5, 2, "50.00"), (2, 35, 1, "80.00"), (1, 65, 3, "40.00"),
                                                        (2, 66, 1, "30.00")], start=1):
            session.add(Order(id=oid, number=f"#{oid}", customer_id=cid, ordered_at=now - dt.timedelta(days=days),
                              status="paid", total=Decimal(price) * qty))
            session.flush()
            session.add(OrderLine(order_id=oid, variant_id=store.variant_ids[0], quantity=qty,
                                  unit_price=Decimal(price), discount=Decimal("0")))
    return store


def wait_loaded(qtbot, view: ReportsView) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not view.is_loading() and view.tasks.pending == 0, timeout=20_000)


@pytest.fixture
def view(qtbot, tasks: TaskManager, connected_context, sqlite_db: Database, sqlite_actor: Actor, sold) -> ReportsView:  # type: ignore[no-untyped-def]
    page = ReportsView(connected_context(sqlite_db, sqlite_actor), tasks)
    qtbot.addWidget(page)
    page.resize(1280, 760)
    page.show()
    page.activate()
    wait_loaded(qtbot, page)
    return page


def pick(view: ReportsView, field: str) -> None:
    fields = view.builder.fields
    fields.clearSelection()
    for i in range(fields.count()):
        if entry(fields.item(i))["field"] == field:
            fields.item(i).setSelected(True)
            fields.setCurrentItem(fields.item(i))
            return
    raise AssertionError(f"no field {field}")


def test_a_builtin_report_opens_with_chart_and_table(qtbot, view: ReportsView) -> None:
    assert view.current is not None and view.current.name == "sales-by-month"
    assert view.list_model.row_of("revenue-forecast") >= 0 and view.list_model.row_of("low-stock") >= 0
    model = view.table_model
    assert [c.label for c in model.columns] == ["Month", "Revenue", "Orders", "Units", "Average order value",
                                                   "Refunds", "Net sales"]
    assert model.total_rows >= 2
    revenue = sum(model.value(r, 1) for r in range(model.total_rows))
    assert revenue == pytest.approx(100 + 80 + 120 + 30)
    assert "," in model.display(0, 1) or "." in model.display(0, 1)   # money with two decimals
    assert model.display(0, 1).endswith(("0", "5")) and len(model.display(0, 1).split(".")[-1]) == 2
    assert view.chart.data is not None and view.chart.data.kind == "bar" and view.chart.draws >= 2
    assert view.param_boxes["period"].currentData() == "last_24_months"
    assert "rows" in view.status.text()
    # a parameter narrows the result
    box = view.param_boxes["period"]
    box.setCurrentIndex(box.findData("last_30_days"))
    wait_loaded(qtbot, view)
    assert view.table_model.total_rows == 1
    assert view.table_model.value(0, 1) == pytest.approx(100)


def test_build_a_report_by_choosing_fields(qtbot, view: ReportsView, tmp_path) -> None:
    builder = view.builder
    builder.source_combo.setCurrentIndex(builder.source_combo.findData("orders"))
    assert builder.group_list.count() == builder.column_list.count() == 0
    pick(view, "country")
    builder.to_group.click()
    pick(view, "total")
    builder.to_columns.click()
    # a field dropped on the columns list (the path a drag takes: item data through mime data)
    fields = builder.fields
    row = next(i for i in range(fields.count()) if entry(fields.item(i))["field"] == "order_id")
    mime = fields.model().mimeData([fields.model().index(row, 0)])
    assert builder.column_list.model().dropMimeData(mime, Qt.DropAction.CopyAction, -1, 0, QModelIndex())
    builder.chart_combo.setCurrentIndex(builder.chart_combo.findData("bar"))
    wait_loaded(qtbot, view)
    defn = builder.definition()
    assert [g.field for g in defn.group_by] == ["country"]
    assert [(c.field, c.agg) for c in defn.columns] == [("total", "sum"), ("order_id", "sum")]
    # counting orders rather than adding their ids
    builder.column_list.setCurrentRow(1)
    builder.agg_combo.setCurrentIndex(builder.agg_combo.findData("count_distinct"))
    wait_loaded(qtbot, view)
    model = view.table_model
    rows = {model.value(r, 0): (model.value(r, 1), model.value(r, 2)) for r in range(model.total_rows)}
    assert rows == {"DE": (pytest.approx(220.0), 2), "FR": (pytest.approx(110.0), 2)}
    assert [c.label for c in model.columns] == ["Country", "Total", "Distinct order id"]
    assert view.chart.data is not None and view.chart.data.labels == ["DE", "FR"]
    assert list(view.chart.data.series) == ["Total", "Distinct order id"]

    # pivot the country across columns
    builder.pivot_combo.setCurrentIndex(builder.pivot_combo.findData("country"))
    wait_loaded(qtbot, view)
    assert [c.label for c in view.table_model.columns] == ["Total · DE", "Total · FR", "Distinct order id · DE",
                                                           "Distinct order id · FR"]
    builder.pivot_combo.setCurrentIndex(0)
    wait_loaded(qtbot, view)

    view.export_to(tmp_path / "countries.xlsx", "xlsx")
    wait_loaded(qtbot, view)
    assert view.last_export is not None and view.last_export.rows == 2
    ws = openpyxl.load_workbook(tmp_path / "countries.xlsx")["Report"]
    assert [c.value for c in ws[1]] == ["Country", "Total", "Distinct order id"]
    assert [ws["A2"].value, ws["B2"].value] == ["DE", 220]
    view.export_to(tmp_path / "countries.pdf", "pdf")
    wait_loaded(qtbot, view)
    assert (tmp_path / "countries.pdf").read_bytes()[:4] == b"%PDF"

    view.save(name="Orders by country")
    wait_loaded(qtbot, view)
    assert view.current is not None and view.current.name == "orders-by-country" and not view.current.builtin
    assert view.delete_action.isEnabled() and view.save_button.text() == "Save"
    view.delete(confirm=False)
    wait_loaded(qtbot, view)
    assert view.list_model.row_of("orders-by-country") == -1
    assert view.current is not None and view.current.name == "sales-by-month"


def test_an_impossible_report_says_why(qtbot, view: ReportsView) -> None:
    view.builder.source_combo.setCurrentIndex(view.builder.source_combo.findData("stock"))
    wait_loaded(qtbot, view)
    assert view.results.currentWidget() is view.empty
    assert "choose at least one column" in view.empty.text.text()


def test_duplicate_builtin(qtbot, view: ReportsView) -> None:
    view.select_report("top-products")
    wait_loaded(qtbot, view)
    view.duplicate()
    wait_loaded(qtbot, view)
    assert view.current is not None and view.current.name == "top-products-copy"
    assert view.builder.definition().limit == 25


def test_a_cancelled_query_stops(sqlite_db: Database, sold) -> None:
    handle = QueryHandle()
    handle.cancel()
    with pytest.raises(ReportCancelled):
        run(sqlite_db, BUILTIN["sales-by-day"], handle=handle)


def test_schedules_dialog_adds_lists_and_deletes(qtbot, view: ReportsView, tmp_path) -> None:
    view.open_schedules()
    dialog = view.dialog
    qtbot.waitUntil(lambda: dialog.pending == 0, timeout=10_000)
    assert dialog.table.rowCount() == 0
    dialog.kind.setCurrentIndex(dialog.kind.findData("weekly"))
    dialog.weekday.setCurrentIndex(0)
    dialog.zone.setEditText("Europe/Berlin")
    dialog.folder.setText(str(tmp_path) + "/")
    dialog.add()
    qtbot.waitUntil(lambda: dialog.pending == 0 and dialog.table.rowCount() == 1, timeout=10_000)
    assert dialog.infos[0].spec.describe() == "every Monday at 07:00 (Europe/Berlin)"
    assert dialog.infos[0].spec.params == {"period": "last_24_months"}
    assert dialog.table.item(0, 4).text() == "never run"
    dialog.folder.clear()
    dialog.add()   # no delivery: refused with the reason
    qtbot.waitUntil(lambda: dialog.pending == 0, timeout=10_000)
    assert dialog.banner.isVisible() and dialog.table.rowCount() == 1
    dialog.table.setCurrentCell(0, 0)
    dialog.delete_selected()
    qtbot.waitUntil(lambda: dialog.pending == 0 and dialog.table.rowCount() == 0, timeout=10_000)
    dialog.reject()


def test_due_schedules_run_while_the_app_is_open(qtbot, view: ReportsView, sqlite_db: Database, sqlite_actor: Actor,
                                                 tmp_path) -> None:
    from backoffice.reports.schedules import ScheduleSpec, run_history
    from backoffice.services.report_state import create_schedule

    create_schedule(sqlite_db, sqlite_actor, ScheduleSpec("sales-by-month", "daily", "00:00", format="csv",
                                                          folder_pattern=str(tmp_path / "share") + "/"),
                    starts_at=dt.datetime.now(UTC) - dt.timedelta(days=2))
    assert view._due_timer.isActive()
    view.run_due_schedules()
    qtbot.waitUntil(lambda: view.tasks.pending == 0 and len(run_history(sqlite_db)) == 1, timeout=20_000)
    qtbot.waitUntil(lambda: run_history(sqlite_db)[0].status == "ok", timeout=20_000)
    assert [p.suffix for p in (tmp_path / "share").iterdir()] == [".csv"]


def test_cancel_in_the_view_stops_the_preview(qtbot, view: ReportsView) -> None:
    view.preview()
    assert view.cancel_button.isVisible()
    view.cancel()
    wait_loaded(qtbot, view)
    assert not view.cancel_button.isVisible()
    assert view.status.text() in ("Cancelled", "") or "rows" in view.status.text()  # it may have finished first


def test_the_current_month_is_marked_partial_in_table_and_chart(qtbot, view: ReportsView, sqlite_db: Database,
                                                               sold) -> None:
    from PySide6.QtGui import QFont

    from backoffice.reports.formats import bucket_label

    with sqlite_db.write() as session:   # an order today: the current month has data, and is not over
        session.add(Order(id=99, number="#99", customer_id=1, ordered_at=dt.datetime.now(UTC), status="paid",
                          total=Decimal("10.00")))
        session.flush()
        session.add(OrderLine(order_id=99, variant_id=sold.variant_ids[0], quantity=1, unit_price=Decimal("10.00"),
                              discount=Decimal("0")))
    view.preview()
    wait_loaded(qtbot, view)
    model = view.table_model
    last = model.total_rows - 1
    this_month = dt.datetime.now(UTC).date().replace(day=1)
    assert model.value(last, 0) == this_month
    assert model.display(last, 0) == bucket_label(this_month, "month") + " (partial)"
    assert model.display(0, 0) == bucket_label(model.value(0, 0), "month")   # "Sep 2026", as the exports show
    font = model.data(model.index(last, 0), Qt.ItemDataRole.FontRole)
    assert isinstance(font, QFont) and font.italic()
    assert model.data(model.index(0, 0), Qt.ItemDataRole.FontRole) is None
    data = view.chart.data
    assert data is not None and data.partial[-1] and not any(data.partial[:-1])
    assert data.labels[-1].endswith("(partial)")
    assert any("so far" in line for line in view.notes.text().splitlines())
    # the report's setting leaves it out instead
    view.builder.partial_combo.setCurrentIndex(view.builder.partial_combo.findData("exclude"))
    wait_loaded(qtbot, view)
    assert view.table_model.value(view.table_model.total_rows - 1, 0) < this_month
    assert view.builder.definition().partial_periods == "exclude"


def test_top_products_preview_names_the_amount_gross_profit(qtbot, view: ReportsView) -> None:
    view.select_report("top-products")
    wait_loaded(qtbot, view)
    assert [c.label for c in view.table_model.columns] == ["Product", "Vendor", "Revenue", "Units", "Gross profit",
                                                           "Margin %", "Returned units", "Net sales"]
    assert view.table_model.display(0, 5).endswith("%")


def test_the_shown_report_reruns_only_when_its_own_definition_changes(qtbot, view: ReportsView) -> None:
    from backoffice.operations.changes import REPORTS, STOCK, TRANSFERS, Changes

    started: list[str] = []
    view.query_started.connect(started.append)
    runs = view.query_runs
    view.context.notify_data_changed(Changes.of(STOCK, TRANSFERS, location=[1], transfer=[1]))   # not reports
    wait_loaded(qtbot, view)
    assert view.query_runs == runs and started == []
    view.context.notify_data_changed(Changes.of(REPORTS, schedule=[7]))   # reports, not this definition
    wait_loaded(qtbot, view)
    assert view.query_runs == runs and view.current is not None and view.current.name == "sales-by-month"

    view.save(name="My monthly")   # a new saved report: chosen and run
    wait_loaded(qtbot, view)
    assert view.current is not None and view.current.name == "my-monthly" and view.query_runs == runs + 1
    assert started == ["my-monthly"]
    reports = view.context.ops.reports
    changed = reports.get("my-monthly").copy(limit=1)
    reports.save(changed, expected_version=view.current.version)   # saved again, elsewhere
    view.context.notify_data_changed(Changes.of(REPORTS))
    wait_loaded(qtbot, view)
    assert view.query_runs == runs + 2 and view.builder.definition().limit == 1
    assert view.table_model.total_rows == 1
