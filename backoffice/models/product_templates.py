"""Product templates: what a new product starts from (vendor, type, category, tags, status, the options
its variants are made of or a variant template, description and SEO text templates, a default price
and cost). Creating a product from one goes through the catalog service like any other new product."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.models.base import Base, BigId, EditableMixin, JsonDoc, Money


class ProductTemplate(EditableMixin, Base):
    __tablename__ = "product_templates"
    __table_args__ = (
        CheckConstraint("default_price IS NULL OR default_price >= 0", name="default_price_not_negative"),
        CheckConstraint("default_cost IS NULL OR default_cost >= 0", name="default_cost_not_negative"),
    )

    name: Mapped[str] = mapped_column(String(200), unique=True)
    vendor: Mapped[str] = mapped_column(String(200), default="", server_default="")
    product_type: Mapped[str] = mapped_column(String(200), default="", server_default="")
    category_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("categories.id", ondelete="SET NULL"),
                                                    index=True)
    tags: Mapped[list[Any]] = mapped_column(JsonDoc, default=list)
    status: Mapped[str] = mapped_column(String(20), default="draft", server_default="draft")
    # attribute code -> the values new products get variants for ({"size": ["S", "M", "L"]}); when empty,
    # the variant template's options (or one variant without options when there is neither)
    attributes: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    variant_template_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("variant_templates.id", ondelete="SET NULL"), index=True)
    sku_pattern: Mapped[str] = mapped_column(String(200), default="", server_default="")
    description_template: Mapped[str] = mapped_column(Text, default="", server_default="")
    seo_title_template: Mapped[str] = mapped_column(String(500), default="", server_default="")
    seo_description_template: Mapped[str] = mapped_column(Text, default="", server_default="")
    default_price: Mapped[Decimal | None] = mapped_column(Money)
    default_cost: Mapped[Decimal | None] = mapped_column(Money)
