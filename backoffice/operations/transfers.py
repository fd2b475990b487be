"""The transfers area of the operations contract: stock moving between warehouses and stores.

A draft is created and edited (no stock effect), shipped (the stock leaves the source into transit),
received in one or more receipts, closed (what never arrived written off or sent back) or cancelled.
Every stock-moving step takes ``op_id``: the same id again reports the transfer as it is and moves
nothing. Each write notes TRANSFERS with the transfer's id; a step that moves stock notes STOCK at its
source and destination for its variants too.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from backoffice.operations.base import Area
from backoffice.operations.changes import STOCK, TRANSFERS, Changes
from backoffice.services import documents, transfers
from backoffice.services.transfer_documents import DocumentLine, TransferDocument, document_kind, document_of, write_document
from backoffice.services.transfers import LOSS_CODE, TransferInfo, TransferLineInfo, TransferStateError, TransferSummary

__all__ = ["LOSS_CODE", "DocumentLine", "TransferDocument", "document_kind", "TransferInfo", "TransferLineInfo", "TransferOperations",
           "TransferStateError", "TransferSummary", "new_op_id"]

Lines = list[tuple[int, int]]   # (variant id, quantity)


def new_op_id() -> str:
    """A fresh operation id for a step (kept by the caller until the step succeeds)."""
    return uuid.uuid4().hex


def _moved(info: TransferInfo) -> Changes:
    """A stock-moving step of ``info``: the transfer, and stock at both ends of its lines' variants."""
    return Changes.of(TRANSFERS, STOCK, transfer=[info.id],
                      location=[info.source_location_id, info.destination_location_id],
                      variant=[ln.variant_id for ln in info.lines])


def _edited(info: TransferInfo) -> Changes:
    return Changes.of(TRANSFERS, transfer=[info.id])


class TransferOperations(Area):
    # -- reads ---------------------------------------------------------------------------------------------
    def list(self, *, states: tuple[str, ...] = (), location_id: int | None = None, before_id: int | None = None,
             limit: int = 200) -> list[TransferSummary]:
        """Transfers newest first, a keyset page at a time (``before_id``: the last id of the page before)."""
        return transfers.list_transfers(self._db, states=tuple(states), location_id=location_id, before_id=before_id,
                                        limit=limit)

    def get(self, transfer_id: int) -> TransferInfo:
        return transfers.get_transfer(self._db, transfer_id)

    def find(self, ref: str) -> TransferInfo:
        """By number (TR-000012) or id ("12")."""
        return transfers.find_transfer(self._db, ref)

    def find_variant(self, code: str) -> dict[str, object] | None:
        """A scanned or typed code (barcode, else SKU): {"variant_id", "sku", "barcode", "title"}, or None."""
        return documents.find_variant_by_code(self._db, code)

    def available_at(self, location_id: int, variant_ids: list[int]) -> dict[int, int]:
        """Units available (on hand minus reserved) at a location: what a draft may ask for."""
        return documents.available_at(self._db, location_id, list(variant_ids))

    # -- drafts ---------------------------------------------------------------------------------------------
    def create(self, *, source_location_id: int, destination_location_id: int, lines: Lines = (), note: str = "",
               op_id: str | None = None) -> TransferInfo:
        """A draft (no stock effect); the same ``op_id`` again returns the draft the first call made."""
        return self._write(lambda: transfers.create_transfer(
            self._db, self._actor, source_location_id=source_location_id,
            destination_location_id=destination_location_id, lines=list(lines), note=note, operation_id=op_id), _edited)

    def create_and_ship(self, *, source_location_id: int, destination_location_id: int, lines: Lines,
                        note: str = "", op_id: str | None = None) -> TransferInfo:
        """Create and ship at once: a refused shipment leaves no draft behind."""
        return self._write(lambda: transfers.create_and_ship(
            self._db, self._actor, source_location_id=source_location_id,
            destination_location_id=destination_location_id, lines=list(lines), note=note,
            operation_id=op_id or new_op_id()), _moved)

    def update_draft(self, transfer_id: int, *, expected_version: int, lines: Lines | None = None,
                     note: str | None = None, source_location_id: int | None = None,
                     destination_location_id: int | None = None, op_id: str | None = None) -> TransferInfo:
        """Replace a draft's lines, note or route; a stale ``expected_version`` is a ConflictError."""
        return self._write(lambda: transfers.update_draft(
            self._db, self._actor, transfer_id, expected_version=expected_version,
            lines=None if lines is None else list(lines), note=note, source_location_id=source_location_id,
            destination_location_id=destination_location_id), _edited)

    # -- steps ----------------------------------------------------------------------------------------------
    def ship(self, transfer_id: int, *, op_id: str | None = None) -> TransferInfo:
        """Every line leaves the source into transit, all or nothing (checks the available stock)."""
        return self._write(lambda: transfers.ship_transfer(self._db, self._actor, transfer_id,
                                                           operation_id=op_id or new_op_id()), _moved)

    def receive(self, transfer_id: int, quantities: dict[int, int] | None = None, *,
                op_id: str | None = None) -> TransferInfo:
        """Units arriving now (variant id -> units); None: everything still in transit."""
        if quantities is None:
            shown = transfers.get_transfer(self._db, transfer_id)
            quantities = {ln.variant_id: ln.in_transit for ln in shown.lines if ln.in_transit > 0}
        wanted = dict(quantities)
        return self._write(lambda: transfers.receive_transfer(self._db, self._actor, transfer_id, quantities=wanted,
                                                              operation_id=op_id or new_op_id()), _moved)

    def close(self, transfer_id: int, *, shortfall: str, reason: str = "", op_id: str | None = None) -> TransferInfo:
        """Settle what never arrived: ``shortfall`` "loss" (written off, a reason required) or "return"."""
        return self._write(lambda: transfers.close_transfer(self._db, self._actor, transfer_id, shortfall=shortfall,
                                                            reason=reason, operation_id=op_id or new_op_id()), _moved)

    def cancel(self, transfer_id: int, *, op_id: str | None = None) -> TransferInfo:
        """Cancel a draft, or a shipped transfer (what is in transit goes back to the source)."""
        return self._write(lambda: transfers.cancel_transfer(self._db, self._actor, transfer_id,
                                                             operation_id=op_id or new_op_id()), _moved)

    # -- paper ----------------------------------------------------------------------------------------------
    def document(self, transfer_id: int) -> TransferDocument:
        """The transfer's pick list (before shipping) or packing slip (once shipped), as plain values."""
        return document_of(transfers.get_transfer(self._db, transfer_id))

    def write_document(self, document: TransferDocument, path: str) -> str:
        """Write a pick list or packing slip as ``path`` (.pdf or .xlsx); the path written."""
        return str(write_document(document, Path(path)))
