"""Price events and flash sales: a price rule applied to a frozen set of variants between a start and an
end, then reverted.

- ``price_events``: one row per event: its rule (the bulk price steps), when it starts and ends (stored
  in UTC; ``time_zone`` is the zone the user planned it in, kept for display), an optional quantity
  limit per variant, its state (planned → active → ended, or cancelled) and the changesets that applied
  and reverted its prices. Each transition is claimed with ``UPDATE … WHERE state = …`` in the same
  transaction as its changeset, so it happens exactly once however many runners overlap.
- ``price_event_variants``: the variants the event was planned for (frozen at planning time), the
  regular and event prices recorded at the start, units sold since, and each variant's own state
  (a variant may end early when its limit is reached, and a variant edited during the event ends as a
  *conflict* for the user to resolve, never silently overwritten).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.models.base import Base, BigId, EditableMixin, JsonDoc, Money, UTCDateTime

EVENT_STATES = ("planned", "active", "ended", "cancelled")
# planned: waits for the start; active: at its event price; limit_reached / restored: back at its regular
# price; conflict: edited during the event, left as edited until the user resolves it; kept: resolved by
# keeping the edit; skipped: could not take the event price at the start (named in ``note``);
# cancelled: the event was cancelled before it started.
VARIANT_STATES = ("planned", "active", "limit_reached", "restored", "conflict", "kept", "skipped", "cancelled")


def _states(states: tuple[str, ...]) -> str:
    return "state IN (" + ", ".join(f"'{s}'" for s in states) + ")"


class PriceEvent(EditableMixin, Base):
    __tablename__ = "price_events"
    __table_args__ = (
        CheckConstraint(_states(EVENT_STATES), name="state_known"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("quantity_limit IS NULL OR quantity_limit > 0", name="limit_positive"),
        Index("ix_price_events_state_starts_at", "state", "starts_at"),
    )

    name: Mapped[str] = mapped_column(String(200), unique=True)
    rule: Mapped[dict[str, Any]] = mapped_column(JsonDoc)              # {"field": "price", "steps": [...]}
    rule_text: Mapped[str] = mapped_column(String(500))
    target: Mapped[dict[str, Any]] = mapped_column(JsonDoc)            # the filter or selection, as chosen
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    quantity_limit: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default="planned", server_default="planned")
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    start_changeset_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("changesets.id", ondelete="RESTRICT"))
    end_changeset_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("changesets.id", ondelete="RESTRICT"))
    created_by: Mapped[str] = mapped_column(String(100), default="", server_default="")
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")


class PriceEventVariant(Base):
    __tablename__ = "price_event_variants"
    __table_args__ = (
        UniqueConstraint("event_id", "variant_id"),
        CheckConstraint(_states(VARIANT_STATES), name="state_known"),
        Index("ix_price_event_variants_variant_id_state", "variant_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(BigId, ForeignKey("price_events.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int] = mapped_column(BigId, ForeignKey("variants.id", ondelete="RESTRICT"))
    sku: Mapped[str] = mapped_column(String(100), default="", server_default="")
    state: Mapped[str] = mapped_column(String(20), default="planned", server_default="planned")
    regular_price: Mapped[Decimal | None] = mapped_column(Money)
    event_price: Mapped[Decimal | None] = mapped_column(Money)
    regular_compare_at: Mapped[Decimal | None] = mapped_column(Money)
    event_compare_at: Mapped[Decimal | None] = mapped_column(Money)
    current_price: Mapped[Decimal | None] = mapped_column(Money)      # a conflict: the price found at the end
    sold: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    end_changeset_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("changesets.id", ondelete="RESTRICT"))
    note: Mapped[str] = mapped_column(String(300), default="", server_default="")
