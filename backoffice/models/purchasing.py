"""Purchasing: what each supplier sells us (supplier items), purchase orders and their receipts.

A purchase order is a document like a transfer: people plan lines and quantities on it; the stock only
moves through the ledger when a receipt is posted (supplier location → an internal location), and each
receipt keeps the operation id of its ledger post, so a receipt retried or double-clicked posts once.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.models.base import Base, BigId, EditableMixin, Money, UTCDateTime, enum_column, utcnow


class SupplierItem(EditableMixin, Base):
    """One variant as one supplier sells it: their SKU, our unit cost in ``currency``, the minimum order
    quantity, the pack size (orders are whole packs), the lead time (NULL: the supplier's default) and
    whether this is the supplier we normally buy the variant from."""

    __tablename__ = "supplier_items"
    __table_args__ = (
        UniqueConstraint("supplier_id", "variant_id"),
        CheckConstraint("unit_cost >= 0", name="unit_cost_not_negative"),
        CheckConstraint("min_order_qty >= 1", name="min_order_qty_positive"),
        CheckConstraint("pack_size >= 1", name="pack_size_positive"),
        CheckConstraint("lead_time_days IS NULL OR lead_time_days >= 0", name="lead_time_not_negative"),
        Index("ix_supplier_items_variant_id_preferred", "variant_id", "preferred"),
    )

    supplier_id: Mapped[int] = mapped_column(BigId, ForeignKey("suppliers.id", ondelete="CASCADE"))
    variant_id: Mapped[int] = mapped_column(BigId, ForeignKey("variants.id", ondelete="CASCADE"))
    supplier_sku: Mapped[str] = mapped_column(String(100), default="", server_default="")
    unit_cost: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="EUR", server_default="EUR")
    min_order_qty: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    pack_size: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    lead_time_days: Mapped[int | None] = mapped_column(Integer)
    preferred: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class PurchaseOrderState(str, enum.Enum):
    DRAFT = "draft"            # editable; counts as on order for suggestions, not yet with the supplier
    SENT = "sent"              # with the supplier: the document went out, nothing arrived yet
    PARTIAL = "partial"        # some of it arrived, the rest is still expected
    RECEIVED = "received"      # every line arrived in full (or more, confirmed)
    CLOSED = "closed"          # settled: nothing more is expected, whatever is missing will not come
    CANCELLED = "cancelled"    # a draft or sent order called off before anything arrived

    @property
    def is_open(self) -> bool:
        return self in (PurchaseOrderState.DRAFT, PurchaseOrderState.SENT, PurchaseOrderState.PARTIAL)


class PurchaseOrder(EditableMixin, Base):
    __tablename__ = "purchase_orders"
    __table_args__ = (
        Index("ix_purchase_orders_state_id", "state", "id"),
        Index("ix_purchase_orders_supplier_id_destination_location_id", "supplier_id", "destination_location_id"),
    )

    number: Mapped[str] = mapped_column(String(30), unique=True)
    state: Mapped[PurchaseOrderState] = mapped_column(enum_column(PurchaseOrderState, "purchase_order_state"),
                                                      default=PurchaseOrderState.DRAFT)
    supplier_id: Mapped[int] = mapped_column(BigId, ForeignKey("suppliers.id", ondelete="RESTRICT"))
    destination_location_id: Mapped[int] = mapped_column(BigId, ForeignKey("locations.id", ondelete="RESTRICT"))
    currency: Mapped[str] = mapped_column(String(3))
    expected_on: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    lines: Mapped[list[PurchaseOrderLine]] = relationship(back_populates="order", order_by="PurchaseOrderLine.position",
                                                          cascade="all, delete-orphan")


class PurchaseOrderLine(Base):
    """One variant on a purchase order. ``received`` grows with each receipt; it may pass ``quantity``
    only when the receiver confirmed the over-receipt."""

    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "variant_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("received >= 0", name="received_not_negative"),
        CheckConstraint("unit_cost >= 0", name="unit_cost_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("purchase_orders.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int] = mapped_column(BigId, ForeignKey("variants.id", ondelete="RESTRICT"), index=True)
    supplier_sku: Mapped[str] = mapped_column(String(100), default="", server_default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_cost: Mapped[Decimal] = mapped_column(Money)
    received: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    order: Mapped[PurchaseOrder] = relationship(back_populates="lines")

    @property
    def outstanding(self) -> int:
        return max(0, self.quantity - self.received)


class PurchaseReceipt(Base):
    """One posted receipt against a purchase order: which ledger operation it was, into which location."""

    __tablename__ = "purchase_receipts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("purchase_orders.id", ondelete="CASCADE"), index=True)
    stock_operation_pk: Mapped[int] = mapped_column(BigId, ForeignKey("stock_operations.id", ondelete="RESTRICT"),
                                                    unique=True)
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("locations.id", ondelete="RESTRICT"))
    units: Mapped[int] = mapped_column(Integer)
    over_receipt: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
