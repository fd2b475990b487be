"""Report files a manager can hand on, read back with openpyxl: periods as real dates in their bucket's
number format (and the chart's axis in it), money as rounded amounts in a currency format, charts of at
most TOP_N categories plus "Other", page setup for printing, the Parameters sheet in words, the partial
current period marked (or left out), text from data never a formula and never altered, and files that
appear whole with the user's umask."""

from __future__ import annotations

import csv
import datetime as dt
import os
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from matplotlib.figure import Figure

from backoffice.db import Database
from backoffice.models import Order, OrderLine
from backoffice.reports import charts, exporters
from backoffice.reports.builtin import BUILTIN
from backoffice.reports.compiler import compile_report
from backoffice.reports.dates import partial_buckets
from backoffice.reports.definition import ChartSpec, Column, Filter, GroupBy, ReportDefinition
from backoffice.reports.exporters import export_report, pdf_pages, write
from backoffice.reports.formats import bucket_label, money_format, to_money
from backoffice.reports.runner import ReportResult, run
from tests.test_reports import at, sales  # noqa: F401 - the fixture of six orders, Dec 2025 to Apr 2026

TODAY = dt.date(2026, 4, 20)   # April 2026 is the current, partial month of the crafted sales
EURO = '"€"#,##0.00;-"€"#,##0.00'


def by_month(**changes) -> ReportDefinition:  # type: ignore[no-untyped-def]
    defn = BUILTIN["sales-by-month"].copy(builtin=False)
    for k, v in changes.items():
        setattr(defn, k, v)
    return defn


