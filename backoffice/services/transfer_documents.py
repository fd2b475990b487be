"""Paper for a transfer: a pick list (before shipping) or a packing slip (once shipped), as an Excel
workbook or a PDF. Both list every line with SKU, barcode, product and quantity, and a box to tick; no
bins. Plain values in (a draft not saved yet has a document too), a file out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from backoffice.services import paper
from backoffice.services.paper import Column, Paper
from backoffice.services.transfers import TransferInfo

TICK = "☐"


@dataclass(frozen=True)
class DocumentLine:
    sku: str
    barcode: str
    title: str
    quantity: int


@dataclass(frozen=True)
class TransferDocument:
    kind: str                 # "pick" or "packing"
    number: str               # "" for a draft not saved yet
    state: str
    source: str
    destination: str
    note: str
    created_by: str
    created_at: dt.datetime | None
    lines: tuple[DocumentLine, ...]

    @property
    def title(self) -> str:
        return "Packing slip" if self.kind == "packing" else "Pick list"

    @property
    def units(self) -> int:
        return sum(ln.quantity for ln in self.lines)

    def facts(self) -> list[tuple[str, str]]:
        at = self.created_at
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        created = at.astimezone().strftime("%Y-%m-%d %H:%M") if at else ""
        return [("Transfer", self.number or "not saved yet"), ("From", self.source), ("To", self.destination),
                ("Created", f"{created} {self.created_by}".strip()), ("Lines", f"{len(self.lines):,}"),
                ("Units", f"{self.units:,}"), ("Note", self.note)]


def document_kind(state: str) -> str:
    """A packing slip once the stock left the source; a pick list before."""
    return "pick" if state in ("new", "draft", "cancelled") else "packing"


def document_of(info: TransferInfo) -> TransferDocument:
    """The saved transfer's document: what was shipped on a packing slip, what is asked for on a pick list."""
    kind = document_kind(info.state)
    lines = tuple(DocumentLine(ln.sku, ln.barcode or "", ln.title, ln.shipped if kind == "packing" else ln.quantity)
                  for ln in info.lines)
    return TransferDocument(kind, info.number, info.state, info.source, info.destination, info.note, info.created_by,
                            info.created_at, lines)


def transfer_paper(doc: TransferDocument) -> Paper:
    columns = (Column("SKU", 0.07, 18, 22), Column("Barcode", 0.30, 16, 16), Column("Product", 0.46, 48, 34),
               Column("Quantity", 0.84, 10, number_format="#,##0"), Column("Checked", 0.87, 10))
    rows = tuple((ln.sku, ln.barcode, ln.title, ln.quantity, TICK) for ln in doc.lines)
    return Paper(f"{doc.title} {doc.number}".strip(), columns, rows, tuple(doc.facts()), sheet=doc.number or doc.title)


def write_document(doc: TransferDocument, path: str | Path) -> Path:
    """By the file's suffix: .xlsx or .pdf."""
    return paper.write(transfer_paper(doc), path, f"a {doc.title.lower()}")
