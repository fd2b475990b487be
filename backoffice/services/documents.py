"""What the stock documents (transfers and purchase orders) share: finding one by its number or id,
locking it for a step, the state a step needs, the quantities a line or a receipt may carry, the
system locations their steps move stock through, a scanned code as a variant, and the newest-first
pages of their lists.

Adjustments and counts use :func:`system_location` for the loss location too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from backoffice.db import Database
from backoffice.models import Location, LocationKind, Product, StockLevel, Variant, utcnow
from backoffice.services.base import Actor, NotFound, ValidationError, audit, dialect_insert

D = TypeVar("D")

TRANSIT_CODE = "TRANSIT"
LOSS_CODE = "LOSS"
SUPPLIER_CODE = "SUPPLIERS"


def variant_label(product_title: str, variant_title: str | None) -> str:
    """"Merino Crew · S": the product's title, then the variant's when it has one."""
    return f"{product_title} · {variant_title}" if variant_title else product_title


# -- system locations -----------------------------------------------------------------------------------
def system_location(session: Session, actor: Actor, code: str, name: str, kind: LocationKind) -> Location:
    """The shared location ``code`` (transit, loss, suppliers), created the first time it is needed (by
    whichever of several concurrent first users gets there first: the others find it)."""
    loc = session.scalar(select(Location).where(Location.code == code))
    if loc is None:
        now = utcnow()
        created = session.execute(
            dialect_insert(session)(Location)
            .values(code=code, name=name, kind=kind.value, active=True, created_at=now, updated_at=now, version=1)
            .on_conflict_do_nothing(index_elements=["code"]).returning(Location.id)).scalar()
        if created is not None:
            audit(session, actor, "location", created, "create", None, {"code": code, "name": name, "kind": kind.value})
        loc = session.scalar(select(Location).where(Location.code == code))
    return loc


def transit_location(session: Session, actor: Actor) -> Location:
    return system_location(session, actor, TRANSIT_CODE, "In transit", LocationKind.TRANSIT)


def loss_location(session: Session, actor: Actor) -> Location:
    return system_location(session, actor, LOSS_CODE, "Loss and adjustments", LocationKind.ADJUSTMENT)


# -- finding and locking a document -----------------------------------------------------------------------
def document_id(session: Session, model: type, ref: str | int, what: str) -> int:
    """The id of the ``model`` document numbered ``ref`` (TR-000012, PO-000012) or with id ``ref``."""
    key = str(ref).strip()
    found = session.scalar(select(model.id).where(
        or_(model.number == key.upper(), model.id == (int(key) if key.isdigit() else -1))))
    if found is None:
        raise NotFound(f"{what} {ref!r} does not exist")
    return found


def lock_document(session: Session, model: type[D], document: int, what: str) -> D:
    """The document row locked for a step (two people stepping one document cannot both succeed), with
    its lines loaded."""
    row = session.scalar(select(model).where(model.id == document).with_for_update()
                         .options(selectinload(model.lines)))
    if row is None:
        raise NotFound(f"{what} {document} does not exist")
    return row


def require_state(document: Any, *states: Any, step: str, error: type[ValidationError]) -> None:
    """Refuse a step the document's state does not allow, naming the states it needs."""
    if document.state not in states:
        allowed = " or ".join(s.value for s in states)
        raise error([(document.number, "state", f"is {document.state.value}; {step} needs {allowed}")])


# -- quantities -----------------------------------------------------------------------------------------
def line_quantity_problem(quantity: Any) -> str | None:
    """Why ``quantity`` cannot be a line's quantity (a whole number above zero), or None."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        return f"{quantity!r} is not a whole number"
    if quantity <= 0:
        return f"{quantity} must be greater than zero"
    return None


def arriving_quantities(quantities: dict[int, int], extra: list[tuple[str, str, str]] = ()) -> dict[int, int]:
    """A receipt's quantities (variant id -> units arriving now) checked: whole numbers, zero or more;
    the lines with units to post. Refused with every problem, those the caller found (``extra``) too."""
    problems = [(f"variant {vid}", "quantity", f"{q!r} must be a whole number, zero or more")
                for vid, q in quantities.items() if isinstance(q, bool) or not isinstance(q, int) or q < 0]
    problems += list(extra)
    if problems:
        raise ValidationError(problems)
    return {int(v): q for v, q in quantities.items() if q > 0}


def nothing_to_receive() -> ValidationError:
    return ValidationError([("receipt", "quantities", "nothing to receive: every quantity is zero")])


# -- lists ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DocumentSummary:
    """What every row of a documents list starts with."""

    id: int
    number: str
    state: str


def newest_first(stmt: Select, model: type, *, states: tuple[str, ...] = (), before_id: int | None = None,
                 limit: int = 200) -> Select:
    """A list of ``model`` documents newest first, a keyset page at a time, in the given states."""
    stmt = stmt.order_by(model.id.desc()).limit(limit)
    if states:
        stmt = stmt.where(model.state.in_(states))
    if before_id is not None:
        stmt = stmt.where(model.id < before_id)
    return stmt


# -- variants on documents ----------------------------------------------------------------------------------
def variant_labels(session: Session, variant_ids: list[int]) -> dict[int, tuple[str, str | None, str]]:
    """variant id -> (SKU, barcode, title) of the variants a document's lines name."""
    rows = session.execute(select(Variant.id, Variant.sku, Variant.barcode, Product.title, Variant.title)
                           .join(Product, Product.id == Variant.product_id).where(Variant.id.in_(variant_ids or [0])))
    return {vid: (sku, barcode, variant_label(title, vtitle)) for vid, sku, barcode, title, vtitle in rows}


def find_variant_by_code(db: Database, code: str) -> dict[str, Any] | None:
    """What a barcode scanner typed: a barcode, else a SKU (exact, then ignoring case), as
    {"variant_id", "sku", "barcode", "title"}; None for a code nothing has."""
    code = (code or "").strip()
    if not code:
        return None
    with db.read() as session:
        cols = (Variant.id, Variant.sku, Variant.barcode, Product.title, Variant.title)
        base = select(*cols).join(Product, Product.id == Variant.product_id)
        row = (session.execute(base.where(Variant.barcode == code)).first()
               or session.execute(base.where(Variant.sku == code)).first()
               or session.execute(base.where(func.lower(Variant.sku) == code.lower())).first())
        if row is None:
            return None
        return {"variant_id": row[0], "sku": row[1], "barcode": row[2], "title": variant_label(row[3], row[4])}


def available_at(db: Database, location_id: int, variant_ids: list[int]) -> dict[int, int]:
    """Available stock (on hand minus reserved) of the variants at a location."""
    if not variant_ids:
        return {}
    with db.read() as session:
        rows = session.execute(select(StockLevel.variant_id, StockLevel.on_hand - StockLevel.reserved)
                               .where(StockLevel.location_id == location_id, StockLevel.variant_id.in_(variant_ids)))
        found = {v: int(q) for v, q in rows}
    return {v: found.get(v, 0) for v in variant_ids}
