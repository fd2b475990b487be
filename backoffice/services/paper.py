"""A document on paper: a title, a block of facts, and a table of lines (with a total under it), written
as an Excel workbook (openpyxl) or an A4 PDF (matplotlib's PDF backend: fonts embedded, as many pages as
the lines need). Purchase orders and transfers' pick lists and packing slips are drawn with it, so they
look alike and the drawing lives in one place. Plain Python: the CLI, scheduled jobs and the desktop
write the same files.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

FIRST_PAGE_ROWS = 30       # the first page also holds the facts: fewer lines fit on it
ROWS_PER_PAGE = 40
GREY = "#6b7280"
BAND = "E8EFFD"
RULE = "C8CDD4"


@dataclass(frozen=True)
class Column:
    header: str
    x: float                  # on the PDF page (0..1): the left edge, or the right edge when right-aligned
    width: float = 12         # in the workbook, in characters
    clip: int = 0             # on the PDF, cut to this many characters (0: never)
    number_format: str = ""   # "#,##0" or "#,##0.00": a number, right-aligned
    short: str = ""           # the PDF's header, when shorter than the workbook's

    @property
    def right(self) -> bool:
        return bool(self.number_format)

    def text(self, value: Any) -> str:
        """The value as the PDF prints it."""
        if self.number_format == "#,##0" and isinstance(value, int):
            text = f"{value:,}"
        elif self.number_format and isinstance(value, Decimal | int | float):
            text = f"{value:,.2f}"
        else:
            text = "" if value is None else str(value)
        return clip(text, self.clip) if self.clip else text


@dataclass(frozen=True)
class Paper:
    title: str                                  # the workbook's first cell and the PDF's heading
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    facts: tuple[tuple[str, str], ...] = ()     # (label, value); empty values are left out
    sheet: str = ""                             # the worksheet's name (default: the title)
    heading: str = ""                           # the PDF's heading, when not the title
    subtitle: str = ""                          # under the PDF's heading (the store's name)
    creator: str = "Backoffice"
    total: tuple[str, Decimal, str] | None = None   # (label, amount in the workbook, text on the PDF)
    footer: str = ""                            # at the foot of the PDF's last page


def clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def xlsx_bytes(paper: Paper) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = (paper.sheet or paper.title)[:31]
    sheet["A1"] = paper.title
    sheet["A1"].font = Font(bold=True, size=14)
    row = 3
    for label, value in paper.facts:
        if value:
            sheet.cell(row, 1, label).font = Font(bold=True)
            sheet.cell(row, 2, value)
            row += 1
    row += 1
    fill = PatternFill("solid", fgColor=BAND)
    for col, column in enumerate(paper.columns, 1):
        cell = sheet.cell(row, col, column.header)
        cell.font, cell.fill = Font(bold=True), fill
    thin = Side(style="thin", color=RULE)
    for values in paper.rows:
        row += 1
        for col, (column, value) in enumerate(zip(paper.columns, values, strict=True), 1):
            cell = sheet.cell(row, col, value)
            cell.border = Border(bottom=thin)
            if column.number_format:
                cell.number_format = column.number_format
                cell.alignment = Alignment(horizontal="right")
    if paper.total is not None:
        row += 1
        last = len(paper.columns)
        sheet.cell(row, last - 1, paper.total[0]).font = Font(bold=True)
        total = sheet.cell(row, last, paper.total[1])
        total.font, total.number_format = Font(bold=True), paper.columns[-1].number_format or "#,##0.00"
    for col, column in enumerate(paper.columns, 1):
        sheet.column_dimensions[get_column_letter(col)].width = column.width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def pages(paper: Paper) -> list[Any]:
    """The document as matplotlib figures, one per A4 page (the PDF's pages)."""
    from matplotlib.figure import Figure

    rows = paper.rows
    chunks = [rows[:FIRST_PAGE_ROWS]] + [rows[i:i + ROWS_PER_PAGE] for i in range(FIRST_PAGE_ROWS, len(rows),
                                                                                  ROWS_PER_PAGE)]
    figures = []
    for page_no, lines in enumerate(chunks, 1):
        fig = Figure(figsize=(8.27, 11.69))
        fig.text(0.07, 0.94, paper.heading or paper.title, fontsize=18, weight="bold")
        if paper.subtitle:
            fig.text(0.07, 0.918, paper.subtitle, fontsize=10, color=GREY)
        fig.text(0.94, 0.94, f"page {page_no} of {len(chunks)}", fontsize=8, ha="right", color=GREY)
        y = 0.88 if page_no == 1 else 0.89
        if page_no == 1:
            for label, value in paper.facts:
                if value:
                    fig.text(0.07, y, label, fontsize=9, color=GREY)
                    fig.text(0.25, y, clip(value, 80), fontsize=9)
                    y -= 0.02
            y -= 0.015
        fig.patches.append(_band(fig, y - 0.006))
        for column in paper.columns:
            fig.text(column.x, y, column.short or column.header, fontsize=9, weight="bold",
                     ha="right" if column.right else "left")
        y -= 0.024
        for values in lines:
            for column, value in zip(paper.columns, values, strict=True):
                fig.text(column.x, y, column.text(value), fontsize=8.5, ha="right" if column.right else "left")
            y -= 0.02
        if page_no == len(chunks):
            if paper.total is not None:
                y -= 0.012
                fig.text(paper.columns[-2].x, y, paper.total[0], fontsize=10, weight="bold", ha="right")
                fig.text(paper.columns[-1].x, y, paper.total[2], fontsize=10, weight="bold", ha="right")
            if paper.footer:
                fig.text(0.07, 0.05, paper.footer, fontsize=8, color=GREY)
        figures.append(fig)
    return figures


def pdf_bytes(paper: Paper) -> bytes:
    from matplotlib.backends.backend_pdf import PdfPages

    out = io.BytesIO()
    with PdfPages(out, metadata={"Title": paper.heading or paper.title, "Creator": paper.creator}) as pdf:
        for fig in pages(paper):
            pdf.savefig(fig)
    return out.getvalue()


def _band(fig: Any, y: float) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((0.06, y), 0.89, 0.02, transform=fig.transFigure, facecolor="#" + BAND.lower(),
                     edgecolor="none", zorder=-1)


def write(paper: Paper, path: str | Path, what: str) -> Path:
    """By the file's suffix: .pdf or .xlsx (anything else is refused, naming ``what`` is written)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        path.write_bytes(pdf_bytes(paper))
    elif suffix == ".xlsx":
        path.write_bytes(xlsx_bytes(paper))
    else:
        raise ValueError(f"{path.name}: {what} is written as .pdf or .xlsx")
    return path
