"""The purchase-order document the supplier gets: a PDF and an Excel workbook with the same content,
and the e-mail that carries both. Plain Python (no Qt), so the CLI and scheduled jobs send the same
document as the desktop application.

The PDF is drawn with matplotlib's PDF backend (A4, fonts embedded, one table row per line, as many
pages as needed); the workbook with openpyxl, money as numbers with a currency format.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from backoffice.models import Supplier
from backoffice.services.alerts import MailError, send_message
from backoffice.services.base import ValidationError
from backoffice.services import paper
from backoffice.services.paper import Column, Paper
from backoffice.services.settings import SmtpSettings



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


def build_document(info: Any, supplier: Supplier | None, store_name: str = "Backoffice") -> PurchaseDocument:
    on = (info.sent_at or info.created_at).date()
    return PurchaseDocument(
        info.number, store_name, info.supplier, supplier.contact_name if supplier else "", info.supplier_email,
        supplier.payment_terms if supplier else "", info.destination, info.currency, on, info.expected_on, info.note,
        tuple((ln.sku, ln.supplier_sku, ln.title, ln.quantity, ln.unit_cost, ln.line_total) for ln in info.lines))


def order_paper(doc: PurchaseDocument) -> Paper:
    money = "#,##0.00"
    columns = (Column("Our SKU", 0.07, 20, 24), Column("Your SKU", 0.29, 16, 14), Column("Product", 0.43, 46, 30),
               Column("Quantity", 0.70, 10, number_format="#,##0", short="Qty"),
               Column(f"Unit cost ({doc.currency})", 0.82, 16, number_format=money, short="Unit cost"),
               Column(f"Total ({doc.currency})", 0.94, 16, number_format=money, short="Total"))
    return Paper(f"{doc.store_name} — purchase order {doc.number}", columns, doc.lines, tuple(doc.facts()),
                 sheet=doc.number, heading=f"Purchase order {doc.number}", subtitle=doc.store_name,
                 creator=doc.store_name, total=("Total", doc.total, format_money(doc.total, doc.currency)),
                 footer="Please quote the order number on the delivery note and the invoice.")


def xlsx_bytes(doc: PurchaseDocument) -> bytes:
    return paper.xlsx_bytes(order_paper(doc))


def pages(doc: PurchaseDocument) -> list[Any]:
    """The document as matplotlib figures, one per A4 page (the PDF's pages)."""
    return paper.pages(order_paper(doc))


def pdf_bytes(doc: PurchaseDocument) -> bytes:
    return paper.pdf_bytes(order_paper(doc))


def write_document(doc: PurchaseDocument, path: str | Path) -> Path:
    """By the file's suffix: .pdf or .xlsx."""
    return paper.write(order_paper(doc), path, "a purchase order")


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


def mail_order(session: Session, info: Any, mail: OrderMail) -> list[str]:
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