def read(path: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(path)


# -- periods, money and the chart's axis ---------------------------------------------------------------------
def test_months_are_dates_in_a_month_format_and_the_chart_axis_uses_it(db: Database, sales, tmp_path) -> None:
    export_report(db, by_month(), tmp_path / "m.xlsx", params={"period": "all_time"}, today=TODAY)
    wb = read(tmp_path / "m.xlsx")
    ws = wb["Report"]
    months = [ws.cell(r, 1) for r in range(2, 6)]
    assert [c.value for c in months] == [dt.datetime(2025, 12, 1), dt.datetime(2026, 1, 1), dt.datetime(2026, 2, 1),
                                         dt.datetime(2026, 4, 1)]
    assert all(c.data_type == "d" for c in months)   # real dates, not serial numbers or text
    assert [c.number_format for c in months[:3]] == ["mmm yyyy"] * 3
    assert months[3].number_format == 'mmm yyyy" (partial)"' and months[3].font.i   # the current month
    revenue = [ws.cell(r, 2) for r in range(2, 6)]
    assert [c.value for c in revenue] == [40, 200, 115, 60] and all(c.number_format == EURO for c in revenue)

    chart = wb["Chart"]._charts[0]
    assert chart.series[0].cat.numRef.f == "'Chart data'!$A$2:$A$5"
    assert chart.x_axis.numFmt.formatCode == "mmm yyyy" and not chart.x_axis.numFmt.sourceLinked
    assert chart.series[0].val.numRef.f == "'Chart data'!$B$2:$B$5"
    assert chart.y_axis.numFmt.formatCode == '"€"#,##0'
    assert "Apr 2026 is partial" in "".join(r.t for p in chart.title.tx.rich.p for r in (p.r or []))
    source = wb["Chart data"]
    assert source.sheet_state == "hidden"
    assert [source.cell(r, 1).value for r in range(2, 6)] == [c.value for c in months]
    assert all(source.cell(r, 1).number_format == "mmm yyyy" for r in range(2, 6))
    assert [source.cell(r, 2).value for r in range(2, 6)] == [40, 200, 115, 60]


@pytest.mark.parametrize(("bucket", "formats"), [
    ("day", ["yyyy-mm-dd"]),
    ("week", ['"2026-W01 ("d mmm")"', '"2026-W03 ("d mmm")"', '"2026-W04 ("d mmm")"', '"2026-W06 ("d mmm")"',
              '"2026-W14 ("d mmm")"']),   # the week of 1 April ended on the 5th: complete
    ("quarter", ['"Q4 "yyyy', '"Q1 "yyyy', '"Q2 "yyyy" (partial)"']),
    ("year", ["yyyy", 'yyyy" (partial)"']),
])
def test_every_bucket_is_a_real_date_with_its_own_format(db: Database, sales, tmp_path, bucket: str,
                                                         formats: list[str]) -> None:
    defn = ReportDefinition(name="b", source="sales_lines", group_by=[GroupBy("ordered_at", bucket)],
                            columns=[Column("revenue", "sum")], filters=[Filter("order_status", "eq", "paid")],
                            chart=ChartSpec("bar"))
    export_report(db, defn, tmp_path / "b.xlsx", today=TODAY)
    wb = read(tmp_path / "b.xlsx")
    ws = wb["Report"]
    cells = [ws.cell(r, 1) for r in range(2, ws.max_row) if ws.cell(r, 1).value != "Total"]
    assert all(isinstance(c.value, dt.datetime) for c in cells)
    seen = list(dict.fromkeys(c.number_format for c in cells))
    if bucket == "day":
        assert seen[0] == "yyyy-mm-dd"
    else:
        assert seen == formats
    chart = wb["Chart"]._charts[0]
    labels = [wb["Chart data"].cell(r, 1).value for r in range(2, len(cells) + 2)]
    if bucket in ("week", "quarter"):   # no date format shows an ISO week or a quarter: the labels are text
        assert labels == [bucket_label(c.value, bucket, c.number_format.endswith('(partial)"')) for c in cells]
    else:
        assert chart.x_axis.numFmt.formatCode == {"day": "yyyy-mm-dd", "year": "yyyy"}[bucket]
        assert labels == [c.value for c in cells]


def test_money_is_rounded_to_the_currency_not_float_noise(db: Database, sales, tmp_path) -> None:
    # 0.1 + 0.2 on a float path is 0.30000000000000004; amounts come out as Decimal to the cent
    with db.write() as session:
        session.add(Order(id=50, number="#50", ordered_at=at("2026-01-05T10:00"), status="paid", total=Decimal("0")))
        session.flush()
        for price in ("0.10", "0.20", "52672.62"):
            session.add(OrderLine(order_id=50, variant_id=sales.variant_ids[0], quantity=1, unit_price=Decimal(price),
                                  discount=Decimal("0")))
    defn = ReportDefinition(name="d", source="sales_lines", group_by=[GroupBy("order_number")],
                            columns=[Column("revenue", "sum")], filters=[Filter("order_number", "eq", "#50")])
    result = run(db, defn)
    assert result.frame["sum_revenue"].tolist() == [Decimal("52672.92")]
    export_report(db, defn, tmp_path / "d.xlsx")
    export_report(db, defn, tmp_path / "d.csv")
    cell = read(tmp_path / "d.xlsx")["Report"]["B2"]
    assert cell.value == 52672.92 and repr(cell.value) == "52672.92" and cell.number_format == EURO
    assert list(csv.reader(open(tmp_path / "d.csv", encoding="utf-8")))[1] == ["#50", "52672.92"]
    # a currency without minor units: no decimals anywhere
    yen = defn.copy(currency="JPY")
    assert run(db, yen).frame["sum_revenue"].tolist() == [Decimal("52673")]
    export_report(db, yen, tmp_path / "y.xlsx")
    export_report(db, yen, tmp_path / "y.csv")
    assert read(tmp_path / "y.xlsx")["Report"]["B2"].number_format == '"¥"#,##0;-"¥"#,##0'
    assert list(csv.reader(open(tmp_path / "y.csv", encoding="utf-8")))[1] == ["#50", "52673"]


def test_money_helpers() -> None:
    assert to_money(52672.92000000002) == Decimal("52672.92")
    assert to_money(2.675) == Decimal("2.68")          # the float's shortest text, rounded half up
    assert to_money(float("nan")) is None and to_money(None) is None
    assert to_money("1.005", "KWD") == Decimal("1.005")
    assert money_format("CHF") == '#,##0.00" CHF";-#,##0.00" CHF"'


# -- charts: top N and "Other", labels that fit ----------------------------------------------------------------
def _wide_result(n: int, kind: str = "bar") -> ReportResult:
    """A result of ``n`` products with long names, as a report of revenue by product gives."""
    defn = ReportDefinition(name="wide", title="Revenue by product", source="sales_lines",
                            group_by=[GroupBy("product")], columns=[Column("revenue", "sum")], chart=ChartSpec(kind))
    compiled = compile_report(defn, "sqlite")
    frame = pd.DataFrame({"product": [f"Extremely long product name number {i:03d} in the catalogue" for i in range(n)],
                          "sum_revenue": pd.Series([Decimal(1000 - i) for i in range(n)], dtype=object)})
    return ReportResult(compiled, frame, list(compiled.outputs))


def test_a_chart_of_many_categories_shows_the_top_ones_and_other(tmp_path) -> None:
    result = _wide_result(147)
    data = charts.chart_data(result)
    assert data is not None and len(data.labels) == charts.TOP_N + 1 and data.labels[-1] == "Other"
    values = data.series["Revenue"]
    assert list(values[:3]) == [1000, 999, 998]
    assert values[-1] == sum(1000 - i for i in range(charts.TOP_N, 147))   # nothing lost: the rest is "Other"
    assert max(len(label) for label in data.labels) <= charts.LABEL_CHARS and data.horizontal

    write(result, exporters._frame_chunks(result), tmp_path / "wide.xlsx", "xlsx")
    wb = read(tmp_path / "wide.xlsx")
    chart = wb["Chart"]._charts[0]
    assert chart.barDir == "bar" and chart.x_axis.scaling.orientation == "maxMin"   # horizontal, first on top
    categories = chart.series[0].cat.numRef or chart.series[0].cat.strRef
    assert categories.f == f"'Chart data'!$A$2:$A${charts.TOP_N + 2}"
    source = wb["Chart data"]
    assert source.cell(charts.TOP_N + 2, 1).value == "Other"
    assert source.cell(charts.TOP_N + 2, 2).value == values[-1]
    assert all(len(source.cell(r, 1).value) <= charts.LABEL_CHARS for r in range(2, charts.TOP_N + 3))
    assert wb["Report"].max_row == 147 + 2   # the table keeps every row and the total

    # the app's chart draws the same: 16 bars, names cut to fit, Other in grey
    figure = Figure(figsize=(6, 3))
    charts.draw(figure, data)
    ax = figure.axes[0]
    assert len(ax.patches) == charts.TOP_N + 1
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "Other"


def test_pie_keeps_seven_slices_and_other() -> None:
    data = charts.chart_data(_wide_result(20, "pie"))
    assert data is not None and len(data.labels) == charts.PIE_SLICES and data.labels[-1] == "Other"


# -- partial periods --------------------------------------------------------------------------------------------
def test_partial_buckets() -> None:
    today = dt.date(2026, 3, 10)
    assert partial_buckets("month", dt.date(2024, 4, 1), dt.date(2026, 3, 11), today) == [dt.date(2026, 3, 1)]
    assert partial_buckets("month", dt.date(2026, 2, 1), dt.date(2026, 3, 1), today) == []   # last month: whole
    assert partial_buckets("week", dt.date(2026, 1, 1), None, today) == [dt.date(2025, 12, 29), dt.date(2026, 3, 9)]
    assert partial_buckets("month", None, dt.date(2026, 2, 15), today) == [dt.date(2026, 2, 1)]


def test_the_current_period_is_marked_or_left_out(db: Database, sales, tmp_path) -> None:
    marked = run(db, by_month(), {"period": "all_time"}, today=TODAY)
    months = marked.frame["ordered_at_month"].tolist()
    assert [marked.is_partial("ordered_at_month", m) for m in months] == [False, False, False, True]
    assert any("Apr 2026 so far" in n for n in marked.notes)
    data = charts.chart_data(marked)
    assert data is not None and data.partial == [False, False, False, True]
    assert data.labels[-1] == "Apr 2026 (partial)"
    figure = Figure(figsize=(6, 3))
    charts.draw(figure, data)
    bars = figure.axes[0].patches
    assert bars[-1].get_hatch() == "///" and not bars[0].get_hatch()   # not drawn as a collapse

    left_out = run(db, by_month(partial_periods="exclude"), {"period": "all_time"}, today=TODAY)
    assert [m.isoformat() for m in left_out.frame["ordered_at_month"]] == ["2025-12-01", "2026-01-01", "2026-02-01"]
    assert any("left out: Apr 2026" in n for n in left_out.notes)
    export_report(db, by_month(partial_periods="exclude"), tmp_path / "x.csv", params={"period": "all_time"},
                  today=TODAY)   # the COPY path on PostgreSQL leaves it out too
    assert [r[0] for r in csv.reader(open(tmp_path / "x.csv", encoding="utf-8"))][1:] == \
        ["2025-12-01", "2026-01-01", "2026-02-01"]
    # a period that ended is whole: nothing marked
    assert run(db, by_month(), {"period": "2026-01-01..2026-03-01"}, today=TODAY).compiled.partial == {}

    pages = list(pdf_pages(marked))
    texts = [t.get_text() for fig, _ in pages for t in fig.texts]
    cells = [c.get_text().get_text() for fig, _ in pages[1:] for ax in fig.axes for tbl in ax.tables
             for c in tbl.get_celld().values()]
    assert "Apr 2026 (partial)" in cells and "Dec 2025" in cells
    assert f"Page 1 of {len(pages)}" in texts and f"Page {len(pages)} of {len(pages)}" in texts


# -- printing and the Parameters sheet -------------------------------------------------------------------------
def test_pages_print_with_titles_header_footer_and_fit_to_width(db: Database, sales, tmp_path) -> None:
    top = BUILTIN["top-products"]
    six = top.copy(columns=top.columns[:4])   # product, vendor, revenue, units, gross profit, margin %
    export_report(db, six, tmp_path / "t.xlsx", params={"period": "all_time"}, today=TODAY,
                  timezone="Europe/Berlin")
    wb = read(tmp_path / "t.xlsx")
    ws = wb["Report"]
    assert ws.print_title_rows == "$1:$1"     # the header row on every page
    assert ws.page_setup.orientation == "portrait"    # short names: six columns fit upright
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1) \
        and ws.page_setup.fitToHeight == 0
    assert ws.oddHeader.left.text == "&BTop-selling products&B\nPeriod: All time · Order status is one of paid, partially refunded, refunded"
    assert ws.oddFooter.right.text == "Page &P of &N"
    assert "(Europe/Berlin)" in ws.oddFooter.left.text
    assert wb["Chart"].pageSetup.orientation == "landscape"
    assert wb["Chart"].oddFooter.right.text == "Page &P of &N"

    params = wb["Parameters"]
    assert params.page_setup.orientation == "portrait" and params.sheet_properties.pageSetUpPr.fitToPage
    assert params.column_dimensions["A"].width + params.column_dimensions["B"].width < 100   # one page wide
    assert params["B2"].alignment.wrap_text
    rows = {r[0].value: r[1].value for r in params.iter_rows(min_row=2)}
    assert rows["Period"] == "All time"
    assert rows["Time zone"] == "Dates and periods are in UTC; run times in Europe/Berlin"
    assert rows["Run at"].endswith("(Europe/Berlin)")
    assert rows["Filter"] == "Order status is one of paid, partially refunded, refunded" and rows["Currency"] == "EUR"

    export_report(db, by_month(), tmp_path / "m.xlsx", today=TODAY)
    rows = {r[0].value: r[1].value for r in read(tmp_path / "m.xlsx")["Parameters"].iter_rows(min_row=2)}
    assert rows["Period"] == "Last 24 months (2024-05-01 – 2026-04-20)"   # human words, not last_24_months
    assert "last_24_months" not in " ".join(str(v) for v in rows.values())
    lines = ReportDefinition(name="lines", source="sales_lines",
                             columns=[Column(f) for f in ("order_number", "ordered_at", "country", "sku", "product",
                                                          "vendor", "quantity", "unit_price", "revenue")])
    export_report(db, lines, tmp_path / "l.xlsx", today=TODAY)
    wide = read(tmp_path / "l.xlsx")["Report"]
    assert wide.page_setup.orientation == "landscape" and wide.print_title_rows == "$1:$1"


