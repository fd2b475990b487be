"""The change log behind the store API's change feeds (``GET /v1/changes/{kind}``).

Database triggers (migration 0011) append one row per inserted, updated or deleted row of products,
variants, stock levels, orders and the audit log, whoever writes: the services, the ledger function, a
COPY, a hand-typed UPDATE. A row says only *which* row changed and how; the feed joins the row's current
state when it is read.

``seq`` numbers the rows in the order they were written. ``txid`` is the writing transaction's id on
PostgreSQL (``pg_current_xact_id()``), 0 on SQLite. PostgreSQL transactions commit in any order, so a
feed reads in (txid, seq) order and only up to the oldest transaction still running: every row below
that horizon is final, and a transaction that commits later always sorts after it. SQLite runs one write
transaction at a time, so there seq order is commit order.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.models.base import Base, BigId

# The kinds of row the log records: the table names.
LOGGED_TABLES = ("products", "variants", "stock_levels", "orders", "audit_log")
CHANGE_OPS = ("insert", "update", "delete")


class ChangeLogEntry(Base):
    """One row of products, variants, stock levels, orders or the audit log inserted, updated or deleted.
    Written only by the database's triggers; append-only."""

    __tablename__ = "change_log"
    __table_args__ = (
        CheckConstraint("entity IN ('products', 'variants', 'stock_levels', 'orders', 'audit_log')",
                        name="entity_known"),
        CheckConstraint("op IN ('insert', 'update', 'delete')", name="op_known"),
        Index("ix_change_log_entity_txid_seq", "entity", "txid", "seq"),                 # pages in order
        Index("ix_change_log_entity_entity_id_txid_seq", "entity", "entity_id", "txid", "seq"),  # a row's changes
        # SQLite: never reuse a number, even after the newest rows are deleted, so a cursor stays valid.
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(BigId)
    op: Mapped[str] = mapped_column(String(6))
    txid: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
