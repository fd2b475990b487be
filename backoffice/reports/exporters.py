"""Report exports: XLSX, CSV and PDF, written to a temporary file next to the target and renamed into
place, so a reader (a shared folder, a mail attachment) never sees half a file.

XLSX streams rows with xlsxwriter's constant_memory mode: a report of a million lines holds one chunk
of rows at a time. Past Excel's 1,048,576 rows per sheet the data continues on "Report (2)" and so on.
Each sheet has a styled, frozen header, an autofilter, number and date formats, column widths, and the
last one a totals row (SUBTOTAL formulas with their values cached) under the additive columns. The
chart is a native Excel chart on its own sheet; a Parameters sheet says how the file was produced.
Text cells a spreadsheet could take for a formula (= + - @) are neutralised with a leading quote.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Float, Numeric, Text, and_, case, cast, func, literal, select

from backoffice.db import Database
from backoffice.reports.compiler import OutputColumn, compile_report
from backoffice.reports.definition import ChartSpec, ReportDefinition
from backoffice.reports.runner import QueryHandle, ReportCancelled, ReportResult, run, stream
from backoffice.services.base import ValidationError
from backoffice.services.importexport.common import XLSX_MAX_ROWS, neutralise

FORMATS = ("xlsx", "csv", "pdf")
PDF_MAX_ROWS = 2_000
_FORMULA_FIRST = frozenset("=+-@\t\r'")   # the first characters neutralise() may have to act on
CHART_MAX_POINTS = 1_000
SHEET_NAME = "Report"

NUM_FORMATS = {"money": "#,##0.00", "int": "#,##0", "number": "#,##0.00", "percent": "0.0%",
               "date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm"}
WIDTHS = {"money": 13, "int": 10, "number": 12, "percent": 9, "date": 11, "datetime": 16}

ProgressFn = Callable[[float, str], None]


@dataclass
class ExportResult:
    path: Path
    format: str
    rows: int
    sheets: int = 1
    notes: list[str] = field(default_factory=list)


def format_for(path: str | os.PathLike[str], fmt: str | None) -> str:
    if fmt:
        fmt = fmt.lower()
    else:
        fmt = Path(path).suffix.lower().lstrip(".") or "xlsx"
    if fmt not in FORMATS:
        raise ValidationError([("export", "format", f"{fmt!r} is not one of {', '.join(FORMATS)}")])
    return fmt


def _frame_chunks(result: ReportResult, size: int = 5_000) -> Iterator[list[tuple]]:
    frame = result.frame.astype(object).where(result.frame.notna(), None)
    rows = list(frame.itertuples(index=False, name=None))
    for start in range(0, len(rows), size):
        yield [tuple(_unpandas(v) for v in r) for r in rows[start:start + size]]


def _unpandas(v: Any) -> Any:
    if hasattr(v, "to_pydatetime"):
        return v.to_pydatetime()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def export_report(db: Database, defn: ReportDefinition, path: str | os.PathLike[str], fmt: str | None = None,
                  params: dict[str, Any] | None = None, *, today: dt.date | None = None,
                  handle: QueryHandle | None = None, progress: ProgressFn | None = None,
                  max_sheet_rows: int = XLSX_MAX_ROWS) -> ExportResult:
    """Run ``defn`` and write it to ``path``. Reports that need their whole result first (a pivot, the
    forecast) and PDFs (at most PDF_MAX_ROWS rows) go through a DataFrame; the rest stream."""
    fmt = format_for(path, fmt)
    path = Path(path)
    report = (progress or (lambda f, t: None))
    report(0.0, "running the report")
    if fmt == "pdf" or defn.post or defn.pivot:
        result = run(db, defn, params, today=today, handle=handle, max_rows=PDF_MAX_ROWS if fmt == "pdf" else None)
        chunks: Iterator[list[tuple]] = _frame_chunks(result)
        if result.truncated:
            result.notes.append(f"Only the first {PDF_MAX_ROWS:,} rows are in this PDF; export XLSX or CSV for all.")
    else:
        compiled = compile_report(defn, db.dialect, params, today)
        import pandas as pd

        result = ReportResult(compiled, pd.DataFrame(columns=[o.key for o in compiled.outputs]), list(compiled.outputs))
        if fmt == "csv" and db.dialect == "postgresql":
            return _atomic(path, fmt, lambda tmp: (copy_csv(db, compiled, tmp, handle), 1), result, report)
        chunks = stream(db, compiled, handle=handle)
    return write(result, chunks, path, fmt, progress=report, max_sheet_rows=max_sheet_rows)


def write(result: ReportResult, chunks: Iterator[list[tuple]], path: Path, fmt: str, *,
          progress: ProgressFn | None = None, max_sheet_rows: int = XLSX_MAX_ROWS) -> ExportResult:
    def produce(tmp: Path) -> tuple[int, int]:
        if fmt == "xlsx":
            return write_xlsx(tmp, result, chunks, max_sheet_rows=max_sheet_rows, progress=progress)
        if fmt == "csv":
            return write_csv(tmp, result.columns, chunks), 1
        return write_pdf(tmp, result), 1

    return _atomic(path, fmt, produce, result, progress)


def _atomic(path: Path, fmt: str, produce: Callable[[Path], tuple[int, int]], result: ReportResult,
            progress: ProgressFn | None) -> ExportResult:
    """Write through ``produce(tmp)`` into a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=f".{fmt}.part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        rows, sheets = produce(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if progress:
        progress(1.0, f"{rows:,} rows written")
    return ExportResult(path, fmt, rows, sheets, list(result.notes))


