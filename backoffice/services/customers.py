"""Customers: a list and detail (orders, lifetime value, returns), audited edits, and GDPR requests.

**Personal data stays out of the audit.** An edit is audited with the names of the fields it changed,
never their values, so erasing a customer leaves no copy of their details in the (append-only) audit log.

**Export** writes everything held about one customer as a JSON file: their details, their orders with
lines, shipments and returns.

**Erase** anonymises the customer in place: name, e-mail, phone, address and note are cleared, the age
band becomes ``unknown``; the country stays (the orders' tax accounting needs it) and so do the orders,
their amounts and the stock they moved. An erased customer cannot be edited again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import Customer, Order, OrderLine, OrderState, Return, ReturnLine, ReturnState, Shipment, utcnow
from backoffice.services.base import (
    Actor,
    ConflictError,
    NotFound,
    ValidationError,
    audit,
    claim_operation,
    jsonable,
    store_operation_result,
)
from backoffice.services.orders import OrderFilter, OrderSummary, customer_label, list_orders

FIELDS = ("name", "email", "phone", "address", "note", "country")
LIMITS = {"name": 200, "email": 255, "phone": 40, "address": 500, "note": 1000}


@dataclass(frozen=True)
class CustomerSummary:
    id: int
    name: str
    email: str
    country: str
    orders: int
    lifetime_value: Decimal
    last_order_at: dt.datetime | None
    erased: bool


@dataclass(frozen=True)
class CustomerInfo:
    id: int
    name: str
    email: str
    phone: str
    address: str
    note: str
    country: str
    age_band: str
    created_at: dt.datetime
    erased_at: dt.datetime | None
    version: int
    orders: int
    lifetime_value: Decimal      # order totals (cancelled orders excepted) less refunds the store made
    refunded: Decimal
    returns: int
    returned_units: int
    recent_orders: list[OrderSummary]

    @property
    def label(self) -> str:
        return customer_label(self.name, self.email, self.id)


def _value_expr() -> Any:
    return func.coalesce(func.sum(case((Order.state != OrderState.CANCELLED.value, Order.total), else_=0)), 0)


def list_customers(db: Database, *, search: str = "", before_id: int | None = None, limit: int = 200,
                   include_erased: bool = False) -> list[CustomerSummary]:
    """Customers newest first, a keyset page at a time, with their order count and lifetime value."""
    with db.read() as session:
        stmt = select(Customer).order_by(Customer.id.desc()).limit(max(1, min(limit, 2000)))
        term = search.strip().lower()
        if term:
            like = f"%{term}%"
            stmt = stmt.where(or_(func.lower(Customer.name).like(like), func.lower(Customer.email).like(like)))
        if not include_erased:
            stmt = stmt.where(Customer.erased_at.is_(None))
        if before_id is not None:
            stmt = stmt.where(Customer.id < before_id)
        rows = list(session.scalars(stmt))
        ids = [c.id for c in rows]
        stats = {cid: (int(n), Decimal(v), last) for cid, n, v, last in session.execute(
            select(Order.customer_id, func.count(), _value_expr(), func.max(Order.ordered_at))
            .where(Order.customer_id.in_(ids or [0])).group_by(Order.customer_id))}
        refunds = _refunds(session, ids)
    out = []
    for c in rows:
        n, value, last = stats.get(c.id, (0, Decimal("0"), None))
        out.append(CustomerSummary(c.id, c.name, c.email or "", c.country, n,
                                   (Decimal(value) - refunds.get(c.id, Decimal("0"))).quantize(Decimal("0.01")),
                                   last, c.erased_at is not None))
    return out


def _refunds(session: Session, ids: list[int]) -> dict[int, Decimal]:
    return {cid: Decimal(v) for cid, v in session.execute(
        select(Order.customer_id, func.coalesce(func.sum(Return.refund_amount), 0))
        .join(Return, Return.order_id == Order.id)
        .where(Order.customer_id.in_(ids or [0]), Return.refund_status == "refunded").group_by(Order.customer_id))}


def count_customers(db: Database, *, search: str = "", include_erased: bool = False) -> int:
    with db.read() as session:
        stmt = select(func.count()).select_from(Customer)
        term = search.strip().lower()
        if term:
            like = f"%{term}%"
            stmt = stmt.where(or_(func.lower(Customer.name).like(like), func.lower(Customer.email).like(like)))
        if not include_erased:
            stmt = stmt.where(Customer.erased_at.is_(None))
        return int(session.scalar(stmt) or 0)


def _customer(session: Session, customer_id: int) -> Customer:
    c = session.get(Customer, int(customer_id))
    if c is None:
        raise NotFound(f"customer {customer_id} does not exist")
    return c


def get_customer(db: Database, customer_id: int) -> CustomerInfo:
    with db.read() as session:
        c = _customer(session, customer_id)
        n, value = session.execute(select(func.count(), _value_expr()).where(Order.customer_id == c.id)).one()
        refunded = _refunds(session, [c.id]).get(c.id, Decimal("0"))
        returns, units = session.execute(
            select(func.count(func.distinct(Return.id)), func.coalesce(func.sum(ReturnLine.quantity), 0))
            .join(Order, Order.id == Return.order_id).join(ReturnLine, ReturnLine.return_id == Return.id)
            .where(Order.customer_id == c.id, Return.state != ReturnState.CANCELLED)).one()
        info = dict(id=c.id, name=c.name, email=c.email or "", phone=c.phone, address=c.address, note=c.note,
                    country=c.country, age_band=c.age_band, created_at=c.created_at, erased_at=c.erased_at,
                    version=c.version, orders=int(n), lifetime_value=(Decimal(value) - refunded).quantize(Decimal("0.01")),
                    refunded=refunded.quantize(Decimal("0.01")), returns=int(returns), returned_units=int(units))
    return CustomerInfo(**info, recent_orders=list_orders(db, OrderFilter(customer_id=customer_id), limit=100))


def _clean(values: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    problems: list[tuple[str, str, str]] = []
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key not in FIELDS:
            problems.append(("customer", key, f"is not a field of a customer ({', '.join(FIELDS)})"))
            continue
        text = " ".join(str(value or "").split()) if key != "address" else str(value or "").strip()
        if key == "country":
            text = text.upper()
            if len(text) != 2 or not text.isalpha():
                problems.append(("customer", "country", f"{value!r} is not a two-letter country code"))
                continue
        elif key == "email":
            if text and ("@" not in text or " " in text):
                problems.append(("customer", "email", f"{value!r} is not an e-mail address"))
                continue
            text = text.lower()
        if key in LIMITS and len(text) > LIMITS[key]:
            problems.append(("customer", key, f"is {len(text)} characters long; at most {LIMITS[key]}"))
            continue
        clean[key] = text
    return clean, problems


def update_customer(db: Database, actor: Actor, customer_id: int, *, expected_version: int, values: dict[str, Any],
                    operation_id: str | None = None) -> CustomerInfo:
    """Change a customer's details; a stale ``expected_version`` is a conflict. Audited by field name."""
    clean, problems = _clean(values)
    if problems:
        raise ValidationError(problems)

    def write(session: Session) -> None:
        if claim_operation(session, operation_id, "customers.update", actor) is not None:
            return
        c = session.scalar(select(Customer).where(Customer.id == int(customer_id)).with_for_update())
        if c is None:
            raise NotFound(f"customer {customer_id} does not exist")
        if c.erased_at is not None:
            raise ValidationError([(f"customer {c.id}", "erased", "was erased: their details cannot be edited")])
        if c.version != expected_version:
            raise ConflictError("customer", c.id, customer_label(c.name, c.email, c.id), expected_version, c.version,
                                {k: getattr(c, k) for k in FIELDS})
        changed = sorted(k for k, v in clean.items() if (getattr(c, k) or "") != v)
        if "email" in changed and clean["email"]:
            other = session.scalar(select(Customer.id).where(Customer.email == clean["email"], Customer.id != c.id))
            if other is not None:
                raise ValidationError([(f"customer {c.id}", "email", f"{clean['email']} is the e-mail of customer {other}")])
        for k in changed:
            setattr(c, k, clean[k] if (clean[k] or k != "email") else None)
        if changed:
            c.version += 1
            session.flush()
            audit(session, actor, "customer", c.id, "update", None, {"changed": changed}, operation_id)
        store_operation_result(session, operation_id, {"customer_id": c.id})

    db.run_write(write)
    return get_customer(db, customer_id)


