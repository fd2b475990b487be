"""Reads for the Variants screen: products to pick from, and everything the side panels show at once."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, or_, select

from backoffice.db import Database
from backoffice.models import Product, ProductBasePrice, Variant, VariantStatus
from backoffice.services.variants.attributes import AttributeInfo, TemplateInfo, list_attributes, list_templates
from backoffice.services.variants.pricing import RuleInfo, list_rules


@dataclass(frozen=True)
class ProductRow:
    id: int
    handle: str
    title: str
    variants: int               # not archived
    base_price: Decimal | None


def find_products(db: Database, text: str = "", *, limit: int = 200) -> list[ProductRow]:
    """Products whose title or handle contains ``text``, by title, at most ``limit`` (a picker, not a grid).
    Variants are counted for the products returned only, never for the whole catalog."""
    stmt = (select(Product.id, Product.handle, Product.title, ProductBasePrice.base_price)
            .outerjoin(ProductBasePrice, ProductBasePrice.product_id == Product.id)
            .order_by(Product.title, Product.id).limit(limit))
    needle = text.strip().lower()
    if needle:
        like = f"%{needle}%"
        stmt = stmt.where(or_(func.lower(Product.title).like(like), func.lower(Product.handle).like(like)))
    with db.read() as session:
        rows = list(session.execute(stmt))
        ids = [r[0] for r in rows]
        counts = dict(session.execute(
            select(Variant.product_id, func.count()).where(Variant.product_id.in_(ids),
                                                           Variant.status != VariantStatus.ARCHIVED)
            .group_by(Variant.product_id)).all()) if ids else {}
    return [ProductRow(pid, handle, title, int(counts.get(pid, 0)), base) for pid, handle, title, base in rows]


@dataclass(frozen=True)
class Overview:
    attributes: list[AttributeInfo]
    templates: list[TemplateInfo]
    rules: list[RuleInfo]


def overview(db: Database) -> Overview:
    return Overview(list_attributes(db), list_templates(db), list_rules(db))
