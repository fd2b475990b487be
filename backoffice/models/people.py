"""Staff, suppliers and the audit trail."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.models.base import Base, BigId, EditableMixin, JsonDoc, UTCDateTime, enum_column, utcnow


class Role(str, enum.Enum):
    MERCHANDISER = "merchandiser"
    WAREHOUSE = "warehouse"
    PURCHASER = "purchaser"
    MANAGER = "manager"
    ADMIN = "admin"


class User(EditableMixin, Base):
    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    email: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role, "user_role"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    # Proven identity (services/auth.py). Accounts made before passwords existed have none and cannot
    # log in over the API until one is set. Never shown, never audited.
    # Deferred: loading an account never reads it (staff logins on PostgreSQL may not; see db_roles).
    password_hash: Mapped[str | None] = mapped_column(String(255), deferred=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    password_reset_hash: Mapped[str | None] = mapped_column(String(64), deferred=True)
    password_reset_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The person's own PostgreSQL login (``users add`` on PostgreSQL), mapped from ``session_user``.
    db_login: Mapped[str | None] = mapped_column(String(63), unique=True)


class TokenKind(str, enum.Enum):
    ACCESS = "access"
    REFRESH = "refresh"
    API_KEY = "api_key"


class AuthToken(Base):
    """A bearer secret, stored only as its SHA-256: a short-lived access token, the refresh token of a
    session (access tokens name it as ``session_id``), or an API key for an integration (no expiry)."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[TokenKind] = mapped_column(enum_column(TokenKind, "auth_token_kind"))
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, deferred=True)
    session_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("auth_tokens.id", ondelete="CASCADE"),
                                                   index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Supplier(EditableMixin, Base):
    __tablename__ = "suppliers"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    email: Mapped[str | None] = mapped_column(String(255))
    contact_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    phone: Mapped[str] = mapped_column(String(50), default="", server_default="")
    currency: Mapped[str] = mapped_column(String(3), default="EUR", server_default="EUR")
    payment_terms: Mapped[str] = mapped_column(String(100), default="", server_default="")
    lead_time_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")


class AuditEntry(Base):
    """Who did what, when, to which row, with the values before and after. Append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity_entity_id", "entity", "entity_id"),
        Index("ix_audit_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    username: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(50))
    operation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    # The database login that wrote the entry, stamped by the database on PostgreSQL (migration 0014).
    db_user: Mapped[str | None] = mapped_column(String(100))


class UserLocation(Base):
    """A location a user may post stock at. A user with none listed may post at every location; one with
    some listed is limited to them (enforced by the posting function and row-level security on PostgreSQL,
    by the services on SQLite)."""

    __tablename__ = "user_locations"
    __table_args__ = (Index("ix_user_locations_location_id", "location_id"),)

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    location_id: Mapped[int] = mapped_column(BigId, ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True)


class RowAudit(Base):
    """What the audit triggers record of every row written to an audited table (PostgreSQL): the
    database login, the acting user, the application's operation id and operation, and the row after the
    write (before, for a delete). Written by the database only; nobody on staff can change it."""

    __tablename__ = "row_audit"
    __table_args__ = (Index("ix_row_audit_table_row", "table_name", "row_id"),
                      Index("ix_row_audit_operation_id", "operation_id"),
                      {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    txid: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    db_user: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(BigId)
    operation_id: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str | None] = mapped_column(String(100))
    table_name: Mapped[str] = mapped_column(String(64))
    row_id: Mapped[int] = mapped_column(BigId)
    action: Mapped[str] = mapped_column(String(6))
    data: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)


class AppliedOperation(Base):
    """Operation ids of service writes already applied, with what they returned, so that a retried
    request (a double click, a replayed outbox entry) returns the first result instead of writing again.
    Stock posts keep their own UNIQUE operation id in ``stock_operations``."""

    __tablename__ = "applied_operations"

    operation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    action: Mapped[str] = mapped_column(String(50))
    user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="RESTRICT"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)


class ApiRequest(Base):
    """A store-API request sent with an ``Idempotency-Key``: the hash of what was asked and, once it
    has been answered, the answer, so that a replay gets the first response and the same key with
    another request is refused. Per user: two users' keys never meet."""

    __tablename__ = "api_requests"
    __table_args__ = (Index("uq_api_requests_user_key", "user_id", "idempotency_key", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    route: Mapped[str] = mapped_column(String(300))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[int | None] = mapped_column(Integer)          # None while it is being answered
    response: Mapped[str | None] = mapped_column(Text)           # the body, as sent
    media_type: Mapped[str | None] = mapped_column(String(100))
    headers: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)   # ETag, Location… of the answer
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
