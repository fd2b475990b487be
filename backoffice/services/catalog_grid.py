"""Reading the catalog for the product grid: one row per variant with its product's fields.

Built for a million rows: the grid first shows one keyset page (``first_page``), then loads the ordered
list of matching variant ids in the background (``ordered_ids``: the true row count and random access
for the scroll bar), and fetches rows for whatever ids come into view (``rows_by_id``). No OFFSET.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from backoffice.db import Database
from backoffice.models import (
    Attribute,
    AttributeValue,
    Category,
    Product,
    ProductTag,
    StockLevel,
    Variant,
    VariantOption,
)


@dataclass(frozen=True)
class VariantFilter:
    """What the grid shows. Empty fields do not filter."""

    text: str = ""                       # title, SKU or barcode contains
    category_id: int | None = None       # this category and everything below it
    statuses: tuple[str, ...] = ()       # product status
    variant_statuses: tuple[str, ...] = ()
    vendors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()           # any of these tags
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    stock_min: int | None = None
    stock_max: int | None = None
    changed_since: dt.datetime | None = None
    low_stock: bool = False              # some location at or below its low-stock threshold
    product_ids: tuple[int, ...] = ()
    variant_ids: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v in (None, "", (), False):
                continue
            out[f.name] = str(v) if isinstance(v, Decimal) else v.isoformat() if isinstance(v, dt.datetime) else (
                list(v) if isinstance(v, tuple) else v)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VariantFilter:
        kw: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            v = data[f.name]
            if f.name in ("price_min", "price_max"):
                v = Decimal(str(v))
            elif f.name == "changed_since":
                v = dt.datetime.fromisoformat(v)
            elif isinstance(v, list):
                v = tuple(v)
            kw[f.name] = v
        return cls(**kw)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str            # text, money, int, percent, enum, datetime, category, tags
    entity: str | None   # "product" or "variant" when editable, None when computed
    field: str | None = None


COLUMNS: tuple[Column, ...] = (
    Column("title", "Title", "text", "product", "title"),
    Column("sku", "SKU", "text", "variant", "sku"),
    Column("options", "Options", "text", None),
    Column("barcode", "Barcode", "text", "variant", "barcode"),
    Column("status", "Status", "enum", "product", "status"),
    Column("variant_status", "Variant status", "enum", "variant", "status"),
    Column("category", "Category", "category", "product", "category_id"),
    Column("vendor", "Vendor", "text", "product", "vendor"),
    Column("product_type", "Type", "text", "product", "product_type"),
    Column("tags", "Tags", "tags", "product", "tags"),
    Column("price", "Price", "money", "variant", "price"),
    Column("compare_at_price", "Compare at", "money", "variant", "compare_at_price"),
    Column("cost", "Cost", "money", "variant", "cost"),
    Column("margin", "Margin", "percent", None),
    Column("stock", "Stock", "int", None),
    Column("updated_at", "Updated", "datetime", None),
    Column("handle", "Handle", "text", "product", "handle"),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}


@dataclass
class GridRow:
    variant_id: int
    product_id: int
    variant_version: int
    product_version: int
    title: str
    handle: str
    sku: str
    barcode: str | None
    options: str
    status: str
    variant_status: str
    category_id: int | None
    category: str
    vendor: str
    product_type: str
    tags: list[str] = field(default_factory=list)
    price: Decimal = Decimal("0.00")
    compare_at_price: Decimal | None = None
    cost: Decimal | None = None
    stock: int = 0
    updated_at: dt.datetime | None = None

    @property
    def margin(self) -> Decimal | None:
        if self.cost is None or not self.price:
            return None
        return ((self.price - self.cost) / self.price * 100).quantize(Decimal("0.1"))

    def value(self, key: str) -> Any:
        return getattr(self, key)


def _stock_totals():  # type: ignore[no-untyped-def]
    return (select(StockLevel.variant_id.label("variant_id"), func.sum(StockLevel.on_hand).label("on_hand"))
            .group_by(StockLevel.variant_id).subquery("stock_totals"))


def _sort_expression(key: str, stock_sq) -> ColumnElement:  # type: ignore[no-untyped-def]
    return {
        "title": Product.title, "sku": Variant.sku, "barcode": Variant.barcode, "status": Product.status,
        "variant_status": Variant.status, "vendor": Product.vendor, "product_type": Product.product_type,
        "price": Variant.price, "compare_at_price": Variant.compare_at_price, "cost": Variant.cost,
        "updated_at": Variant.updated_at, "handle": Product.handle, "category": Product.category_id,
        "stock": func.coalesce(stock_sq.c.on_hand, 0) if stock_sq is not None else Variant.id,
        "margin": (Variant.price - func.coalesce(Variant.cost, Variant.price)),
        "options": Variant.title, "tags": Product.id, "id": Variant.id,
    }[key]


def _apply_filter(stmt: Select, f: VariantFilter, session_stock_sq=None) -> Select:  # type: ignore[no-untyped-def]
    conds: list[ColumnElement] = []
    text = f.text.strip()
    if text:
        needle = f"%{text.lower()}%"
        conds.append(or_(func.lower(Product.title).like(needle), func.lower(Variant.sku).like(needle),
                         Variant.barcode == text))
    if f.category_id is not None:
        sub = select(Category.path).where(Category.id == f.category_id).scalar_subquery()
        conds.append(Product.category_id.in_(select(Category.id).where(Category.path.like(sub + "%"))))
    if f.statuses:
        conds.append(Product.status.in_(f.statuses))
    if f.variant_statuses:
        conds.append(Variant.status.in_(f.variant_statuses))
    if f.vendors:
        conds.append(Product.vendor.in_(f.vendors))
    if f.tags:
        conds.append(exists().where(ProductTag.product_id == Product.id, ProductTag.tag.in_(f.tags)))
    if f.price_min is not None:
        conds.append(Variant.price >= f.price_min)
    if f.price_max is not None:
        conds.append(Variant.price <= f.price_max)
    if f.stock_min is not None or f.stock_max is not None:
        total = (select(func.coalesce(func.sum(StockLevel.on_hand), 0)).where(StockLevel.variant_id == Variant.id)
                 .scalar_subquery())
        if f.stock_min is not None:
            conds.append(total >= f.stock_min)
        if f.stock_max is not None:
            conds.append(total <= f.stock_max)
    if f.changed_since is not None:
        conds.append(or_(Variant.updated_at >= f.changed_since, Product.updated_at >= f.changed_since))
    if f.low_stock:
        conds.append(exists().where(StockLevel.variant_id == Variant.id, StockLevel.low_stock_threshold.is_not(None),
                                    StockLevel.on_hand - StockLevel.reserved <= StockLevel.low_stock_threshold))
    if f.product_ids:
        conds.append(Variant.product_id.in_(f.product_ids))
    if f.variant_ids:
        conds.append(Variant.id.in_(f.variant_ids))
    return stmt.where(and_(*conds)) if conds else stmt


def _base(columns, f: VariantFilter, sort_key: str):  # type: ignore[no-untyped-def]
    stock_sq = _stock_totals() if sort_key == "stock" else None
    stmt = select(*columns).select_from(Variant).join(Product, Product.id == Variant.product_id)
    if stock_sq is not None:
        stmt = stmt.outerjoin(stock_sq, stock_sq.c.variant_id == Variant.id)
    return _apply_filter(stmt, f), _sort_expression(sort_key, stock_sq)


def count(db: Database, f: VariantFilter = VariantFilter()) -> int:
    stmt, _ = _base([func.count()], f, "id")
    with db.read() as session:
        return int(session.scalar(stmt) or 0)


def ordered_ids(db: Database, f: VariantFilter = VariantFilter(), sort_key: str = "id", descending: bool = False) -> list[int]:
    """Every matching variant id in display order (ids only: a million fit in a few MB)."""
    stmt, expr = _base([Variant.id], f, sort_key)
    order = [expr.desc() if descending else expr.asc(), Variant.id.desc() if descending else Variant.id.asc()]
    with db.read() as session:
        return list(session.scalars(stmt.order_by(*order)))


def first_page(db: Database, f: VariantFilter = VariantFilter(), sort_key: str = "id", descending: bool = False,
               limit: int = 200) -> list[GridRow]:
    """The first rows in display order, read without touching the rest of the table."""
    stmt, expr = _base([Variant.id], f, sort_key)
    order = [expr.desc() if descending else expr.asc(), Variant.id.desc() if descending else Variant.id.asc()]
    with db.read() as session:
        ids = list(session.scalars(stmt.order_by(*order).limit(limit)))
    rows = rows_by_id(db, ids)
    return [rows[i] for i in ids if i in rows]


def rows_by_id(db: Database, ids: list[int]) -> dict[int, GridRow]:
    """Full grid rows for the given variant ids (a visible page): four indexed queries."""
    if not ids:
        return {}
    with db.read() as session:
        base = session.execute(
            select(Variant.id, Variant.product_id, Variant.version, Product.version, Product.title, Product.handle,
                   Variant.sku, Variant.barcode, Variant.title, Product.status, Variant.status, Product.category_id,
                   Category.name, Product.vendor, Product.product_type, Variant.price, Variant.compare_at_price,
                   Variant.cost, Variant.updated_at, Product.updated_at)
            .join(Product, Product.id == Variant.product_id)
            .outerjoin(Category, Category.id == Product.category_id)
            .where(Variant.id.in_(ids))
        ).all()
        product_ids = sorted({r[1] for r in base})
        tags: dict[int, list[str]] = defaultdict(list)
        for pid, tag in session.execute(select(ProductTag.product_id, ProductTag.tag)
                                        .where(ProductTag.product_id.in_(product_ids)).order_by(ProductTag.tag)):
            tags[pid].append(tag)
        options: dict[int, list[str]] = defaultdict(list)
        for vid, value in session.execute(
            select(VariantOption.variant_id, AttributeValue.value)
            .join(AttributeValue, AttributeValue.id == VariantOption.attribute_value_id)
            .join(Attribute, Attribute.id == VariantOption.attribute_id)
            .where(VariantOption.variant_id.in_(ids)).order_by(VariantOption.variant_id, Attribute.position, Attribute.id)
        ):
            options[vid].append(value)
        stock = dict(session.execute(select(StockLevel.variant_id, func.sum(StockLevel.on_hand))
                                     .where(StockLevel.variant_id.in_(ids)).group_by(StockLevel.variant_id)).all())
    out = {}
    for (vid, pid, vver, pver, title, handle, sku, barcode, vtitle, status, vstatus, cat_id, cat_name, vendor, ptype,
         price, compare_at, cost, v_upd, p_upd) in base:
        out[vid] = GridRow(
            variant_id=vid, product_id=pid, variant_version=vver, product_version=pver, title=title, handle=handle,
            sku=sku, barcode=barcode, options=" / ".join(options.get(vid, [])) or vtitle,
            status=status.value, variant_status=vstatus.value, category_id=cat_id, category=cat_name or "",
            vendor=vendor, product_type=ptype, tags=tags.get(pid, []), price=price, compare_at_price=compare_at,
            cost=cost, stock=int(stock.get(vid) or 0), updated_at=max(v_upd, p_upd),
        )
    return out


def facets(db: Database) -> dict[str, list[Any]]:
    """Values for the filter pickers: vendors, tags, statuses and the category tree."""
    with db.read() as session:
        return {
            "vendors": [v for v in session.scalars(select(Product.vendor).distinct().order_by(Product.vendor)) if v],
            "tags": list(session.scalars(select(ProductTag.tag).distinct().order_by(ProductTag.tag))),
            "categories": [
                {"id": c.id, "parent_id": c.parent_id, "name": c.name, "path": c.path}
                for c in session.scalars(select(Category).order_by(Category.path))
            ],
        }
