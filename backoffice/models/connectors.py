"""What the store connectors keep: the stores connected, how their ids map to ours, where each sync got
to, what waits to be sent, and the log of runs and API calls.

None of these rows is the truth about the catalog, stock or orders (those stay in their own tables); they
are the bookkeeping that makes a sync incremental, resumable and checkable:

- ``store_connections``: a store (kind, URL, settings); its API key is in the OS keyring, never here.
- ``store_location_links``: a back-office location ↔ the store's stock location, and whether the
  back-office's ledger is the truth for its stock there (``owned``: stock is pushed).
- ``store_product_links`` / ``store_variant_links``: our product/variant ↔ the store's ids (variants
  matched by SKU), with a hash of what was last pushed, so an unchanged row is never sent again.
- ``store_stock_links``: the quantity the store held at a (variant, location) when we last wrote or read
  it: the expected value of the next read-compare-set.
- ``store_order_links`` / ``store_fulfilment_links``: store orders pulled (never twice) and our
  shipments pushed (never twice).
- ``store_cursors``: where each direction of each entity got to (a change-feed cursor or a store time).
- ``store_outbox``: pushes planned and not yet acknowledged, each with an idempotency key; a run killed
  mid-push sends the rest next time without duplicates.
- ``store_sync_runs`` / ``store_api_calls``: the sync log: what each run sent and received, its errors,
  and every call to the store's API with its status and response time.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.models.base import Base, BigId, EditableMixin, JsonDoc, Money, UTCDateTime, utcnow

OUTBOX_STATES = ("pending", "sending", "done", "failed", "conflict")
RUN_STATES = ("running", "ok", "partial", "failed")


class StoreConnection(EditableMixin, Base):
    __tablename__ = "store_connections"

    name: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    url: Mapped[str] = mapped_column(String(500))
    settings: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class StoreLocationLink(Base):
    __tablename__ = "store_location_links"
    __table_args__ = (UniqueConstraint("connection_id", "store_location_id"),)

    connection_id: Mapped[int] = mapped_column(BigId, ForeignKey("store_connections.id", ondelete="CASCADE"),
                                               primary_key=True)
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("locations.id", ondelete="RESTRICT"), primary_key=True)
    store_location_id: Mapped[str] = mapped_column(String(100))
    owned: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class StoreProductLink(Base):
    __tablename__ = "store_product_links"
    __table_args__ = (UniqueConstraint("connection_id", "store_product_id"),)

    connection_id: Mapped[int] = mapped_column(BigId, ForeignKey("store_connections.id", ondelete="CASCADE"),
                                               primary_key=True)
    product_id: Mapped[int] = mapped_column(BigId, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    store_product_id: Mapped[str] = mapped_column(String(100))
    pushed_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    pushed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class StoreVariantLink(Base):
    __tablename__ = "store_variant_links"
    __table_args__ = (UniqueConstraint("connection_id", "store_variant_id"),
                      Index("ix_store_variant_links_connection_id_sku", "connection_id", "sku"))

    connection_id: Mapped[int] = mapped_column(BigId, ForeignKey("store_connections.id", ondelete="CASCADE"),
                                               primary_key=True)
    variant_id: Mapped[int] = mapped_column(BigId, ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True)
    sku: Mapped[str] = mapped_column(String(100))
    store_variant_id: Mapped[str] = mapped_column(String(100))
    store_product_id: Mapped[str] = mapped_column(String(100))
    inventory_item_id: Mapped[str | None] = mapped_column(String(100))
    pushed_price: Mapped[Decimal | None] = mapped_column(Money)
    pushed_compare_at: Mapped[Decimal | None] = mapped_column(Money)


class StoreStockLink(Base):
    __tablename__ = "store_stock_links"

    connection_id: Mapped[int] = mapped_column(BigId, ForeignKey("store_connections.id", ondelete="CASCADE"),
                                               primary_key=True)
    variant_id: Mapped[int] = mapped_column(BigId, ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True)
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("locations.id", ondelete="RESTRICT"), primary_key=True)
    store_quantity: Mapped[int] = mapped_column(Integer)
    synced_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StoreOrderLink(Base):
    __tablename__ = "store_order_links"
    __table_args__ = (UniqueConstraint("order_id"),)

    connection_id: Mapped[int] = mapped_column(BigId, ForeignKey("store_connections.id", ondelete="CASCADE"),
                                               primary_key=True)
    store_order_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="CASCADE"))
    store_updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="open", server_default="open")
    payment_status: Mapped[str] = mapped_column(String(30), default="pending", server_default="pending")
    lines: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)   # our order line id -> store line id


class StoreFulfilmentLink(Base):
    __tablename__ = "store_fulfilment_links"

    connection_id: Mapped[int] = mapped_column(BigId, ForeignKey("store_connections.id", ondelete="CASCADE"),
                                               primary_key=True)
    shipment_id: Mapped[int] = mapped_column(BigId, ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True)
    store_fulfilment_id: Mapped[str] = mapped_column(String(100))
    pushed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StoreCursor(Base):
    __tablename__ = "store_cursors"

    connection_id: Mapped[int] = mapped_column(BigId, ForeignKey("store_connections.id", ondelete="CASCADE"),
                                               primary_key=True)
    entity: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StoreOutboxEntry(Base):
    __tablename__ = "store_outbox"
    __table_args__ = (UniqueConstraint("connection_id", "idem_key"),
                      CheckConstraint("state IN ('pending', 'sending', 'done', 'failed', 'conflict')",
                                      name="state_known"),
                      Index("ix_store_outbox_connection_id_state_id", "connection_id", "state", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connection_id: Mapped[int] = mapped_column(BigId, ForeignKey("store_connections.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))           # products, prices, stock, fulfilment
    ref: Mapped[str] = mapped_column(String(200))           # what it is about, for people: a SKU, an order
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    idem_key: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class StoreSyncRun(Base):
    __tablename__ = "store_sync_runs"
    __table_args__ = (CheckConstraint("state IN ('running', 'ok', 'partial', 'failed')", name="state_known"),
                      Index("ix_store_sync_runs_connection_id_id", "connection_id", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connection_id: Mapped[int] = mapped_column(BigId, ForeignKey("store_connections.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))           # sync, reconcile
    direction: Mapped[str] = mapped_column(String(10))      # both, pull, push
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    state: Mapped[str] = mapped_column(String(10), default="running", server_default="running")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    summary: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    error: Mapped[str] = mapped_column(Text, default="", server_default="")
    user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))


class StoreApiCall(Base):
    __tablename__ = "store_api_calls"
    __table_args__ = (Index("ix_store_api_calls_connection_id_at", "connection_id", "at"),
                      Index("ix_store_api_calls_run_id", "run_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connection_id: Mapped[int] = mapped_column(BigId, ForeignKey("store_connections.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("store_sync_runs.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    method: Mapped[str] = mapped_column(String(10))
    endpoint: Mapped[str] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(Integer)
    elapsed_ms: Mapped[float] = mapped_column(Float)
