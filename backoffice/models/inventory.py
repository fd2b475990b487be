"""Locations, stock levels and the append-only stock ledger.

Stock is a ledger of moves between locations. Internal locations (warehouses, stores, transit) hold
stock that can be counted and have a ``stock_levels`` row per variant whose ``on_hand`` equals the sum of
the ledger for that pair and can never be negative (a CHECK in the database). External locations
(supplier, customer, adjustment/loss) are the other side of receipts, sales and write-offs; their
balance is only the ledger sum and goes negative as stock flows out of them, which is what makes the
total over all locations exactly zero (conservation).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.models.base import Base, BigId, EditableMixin, UTCDateTime, enum_column, utcnow


class LocationKind(str, enum.Enum):
    WAREHOUSE = "warehouse"
    STORE = "store"
    TRANSIT = "transit"
    SUPPLIER = "supplier"
    CUSTOMER = "customer"
    ADJUSTMENT = "adjustment"

    @property
    def is_internal(self) -> bool:
        return self in INTERNAL_KINDS


INTERNAL_KINDS = frozenset({LocationKind.WAREHOUSE, LocationKind.STORE, LocationKind.TRANSIT})


class Location(EditableMixin, Base):
    __tablename__ = "locations"

    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[LocationKind] = mapped_column(enum_column(LocationKind, "location_kind"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")

    @property
    def is_internal(self) -> bool:
        return self.kind.is_internal


class StockLevel(EditableMixin, Base):
    """Stock of one variant at one internal location."""

    __tablename__ = "stock_levels"
    __table_args__ = (
        UniqueConstraint("variant_id", "location_id"),
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("low_stock_threshold IS NULL OR low_stock_threshold >= 0", name="threshold_not_negative"),
        CheckConstraint("reorder_point IS NULL OR reorder_point >= 0", name="reorder_point_not_negative"),
        CheckConstraint("order_up_to IS NULL OR order_up_to >= 0", name="order_up_to_not_negative"),
        Index("ix_stock_levels_location_id_variant_id", "location_id", "variant_id"),
    )

    variant_id: Mapped[int] = mapped_column(BigId, ForeignKey("variants.id", ondelete="RESTRICT"))
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("locations.id", ondelete="RESTRICT"))
    on_hand: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reserved: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    low_stock_threshold: Mapped[int | None] = mapped_column(Integer)
    reorder_point: Mapped[int | None] = mapped_column(Integer)
    order_up_to: Mapped[int | None] = mapped_column(Integer)  # a buyer's override of the computed level

    location: Mapped[Location] = relationship()


class StockOperation(Base):
    """One posted stock document: a receipt, a transfer leg, an adjustment, a sale. ``operation_id`` is
    chosen by the caller and UNIQUE, so a retried or double-clicked post is applied once. Append-only."""

    __tablename__ = "stock_operations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    operation_id: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(50))
    document: Mapped[str] = mapped_column(String(200), default="", server_default="")
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")
    user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    moves: Mapped[list[StockMove]] = relationship(back_populates="operation", order_by="StockMove.id")


class StockMove(Base):
    """One line of the ledger: ``quantity`` units of a variant from one location to another."""

    __tablename__ = "stock_moves"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("from_location_id <> to_location_id", name="distinct_locations"),
        Index("ix_stock_moves_variant_id_from_location_id", "variant_id", "from_location_id"),
        Index("ix_stock_moves_variant_id_to_location_id", "variant_id", "to_location_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    operation_pk: Mapped[int] = mapped_column(BigId, ForeignKey("stock_operations.id", ondelete="RESTRICT"), index=True)
    variant_id: Mapped[int] = mapped_column(BigId, ForeignKey("variants.id", ondelete="RESTRICT"))
    from_location_id: Mapped[int] = mapped_column(BigId, ForeignKey("locations.id", ondelete="RESTRICT"))
    to_location_id: Mapped[int] = mapped_column(BigId, ForeignKey("locations.id", ondelete="RESTRICT"))
    quantity: Mapped[int] = mapped_column(Integer)

    operation: Mapped[StockOperation] = relationship(back_populates="moves")
