"""The suppliers area of the operations contract: suppliers and their items (who sells us each variant,
at what cost, in what packs, how fast). Every write notes SUPPLIERS with the supplier's id; item edits
saved together are a changeset (CHANGESETS too), recorded with before/after values and revertible."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backoffice.operations.base import Area
from backoffice.operations.changes import CHANGESETS, SUPPLIERS, Changes
from backoffice.services import changesets, purchase_orders, suppliers
from backoffice.services.suppliers import SupplierItemRow, SupplierRow

__all__ = ["ItemEdit", "ItemsSaved", "Saved", "SupplierItemRow", "SupplierOperations", "SupplierRow"]


@dataclass(frozen=True)
class Saved:
    """A supplier or supplier item written (or, ``replayed``, written before with the same operation id)."""

    id: int
    action: str            # "create" or "update"
    version: int | None
    values: dict[str, Any] = field(default_factory=dict)   # the fields as stored
    replayed: bool = False


@dataclass(frozen=True)
class ItemEdit:
    """Changed fields of one supplier item, with the version and values read (for conflict reports)."""

    item_id: int
    version: int
    values: dict[str, Any]
    read: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemsSaved:
    changeset_id: int | None
    applied_rows: int
    conflicts: list[int]   # ids of the items someone else changed meanwhile: not saved


class SupplierOperations(Area):
    # -- suppliers ------------------------------------------------------------------------------------------
    def list(self, *, text: str = "") -> list[SupplierRow]:
        """Suppliers by name (``text``: part of the name), with their number of items."""
        return suppliers.list_suppliers(self._db, text=text)

    def find(self, name_or_id: str | int) -> SupplierRow:
        """By id or exact name (any case); NotFound suggests close names."""
        return suppliers.find_supplier(self._db, name_or_id)

    def create(self, values: dict[str, Any], *, op_id: str | None = None) -> Saved:
        """A new supplier (name required; e-mail, contact, phone, currency, lead time, terms, notes)."""
        replayed = purchase_orders.operation_applied(self._db, op_id)
        change = suppliers.create_supplier(self._db, self._actor, dict(values), operation_id=op_id)
        self.changed(Changes.of(SUPPLIERS, supplier=[change.entity_id]))
        return Saved(change.entity_id, change.action, change.version, dict(change.after or {}), replayed)

    def update(self, supplier_id: int, *, expected_version: int, values: dict[str, Any],
               op_id: str | None = None) -> Saved:
        """Change a supplier's details; a stale ``expected_version`` is a ConflictError."""
        change = suppliers.update_supplier(self._db, self._actor, supplier_id, expected_version=expected_version,
                                           values=dict(values))
        self.changed(Changes.of(SUPPLIERS, supplier=[supplier_id]))
        return Saved(change.entity_id, change.action, change.version, dict(change.after or {}))

    # -- supplier items ------------------------------------------------------------------------------------
    def items(self, *, supplier_id: int | None = None, variant_ids: list[int] | None = None, text: str = "",
              after_id: int | None = None, limit: int = 500) -> list[SupplierItemRow]:
        """Supplier items in id order, a keyset page at a time (``text``: SKU, supplier SKU or title)."""
        return suppliers.list_items(self._db, supplier_id=supplier_id, variant_ids=variant_ids, text=text,
                                    after_id=after_id, limit=limit)

    def save_item(self, *, supplier_id: int, variant_id: int, values: dict[str, Any],
                  expected_version: int | None = None, op_id: str | None = None) -> Saved:
        """Create the supplier item of (supplier, variant), or change it; ``preferred=True`` makes it the
        variant's only preferred one."""
        replayed = purchase_orders.operation_applied(self._db, op_id)
        change = suppliers.upsert_item(self._db, self._actor, supplier_id=supplier_id, variant_id=variant_id,
                                       values=dict(values), expected_version=expected_version, operation_id=op_id)
        self.changed(Changes.of(SUPPLIERS, supplier=[supplier_id], variant=[variant_id]))
        return Saved(change.entity_id, change.action, change.version, dict(change.after or {}), replayed)

    def save_items(self, edits: list[ItemEdit], *, description: str, op_id: str | None = None) -> ItemsSaved:
        """Item edits saved as one changeset; items someone else changed meanwhile are reported, not
        overwritten."""
        rows = [changesets.RowChange("supplier_item", e.item_id, e.version, dict(e.values), dict(e.read))
                for e in edits]
        result = changesets.apply_changes(self._db, self._actor, rows, description=description, operation_id=op_id)
        self.changed(Changes.of(SUPPLIERS, CHANGESETS))
        return ItemsSaved(result.changeset_id, result.applied_rows, sorted({c.entity_id for c in result.conflicts}))
