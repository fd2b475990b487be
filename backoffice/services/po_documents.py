"""The purchase-order document the supplier gets: a PDF and an Excel workbook with the same content,
and the e-mail that carries both. Plain Python (no Qt), so the CLI and scheduled jobs send the same
document as the desktop application.

The PDF is drawn with matplotlib's PDF backend (A4, fonts embedded, one table row per line, as many
pages as needed); the workbook with openpyxl, money as numbers with a currency format.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from backoffice.models import Supplier
from backoffice.services.alerts import MailError, send_message
from backoffice.services.base import ValidationError
from backoffice.services.settings import SmtpSettings

if TYPE_CHECKING:
    from backoffice.services.purchase_orders import OrderInfo


def format_money(amount: Decimal | None, currency: str) -> str:
    """``1,234.50 EUR``: two decimals, grouped, with the currency code (never a float)."""
    if amount is None:
        return "—"
    return f"{Decimal(amount).quantize(Decimal('0.01')):,} {currency}".strip()


@dataclass(frozen=True)
class PurchaseDocument:
    number: str
    store_name: str
    supplier: str
    supplier_contact: str
    supplier_email: str
    payment_terms: str
    deliver_to: str
    currency: str
    order_date: dt.date
    expected_on: dt.date | None
    note: str
    lines: tuple[tuple[str, str, str, int, Decimal, Decimal], ...]   # sku, supplier sku, product, qty, unit, total

    @property
    def total(self) -> Decimal:
        return sum((ln[5] for ln in self.lines), Decimal("0.00"))

    def facts(self) -> list[tuple[str, str]]:
        return [("Purchase order", self.number), ("Date", self.order_date.isoformat()),
                ("Supplier", self.supplier), ("Attention", self.supplier_contact),
                ("Deliver to", self.deliver_to),
                ("Expected", self.expected_on.isoformat() if self.expected_on else ""),
                ("Payment terms", self.payment_terms), ("Currency", self.currency), ("Note", self.note)]


def build_document(info: OrderInfo, supplier: Supplier | None, store_name: str = "Backoffice") -> PurchaseDocument:
    on = (info.sent_at or info.created_at).date()
    return PurchaseDocument(
        info.number, store_name, info.supplier, supplier.contact_name if supplier else "", info.supplier_email,
        supplier.payment_terms if supplier else "", info.destination, info.currency, on, info.expected_on, info.note,
        tuple((ln.sku, ln.supplier_sku, ln.title, ln.quantity, ln.unit_cost, ln.line_total) for ln in info.lines))


def xlsx_bytes(doc: PurchaseDocument) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    book = Workbook()
    sheet = book.active
    sheet.title = doc.number[:31]
    sheet["A1"] = f"{doc.store_name} — purchase order {doc.number}"
    sheet["A1"].font = Font(bold=True, size=14)
    row = 3
    for label, value in doc.facts():
        if value:
            sheet.cell(row, 1, label).font = Font(bold=True)
            sheet.cell(row, 2, value)
            row += 1
    row += 1
    fill = PatternFill("solid", fgColor="E8EFFD")
    headers = ("Our SKU", "Your SKU", "Product", "Quantity", f"Unit cost ({doc.currency})", f"Total ({doc.currency})")
    for col, header in enumerate(headers, 1):
        cell = sheet.cell(row, col, header)
        cell.font, cell.fill = Font(bold=True), fill
    thin = Side(style="thin", color="C8CDD4")
    money = '#,##0.00'
    for sku, ssku, title, qty, unit, total in doc.lines:
        row += 1
        for col, value in enumerate((sku, ssku, title, qty, unit, total), 1):
            cell = sheet.cell(row, col, value)
            cell.border = Border(bottom=thin)
        sheet.cell(row, 4).number_format = "#,##0"
        sheet.cell(row, 5).number_format = money
        sheet.cell(row, 6).number_format = money
        for col in (4, 5, 6):
            sheet.cell(row, col).alignment = Alignment(horizontal="right")
    row += 1
    sheet.cell(row, 5, "Total").font = Font(bold=True)
    total = sheet.cell(row, 6, doc.total)
    total.font, total.number_format = Font(bold=True), money
    for col, width in zip("ABCDEF", (20, 16, 46, 10, 16, 16), strict=True):
        sheet.column_dimensions[col].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


_FIRST_PAGE_ROWS = 30
_ROWS_PER_PAGE = 40


def pages(doc: PurchaseDocument) -> list[Any]:
    """The document as matplotlib figures, one per A4 page (the PDF's pages)."""
    from matplotlib.figure import Figure

    def clip(text: str, n: int) -> str:
        return text if len(text) <= n else text[: n - 1] + "…"

    # The first page also holds the order's facts: fewer lines fit on it.
    chunks = [doc.lines[:_FIRST_PAGE_ROWS]] + [doc.lines[i:i + _ROWS_PER_PAGE]
                                               for i in range(_FIRST_PAGE_ROWS, len(doc.lines), _ROWS_PER_PAGE)]
    columns = ((0.07, "left", "Our SKU"), (0.29, "left", "Your SKU"), (0.43, "left", "Product"),
               (0.70, "right", "Qty"), (0.82, "right", "Unit cost"), (0.94, "right", "Total"))
    figures = []
    for page_no, lines in enumerate(chunks, 1):
        fig = Figure(figsize=(8.27, 11.69))
        fig.text(0.07, 0.94, f"Purchase order {doc.number}", fontsize=18, weight="bold")
        fig.text(0.07, 0.918, doc.store_name, fontsize=10, color="#6b7280")
        fig.text(0.94, 0.94, f"page {page_no} of {len(chunks)}", fontsize=8, ha="right", color="#6b7280")
        y = 0.88 if page_no == 1 else 0.89
        if page_no == 1:
            for label, value in doc.facts():
                if value:
                    fig.text(0.07, y, label, fontsize=9, color="#6b7280")
                    fig.text(0.25, y, clip(value, 80), fontsize=9)
                    y -= 0.02
            y -= 0.015
        fig.patches.append(_band(fig, y - 0.006))
        for x, ha, header in columns:
            fig.text(x, y, header, fontsize=9, weight="bold", ha=ha)
        y -= 0.024
        for sku, ssku, title, qty, unit, total in lines:
            values = (clip(sku, 24), clip(ssku, 14), clip(title, 30), f"{qty:,}", f"{unit:,.2f}", f"{total:,.2f}")
            for (x, ha, _), value in zip(columns, values, strict=True):
                fig.text(x, y, value, fontsize=8.5, ha=ha)
            y -= 0.02
        if page_no == len(chunks):
            y -= 0.012
            fig.text(0.72, y, "Total", fontsize=10, weight="bold", ha="right")
            fig.text(0.94, y, format_money(doc.total, doc.currency), fontsize=10, weight="bold", ha="right")
            fig.text(0.07, 0.05, "Please quote the order number on the delivery note and the invoice.", fontsize=8,
                     color="#6b7280")
        figures.append(fig)
    return figures


def pdf_bytes(doc: PurchaseDocument) -> bytes:
    from matplotlib.backends.backend_pdf import PdfPages

    out = io.BytesIO()
    with PdfPages(out, metadata={"Title": f"Purchase order {doc.number}", "Creator": doc.store_name}) as pdf:
        for fig in pages(doc):
            pdf.savefig(fig)
    return out.getvalue()


def _band(fig: Any, y: float) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((0.06, y), 0.89, 0.02, transform=fig.transFigure, facecolor="#e8effd", edgecolor="none",
                     zorder=-1)


def write_document(doc: PurchaseDocument, path: str | Path) -> Path:
    """By the file's suffix: .pdf or .xlsx."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        path.write_bytes(pdf_bytes(doc))
    elif suffix == ".xlsx":
        path.write_bytes(xlsx_bytes(doc))
    else:
        raise ValueError(f"{path.name}: a purchase order is written as .pdf or .xlsx")
    return path


# -- e-mail -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrderMail:
    """How to mail an order: the store's mail server, its password (from the keyring), who gets it
    (empty: the supplier's e-mail) and the store's name on the document."""

    smtp: SmtpSettings
    password: str | None = None
    to: tuple[str, ...] = ()
    store_name: str = "Backoffice"
    message: str = ""


def compose_message(doc: PurchaseDocument, sender: str, recipients: list[str], message: str = "") -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"Purchase order {doc.number} from {doc.store_name}"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    greeting = f"Dear {doc.supplier_contact}," if doc.supplier_contact else "Hello,"
    body = [greeting, "", message or f"please find our purchase order {doc.number} attached (PDF and Excel).", "",
            f"{len(doc.lines)} line(s), total {format_money(doc.total, doc.currency)}.",
            f"Deliver to: {doc.deliver_to}."]
    if doc.expected_on:
        body.append(f"We expect the delivery by {doc.expected_on.isoformat()}.")
    body += ["", "Please quote the order number on the delivery note.", "", doc.store_name]
    msg.set_content("\n".join(body) + "\n")
    msg.add_attachment(pdf_bytes(doc), maintype="application", subtype="pdf", filename=f"{doc.number}.pdf")
    msg.add_attachment(xlsx_bytes(doc), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet", filename=f"{doc.number}.xlsx")
    return msg


def mail_order(session: Session, info: OrderInfo, mail: OrderMail) -> list[str]:
    """Send the order's document; the caller's transaction rolls back if the server refuses."""
    problems = [p for p in mail.smtp.problems() if p[1] != "recipients"]
    recipients = list(mail.to) or ([info.supplier_email] if info.supplier_email else [])
    if not recipients:
        problems.append((info.number, "supplier e-mail", f"{info.supplier} has no e-mail address; add one or name "
                                                           "a recipient"))
    for r in recipients:
        if "@" not in parseaddr(r)[1]:
            problems.append((info.number, "recipient", f"{r!r} is not an e-mail address"))
    if problems:
        raise ValidationError(problems)
    supplier = session.get(Supplier, info.supplier_id)
    doc = build_document(info, supplier, mail.store_name)
    send_message(mail.smtp, mail.password, compose_message(doc, mail.smtp.sender, recipients, mail.message))
    return recipients


__all__ = ["MailError", "OrderMail", "PurchaseDocument", "build_document", "compose_message", "format_money",
           "mail_order", "pdf_bytes", "write_document", "xlsx_bytes"]
