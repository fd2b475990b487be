"""Variant templates, pricing rules (surcharges per attribute value) and per-variant price overrides.

A template is a named option set ("Apparel sizes XS–XXL × colours"): the attribute values it offers,
the combinations it leaves out and a SKU pattern, reused by the combination generator. A price rule
adds a surcharge to the product's base price for variants that carry one attribute value, either an
amount (XL +2.00) or a percentage of the base price (leather +15 %). A variant whose price was set by
hand keeps it: it is marked as an override and repricing passes it by.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.models.base import Base, BigId, EditableMixin, JsonDoc, Money, UTCDateTime, enum_column, utcnow


class SurchargeKind(str, enum.Enum):
    AMOUNT = "amount"      # added to the base price as it is
    PERCENT = "percent"    # a percentage of the base price


class VariantTemplate(EditableMixin, Base):
    __tablename__ = "variant_templates"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="", server_default="")
    sku_pattern: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # combinations left out, each a list of attribute value ids ([[12, 40], ...]: "Red in XS" is not made)
    exclusions: Mapped[list[Any]] = mapped_column(JsonDoc, default=list)

    values: Mapped[list[VariantTemplateValue]] = relationship(
        cascade="all, delete-orphan", order_by="VariantTemplateValue.position", lazy="selectin")


class VariantTemplateValue(Base):
    """One attribute value a template offers; ``position`` orders them within the template."""

    __tablename__ = "variant_template_values"

    template_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("variant_templates.id", ondelete="CASCADE"), primary_key=True)
    attribute_value_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("attribute_values.id", ondelete="RESTRICT"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ProductBasePrice(EditableMixin, Base):
    """The price a product's variants start from before surcharges."""

    __tablename__ = "product_base_prices"
    __table_args__ = (CheckConstraint("base_price >= 0", name="base_price_not_negative"),)

    product_id: Mapped[int] = mapped_column(BigId, ForeignKey("products.id", ondelete="CASCADE"), unique=True)
    base_price: Mapped[Decimal] = mapped_column(Money)


class PriceRule(EditableMixin, Base):
    """A surcharge for variants carrying one attribute value, store-wide (product_id empty) or for one
    product (which then replaces the store-wide rule of that value for that product)."""

    __tablename__ = "price_rules"
    __table_args__ = (UniqueConstraint("attribute_value_id", "product_id"),)

    attribute_value_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("attribute_values.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("products.id", ondelete="CASCADE"), index=True)
    kind: Mapped[SurchargeKind] = mapped_column(enum_column(SurchargeKind, "surcharge_kind"))
    amount: Mapped[Decimal] = mapped_column(Money)   # may be negative: a discount (XS -1.00)


class VariantPriceOverride(Base):
    """A variant whose price was set by hand: repricing by rules leaves it as it is."""

    __tablename__ = "variant_price_overrides"

    variant_id: Mapped[int] = mapped_column(BigId, ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    username: Mapped[str] = mapped_column(String(100), default="", server_default="")
