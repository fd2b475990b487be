"""Sales: customers, orders and their lines as the store writes them, and what the back-office does with
them afterwards: reservations per location, shipments, returns.

The store writes ``orders``/``order_lines`` (into the shared database, through the API, or through a
connector) with ``state`` left at ``new``; ``status`` is the payment status as the store reports it
(``paid``, ``pending``, ``refunded``, ``partially_refunded``, ``cancelled``). From there the back-office
owns the order's ``state``: ``new`` (not yet seen) → ``open`` (seen, some units wait for stock) or
``allocated`` (every unit reserved) → ``partially_fulfilled`` → ``fulfilled``; or ``cancelled``.

A line's units are, at any time, exactly one of: fulfilled (shipped), cancelled, reserved at a location
(``order_reservations``, whose sum per variant and location is ``stock_levels.reserved``) or waiting
(back-ordered: nothing to reserve yet). ``returned`` counts fulfilled units that came back.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.models.base import Base, BigId, Money, UTCDateTime, enum_column, utcnow


class OrderState(str, enum.Enum):
    NEW = "new"
    OPEN = "open"
    ALLOCATED = "allocated"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATES


OPEN_STATES = frozenset({OrderState.NEW, OrderState.OPEN, OrderState.ALLOCATED, OrderState.PARTIALLY_FULFILLED})


class ReturnState(str, enum.Enum):
    AUTHORISED = "authorised"
    RECEIVED = "received"
    CANCELLED = "cancelled"


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    country: Mapped[str] = mapped_column(String(2), index=True)  # ISO 3166-1 alpha-2
    age_band: Mapped[str] = mapped_column(String(10))  # "18-24", "25-34", ..., "65+"
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    phone: Mapped[str] = mapped_column(String(40), default="", server_default="")
    address: Mapped[str] = mapped_column(String(500), default="", server_default="")
    note: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())   # anonymised (GDPR erasure)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_ordered_at", "ordered_at"), Index("ix_orders_state_id", "state", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    customer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    ordered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="paid", server_default="paid")   # payment, as the store says
    currency: Mapped[str] = mapped_column(String(3), default="EUR", server_default="EUR")
    total: Mapped[Decimal] = mapped_column(Money)
    state: Mapped[OrderState] = mapped_column(enum_column(OrderState, "order_state"), default=OrderState.NEW,
                                              server_default=OrderState.NEW.value)
    channel: Mapped[str] = mapped_column(String(40), default="web", server_default="web")
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    allocation_note: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    cancel_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    lines: Mapped[list[OrderLine]] = relationship(back_populates="order", order_by="OrderLine.id")


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("fulfilled >= 0 AND cancelled >= 0 AND fulfilled + cancelled <= quantity",
                        name="settled_within_quantity"),
        CheckConstraint("returned >= 0 AND returned <= fulfilled", name="returned_within_fulfilled"),
        Index("ix_order_lines_variant_id_order_id", "variant_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int] = mapped_column(BigId, ForeignKey("variants.id", ondelete="RESTRICT"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    discount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"), server_default="0")
    fulfilled: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cancelled: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    returned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    order: Mapped[Order] = relationship(back_populates="lines")


class OrderReservation(Base):
    """Units of an order line held at one location: ``stock_levels.reserved`` is their sum."""

    __tablename__ = "order_reservations"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        UniqueConstraint("order_line_id", "location_id"),
        Index("ix_order_reservations_variant_id_location_id", "variant_id", "location_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_line_id: Mapped[int] = mapped_column(BigId, ForeignKey("order_lines.id", ondelete="RESTRICT"))
    variant_id: Mapped[int] = mapped_column(BigId, ForeignKey("variants.id", ondelete="RESTRICT"))
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("locations.id", ondelete="RESTRICT"))
    quantity: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Shipment(Base):
    """Units of an order leaving one location for the customer: one posted stock operation."""

    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="RESTRICT"), index=True)
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("locations.id", ondelete="RESTRICT"))
    carrier: Mapped[str] = mapped_column(String(60), default="", server_default="")
    tracking: Mapped[str] = mapped_column(String(100), default="", server_default="")
    operation_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="RESTRICT"))
    shipped_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    lines: Mapped[list[ShipmentLine]] = relationship(order_by="ShipmentLine.id")


class ShipmentLine(Base):
    __tablename__ = "shipment_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(BigId, ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(BigId, ForeignKey("order_lines.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)


class Return(Base):
    """A return authorisation (RMA) against an order's shipped lines, received into a location."""

    __tablename__ = "returns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="RESTRICT"), index=True)
    state: Mapped[ReturnState] = mapped_column(enum_column(ReturnState, "return_state"), default=ReturnState.AUTHORISED,
                                               server_default=ReturnState.AUTHORISED.value)
    note: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    refund_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"), server_default="0")
    refund_status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")  # as the store says
    location_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("locations.id", ondelete="RESTRICT"))
    operation_id: Mapped[str | None] = mapped_column(String(64), unique=True)   # the receipt's stock operation
    user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    lines: Mapped[list[ReturnLine]] = relationship(order_by="ReturnLine.id")


class ReturnLine(Base):
    __tablename__ = "return_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("condition IN ('restock', 'damaged')", name="condition_known"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    return_id: Mapped[int] = mapped_column(BigId, ForeignKey("returns.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(BigId, ForeignKey("order_lines.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(60))
    condition: Mapped[str] = mapped_column(String(20), default="restock", server_default="restock")
