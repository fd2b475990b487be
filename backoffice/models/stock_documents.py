"""Stock documents: transfers between locations, stock counts, and low-stock rules and alerts.

A document holds what people plan and record (lines, quantities, state); the stock itself only moves
through the ledger (``stock_moves``), posted by the inventory service when a document is shipped,
received, closed or counted. The ledger lines carry the document's number, so a move can always be
traced back to the document that caused it.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.models.base import Base, BigId, EditableMixin, UTCDateTime, enum_column


class TransferState(str, enum.Enum):
    DRAFT = "draft"            # editable, no stock effect
    SHIPPED = "shipped"        # stock left the source and sits in transit
    PARTIAL = "partial"        # some of it arrived, the rest is still in transit
    RECEIVED = "received"      # everything shipped arrived
    CLOSED = "closed"          # closed with a shortfall posted to loss or returned to the source
    CANCELLED = "cancelled"    # a cancelled draft, or a shipped transfer whose stock went back

    @property
    def is_open(self) -> bool:
        return self in (TransferState.DRAFT, TransferState.SHIPPED, TransferState.PARTIAL)


class Transfer(EditableMixin, Base):
    __tablename__ = "transfers"
    __table_args__ = (
        CheckConstraint("source_location_id <> destination_location_id", name="distinct_locations"),
        Index("ix_transfers_state_id", "state", "id"),
    )

    number: Mapped[str] = mapped_column(String(30), unique=True)
    state: Mapped[TransferState] = mapped_column(enum_column(TransferState, "transfer_state"), default=TransferState.DRAFT)
    source_location_id: Mapped[int] = mapped_column(BigId, ForeignKey("locations.id", ondelete="RESTRICT"))
    destination_location_id: Mapped[int] = mapped_column(BigId, ForeignKey("locations.id", ondelete="RESTRICT"))
    transit_location_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("locations.id", ondelete="RESTRICT"))
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    shipped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    lines: Mapped[list[TransferLine]] = relationship(back_populates="transfer", order_by="TransferLine.position",
                                                     cascade="all, delete-orphan")


class TransferLine(Base):
    """One variant on a transfer. ``shipped`` is fixed when the transfer ships; ``received``, ``lost``
    and ``returned`` grow as it is received or closed, and never exceed what was shipped."""

    __tablename__ = "transfer_lines"
    __table_args__ = (
        UniqueConstraint("transfer_id", "variant_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("shipped >= 0 AND received >= 0 AND lost >= 0 AND returned >= 0", name="counts_not_negative"),
        CheckConstraint("received + lost + returned <= shipped", name="not_more_than_shipped"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transfer_id: Mapped[int] = mapped_column(BigId, ForeignKey("transfers.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int] = mapped_column(BigId, ForeignKey("variants.id", ondelete="RESTRICT"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    quantity: Mapped[int] = mapped_column(Integer)
    shipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    received: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lost: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    returned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    transfer: Mapped[Transfer] = relationship(back_populates="lines")

    @property
    def in_transit(self) -> int:
        return self.shipped - self.received - self.lost - self.returned


class CountState(str, enum.Enum):
    OPEN = "open"
    POSTED = "posted"
    CANCELLED = "cancelled"


class StockCount(EditableMixin, Base):
    """A stock-count session for one location: counted quantities entered line by line, then the
    differences against the on-hand figures posted as one adjustment document."""

    __tablename__ = "stock_counts"

    number: Mapped[str] = mapped_column(String(30), unique=True)
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("locations.id", ondelete="RESTRICT"), index=True)
    state: Mapped[CountState] = mapped_column(enum_column(CountState, "count_state"), default=CountState.OPEN)
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    posted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    lines: Mapped[list[StockCountLine]] = relationship(back_populates="count", order_by="StockCountLine.id",
                                                       cascade="all, delete-orphan")


class StockCountLine(Base):
    __tablename__ = "stock_count_lines"
    __table_args__ = (
        UniqueConstraint("count_id", "variant_id"),
        CheckConstraint("counted >= 0", name="counted_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    count_id: Mapped[int] = mapped_column(BigId, ForeignKey("stock_counts.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int] = mapped_column(BigId, ForeignKey("variants.id", ondelete="RESTRICT"), index=True)
    counted: Mapped[int] = mapped_column(Integer)
    on_hand_at_post: Mapped[int | None] = mapped_column(Integer)  # what the books said when it was posted

    count: Mapped[StockCount] = relationship(back_populates="lines")


class LowStockDefault(EditableMixin, Base):
    """A default low-stock threshold for a category and/or a location (either may be empty: "any").
    The most specific rule wins: variant-and-location threshold, then category+location, category,
    location."""

    __tablename__ = "low_stock_defaults"
    __table_args__ = (
        UniqueConstraint("category_id", "location_id"),
        CheckConstraint("threshold >= 0", name="threshold_not_negative"),
    )

    category_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("categories.id", ondelete="CASCADE"))
    location_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("locations.id", ondelete="CASCADE"))
    threshold: Mapped[int] = mapped_column(Integer)


class StockAlert(Base):
    """One crossing below the low-stock threshold of a (variant, location). Opened when available stock
    falls below the threshold, closed when it is back at or above it; a digest mails each open alert once
    (``notified_at``)."""

    __tablename__ = "stock_alerts"
    __table_args__ = (Index("ix_stock_alerts_variant_id_location_id", "variant_id", "location_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    variant_id: Mapped[int] = mapped_column(BigId, ForeignKey("variants.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("locations.id", ondelete="CASCADE"))
    available: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    # "variant:location" while open, NULL once closed: UNIQUE allows one open alert per pair, any closed.
    open_key: Mapped[str | None] = mapped_column(String(60), unique=True)
