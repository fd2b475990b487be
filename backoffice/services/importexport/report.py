"""The annotated error report: the file's rows as they were, an "errors" column, bad cells highlighted,
and a second sheet listing every problem. Rows keep their row numbers, so row 7 of the report is row 7
of the file; after fixing the cells the report itself can be imported again (the "errors" column is
ignored)."""

from __future__ import annotations

import os
from pathlib import Path

from backoffice.services.importexport.common import Problem
from backoffice.services.importexport.model import ImportReport
from backoffice.services.importexport.reading import ParsedFile

ERRORS_COLUMN = "errors"
MAX_CELL = 32767   # Excel's limit on the text in one cell


def write_error_report(report: ImportReport, parsed: ParsedFile, out_path: str | os.PathLike[str]) -> Path:
    """Write the annotated XLSX report of ``report``'s problems for ``parsed``; returns the path."""
    import xlsxwriter

    out = Path(out_path)
    by_row: dict[int, list[Problem]] = {}
    for p in report.problems:
        by_row.setdefault(p.row, []).append(p)
    col_of = {}
    for i, h in enumerate(parsed.header):
        col_of.setdefault(h, i)
    first = next(parsed.store.chunks(1000), None)
    width = max([len(parsed.header)] + [len(r) for r in (first.rows if first else [])])
    err_col = width
    wb = xlsxwriter.Workbook(str(out), {"constant_memory": True, "strings_to_numbers": False,
                                        "strings_to_formulas": False, "strings_to_urls": False})
    try:
        ws = wb.add_worksheet("Rows")
        head = wb.add_format({"bold": True, "bg_color": "#DCE6F1", "bottom": 1})
        bad = wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
        err = wb.add_format({"font_color": "#9C0006", "text_wrap": False})
        ws.set_column(0, width - 1, 16)
        ws.set_column(err_col, err_col, 80)
        top = parsed.header_row - 1
        ws.freeze_panes(top + 1, 0)
        for i, h in enumerate(parsed.header):
            ws.write_string(top, i, h, head)
        ws.write_string(top, err_col, ERRORS_COLUMN, head)
        last = top + 1
        for cells, num in ((c, n) for chunk in parsed.store.chunks() for c, n in zip(chunk.rows, chunk.numbers,
                                                                                    strict=True)):
            last = num
            problems = by_row.get(num, ())
            marked = {col_of[p.column] for p in problems if p.column in col_of}
            r = num - 1
            for i, v in enumerate(cells):
                if v != "" or i in marked:
                    ws.write_string(r, i, v[:MAX_CELL], bad if i in marked else None)
            if problems:
                ws.write_string(r, err_col, "; ".join(f"{p.column}: {p.message}" if p.column else p.message
                                                      for p in problems)[:MAX_CELL], err)
        ws.autofilter(top, 0, max(top + 1, last - 1), err_col)
        listing = wb.add_worksheet("Problems")
        listing.set_column(0, 0, 8)
        listing.set_column(1, 1, 22)
        listing.set_column(2, 2, 100)
        for i, h in enumerate(("row", "column", "problem")):
            listing.write_string(0, i, h, head)
        for n, p in enumerate(report.problems, start=1):
            listing.write_number(n, 0, p.row)
            listing.write_string(n, 1, p.column)
            listing.write_string(n, 2, p.message[:MAX_CELL])
        listing.freeze_panes(1, 0)
    finally:
        wb.close()
    return out