# -- CSV ------------------------------------------------------------------------------------------------
def _csv_cell(kind: str) -> Callable[[Any], str]:
    def text(v: Any) -> str:
        return "" if v is None else neutralise(str(v))

    def money(v: Any) -> str:
        return "" if v is None else (f"{v:.2f}" if isinstance(v, (int, float)) else neutralise(str(v)))

    def plain(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, dt.datetime):
            return v.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if v.tzinfo else v.isoformat(" ")
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, float) and v.is_integer() and kind == "int":
            return str(int(v))
        return str(v) if isinstance(v, (int, float)) else neutralise(str(v))

    return {"text": text, "money": money}.get(kind, plain)


def write_csv(tmp: Path, columns: list[OutputColumn], chunks: Iterator[list[tuple]]) -> int:
    cells = [_csv_cell(c.kind) for c in columns]
    n = 0
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow([neutralise(c.label) for c in columns])
        for chunk in chunks:
            out.writerows([[f(v) for f, v in zip(cells, r)] for r in chunk])
            n += len(chunk)
    return n


def _pg_text(expr: Any, kind: str) -> Any:
    """SQL that formats one output column the way :func:`write_csv` formats it in Python."""
    if kind == "text":
        t = cast(expr, Text)
        risky = and_(func.ascii(t).in_([61, 43, 45, 64, 9, 13, 39]), t.regexp_match("^'*[-=+@\t\r]"))
        return case((risky, literal("'") + t), else_=t)
    if kind == "money":
        return cast(cast(expr, Numeric(20, 2)), Text)
    if kind in ("number", "percent"):
        return cast(cast(expr, Float), Text)
    if kind == "date":
        return func.to_char(expr, "YYYY-MM-DD")
    if kind == "datetime":
        return func.to_char(func.timezone("UTC", expr), "YYYY-MM-DD HH24:MI:SS")
    return cast(expr, Text)


def copy_csv(db: Database, compiled: Any, tmp: Path, handle: QueryHandle | None = None) -> int:
    """CSV straight from PostgreSQL: the report's SELECT, formatted column by column in SQL, through
    ``COPY … TO STDOUT``. Its parameters stay parameters (psycopg binds them into the COPY)."""
    inner = compiled.statement.subquery("report")
    outer = select(*[_pg_text(inner.c[o.key], o.kind).label(o.key) for o in compiled.outputs])
    sql = outer.compile(dialect=db.engine.dialect, compile_kwargs={"render_postcompile": True})
    processors = getattr(sql, "_bind_processors", {})
    params = {k: processors[k](v) if k in processors else v for k, v in sql.construct_params().items()}
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerow([neutralise(c.label) for c in compiled.outputs])
    with db.engine.connect() as conn, open(tmp, "ab") as fh:
        raw = conn.connection.dbapi_connection
        if handle is not None:
            handle.attach(raw)
        try:
            with raw.cursor() as cur:
                with cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
                    for data in copy:
                        fh.write(data)
                        if handle is not None and handle.cancelled():
                            raise ReportCancelled()
                rows = cur.rowcount
        except Exception as exc:
            if handle is not None and handle.cancelled():
                raise ReportCancelled() from exc
            raise
        finally:
            if handle is not None:
                handle.detach()
    return max(0, rows)


