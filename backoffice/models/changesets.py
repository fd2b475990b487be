"""Changesets: every bulk edit, import or revert, with each row's values before and after."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.models.base import Base, BigId, JsonDoc, UTCDateTime, utcnow


class Changeset(Base):
    """One applied batch of edits. Append-only: undoing it is a new changeset (kind "revert")."""

    __tablename__ = "changesets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    operation_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    username: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # edit, bulk, import, revert
    description: Mapped[str] = mapped_column(String(500))
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    reverts_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("changesets.id", ondelete="RESTRICT"), index=True)


class ChangesetEntry(Base):
    """The changed fields of one row in one changeset, with the row's version before and after."""

    __tablename__ = "changeset_entries"
    __table_args__ = (Index("ix_changeset_entries_entity_entity_id", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    changeset_id: Mapped[int] = mapped_column(BigId, ForeignKey("changesets.id", ondelete="CASCADE"), index=True)
    entity: Mapped[str] = mapped_column(String(20))  # product, variant
    entity_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    version_before: Mapped[int] = mapped_column(Integer)
    version_after: Mapped[int] = mapped_column(Integer)
    before: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    after: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
