"""Reads for the Variants screen: products to pick from, and everything the side panels show at once."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, or_, select

from backoffice.db import Database
from backoffice.models import Product, ProductBasePrice, Variant, VariantStatus
from backoffice.services.base import chunked_in
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


def resolve_products(db: Database, refs: list[str]) -> tuple[list[int], list[str]]:
    """The ids of the products named by handle (or by id, for a reference made of digits), in the order
    given, and the references that name no product."""
    ids, unknown = [], []
    with db.read() as session:
        for ref in refs:
            pid = session.scalar(select(Product.id).where(Product.handle == ref))
            if pid is None and ref.isdigit():
                pid = session.scalar(select(Product.id).where(Product.id == int(ref)))
            if pid is None:
                unknown.append(ref)
            else:
                ids.append(pid)
    return ids, unknown


def products_with_base_price(db: Database) -> list[int]:
    """Every product that has a base price (the ones repricing by rules can work on)."""
    with db.read() as session:
        return list(session.scalars(select(ProductBasePrice.product_id).order_by(ProductBasePrice.product_id)))


def variant_ids_by_sku(db: Database, skus: list[str]) -> dict[str, int]:
    """{SKU: variant id} of the SKUs that exist (exact spelling)."""
    out: dict[str, int] = {}
    with db.read() as session:
        for cond in chunked_in(session, Variant.sku, sorted(set(skus))):
            out.update(session.execute(select(Variant.sku, Variant.id).where(cond)).all())
    return out