# -- XLSX -----------------------------------------------------------------------------------------------
def _col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _sheet_ref(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def write_xlsx(tmp: Path, result: ReportResult, chunks: Iterator[list[tuple]], *,
               max_sheet_rows: int = XLSX_MAX_ROWS, progress: ProgressFn | None = None) -> tuple[int, int]:
    import xlsxwriter

    if max_sheet_rows < 3:
        raise ValueError("a sheet needs room for a header, a row and the totals")
    columns = result.columns
    per_sheet = max_sheet_rows - 2   # header + a totals row on the last sheet
    wb = xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "strings_to_numbers": False,
                                        "strings_to_formulas": False, "strings_to_urls": False,
                                        "remove_timezone": True, "default_date_format": "yyyy-mm-dd"})
    try:
        head = wb.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E79", "bottom": 1,
                              "text_wrap": True, "valign": "vcenter"})
        formats = {k: wb.add_format({"num_format": f}) for k, f in NUM_FORMATS.items()}
        total_formats = {k: wb.add_format({"num_format": f, "bold": True, "top": 1}) for k, f in NUM_FORMATS.items()}
        total_label = wb.add_format({"bold": True, "top": 1})
        sheets: list[tuple[Any, int]] = []   # (worksheet, data rows on it)
        widths = [max(8, min(40, len(c.label) + 2), WIDTHS.get(c.kind, 10)) for c in columns]
        sized = False

        def new_sheet() -> Any:
            name = SHEET_NAME if not sheets else f"{SHEET_NAME} ({len(sheets) + 1})"
            ws = wb.add_worksheet(name)
            ws.freeze_panes(1, 0)
            ws.set_row(0, 30)
            for i, c in enumerate(columns):
                ws.write_string(0, i, c.label, head)
            sheets.append((ws, 0))
            return ws

        # Columns by how they are written, so the row loop makes one call per non-empty cell.
        numbers = [(i, formats[c.kind]) for i, c in enumerate(columns) if c.numeric]
        dates = [(i, formats[c.kind]) for i, c in enumerate(columns) if c.kind in ("date", "datetime")]
        texts = [i for i, c in enumerate(columns) if not c.numeric and c.kind not in ("date", "datetime")]
        additive = [i for i, c in enumerate(columns) if c.additive and c.numeric]
        sums = [0.0 if i in additive else None for i in range(len(columns))]
        risky = _FORMULA_FIRST
        number_types = (int, float)

        ws = new_sheet()
        write_number, write_string, write_datetime = ws.write_number, ws.write_string, ws.write_datetime
        row = 0
        total_rows = 0
        for chunk in chunks:
            if not sized and chunk:
                for i in texts:
                    longest = max((len(str(r[i])) for r in chunk[:500] if r[i] is not None), default=0)
                    widths[i] = max(widths[i], min(50, longest + 2))
                sized = True
            for r in chunk:
                if row >= per_sheet:
                    sheets[-1] = (ws, row)
                    ws = new_sheet()
                    write_number, write_string, write_datetime = ws.write_number, ws.write_string, ws.write_datetime
                    row = 0
                row += 1
                for i, fmt in numbers:
                    v = r[i]
                    if v is not None:
                        if type(v) in number_types and v == v and -1e308 < v < 1e308:
                            write_number(row, i, v, fmt)
                        elif isinstance(v, number_types):
                            continue  # NaN or infinite: an empty cell
                        else:
                            write_string(row, i, neutralise(str(v)))
                for i, fmt in dates:
                    v = r[i]
                    if v is not None:
                        if isinstance(v, dt.date):
                            write_datetime(row, i, v, fmt)
                        else:
                            write_string(row, i, neutralise(str(v)))
                for i in texts:
                    v = r[i]
                    if v is not None:
                        if type(v) is not str:
                            v = str(v)
                        write_string(row, i, neutralise(v) if v and v[0] in risky else v)
            if additive:
                for i in additive:
                    sums[i] += sum(r[i] for r in chunk if type(r[i]) in number_types and r[i] == r[i])
            total_rows += len(chunk)
            if progress:
                progress(0.5, f"{total_rows:,} rows written")
        sheets[-1] = (ws, row)

        for sheet, n in sheets:
            for i, w in enumerate(widths):
                sheet.set_column(i, i, w)
            sheet.autofilter(0, 0, max(n, 1), max(0, len(columns) - 1))
        if any(s is not None for s in sums) and total_rows:
            last, n_last = sheets[-1]
            trow = n_last + 1
            first_text = next((i for i, c in enumerate(columns) if sums[i] is None), None)
            for i, c in enumerate(columns):
                if sums[i] is None:
                    continue
                letter = _col_letter(i)
                if len(sheets) == 1:
                    formula = f"=SUBTOTAL(109,{letter}2:{letter}{n_last + 1})"
                else:
                    parts = [f"{_sheet_ref(s.name)}!{letter}2:{letter}{k + 1}" for s, k in sheets]
                    formula = f"=SUM({','.join(parts)})"
                value = round(sums[i], 2) if c.kind != "int" else int(sums[i])
                last.write_formula(trow, i, formula, total_formats[c.kind], value)
            if first_text is not None:
                last.write_string(trow, first_text, "Total", total_label)

        chart_spec = result.definition.chart
        if chart_spec is not None and total_rows:
            _xlsx_chart(wb, sheets[0], columns, chart_spec, result.definition.display_title())
        params = wb.add_worksheet("Parameters")
        bold = wb.add_format({"bold": True})
        params.set_column(0, 0, 22)
        params.set_column(1, 1, 90)
        params.write_string(0, 0, "Parameter", head)
        params.write_string(0, 1, "Value", head)
        for i, (k, v) in enumerate(result.parameter_rows(total_rows), start=1):
            params.write_string(i, 0, k, bold)
            params.write_string(i, 1, neutralise(v))
        sheets[0][0].activate()
    finally:
        wb.close()
    return total_rows, len(sheets)