def test_slow_movers_show_their_sales_period_in_words(db: Database, sales, tmp_path) -> None:
    export_report(db, BUILTIN["slow-movers"], tmp_path / "s.xlsx", params={"sales_period": "last_30_days"},
                  today=TODAY)
    rows = {r[0].value: r[1].value for r in read(tmp_path / "s.xlsx")["Parameters"].iter_rows(min_row=2)}
    assert rows["Sales period (units sold, sell-through)"] == "Last 30 days (2026-03-22 – 2026-04-20)"


# -- labels made from data ---------------------------------------------------------------------------------------
def test_labels_from_data_are_values_never_formulas(db: Database, sales, tmp_path) -> None:
    with db.write() as session:
        session.query(Order).filter(Order.id == 1).update({"currency": "=A1"})
        session.query(Order).filter(Order.id == 2).update({"currency": "@A1"})
    defn = ReportDefinition(name="pv", source="sales_lines", group_by=[GroupBy("ordered_at", "month"),
                                                                         GroupBy("currency")],
                            columns=[Column("revenue", "sum")], filters=[Filter("order_status", "eq", "paid")],
                            pivot="currency", chart=ChartSpec("stacked_bar"))
    result = run(db, defn, today=TODAY)
    assert [c.label for c in result.columns] == ["Month", "EUR", "=A1", "@A1"]
    export_report(db, defn, tmp_path / "pv.xlsx", today=TODAY)
    export_report(db, defn, tmp_path / "pv.csv", today=TODAY)
    ws = read(tmp_path / "pv.xlsx")["Report"]
    heads = ws[1]
    assert [c.value for c in heads] == ["Month", "EUR", "=A1", "@A1"]   # as in the data, no apostrophe
    assert all(c.data_type == "s" for c in heads)
    assert heads[2].quotePrefix and heads[3].quotePrefix and not heads[1].quotePrefix
    with zipfile.ZipFile(tmp_path / "pv.xlsx") as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert sheet.count("<f>") == sheet.count("<f>SUBTOTAL(")   # the only formulas are the totals
    assert "'=A1" not in sheet and "<t>=A1</t>" in sheet
    with open(tmp_path / "pv.csv", newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert header == ["Month", "EUR", "'=A1", "'@A1"]   # CSV: neutralised, like its values


# -- delivery: whole files with the user's umask ---------------------------------------------------------------
@pytest.fixture
def umask_027():  # type: ignore[no-untyped-def]
    old = os.umask(0o027)
    yield 0o027
    os.umask(old)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize("fmt", ["xlsx", "csv", "pdf"])
def test_files_get_the_users_umask_and_no_temporary_file_stays(db: Database, sales, tmp_path, umask_027,
                                                                fmt: str) -> None:
    target = tmp_path / "share" / f"r.{fmt}"
    export_report(db, by_month(), target, today=TODAY)
    assert target.stat().st_mode & 0o777 == 0o640    # 0666 less the umask, not a temporary file's 0600
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    os.umask(0o002)
    export_report(db, by_month(), target, today=TODAY)
    assert target.stat().st_mode & 0o777 == 0o664


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_scheduled_delivery_to_a_shared_folder_honours_the_umask(db: Database, actor, sales, tmp_path,
                                                                  umask_027) -> None:
    from backoffice.reports.schedules import ScheduleSpec
    from backoffice.services.report_state import deliver

    spec = ScheduleSpec("sales-by-month", folder_pattern=str(tmp_path / "share") + "/", timezone="Europe/Berlin")
    rows, where = deliver(db, spec, dt.datetime(2026, 4, 20, 5, 0, tzinfo=dt.timezone.utc))
    delivered = Path(where)
    assert delivered.parent == tmp_path / "share" and delivered.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in delivered.parent.iterdir()] == [delivered.name]
    params = {r[0].value: r[1].value for r in read(delivered)["Parameters"].iter_rows(min_row=2)}
    assert params["Run at"].endswith("(Europe/Berlin)") and params["As of"] == "2026-04-20"


