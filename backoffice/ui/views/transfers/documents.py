"""Paper for a transfer: a pick list (before shipping) or a packing slip (once shipped), as an Excel
workbook or a PDF. Both list every line with SKU, barcode, product and quantity, and a blank column to
tick; no bins. Written in a worker: plain data in, a file out."""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from pathlib import Path

from backoffice.ui.views.inventory.common import format_qty, format_when, tr


@dataclass(frozen=True)
class DocumentLine:
    sku: str
    barcode: str
    title: str
    quantity: int


@dataclass(frozen=True)
class TransferDocument:
    kind: str                 # "pick" or "packing"
    number: str
    state: str
    source: str
    destination: str
    note: str
    created_by: str
    created_at: dt.datetime | None
    lines: tuple[DocumentLine, ...]

    @property
    def title(self) -> str:
        return tr("Packing slip") if self.kind == "packing" else tr("Pick list")

    @property
    def units(self) -> int:
        return sum(ln.quantity for ln in self.lines)

    def facts(self) -> list[tuple[str, str]]:
        return [(tr("Transfer"), self.number or tr("not saved yet")), (tr("From"), self.source),
                (tr("To"), self.destination), (tr("Created"), f"{format_when(self.created_at)} {self.created_by}".strip()),
                (tr("Lines"), format_qty(len(self.lines))), (tr("Units"), format_qty(self.units)),
                (tr("Note"), self.note)]


def write_document(doc: TransferDocument, path: str | Path) -> Path:
    """By the file's suffix: .xlsx or .pdf."""
    path = Path(path)
    if path.suffix.lower() == ".pdf":
        write_pdf(doc, path)
    elif path.suffix.lower() == ".xlsx":
        write_xlsx(doc, path)
    else:
        raise ValueError(f"{path.name}: a pick list is written as .xlsx or .pdf")
    return path


def write_xlsx(doc: TransferDocument, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    book = Workbook()
    sheet = book.active
    sheet.title = (doc.number or doc.title)[:31]
    sheet["A1"] = f"{doc.title} {doc.number}".strip()
    sheet["A1"].font = Font(bold=True, size=14)
    row = 3
    for label, value in doc.facts():
        sheet.cell(row, 1, label).font = Font(bold=True)
        sheet.cell(row, 2, value)
        row += 1
    row += 1
    headers = (tr("SKU"), tr("Barcode"), tr("Product"), tr("Quantity"), tr("Checked"))
    fill = PatternFill("solid", fgColor="E8EFFD")
    for col, header in enumerate(headers, 1):
        cell = sheet.cell(row, col, header)
        cell.font = Font(bold=True)
        cell.fill = fill
    thin = Side(style="thin", color="C8CDD4")
    for line in doc.lines:
        row += 1
        for col, value in enumerate((line.sku, line.barcode, line.title, line.quantity, ""), 1):
            cell = sheet.cell(row, col, value)
            cell.border = Border(bottom=thin)
        sheet.cell(row, 4).number_format = "#,##0"
        sheet.cell(row, 4).alignment = Alignment(horizontal="right")
    for col, width in zip("ABCDE", (18, 16, 48, 10, 10), strict=True):
        sheet.column_dimensions[col].width = width
    book.save(path)


def document_html(doc: TransferDocument) -> str:
    esc = html.escape
    facts = "".join(f"<tr><td class='k'>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in doc.facts() if v)
    rows = "".join(
        f"<tr><td>{esc(ln.sku)}</td><td>{esc(ln.barcode)}</td><td>{esc(ln.title)}</td>"
        f"<td align='right'>{esc(format_qty(ln.quantity))}</td><td align='center'>☐</td></tr>" for ln in doc.lines)
    headers = "".join(f"<th{' align=right' if h == tr('Quantity') else ''}>{esc(h)}</th>"
                      for h in (tr("SKU"), tr("Barcode"), tr("Product"), tr("Quantity"), tr("Checked")))
    return (
        "<html><head><style>"
        "body { font-family: sans-serif; font-size: 10pt; color: #111827; }"
        "h1 { font-size: 18pt; margin-bottom: 4px; }"
        "td.k { color: #6b7280; padding-right: 16px; }"
        "table.lines { border-collapse: collapse; margin-top: 14px; }"
        "table.lines th { background: #e8effd; text-align: left; padding: 4px 8px; }"
        "table.lines td { border-bottom: 1px solid #d5dae1; padding: 4px 8px; }"
        "</style></head><body>"
        f"<h1>{esc(doc.title)} {esc(doc.number)}</h1>"
        f"<table>{facts}</table>"
        f"<table class='lines' width='100%' cellspacing='0'><tr>{headers}</tr>{rows}</table>"
        "</body></html>")


def write_pdf(doc: TransferDocument, path: Path) -> None:
    from PySide6.QtGui import QPageLayout, QPageSize, QTextDocument
    from PySide6.QtPrintSupport import QPrinter

    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(path))
    printer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    printer.setPageOrientation(QPageLayout.Orientation.Portrait)
    printer.setDocName(f"{doc.title} {doc.number}".strip())
    text = QTextDocument()
    text.setHtml(document_html(doc))
    text.print_(printer)
    if not path.exists() or path.stat().st_size == 0:
        raise OSError(f"could not write {path}")
