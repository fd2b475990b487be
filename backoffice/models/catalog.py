"""The catalog: categories, products, attributes, variants and images."""

from __future__ import annotations

import enum
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.models.base import Base, BigId, EditableMixin, Money, enum_column


class ProductStatus(str, enum.Enum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


class VariantStatus(str, enum.Enum):
    ACTIVE = "active"
    DISABLED = "disabled"
    ARCHIVED = "archived"


class Category(EditableMixin, Base):
    """A node of the category tree. ``path`` is the materialised path of ids ("/1/7/42/") so that
    "this category and all below it" is one indexed prefix match."""

    __tablename__ = "categories"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)

    parent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("categories.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(400), index=True, default="/")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    parent: Mapped[Category | None] = relationship(remote_side="Category.id")


class Product(EditableMixin, Base):
    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_status_id", "status", "id"),
        Index("ix_products_title_id", "title", "id"),        # the grid's sort orders (migration 0012)
        Index("ix_products_vendor_id", "vendor", "id"),
        Index("ix_products_product_type_id", "product_type", "id"),
    )

    handle: Mapped[str] = mapped_column(String(255), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    vendor: Mapped[str] = mapped_column(String(200), default="", server_default="")
    product_type: Mapped[str] = mapped_column(String(200), default="", server_default="")
    status: Mapped[ProductStatus] = mapped_column(
        enum_column(ProductStatus, "product_status"), default=ProductStatus.DRAFT, server_default="draft"
    )
    category_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("categories.id", ondelete="SET NULL"), index=True)
    seo_title: Mapped[str] = mapped_column(String(255), default="", server_default="")
    seo_description: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # orders may reserve more than is on hand (available below zero) instead of waiting for stock
    allow_backorder: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    category: Mapped[Category | None] = relationship()
    variants: Mapped[list[Variant]] = relationship(back_populates="product", order_by="Variant.position")
    tags: Mapped[list[ProductTag]] = relationship(cascade="all, delete-orphan", order_by="ProductTag.tag")


class ProductTag(Base):
    """One tag on one product; a table rather than a text column so tag filters use an index."""

    __tablename__ = "product_tags"

    product_id: Mapped[int] = mapped_column(BigId, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class Attribute(EditableMixin, Base):
    """An option dimension such as size, colour or material."""

    __tablename__ = "attributes"

    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # in use, no longer offered

    values: Mapped[list[AttributeValue]] = relationship(back_populates="attribute", order_by="AttributeValue.position")


class AttributeValue(EditableMixin, Base):
    __tablename__ = "attribute_values"
    __table_args__ = (UniqueConstraint("attribute_id", "value"),)

    attribute_id: Mapped[int] = mapped_column(BigId, ForeignKey("attributes.id", ondelete="CASCADE"), index=True)
    value: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    attribute: Mapped[Attribute] = relationship(back_populates="values")


class Variant(EditableMixin, Base):
    __tablename__ = "variants"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("compare_at_price IS NULL OR compare_at_price >= 0", name="compare_at_not_negative"),
        CheckConstraint("cost IS NULL OR cost >= 0", name="cost_not_negative"),
        CheckConstraint("weight_grams IS NULL OR weight_grams >= 0", name="weight_not_negative"),
        Index("ix_variants_product_id_position", "product_id", "position"),
        Index("ix_variants_price_id", "price", "id"),          # the grid's sort orders (migration 0012)
        Index("ix_variants_updated_at_id", "updated_at", "id"),
    )

    product_id: Mapped[int] = mapped_column(BigId, ForeignKey("products.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(100), unique=True)
    barcode: Mapped[str | None] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(255), default="", server_default="")
    price: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"), server_default="0")
    compare_at_price: Mapped[Decimal | None] = mapped_column(Money)
    cost: Mapped[Decimal | None] = mapped_column(Money)
    weight_grams: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[VariantStatus] = mapped_column(
        enum_column(VariantStatus, "variant_status"), default=VariantStatus.ACTIVE, server_default="active"
    )
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    product: Mapped[Product] = relationship(back_populates="variants")
    options: Mapped[list[VariantOption]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class VariantOption(Base):
    """The value a variant takes for one attribute (size = M). One row per (variant, attribute)."""

    __tablename__ = "variant_options"

    variant_id: Mapped[int] = mapped_column(BigId, ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True)
    attribute_id: Mapped[int] = mapped_column(BigId, ForeignKey("attributes.id", ondelete="RESTRICT"), primary_key=True)
    attribute_value_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("attribute_values.id", ondelete="RESTRICT"), index=True
    )


class ProductImage(EditableMixin, Base):
    """An image of a product's gallery (position 0 is the main image). Files live in a content-addressed
    store; the row holds metadata and hashes: ``content_hash`` of the original as uploaded (kept, and
    unique per product so the same file is never added twice), ``web_hash``/``thumb_hash`` of the
    renditions of the current version (``image_versions``). ``variant_id`` is the variant the file was
    matched to on upload; the variants that show the image are ``product_image_variants``."""

    __tablename__ = "product_images"
    __table_args__ = (
        Index("ix_product_images_product_id_position", "product_id", "position"),
        UniqueConstraint("product_id", "content_hash"),
    )

    product_id: Mapped[int] = mapped_column(BigId, ForeignKey("products.id", ondelete="CASCADE"))
    variant_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("variants.id", ondelete="SET NULL"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(255), default="", server_default="")
    alt_text: Mapped[str] = mapped_column(String(500), default="", server_default="")
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    original_format: Mapped[str] = mapped_column(String(16), default="", server_default="")
    original_bytes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    current_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    web_hash: Mapped[str | None] = mapped_column(String(64))
    web_format: Mapped[str] = mapped_column(String(8), default="", server_default="")
    web_width: Mapped[int | None] = mapped_column(Integer)
    web_height: Mapped[int | None] = mapped_column(Integer)
    web_bytes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    thumb_hash: Mapped[str | None] = mapped_column(String(64))