def _xlsx_chart(wb: Any, first: tuple[Any, int], columns: list[OutputColumn], spec: ChartSpec, title: str) -> None:
    from backoffice.reports.charts import chart_columns

    picked = chart_columns(columns, spec)
    if picked is None:
        return
    x, ys = picked
    ws, n = first
    n = min(n, CHART_MAX_POINTS)
    kind = {"line": {"type": "line"}, "bar": {"type": "column"}, "stacked_bar": {"type": "column", "subtype": "stacked"},
            "pie": {"type": "pie"}}[spec.kind]
    chart = wb.add_chart(kind)
    xi = columns.index(x)
    # Leading dimension columns make a multi-level category axis (location › category).
    dims_before = [i for i, c in enumerate(columns) if c.role == "dimension"]
    x_first = xi
    if xi == 0 and len(dims_before) > 1 and dims_before == list(range(len(dims_before))) and spec.kind != "pie":
        x_last = dims_before[-1]
    else:
        x_last = xi
    palette = ["#2563EB", "#F59E0B", "#10B981", "#EF4444", "#8B5CF6", "#0EA5E9", "#84CC16", "#EC4899"]
    for k, y in enumerate(ys):
        yi = columns.index(y)
        series: dict[str, Any] = {
            "name": [ws.name, 0, yi],
            "categories": [ws.name, 1, x_first, n, x_last],
            "values": [ws.name, 1, yi, n, yi],
        }
        if spec.kind == "line":
            series["line"] = {"color": palette[k % len(palette)], "width": 2}
        elif spec.kind != "pie":
            series["fill"] = {"color": palette[k % len(palette)]}
        chart.add_series(series)
    chart.set_title({"name": spec.title or title})
    if spec.kind != "pie":
        chart.set_legend({"position": "bottom"} if len(ys) > 1 else {"none": True})
        chart.set_y_axis({"num_format": NUM_FORMATS.get(ys[0].kind, "General"), "major_gridlines":
                          {"visible": True, "line": {"color": "#E2E8F0"}}})
    sheet = wb.add_chartsheet("Chart")
    sheet.set_chart(chart)