def test_the_target_is_replaced_whole_or_not_at_all(db: Database, sales, tmp_path, monkeypatch) -> None:
    target = tmp_path / "share" / "r.xlsx"
    export_report(db, by_month(), target, today=TODAY)
    before = target.read_bytes()
    replaced: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def spy(src, dst):  # type: ignore[no-untyped-def]
        replaced.append((Path(src), Path(dst)))
        with open(src, "rb") as fh:   # complete before it is renamed
            assert openpyxl.load_workbook(fh)["Report"]["A1"].value == "Month"
        real_replace(src, dst)

    monkeypatch.setattr(exporters.os, "replace", spy)
    export_report(db, by_month(), target, params={"period": "all_time"}, today=TODAY)
    assert len(replaced) == 1 and replaced[0][1] == target
    assert replaced[0][0].parent == target.parent and replaced[0][0].name.startswith(".r-")   # same folder
    assert openpyxl.load_workbook(target)["Report"].max_row == 6

    def broken(tmp, result, chunks, **kw):  # type: ignore[no-untyped-def]
        Path(tmp).write_bytes(b"PK\x03\x04 half a workbook")
        raise OSError("disk full")

    current = target.read_bytes()
    monkeypatch.setattr(exporters, "write_xlsx", broken)
    with pytest.raises(OSError, match="disk full"):
        export_report(db, by_month(), target, today=TODAY)
    assert target.read_bytes() == current != before   # the previous file, untouched
    assert [p.name for p in target.parent.iterdir()] == ["r.xlsx"] and len(replaced) == 1