def export_data(db: Database, customer_id: int) -> dict[str, Any]:
    """Everything held about one customer (the GDPR access request), as plain JSON values."""
    with db.read() as session:
        c = _customer(session, customer_id)
        orders = []
        for o in session.scalars(select(Order).where(Order.customer_id == c.id).order_by(Order.id)):
            shipments = session.scalars(select(Shipment).where(Shipment.order_id == o.id).order_by(Shipment.id)).all()
            returns = session.scalars(select(Return).where(Return.order_id == o.id).order_by(Return.id)).all()
            orders.append({
                "number": o.number, "ordered_at": o.ordered_at, "state": o.state.value, "payment_status": o.status,
                "channel": o.channel, "currency": o.currency, "total": o.total,
                "lines": [{"variant_id": ln.variant_id, "quantity": ln.quantity, "unit_price": ln.unit_price,
                           "discount": ln.discount, "fulfilled": ln.fulfilled, "cancelled": ln.cancelled,
                           "returned": ln.returned}
                          for ln in session.scalars(select(OrderLine).where(OrderLine.order_id == o.id).order_by(OrderLine.id))],
                "shipments": [{"number": s.number, "shipped_at": s.shipped_at, "carrier": s.carrier, "tracking": s.tracking}
                              for s in shipments],
                "returns": [{"number": r.number, "state": r.state.value, "refund_amount": r.refund_amount,
                             "refund_status": r.refund_status, "created_at": r.created_at} for r in returns],
            })
        return jsonable({
            "exported_at": utcnow(),
            "customer": {"id": c.id, "name": c.name, "email": c.email, "phone": c.phone, "address": c.address,
                         "note": c.note, "country": c.country, "age_band": c.age_band, "created_at": c.created_at,
                         "erased_at": c.erased_at},
            "orders": orders,
        })