# -- PDF ------------------------------------------------------------------------------------------------
def _pdf_cell(v: Any, kind: str) -> str:
    if v is None:
        return ""
    if kind == "money" and isinstance(v, (int, float)):
        return f"{v:,.2f}"
    if kind == "int" and isinstance(v, (int, float)):
        return f"{int(v):,}"
    if kind == "number" and isinstance(v, (int, float)):
        return f"{v:,.2f}"
    if kind == "percent" and isinstance(v, (int, float)):
        return f"{v:.1%}"
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, dt.date):
        return v.isoformat()
    text = str(v)
    return text if len(text) <= 42 else text[:41] + "…"


def write_pdf(tmp: Path, result: ReportResult) -> int:
    from matplotlib.backends.backend_pdf import PdfPages

    title = result.definition.display_title()
    with PdfPages(tmp, metadata={"Title": title, "Creator": "Backoffice"}) as pdf:
        for page, _rows_so_far in pdf_pages(result):
            pdf.savefig(page)
    return len(result.frame)


def pdf_pages(result: ReportResult, *, rows_per_page: int = 32) -> Iterator[tuple[Any, int]]:
    """A4 landscape pages: the title, parameters and chart first, then the table, paginated, with the
    header on each page and numbers right-aligned. Yields (figure, rows so far)."""
    from matplotlib.figure import Figure

    from backoffice.reports import charts

    size = (11.69, 8.27)
    columns = result.columns
    rows = [[_pdf_cell(v, c.kind) for v, c in zip(r, columns)] for chunk in _frame_chunks(result) for r in chunk]
    title = result.definition.display_title()
    first = Figure(figsize=size)
    first.text(0.04, 0.95, title, fontsize=18, fontweight="bold", color="#0f172a", va="top")
    lines = [f"{k}: {v}" for k, v in result.parameter_rows()]
    first.text(0.04, 0.89, "\n".join(lines[:14]), fontsize=8.5, color="#334155", va="top", linespacing=1.5)
    data = charts.chart_data(result)
    if data is not None:
        charts.draw(first, data, rect=(0.07, 0.08, 0.88, 0.42))
    yield first, 0
    if not rows:
        page = Figure(figsize=size)
        page.text(0.04, 0.95, f"{title}: no rows", fontsize=12, va="top")
        page.text(0.04, 0.9, "   ".join(c.label for c in columns), fontsize=9, fontweight="bold", va="top")
        yield page, 0
        return
    right = [c.numeric for c in columns]
    additive = [c.additive and c.numeric for c in columns]
    if any(additive) and not result.truncated:
        totals = [_pdf_cell(float(result.frame[c.key].fillna(0).sum()), c.kind) if add else "" for c, add
                  in zip(columns, additive)]
        first_free = next((i for i, add in enumerate(additive) if not add), None)
        if first_free is not None:
            totals[first_free] = "Total"
        rows.append(totals)
    has_totals = any(additive) and not result.truncated
    for start in range(0, len(rows), rows_per_page):
        page = Figure(figsize=size)
        ax = page.add_axes((0.03, 0.05, 0.94, 0.86))
        ax.set_axis_off()
        end = min(start + rows_per_page, len(rows))
        shown = len(rows) - (1 if has_totals else 0)
        page.text(0.03, 0.95, f"{title} — rows {start + 1:,}–{min(end, shown):,} of {shown:,}", fontsize=10,
                  color="#334155", va="top")
        table = ax.table(cellText=rows[start:end], colLabels=[c.label for c in columns], loc="upper left",
                         cellLoc="left", colLoc="left")
        table.auto_set_font_size(False)
        table.set_fontsize(7.5)
        table.scale(1, 1.25)
        for (r, c), cell in table.get_celld().items():
            cell.set_edgecolor("#e2e8f0")
            if r == 0:
                cell.set_facecolor("#1f4e79")
                cell.get_text().set_color("white")
                cell.get_text().set_fontweight("bold")
            elif has_totals and start + r == len(rows):
                cell.get_text().set_fontweight("bold")
                cell.set_facecolor("#eef2f7")
            elif r % 2 == 0:
                cell.set_facecolor("#f8fafc")
            if c < len(right) and right[c]:
                cell.get_text().set_horizontalalignment("right")
                cell._loc = "right"  # noqa: SLF001 - matplotlib places a cell's text by its loc
        yield page, end