def test_a_series_without_a_value_is_a_gap_not_a_zero() -> None:
    """The forecast's months have no actual revenue: the line stops there, it does not drop to zero."""
    defn = ReportDefinition(name="f", source="sales_lines", group_by=[GroupBy("ordered_at", "month")],
                            columns=[Column("revenue", "sum")], chart=ChartSpec("line"))
    compiled = compile_report(defn, "sqlite", today=TODAY)
    frame = pd.DataFrame({"ordered_at_month": [dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)],
                          "sum_revenue": pd.Series([Decimal("10.00"), None, Decimal("30.00")], dtype=object)})
    data = charts.chart_data(ReportResult(compiled, frame, list(compiled.outputs)))
    assert data is not None and data.series["Revenue"][0] == 10 and data.series["Revenue"][2] == 30
    assert data.series["Revenue"][1] != data.series["Revenue"][1]   # NaN


def test_a_line_reaches_its_partial_period_by_a_dashed_series(db: Database, sales, tmp_path) -> None:
    defn = by_month(chart=ChartSpec("line", y=["revenue"], title="Revenue by month"))
    export_report(db, defn, tmp_path / "l.xlsx", params={"period": "all_time"}, today=TODAY)
    wb = read(tmp_path / "l.xlsx")
    chart = wb["Chart"]._charts[0]
    assert len(chart.series) == 2
    solid, dashed = chart.series
    assert dashed.spPr.ln.prstDash == "dash" and dashed.val.numRef.f == "'Chart data'!$C$2:$C$5"
    source = wb["Chart data"]
    assert [source.cell(1, c).value for c in (2, 3)] == ["Revenue", "Revenue (partial)"]
    assert [source.cell(r, 2).value for r in range(2, 6)] == [40, 200, 115, None]   # solid: complete months
    assert [source.cell(r, 3).value for r in range(2, 6)] == [None, None, 115, 60]   # dashed: into April


def test_run_times_default_to_this_machines_time_zone(db: Database, sales, tmp_path, monkeypatch) -> None:
    from click.testing import CliRunner

    from backoffice.cli import main
    from backoffice.reports.formats import local_zone_name

    monkeypatch.setenv("TZ", "America/New_York")
    assert local_zone_name() == "America/New_York"
    monkeypatch.setenv("TZ", "Nowhere/Atlantis")
    assert local_zone_name() != "Nowhere/Atlantis"   # an unknown name is not trusted
    url = db.engine.url.render_as_string(hide_password=False)
    out = tmp_path / "m.xlsx"
    ran = CliRunner().invoke(main, ["--user", "tester", "reports", "run", "sales-by-month", "--out", str(out), "--db", url],
                             env={"TZ": "Asia/Tokyo"})
    assert ran.exit_code == 0, ran.output
    rows = {r[0].value: r[1].value for r in read(out)["Parameters"].iter_rows(min_row=2)}
    assert rows["Run at"].endswith("(Asia/Tokyo)") and rows["Time zone"].endswith("run times in Asia/Tokyo")