def export_customer(db: Database, actor: Actor, customer_id: int, path: str) -> str:
    """Write :func:`export_data` as a JSON file (atomically: a full disk leaves no half file); the path.
    The export is audited (who took a copy of whose data)."""
    data = export_data(db, customer_id)
    target = Path(path)
    if target.suffix.lower() != ".json":
        raise ValidationError([("export", "path", f"{target.name}: a customer's data is exported as a .json file")])
    tmp = target.with_name(f".{target.name}.part")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ValidationError([("export", "path", f"{target}: {exc.strerror or exc}")]) from exc
    db.run_write(lambda session: audit(session, actor, "customer", customer_id, "export", None,
                                       {"orders": len(data["orders"])}))
    return str(target)


def erase_customer(db: Database, actor: Actor, customer_id: int, *, operation_id: str | None = None) -> CustomerInfo:
    """Anonymise a customer (the GDPR erasure request), keeping their orders' accounting."""

    def write(session: Session) -> None:
        if claim_operation(session, operation_id, "customers.erase", actor) is not None:
            return
        c = session.scalar(select(Customer).where(Customer.id == int(customer_id)).with_for_update())
        if c is None:
            raise NotFound(f"customer {customer_id} does not exist")
        if c.erased_at is not None:
            raise ValidationError([(f"customer {c.id}", "erased", "was erased already")])
        c.name, c.email, c.phone, c.address, c.note, c.age_band = "", None, "", "", "", "unknown"
        c.erased_at = utcnow()
        c.version += 1
        session.flush()
        orders = session.scalar(select(func.count()).select_from(Order).where(Order.customer_id == c.id)) or 0
        audit(session, actor, "customer", c.id, "erase", None, {"orders_kept": int(orders)}, operation_id)
        store_operation_result(session, operation_id, {"customer_id": c.id})

    db.run_write(write)
    return get_customer(db, customer_id)
