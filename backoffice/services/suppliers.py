"""Suppliers and supplier items: who sells us each variant, at what cost, in what packs, how fast.

A supplier item ties a variant to a supplier with the supplier's SKU, our unit cost (in the item's
currency, normally the supplier's), the minimum order quantity, the pack size (orders are whole packs)
and a lead time in days (empty: the supplier's default). At most one supplier item per variant is
*preferred*: replenishment buys from it and takes its lead time. Bulk edits of costs, packs and lead
times go through :func:`backoffice.services.changesets.apply_changes` as ``supplier_item`` rows, so
they are previewed, versioned, recorded and revertible like catalog edits.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from email.utils import parseaddr
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import Product, Supplier, SupplierItem, Variant
from backoffice.services.base import (
    Actor,
    Change,
    ConflictError,
    NotFound,
    ValidationError,
    audit_change,
    claim_operation,
    snapshot,
    store_operation_result,
)
from backoffice.services.catalog import parse_money
from backoffice.services.documents import variant_label

SUPPLIER_FIELDS = ("name", "email", "contact_name", "phone", "currency", "payment_terms", "lead_time_days", "notes")
ITEM_FIELDS = ("supplier_id", "variant_id", "supplier_sku", "unit_cost", "currency", "min_order_qty", "pack_size",
               "lead_time_days", "preferred")
MAX_LEAD_TIME = 730


def _whole(value: Any, row: str, name: str, problems: list, *, minimum: int, nullable: bool = False,
           maximum: int = 1_000_000_000) -> int | None:
    if value is None or value == "":
        if nullable:
            return None
        problems.append((row, name, "is required"))
        return None
    if isinstance(value, bool):
        problems.append((row, name, f"{value!r} is not a whole number"))
        return None
    try:
        n = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        problems.append((row, name, f"{value!r} is not a whole number"))
        return None
    if n < minimum:
        problems.append((row, name, f"{n} must be at least {minimum}"))
        return None
    if n > maximum:
        problems.append((row, name, f"{n} is more than {maximum:,}"))
        return None
    return n


def _currency(value: Any, row: str, problems: list) -> str | None:
    code = str(value or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        problems.append((row, "currency", f"{value!r} is not a three-letter currency code"))
        return None
    return code


def clean_item_values(values: dict[str, Any], row: str, problems: list) -> dict[str, Any]:
    """Supplier-item fields checked and normalised (the changeset path calls this for bulk edits)."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name == "unit_cost":
            amount = parse_money(value, row, name, problems, required=True)
            if amount is not None:
                out[name] = amount
        elif name in ("min_order_qty", "pack_size"):
            n = _whole(value, row, name, problems, minimum=1)
            if n is not None:
                out[name] = n
        elif name == "lead_time_days":
            n = _whole(value, row, name, problems, minimum=0, nullable=True, maximum=MAX_LEAD_TIME)
            if n is not None or value in (None, ""):
                out[name] = n
        elif name == "supplier_sku":
            text = str(value or "").strip()
            if len(text) > 100:
                problems.append((row, name, "is longer than 100 characters"))
            else:
                out[name] = text
        elif name == "currency":
            code = _currency(value, row, problems)
            if code:
                out[name] = code
        elif name == "preferred":
            out[name] = bool(value)
        else:
            problems.append((row, name, "is not a supplier item field"))
    return out


