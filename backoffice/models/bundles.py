"""Bundles: fixed bundles (a SKU made of component SKUs) and mix-and-match rules.

A fixed bundle is an ordinary variant (its own SKU, sold like any product) marked by a ``bundles`` row that
says how it is priced, with its ``bundle_components``. It never holds stock: its availability is derived
from its components, and an order line for it is expanded, when placed, into lines of its components (each
``bundle_order_lines`` row remembers which bundle a component line came from), so reservations, shipments,
alerts and replenishment all see the components' real demand.

A mix-and-match rule prices any ``quantity`` items taken from a set of products and/or categories: a price
for the group or a percentage off.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.models.base import Base, BigId, EditableMixin, JsonDoc, Money, enum_column


class BundlePricing(str, enum.Enum):
    FIXED = "fixed"          # the bundle's price is ``amount``
    DISCOUNT = "discount"    # the sum of its components' prices minus ``percent_off`` % and ``amount`` off


class MixMatchKind(str, enum.Enum):
    PRICE = "price"          # any N items of the set for ``amount``
    PERCENT = "percent"      # any N items of the set at ``amount`` % off


class Bundle(EditableMixin, Base):
    __tablename__ = "bundles"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("percent_off >= 0 AND percent_off <= 100", name="percent_within_range"),
    )

    variant_id: Mapped[int] = mapped_column(BigId, ForeignKey("variants.id", ondelete="CASCADE"), unique=True)
    pricing: Mapped[BundlePricing] = mapped_column(enum_column(BundlePricing, "bundle_pricing"))
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"), server_default="0")
    percent_off: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"), server_default="0")


class BundleComponent(Base):
    """``quantity`` units of one component variant in one bundle."""

    __tablename__ = "bundle_components"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    bundle_id: Mapped[int] = mapped_column(BigId, ForeignKey("bundles.id", ondelete="CASCADE"), primary_key=True)
    component_variant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("variants.id", ondelete="RESTRICT"), primary_key=True, index=True)
    quantity: Mapped[int] = mapped_column(Integer)


class BundleOrderLine(Base):
    """An order line of a component placed for a bundle: ``bundle_quantity`` bundles of the bundle variant,
    ``per_bundle`` units of the line's variant in each."""

    __tablename__ = "bundle_order_lines"
    __table_args__ = (CheckConstraint("bundle_quantity > 0 AND per_bundle > 0", name="quantities_positive"),)

    order_line_id: Mapped[int] = mapped_column(BigId, ForeignKey("order_lines.id", ondelete="CASCADE"), primary_key=True)
    bundle_variant_id: Mapped[int] = mapped_column(BigId, ForeignKey("variants.id", ondelete="RESTRICT"), index=True)
    bundle_quantity: Mapped[int] = mapped_column(Integer)
    per_bundle: Mapped[int] = mapped_column(Integer)


class MixMatchRule(EditableMixin, Base):
    __tablename__ = "mix_match_rules"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),   # at least 2: checked by the service
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    name: Mapped[str] = mapped_column(String(200), unique=True)
    quantity: Mapped[int] = mapped_column(Integer)
    kind: Mapped[MixMatchKind] = mapped_column(enum_column(MixMatchKind, "mix_match_kind"))
    amount: Mapped[Decimal] = mapped_column(Money)
    product_ids: Mapped[list[Any]] = mapped_column(JsonDoc, default=list)
    category_ids: Mapped[list[Any]] = mapped_column(JsonDoc, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
