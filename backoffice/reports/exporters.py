"""Report exports: XLSX, CSV and PDF, written to a temporary file next to the target, given the user's
umask and renamed into place, so a reader (a shared folder, a mail attachment) never sees half a file.

XLSX streams rows with xlsxwriter's constant_memory mode: a report of a million lines holds one chunk
of rows at a time. Past Excel's 1,048,576 rows per sheet the data continues on "Report (2)" and so on.
Each sheet has a styled, frozen header, an autofilter, number formats (money in its currency, periods
as real dates in their bucket's format, a partial period marked), column widths, print setup (header
row on every page, one page wide, title, parameters and page numbers), and the last one a totals row
(SUBTOTAL formulas with their values cached) under the additive columns. The chart is a native chart
on its own sheet, drawn from a hidden "Chart data" sheet of what it shows (top categories and "Other");
a Parameters sheet says in words how the file was produced. Text is always a string cell, exactly as
in the data; one a spreadsheet could take for a formula (= + - @) carries the quote-prefix style. In
CSV, where a cell has no style, such text (a header made from data too) gets a leading quote.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Float, Numeric, Text, and_, case, cast, func, literal, select

from backoffice.db import Database
from backoffice.reports.compiler import OutputColumn, compile_report
from backoffice.reports.definition import ReportDefinition
from backoffice.reports.formats import (
    PARTIAL_SUFFIX,
    as_date,
    axis_number_format,
    bucket_label,
    bucket_number_format,
    bucket_of,
    currency_places,
    money_format,
    money_text,
    to_money,
)
from backoffice.reports.runner import QueryHandle, ReportCancelled, ReportResult, frame_rows, run, stream
from backoffice.services.base import ValidationError
from backoffice.services.importexport.common import XLSX_MAX_ROWS, neutralise

FORMATS = ("xlsx", "csv", "pdf")
PDF_MAX_ROWS = 2_000
_FORMULA_FIRST = frozenset("=+-@\t\r'")   # the first characters neutralise() may have to act on
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
    rows = frame_rows(result.frame)
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def export_report(db: Database, defn: ReportDefinition, path: str | os.PathLike[str], fmt: str | None = None,
                  params: dict[str, Any] | None = None, *, today: dt.date | None = None,
                  handle: QueryHandle | None = None, progress: ProgressFn | None = None,
                  max_sheet_rows: int = XLSX_MAX_ROWS, timezone: str = "UTC") -> ExportResult:
    """Run ``defn`` and write it to ``path``. Reports that need their whole result first (a pivot, the
    forecast) and PDFs (at most PDF_MAX_ROWS rows) go through a DataFrame; the rest stream.
    ``timezone`` is the one the run time is shown in (a schedule's)."""
    fmt = format_for(path, fmt)
    path = Path(path)
    report = (progress or (lambda f, t: None))
    report(0.0, "running the report")
    if fmt == "pdf" or defn.post or defn.pivot:
        result = run(db, defn, params, today=today, handle=handle, max_rows=PDF_MAX_ROWS if fmt == "pdf" else None)
        result.timezone = timezone
        chunks: Iterator[list[tuple]] = _frame_chunks(result)
        if result.truncated:
            result.notes.append(f"Only the first {PDF_MAX_ROWS:,} rows are in this PDF; export XLSX or CSV for all.")
    else:
        compiled = compile_report(defn, db.dialect, params, today)
        import pandas as pd

        result = ReportResult(compiled, pd.DataFrame(columns=[o.key for o in compiled.outputs]), list(compiled.outputs),
                              notes=list(compiled.notes), timezone=timezone)
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
            return write_csv(tmp, result.columns, chunks, result.currency), 1
        return write_pdf(tmp, result), 1

    return _atomic(path, fmt, produce, result, progress)


def current_umask() -> int:
    """The process's umask, read without changing it where the system tells it (Linux), else by the
    set-and-restore of os.umask."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic(path: Path, fmt: str, produce: Callable[[Path], tuple[int, int]], result: ReportResult,
            progress: ProgressFn | None) -> ExportResult:
    """Write through ``produce(tmp)`` into a temporary file beside ``path`` (same folder, so the rename
    is atomic), give it the mode a new file of the user's gets (0666 less the umask: a temporary file is
    made 0600, which a shared folder's other readers could not open), flush it to disk and rename it over
    ``path`` with os.replace: a reader sees the old file or the whole new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=f".{fmt}.part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        rows, sheets = produce(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if os.name == "posix":
            os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if progress:
        progress(1.0, f"{rows:,} rows written")
    return ExportResult(path, fmt, rows, sheets, list(result.notes))


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a folder that cannot be opened (Windows) is left alone."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- CSV ------------------------------------------------------------------------------------------------
def _csv_cell(kind: str, currency: str | None = None) -> Callable[[Any], str]:
    def text(v: Any) -> str:
        return "" if v is None else neutralise(str(v))

    def money(v: Any) -> str:
        if v is None:
            return ""
        amount = to_money(v, currency) if isinstance(v, (int, float, Decimal)) else None
        return f"{amount:f}" if amount is not None else neutralise(str(v))

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


def write_csv(tmp: Path, columns: list[OutputColumn], chunks: Iterator[list[tuple]], currency: str | None = None) -> int:
    """CSV for machines: dates ISO, money with the currency's places and no grouping, text (the header
    too, which a pivot makes from data) neutralised against formula injection with a leading quote."""
    cells = [_csv_cell(c.kind, currency) for c in columns]
    n = 0
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow([neutralise(c.label) for c in columns])
        for chunk in chunks:
            out.writerows([[f(v) for f, v in zip(cells, r)] for r in chunk])
            n += len(chunk)
    return n


def _pg_text(expr: Any, kind: str, places: int = 2) -> Any:
    """SQL that formats one output column the way :func:`write_csv` formats it in Python."""
    if kind == "text":
        t = cast(expr, Text)
        risky = and_(func.ascii(t).in_([61, 43, 45, 64, 9, 13, 39]), t.regexp_match("^'*[-=+@\t\r]"))
        return case((risky, literal("'") + t), else_=t)
    if kind == "money":
        return cast(func.round(cast(expr, Numeric(38, 10)), places), Text)
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
    places = currency_places(compiled.currency)
    outer = select(*[_pg_text(inner.c[o.key], o.kind, places).label(o.key) for o in compiled.outputs])
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


def _hf(text: str, limit: int = 90) -> str:
    """Text for a header or footer: & is a code there, so it is doubled; long text is cut."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return text.replace("&", "&&")


def _print_setup(sheet: Any, title: str, subtitle: str, run_at: str, *, landscape: bool, repeat: bool = True,
                 chartsheet: bool = False) -> None:
    """Pages a manager can hand on: the report's name and parameters at the top of each page, when it
    was run and "Page n of N" at the bottom, the header row repeated, and as wide as one page."""
    if landscape:
        sheet.set_landscape()
    else:
        sheet.set_portrait()
    sheet.set_paper(9)   # A4
    # Title and parameters on the left, on two lines, so they never run into each other on a narrow page.
    sheet.set_header(f"&L&B{_hf(title, 80)}&B\n{_hf(subtitle, 150)}", {"margin": 0.25})
    sheet.set_footer(f"&L{_hf(run_at, 60)}&RPage &P of &N", {"margin": 0.25})
    if chartsheet:
        return
    sheet.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.7)
    if repeat:
        sheet.repeat_rows(0)
    sheet.fit_to_pages(1, 0)


def _subtitle(result: ReportResult) -> str:
    """The parameters in one line for page headers: "Period: Last 24 months (…) · Order status is paid"."""
    rows = result.parameter_rows(0, timezone=result.timezone)
    keep = [f"{k}: {v}" for k, v in rows if k not in ("Report", "Source", "Run at", "As of", "Time zone", "Rows",
                                                         "Note", "Grouped by", "Filter", "Currency", "Limit")]
    keep += [v for k, v in rows if k == "Filter"]
    return " · ".join(keep) or result.compiled.source.title


def _run_at(result: ReportResult) -> str:
    return next((f"Run {v}" for k, v in result.parameter_rows(0, timezone=result.timezone) if k == "Run at"), "")


def write_xlsx(tmp: Path, result: ReportResult, chunks: Iterator[list[tuple]], *,
               max_sheet_rows: int = XLSX_MAX_ROWS, progress: ProgressFn | None = None) -> tuple[int, int]:
    import xlsxwriter

    from backoffice.reports.charts import ChartAccumulator

    if max_sheet_rows < 3:
        raise ValueError("a sheet needs room for a header, a row and the totals")
    columns = result.columns
    currency = result.currency
    title = result.definition.display_title()
    per_sheet = max_sheet_rows - 2   # header + a totals row on the last sheet
    wb = xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "strings_to_numbers": False,
                                        "strings_to_formulas": False, "strings_to_urls": False,
                                        "remove_timezone": True, "default_date_format": "yyyy-mm-dd"})
    try:
        head_props = {"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E79", "bottom": 1,
                      "text_wrap": True, "valign": "vcenter"}
        head = wb.add_format(head_props)
        head_quoted = wb.add_format({**head_props, "quote_prefix": True})
        number_formats = {**NUM_FORMATS, "money": money_format(currency)}
        formats = {k: wb.add_format({"num_format": f}) for k, f in number_formats.items()}
        total_formats = {k: wb.add_format({"num_format": f, "bold": True, "top": 1})
                         for k, f in number_formats.items()}
        total_label = wb.add_format({"bold": True, "top": 1})
        # A text cell is a string cell, never a formula; one a spreadsheet might take for a formula when it
        # is edited gets the quote-prefix style (Excel's own hidden apostrophe), not an apostrophe in it.
        quoted = wb.add_format({"quote_prefix": True})
        date_formats: dict[tuple[str, bool], Any] = {}

        def date_format(value: Any, bucket: str, partial: bool) -> Any:
            code = bucket_number_format(value, bucket, partial)
            key = (code, partial)
            if key not in date_formats:
                props: dict[str, Any] = {"num_format": code, "align": "left"}
                if partial:
                    props.update({"italic": True, "font_color": "#64748B"})
                date_formats[key] = wb.add_format(props)
            return date_formats[key]

        sheets: list[tuple[Any, int]] = []   # (worksheet, data rows on it)
        widths = [max(8, min(40, len(c.label) + 2), WIDTHS.get(c.kind, 10)) for c in columns]
        for i, c in enumerate(columns):
            bucket = bucket_of(c.key, c.kind)
            if bucket:
                widths[i] = max(widths[i], 13 + (len(PARTIAL_SUFFIX) if c.key in result.compiled.partial else 0))
            elif c.kind == "money":
                widths[i] = max(widths[i], 15)
        sized = False
        risky = _FORMULA_FIRST

        def new_sheet() -> Any:
            name = SHEET_NAME if not sheets else f"{SHEET_NAME} ({len(sheets) + 1})"
            ws = wb.add_worksheet(name)
            ws.freeze_panes(1, 0)
            ws.set_row(0, 30)
            for i, c in enumerate(columns):
                ws.write_string(0, i, c.label, head_quoted if c.label and c.label[0] in risky else head)
            sheets.append((ws, 0))
            return ws

        # Columns by how they are written, so the row loop makes one call per non-empty cell.
        numbers = [(i, formats[c.kind]) for i, c in enumerate(columns) if c.numeric and c.kind != "money"]
        moneys = [(i, formats["money"]) for i, c in enumerate(columns) if c.kind == "money"]
        buckets = [(i, c.key, bucket_of(c.key, c.kind)) for i, c in enumerate(columns) if bucket_of(c.key, c.kind)]
        dates = [(i, formats[c.kind]) for i, c in enumerate(columns)
                 if c.kind in ("date", "datetime") and not bucket_of(c.key, c.kind)]
        texts = [i for i, c in enumerate(columns) if not c.numeric and c.kind not in ("date", "datetime")]
        additive = [i for i, c in enumerate(columns) if c.additive and c.numeric]
        sums: list[Any] = [(Decimal(0) if columns[i].kind == "money" else 0.0) if i in additive else None
                           for i in range(len(columns))]
        number_types = (int, float)
        chart_acc = ChartAccumulator(columns, result.definition.chart, title=title, is_partial=result.is_partial,
                                     currency=currency)

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
                        elif isinstance(v, (int, float, Decimal)):
                            if v == v and abs(v) < 1e308:
                                write_number(row, i, float(v), fmt)
                        else:
                            _write_text(write_string, row, i, str(v), quoted)
                for i, fmt in moneys:
                    v = r[i]
                    if v is not None:
                        # read back rounded already (the query's Money type); anything else is rounded here
                        amount = v if type(v) is Decimal else to_money(v, currency)
                        if amount is not None:
                            write_number(row, i, float(amount), fmt)
                        elif not isinstance(v, (int, float, Decimal)):
                            _write_text(write_string, row, i, str(v), quoted)
                for i, key, bucket in buckets:
                    v = r[i]
                    if v is not None:
                        d = as_date(v)
                        if d is not None:
                            write_datetime(row, i, d, date_format(d, bucket, result.is_partial(key, d)))
                        else:
                            _write_text(write_string, row, i, str(v), quoted)
                for i, fmt in dates:
                    v = r[i]
                    if v is not None:
                        if isinstance(v, dt.date):
                            write_datetime(row, i, v, fmt)
                        else:
                            _write_text(write_string, row, i, str(v), quoted)
                for i in texts:
                    v = r[i]
                    if v is not None:
                        if type(v) is not str:
                            v = str(v)
                        if v and v[0] in risky:
                            write_string(row, i, v, quoted)
                        else:
                            write_string(row, i, v)
            for i in additive:
                if columns[i].kind == "money":
                    sums[i] += sum(((r[i] if type(r[i]) is Decimal else to_money(r[i], currency)) or 0
                                    for r in chunk if r[i] is not None), Decimal(0))
                else:
                    sums[i] += sum(r[i] for r in chunk if isinstance(r[i], (int, float)) and r[i] == r[i])
            chart_acc.add(chunk)
            total_rows += len(chunk)
            if progress:
                progress(0.5, f"{total_rows:,} rows written")
        sheets[-1] = (ws, row)

        subtitle, run_at = _subtitle(result), _run_at(result)
        landscape = sum(widths) > 90 or len(columns) > 6
        for sheet, n in sheets:
            for i, w in enumerate(widths):
                sheet.set_column(i, i, w)
            sheet.autofilter(0, 0, max(n, 1), max(0, len(columns) - 1))
            _print_setup(sheet, title, subtitle, run_at, landscape=landscape)
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
                value: Any = float(sums[i]) if c.kind == "money" else (
                    int(sums[i]) if c.kind == "int" else round(sums[i], 6))
                last.write_formula(trow, i, formula, total_formats[c.kind], value)
            if first_text is not None:
                last.write_string(trow, first_text, "Total", total_label)

        chart = chart_acc.data() if total_rows else None
        if chart is not None:
            _xlsx_chart(wb, chart, result, subtitle, run_at)
        _parameters_sheet(wb, result, total_rows, head, title, subtitle, run_at)
        if chart is not None:
            _chart_data_sheet(wb, chart, result)
        sheets[0][0].activate()
    finally:
        wb.close()
    return total_rows, len(sheets)


def _write_text(write_string: Callable[..., Any], row: int, col: int, text: str, quoted: Any) -> None:
    if text and text[0] in _FORMULA_FIRST:
        write_string(row, col, text, quoted)
    else:
        write_string(row, col, text)


def _parameters_sheet(wb: Any, result: ReportResult, rows: int, head: Any, title: str, subtitle: str,
                      run_at: str) -> None:
    """Label and value side by side, wrapped, on pages as wide as the paper (portrait)."""
    params = wb.add_worksheet("Parameters")
    label = wb.add_format({"bold": True, "valign": "top"})
    value = wb.add_format({"text_wrap": True, "valign": "top"})
    value_quoted = wb.add_format({"text_wrap": True, "valign": "top", "quote_prefix": True})
    params.set_column(0, 0, 24)
    params.set_column(1, 1, 72)
    params.write_string(0, 0, "Parameter", head)
    params.write_string(0, 1, "Value", head)
    for i, (k, v) in enumerate(result.parameter_rows(rows, timezone=result.timezone), start=1):
        params.write_string(i, 0, k, label)
        params.write_string(i, 1, v, value_quoted if v and v[0] in _FORMULA_FIRST else value)
        lines = sum(max(1, math.ceil(len(part) / 80)) for part in v.split("\n"))
        if lines > 1:
            params.set_row(i, 15 * lines)
    _print_setup(params, title, subtitle, run_at, landscape=False)


def _xlsx_chart(wb: Any, data: Any, result: ReportResult, subtitle: str, run_at: str) -> None:
    """A native chart on its own sheet, drawn from a hidden "Chart data" sheet that holds exactly what it
    shows: the periods as real dates (the axis in the bucket's format) or the categories (top N and
    "Other", names cut to fit), one column per measure."""
    n = len(data.labels)
    names = list(data.series)
    kinds = data.kinds
    dated = _dated(data)
    axis_format = axis_number_format(data.bucket) if data.bucket else "yyyy-mm-dd"
    kind = {"line": {"type": "line"}, "bar": {"type": "column"}, "stacked_bar": {"type": "column", "subtype": "stacked"},
            "pie": {"type": "pie"}}[data.kind]
    if data.horizontal:
        kind = {"type": "bar", **({"subtype": "stacked"} if data.kind == "stacked_bar" else {})}
    chart = wb.add_chart(kind)
    palette = ["#2563EB", "#F59E0B", "#10B981", "#EF4444", "#8B5CF6", "#0EA5E9", "#84CC16", "#EC4899"]
    for j, name in enumerate(names):
        colour = palette[j % len(palette)]
        series: dict[str, Any] = {
            "name": ["Chart data", 0, j + 1],
            "categories": ["Chart data", 1, 0, n, 0],
            "values": ["Chart data", 1, j + 1, n, j + 1],
        }
        points: list[Any] = []
        for k in range(n):
            if data.partial[k] if k < len(data.partial) else False:
                points.append({"fill": {"color": colour, "transparency": 55},
                               "border": {"color": colour, "dash_type": "dash", "width": 1.25}}
                              if data.kind != "line" else {"border": {"color": colour, "dash_type": "dash"}})
            elif data.other and k == n - 1:
                points.append({"fill": {"color": "#94A3B8"}, "border": {"none": True}})
            else:
                points.append(None)
        if data.kind == "line":
            series["line"] = {"color": colour, "width": 2}
            series["marker"] = {"type": "circle", "size": 4, "fill": {"color": colour}, "border": {"color": colour}}
        elif data.kind == "pie":
            points = [{"fill": {"color": "#94A3B8" if data.other and k == n - 1 else palette[k % len(palette)]}}
                      for k in range(n)]
        else:
            series["fill"] = {"color": colour}
            series["gap"] = 60
        if data.kind == "stacked_bar":
            series["overlap"] = 100
        if data.kind == "line":
            points = []   # a line's partial period is a series of its own, dashed (below)
        if any(p is not None for p in points):
            series["points"] = points
        if data.kind == "pie":
            series["data_labels"] = {"percentage": True, "category": True, "separator": "\n",
                                     "position": "best_fit", "font": {"size": 8}}
        chart.add_series(series)
    dashed = _partial_line(data)
    if dashed is not None:
        for j, name in enumerate(names):
            colour = palette[j % len(palette)]
            col = len(names) + 1 + j
            chart.add_series({"name": ["Chart data", 0, col], "categories": ["Chart data", 1, 0, n, 0],
                              "values": ["Chart data", 1, col, n, col],
                              "line": {"color": colour, "width": 2, "dash_type": "dash"},
                              "marker": {"type": "circle", "size": 5, "fill": {"color": "#FFFFFF"},
                                         "border": {"color": colour}}})
    partial = [data.labels[k] for k in range(n) if k < len(data.partial) and data.partial[k]]
    chart_title = data.title
    if partial and dated:   # the axis shows the period, the title says which one is incomplete
        chart_title += " (" + ", ".join(label.replace(PARTIAL_SUFFIX, "") for label in partial) + \
            (" is" if len(partial) == 1 else " are") + " partial: " + ("dashed)" if dashed is not None
                                                                        else "lighter)")
    chart.set_title({"name": chart_title, "name_font": {"size": 13, "bold": True}})
    value_format = money_format(result.currency) if kinds[names[0]] == "money" else NUM_FORMATS.get(kinds[names[0]],
                                                                                                  "General")
    if data.kind != "pie":
        chart.set_legend({"position": "bottom"} if len(names) > 1 or dashed is not None else {"none": True})
        category_axis: dict[str, Any] = {"num_font": {"size": 9}}
        if dated:
            category_axis["num_format"] = axis_format
        if n > 24 and not data.horizontal:
            category_axis["interval_unit"] = math.ceil(n / 24)
            category_axis["num_font"]["rotation"] = -45
        elif n > 8 and not data.horizontal:
            category_axis["num_font"]["rotation"] = -45
        if data.horizontal:
            category_axis["reverse"] = True   # the first (largest) on top, as in the table
            category_axis["crossing"] = "max"  # and the value axis stays at the bottom
            category_axis["num_font"]["size"] = 8
        value_axis = {"num_format": value_format.split(";")[0].replace(".00", "").replace(".000", ""),
                      "num_font": {"size": 9},
                      "major_gridlines": {"visible": True, "line": {"color": "#E2E8F0"}}}
        if data.horizontal:
            chart.set_y_axis(category_axis)
            chart.set_x_axis(value_axis)
        else:
            chart.set_x_axis(category_axis)
            chart.set_y_axis(value_axis)
    else:
        chart.set_legend({"position": "right", "font": {"size": 9}})
    sheet = wb.add_chartsheet("Chart")
    sheet.set_chart(chart)
    _print_setup(sheet, result.definition.display_title(), subtitle, run_at, landscape=True, chartsheet=True)


def _dated(data: Any) -> bool:
    """Whether the chart's categories are dates an axis format can show (a week or a quarter cannot be
    written as a date format: those categories are their labels)."""
    return data.bucket in ("day", "month", "year") or (not data.bucket and data.x_dates is not None
                                                        and data.kind != "pie")


def _partial_line(data: Any) -> tuple[list[bool], list[bool]] | None:
    """For a line with partial periods: which points the solid series keeps and which the dashed
    "(partial)" one draws (the partial points and their complete neighbours, so the dashes join the line)."""
    n = len(data.labels)
    partial = [k < len(data.partial) and data.partial[k] for k in range(n)]
    if data.kind != "line" or not any(partial):
        return None
    solid = [not p for p in partial]
    dashed = [partial[k] or (k > 0 and partial[k - 1]) or (k + 1 < n and partial[k + 1]) for k in range(n)]
    return solid, dashed


def _chart_data_sheet(wb: Any, data: Any, result: ReportResult) -> None:
    n = len(data.labels)
    names = list(data.series)
    kinds = data.kinds
    source = wb.add_worksheet("Chart data")
    head = wb.add_format({"bold": True})
    source.write_string(0, 0, data.x_label, head)
    dated = _dated(data)
    axis_format = axis_number_format(data.bucket) if data.bucket else "yyyy-mm-dd"
    category_format = wb.add_format({"num_format": axis_format, "align": "left"})
    value_formats = {k: wb.add_format({"num_format": money_format(result.currency) if k == "money"
                                       else NUM_FORMATS.get(k, "General")}) for k in set(kinds.values())}
    split = _partial_line(data)
    for j, name in enumerate(names):
        source.write_string(0, j + 1, name, head)
        if split is not None:
            source.write_string(0, len(names) + 1 + j, f"{name}{PARTIAL_SUFFIX}", head)
    for k in range(n):
        x = data.x_values[k] if k < len(data.x_values) else data.labels[k]
        d = as_date(x) if dated and x != "Other" else None
        if d is not None:
            source.write_datetime(k + 1, 0, d, category_format)
        else:
            source.write_string(k + 1, 0, data.labels[k])
        for j, name in enumerate(names):
            v = float(data.series[name][k])
            if v == v:
                if kinds[name] == "money":
                    v = float(to_money(v, result.currency) or 0)
                if split is None or split[0][k]:
                    source.write_number(k + 1, j + 1, v, value_formats[kinds[name]])
                if split is not None and split[1][k]:
                    source.write_number(k + 1, len(names) + 1 + j, v, value_formats[kinds[name]])
    source.set_column(0, 0, 30)
    source.set_column(1, len(names) * (2 if split is not None else 1), 16)
    source.hide()




# -- PDF ------------------------------------------------------------------------------------------------
def cell_text(v: Any, column: OutputColumn, result: ReportResult | None = None) -> str:
    """A value as the PDF shows it: money with its currency's places, periods by their bucket
    ("Jan 2025", "2025-W03", "Q1 2025", marked "(partial)"), long text cut."""
    kind = column.kind
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if kind == "money" and isinstance(v, (int, float, Decimal)):
        return money_text(v, result.currency if result else None)
    if kind == "int" and isinstance(v, (int, float, Decimal)):
        return f"{int(v):,}"
    if kind == "number" and isinstance(v, (int, float, Decimal)):
        return f"{float(v):,.2f}"
    if kind == "percent" and isinstance(v, (int, float, Decimal)):
        return f"{float(v):.1%}"
    bucket = bucket_of(column.key, kind)
    if bucket and as_date(v) is not None:
        return bucket_label(v, bucket, result is not None and result.is_partial(column.key, v))
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
    header on each page and numbers right-aligned; each page ends with the run time and "Page n of N".
    Yields (figure, rows so far)."""
    from matplotlib.figure import Figure

    from backoffice.reports import charts

    size = (11.69, 8.27)
    columns = result.columns
    rows = [[cell_text(v, c, result) for v, c in zip(r, columns)] for chunk in _frame_chunks(result) for r in chunk]
    title = result.definition.display_title()
    run_at = _run_at(result)
    right = [c.numeric for c in columns]
    additive = [c.additive and c.numeric for c in columns]
    has_totals = bool(rows) and any(additive) and not result.truncated
    if has_totals:
        totals = []
        for c, add in zip(columns, additive):
            if not add:
                totals.append("")
                continue
            values = [v for v in result.frame[c.key].tolist() if v is not None and v == v]
            total: Any = sum((to_money(v, result.currency) or 0 for v in values), Decimal(0)) if c.kind == "money" \
                else sum(float(v) for v in values)
            totals.append(cell_text(total, c, result))
        first_free = next((i for i, add in enumerate(additive) if not add), None)
        if first_free is not None:
            totals[first_free] = "Total"
        rows.append(totals)
    pages = 1 + (math.ceil(len(rows) / rows_per_page) if rows else 1)

    def footer(page: Any, number: int) -> None:
        page.text(0.03, 0.02, run_at, fontsize=7.5, color="#64748b")
        page.text(0.97, 0.02, f"Page {number} of {pages}", fontsize=7.5, color="#64748b", ha="right")

    first = Figure(figsize=size)
    first.text(0.04, 0.95, title, fontsize=18, fontweight="bold", color="#0f172a", va="top")
    lines = [f"{k}: {v}" for k, v in result.parameter_rows(timezone=result.timezone)]
    lines = [line if len(line) <= 150 else line[:149] + "…" for line in lines]
    first.text(0.04, 0.89, "\n".join(lines[:14]), fontsize=8.5, color="#334155", va="top", linespacing=1.5)
    data = charts.chart_data(result)
    if data is not None:
        # room under the axes for turned period labels, and beside them for long category names
        charts.draw(first, data, rect=(0.07, 0.17, 0.88, 0.34) if not data.horizontal else (0.25, 0.1, 0.7, 0.4))
    footer(first, 1)
    yield first, 0
    if not rows:
        page = Figure(figsize=size)
        page.text(0.04, 0.95, f"{title}: no rows", fontsize=12, va="top")
        page.text(0.04, 0.9, "   ".join(c.label for c in columns), fontsize=9, fontweight="bold", va="top")
        footer(page, 2)
        yield page, 0
        return
    for number, start in enumerate(range(0, len(rows), rows_per_page), start=2):
        page = Figure(figsize=size)
        ax = page.add_axes((0.03, 0.06, 0.94, 0.85))
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
            if r > 0 and cell.get_text().get_text().endswith(PARTIAL_SUFFIX):
                cell.get_text().set_fontstyle("italic")
                cell.get_text().set_color("#64748b")
            if c < len(right) and right[c]:
                cell.get_text().set_horizontalalignment("right")
                cell._loc = "right"  # noqa: SLF001 - matplotlib places a cell's text by its loc
        footer(page, number)
        yield page, end


# -- a plain table (the rows a list view shows) ---------------------------------------------------------
def write_table(path: str | Path, headers: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str = "") -> int:
    """Write ``rows`` under ``headers`` as CSV (UTF-8 with BOM, for spreadsheets) or XLSX by the file's
    suffix; returns the number of rows. Call it in a worker."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        book = Workbook(write_only=True)
        sheet = book.create_sheet((title or "Sheet")[:31])
        bold = Font(bold=True)
        header_cells = []
        for h in headers:
            cell = WriteOnlyCell(sheet, value=h)
            cell.font = bold
            header_cells.append(cell)
        sheet.append(header_cells)
        for r in rows:
            sheet.append([_table_cell_value(v) for v in r])
        book.save(path)
    else:
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(headers)
            for r in rows:
                writer.writerow([_table_csv_value(v) for v in r])
    return len(rows)


def _table_cell_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        local = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
        return local.astimezone().replace(tzinfo=None)  # spreadsheets have no time zones: local time
    return value


def _table_csv_value(value: Any) -> Any:
    value = _table_cell_value(value)
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, dt.datetime) else value