# -- suppliers --------------------------------------------------------------------------------------------
def _clean_supplier(values: dict[str, Any], row: str, problems: list, *, partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in SUPPLIER_FIELDS:
            problems.append((row, name, "is not a supplier field"))
        elif name == "name":
            text = str(value or "").strip()
            if not text or len(text) > 200:
                problems.append((row, name, "must be 1 to 200 characters"))
            else:
                out[name] = text
        elif name == "email":
            text = str(value or "").strip()
            if text and "@" not in parseaddr(text)[1]:
                problems.append((row, name, f"{text!r} is not an e-mail address"))
            else:
                out[name] = text or None
        elif name == "currency":
            code = _currency(value, row, problems)
            if code:
                out[name] = code
        elif name == "lead_time_days":
            n = _whole(value, row, name, problems, minimum=0, maximum=MAX_LEAD_TIME)
            if n is not None:
                out[name] = n
        else:
            out[name] = str(value or "").strip()
    if not partial and "name" not in values:
        problems.append((row, "name", "is required"))
    return out


def create_supplier(db: Database, actor: Actor, values: dict[str, Any], *, operation_id: str | None = None) -> Change:
    """A new supplier; the same ``operation_id`` again returns the first result and adds nothing."""
    problems: list = []
    clean = _clean_supplier(values, f"supplier {values.get('name', '')!r}".strip(), problems, partial=False)
    if problems:
        raise ValidationError(problems)

    def create_once(session: Session) -> Change:
        previous = claim_operation(session, operation_id, "supplier.create", actor)
        if previous is not None:
            return Change.from_dict(previous)
        if session.scalar(select(Supplier.id).where(func.lower(Supplier.name) == clean["name"].lower())):
            raise ValidationError([(f"supplier {clean['name']}", "name", "is already used")])
        s = Supplier(**clean)
        session.add(s)
        session.flush()
        change = Change("supplier", s.id, "create", s.version, None, snapshot(s, SUPPLIER_FIELDS))
        audit_change(session, actor, change, operation_id)
        store_operation_result(session, operation_id, change.to_dict())
        return change

    return db.run_write(create_once)


def update_supplier(db: Database, actor: Actor, supplier_id: int, *, expected_version: int,
                    values: dict[str, Any]) -> Change:
    problems: list = []
    clean = _clean_supplier(values, f"supplier {supplier_id}", problems, partial=True)
    if problems:
        raise ValidationError(problems)

    def change_supplier(session: Session) -> Change:
        s = session.scalar(select(Supplier).where(Supplier.id == supplier_id).with_for_update())
        if s is None:
            raise NotFound(f"supplier {supplier_id} does not exist")
        if s.version != expected_version:
            raise ConflictError("supplier", s.id, s.name, expected_version, s.version, snapshot(s, SUPPLIER_FIELDS))
        before = snapshot(s, SUPPLIER_FIELDS)
        for k, v in clean.items():
            setattr(s, k, v)
        session.flush()
        change = Change("supplier", s.id, "update", s.version, before, snapshot(s, SUPPLIER_FIELDS))
        audit_change(session, actor, change, None)
        return change

    return db.run_write(change_supplier)


@dataclass(frozen=True)
class SupplierRow:
    id: int
    version: int
    name: str
    email: str
    contact_name: str
    phone: str
    currency: str
    payment_terms: str
    lead_time_days: int
    notes: str
    items: int


def list_suppliers(db: Database, *, text: str = "") -> list[SupplierRow]:
    counts = (select(SupplierItem.supplier_id.label("sid"), func.count().label("n"))
              .group_by(SupplierItem.supplier_id).subquery())
    stmt = (select(Supplier, func.coalesce(counts.c.n, 0)).outerjoin(counts, counts.c.sid == Supplier.id)
            .order_by(Supplier.name))
    if text.strip():
        stmt = stmt.where(func.lower(Supplier.name).like(f"%{text.strip().lower()}%"))
    with db.read() as session:
        return [SupplierRow(s.id, s.version, s.name, s.email or "", s.contact_name, s.phone, s.currency,
                            s.payment_terms, s.lead_time_days, s.notes, int(n)) for s, n in session.execute(stmt)]


def find_supplier(db: Database, name_or_id: str | int) -> SupplierRow:
    key = str(name_or_id).strip()
    rows = list_suppliers(db)
    for r in rows:
        if str(r.id) == key or r.name.lower() == key.lower():
            return r
    close = [r.name for r in rows if key.lower() in r.name.lower()]
    hint = f" (did you mean {', '.join(close[:3])}?)" if close else ""
    raise NotFound(f"no supplier {key!r}{hint}")


# -- supplier items -------------------------------------------------------------------------------------
def upsert_item(db: Database, actor: Actor, *, supplier_id: int, variant_id: int, values: dict[str, Any],
                expected_version: int | None = None, operation_id: str | None = None) -> Change:
    """Create the supplier item of (supplier, variant), or change it (``expected_version`` then names
    the version read; a stale one is a conflict). ``preferred=True`` makes it the only preferred one of
    the variant. The same ``operation_id`` again returns the first result and changes nothing."""
    problems: list = []
    clean = clean_item_values(values, f"supplier item {supplier_id}/{variant_id}", problems)
    if problems:
        raise ValidationError(problems)

    def upsert_once(session: Session) -> Change:
        previous = claim_operation(session, operation_id, "supplier_item.upsert", actor)
        if previous is not None:
            return Change.from_dict(previous)
        supplier = session.get(Supplier, supplier_id)
        if supplier is None:
            raise NotFound(f"supplier {supplier_id} does not exist")
        sku = session.scalar(select(Variant.sku).where(Variant.id == variant_id))
        if sku is None:
            raise NotFound(f"variant {variant_id} does not exist")
        item = session.scalar(select(SupplierItem).where(SupplierItem.supplier_id == supplier_id,
                                                         SupplierItem.variant_id == variant_id).with_for_update())
        if item is None:
            if "unit_cost" not in clean:
                raise ValidationError([(f"SKU {sku}", "unit_cost", "is required for a new supplier item")])
            item = SupplierItem(supplier_id=supplier_id, variant_id=variant_id, currency=supplier.currency,
                                min_order_qty=1, pack_size=1, preferred=False, supplier_sku="")
            before = None
            session.add(item)
        else:
            if expected_version is not None and item.version != expected_version:
                raise ConflictError("supplier item", item.id, f"{supplier.name} {sku}", expected_version, item.version)
            before = snapshot(item, ITEM_FIELDS)
        for k, v in clean.items():
            setattr(item, k, v)
        if clean.get("preferred"):
            session.execute(update(SupplierItem).where(SupplierItem.variant_id == variant_id,
                                                       SupplierItem.supplier_id != supplier_id,
                                                       SupplierItem.preferred.is_(True))
                            .values(preferred=False, version=SupplierItem.version + 1))
        session.flush()
        change = Change("supplier_item", item.id, "create" if before is None else "update", item.version, before,
                        snapshot(item, ITEM_FIELDS))
        audit_change(session, actor, change, operation_id)
        store_operation_result(session, operation_id, change.to_dict())
        return change

    return db.run_write(upsert_once)


@dataclass(frozen=True)
class SupplierItemRow:
    id: int
    version: int
    supplier_id: int
    supplier: str
    variant_id: int
    sku: str
    title: str
    supplier_sku: str
    unit_cost: Decimal
    currency: str
    min_order_qty: int
    pack_size: int
    lead_time_days: int | None     # its own; None: the supplier's default applies
    effective_lead_time: int
    preferred: bool


def list_items(db: Database, *, supplier_id: int | None = None, variant_ids: list[int] | None = None,
               text: str = "", after_id: int | None = None, limit: int = 500) -> list[SupplierItemRow]:
    """Supplier items in id order, a keyset page at a time."""
    stmt = (select(SupplierItem, Supplier.name, Supplier.lead_time_days, Variant.sku, Product.title, Variant.title)
            .join(Supplier, Supplier.id == SupplierItem.supplier_id)
            .join(Variant, Variant.id == SupplierItem.variant_id).join(Product, Product.id == Variant.product_id)
            .order_by(SupplierItem.id).limit(limit))
    if supplier_id is not None:
        stmt = stmt.where(SupplierItem.supplier_id == supplier_id)
    if variant_ids is not None:
        stmt = stmt.where(SupplierItem.variant_id.in_(variant_ids or [0]))
    if text.strip():
        needle = f"%{text.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(Variant.sku).like(needle), func.lower(SupplierItem.supplier_sku).like(needle),
                              func.lower(Product.title).like(needle)))
    if after_id is not None:
        stmt = stmt.where(SupplierItem.id > after_id)
    with db.read() as session:
        return [SupplierItemRow(i.id, i.version, i.supplier_id, sname, i.variant_id, sku,
                                variant_label(ptitle, vtitle), i.supplier_sku, i.unit_cost, i.currency,
                                i.min_order_qty, i.pack_size, i.lead_time_days,
                                i.lead_time_days if i.lead_time_days is not None else slead, i.preferred)
                for i, sname, slead, sku, ptitle, vtitle in session.execute(stmt)]
