"""Reading the catalog for the product grid: one row per variant with its product's fields.

Built for a million rows: the grid first shows one keyset page (``first_page``), then loads the ordered
list of matching variant ids in the background (``ordered_ids``: the true row count and random access
for the scroll bar), and fetches rows for whatever ids come into view (``rows_by_id``). No OFFSET.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from backoffice.db import Database
from backoffice.models import (
    Attribute,
    AttributeValue,
    Category,
    Product,
    ProductImage,
    ProductImageVariant,
    ProductStatus,
    ProductTag,
    StockLevel,
    Variant,
    VariantOption,
    VariantStatus,
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
    option_value_ids: tuple[int, ...] = ()  # carries every one of these attribute values (all XL)
    needs_attention: bool = False        # the product's content score is below the store's threshold

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
    Column("stock", "On hand", "int", None),
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
    thumb_hash: str | None = None  # the thumbnail in the image store (see services.image_store)

    @property
    def margin(self) -> Decimal | None:
        if self.cost is None or not self.price:
            return None
        # Half away from zero, and no "-0.0": what PostgreSQL's round() gives the JSON page (page_json).
        return ((self.price - self.cost) / self.price * 100).quantize(Decimal("0.1"), ROUND_HALF_UP) + 0

    def value(self, key: str) -> Any:
        return getattr(self, key)


def _stock_totals():  # type: ignore[no-untyped-def]
    return (select(StockLevel.variant_id.label("variant_id"), func.sum(StockLevel.on_hand).label("on_hand"))
            .group_by(StockLevel.variant_id).subquery("stock_totals"))


# The grid's own alias of categories, so the category filter's subqueries (on the plain table) are never
# correlated with the category joined for names and sorting.
_GridCategory = aliased(Category, name="grid_category")
T = TypeVar("T")

SORT_KEYS: tuple[str, ...] = ("id", *(c.key for c in COLUMNS))
# Sort keys whose value may be NULL: NULLs sort after every value on both engines (SQLite would put them
# first, PostgreSQL last), so a descending order is exactly the ascending one reversed.
_NULLABLE_SORTS = frozenset({"barcode", "compare_at_price", "cost", "category", "margin"})
_ITEM_SEP, _PART_SEP = "\x1e", "\x1f"


def _sort_expression(key: str, stock_sq) -> ColumnElement:  # type: ignore[no-untyped-def]
    if key not in SORT_KEYS:
        raise ValueError(f"unknown sort key {key!r}; valid: {', '.join(SORT_KEYS)}")
    if key == "margin":  # in hundredths of a percent: an exact integer, safe to compare in a keyset
        ratio = func.round((Variant.price - Variant.cost) * 10000 / Variant.price)
        return case((and_(Variant.cost.is_not(None), Variant.price > 0), cast(ratio, Integer)), else_=None)
    if key == "stock":
        return func.coalesce(stock_sq.c.on_hand, 0)
    return {
        "title": Product.title, "sku": Variant.sku, "barcode": Variant.barcode, "status": Product.status,
        "variant_status": Variant.status, "vendor": Product.vendor, "product_type": Product.product_type,
        "price": Variant.price, "compare_at_price": Variant.compare_at_price, "cost": Variant.cost,
        "updated_at": Variant.updated_at, "handle": Product.handle, "category": _GridCategory.name,
        "options": Variant.title, "tags": Product.id, "id": Variant.id,
    }[key]


# Sort keys that are product fields: their order is (value, product id, variant id), so a product's
# variants stay together and the order is an index scan of products (value, id) joined to their variants
# (a handful of rows to sort per product), however many variants share a value.
_PRODUCT_SORTS = frozenset({"title", "status", "vendor", "product_type", "handle", "category"})


@dataclass(frozen=True)
class _Ordering:
    """The display order: (sort value is NULL, sort value, [product id,] variant id), all ascending or all
    descending; the product id for the product-field sorts (``_PRODUCT_SORTS``)."""

    key: str
    expr: ColumnElement

    @property
    def nullable(self) -> bool:
        return self.key in _NULLABLE_SORTS

    @property
    def by_product(self) -> bool:
        return self.key in _PRODUCT_SORTS

    def ties(self) -> list[ColumnElement]:
        """The columns that order rows with the same sort value."""
        return [Product.id, Variant.id] if self.by_product else [Variant.id]

    def clauses(self, descending: bool) -> list[ColumnElement]:
        parts: list[ColumnElement] = []
        if self.nullable:
            parts.append(self.expr.is_(None))
        if self.key != "id":
            parts.append(self.expr)
        parts.extend(self.ties())
        return [p.desc() if descending else p.asc() for p in parts]

    def after(self, value: Any, tie: Sequence[Any], descending: bool) -> ColumnElement:
        """Rows that come after the row (value, *tie) in display order: a keyset condition. ``tie`` is
        the row's (variant id,) or, for a product-field sort, (product id, variant id).

        Written as row-value comparisons, which both engines answer from an index on (value, id); for a
        product-field sort (value, product id) >= … bounds the scan of products, the full comparison
        then drops the rows of the cursor's product already shown."""
        later = (lambda a, b: a < b) if descending else (lambda a, b: a > b)
        from_ = (lambda a, b: a <= b) if descending else (lambda a, b: a >= b)
        ties = self.ties()
        if len(tie) != len(ties):
            raise ValueError(f"a {self.key} key is (value, {'product id, ' if self.by_product else ''}variant id)")
        if self.key == "id":
            return later(Variant.id, tie[0])
        tie_after = later(tuple_(*ties), tuple_(*tie)) if len(ties) > 1 else later(Variant.id, tie[0])
        if value is None:  # the cursor is among the NULLs, which come last ascending and first descending
            among = and_(self.expr.is_(None), tie_after)
            return or_(among, self.expr.is_not(None)) if descending else among
        if not self.nullable:
            full = later(tuple_(self.expr, *ties), tuple_(value, *tie))
            return and_(from_(tuple_(self.expr, Product.id), tuple_(value, tie[0])), full) if self.by_product \
                else full
        cond = or_(later(self.expr, value), and_(self.expr == value, tie_after))
        cond = and_(self.expr.is_not(None), cond)
        return cond if descending else or_(cond, self.expr.is_(None))


def apply_filter(stmt: Select, f: VariantFilter, session_stock_sq=None) -> Select:  # type: ignore[no-untyped-def]
    """``stmt`` (a select over variants joined to their products) narrowed to the rows ``f`` matches."""
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
    for value_id in f.option_value_ids:
        conds.append(exists().where(VariantOption.variant_id == Variant.id, VariantOption.attribute_value_id == value_id))
    if f.needs_attention:
        from backoffice.services.content_sql import attention_condition   # it imports the models only

        conds.append(attention_condition())
    return stmt.where(and_(*conds)) if conds else stmt


def _base(columns, f: VariantFilter, sort_key: str, *, with_category: bool = False):  # type: ignore[no-untyped-def]
    stock_sq = _stock_totals() if sort_key == "stock" else None
    stmt = select(*columns).select_from(Variant).join(Product, Product.id == Variant.product_id)
    if with_category or sort_key == "category":
        stmt = stmt.outerjoin(_GridCategory, _GridCategory.id == Product.category_id)
    if stock_sq is not None:
        stmt = stmt.outerjoin(stock_sq, stock_sq.c.variant_id == Variant.id)
    return apply_filter(stmt, f), _Ordering(sort_key, _sort_expression(sort_key, stock_sq))


def count(db: Database, f: VariantFilter = VariantFilter()) -> int:
    stmt, _ = _base([func.count()], f, "id")
    with db.read() as session:
        return int(session.scalar(stmt) or 0)


def ordered_ids(db: Database, f: VariantFilter = VariantFilter(), sort_key: str = "id",
                descending: bool = False) -> array[int]:
    """Every matching variant id in display order, as a compact array (a million ids take 8 MB)."""
    stmt, order = _base([Variant.id], f, sort_key)
    with db.read() as session:
        return array("q", session.connection().execute(stmt.order_by(*order.clauses(descending))).scalars())


@functools.cache
def _row_columns() -> tuple[Any, ...]:
    """The grid row's columns; tags, options and stock come from correlated subqueries (index lookups),
    so one statement returns whole rows."""
    tags = (select(func.aggregate_strings(ProductTag.tag, _ITEM_SEP))
            .where(ProductTag.product_id == Product.id).scalar_subquery())
    option = (cast(Attribute.position, String) + _PART_SEP + cast(Attribute.id, String) + _PART_SEP
              + AttributeValue.value)
    options = (select(func.aggregate_strings(option, _ITEM_SEP))
               .select_from(VariantOption)
               .join(AttributeValue, AttributeValue.id == VariantOption.attribute_value_id)
               .join(Attribute, Attribute.id == VariantOption.attribute_id)
               .where(VariantOption.variant_id == Variant.id).scalar_subquery())
    stock = select(func.sum(StockLevel.on_hand)).where(StockLevel.variant_id == Variant.id).scalar_subquery()
    # The picture the row shows: the first image assigned to this variant, else the product's main image.
    # min() over a sortable key instead of ORDER BY … LIMIT 1, so both engines take it as a plain
    # aggregate: "0"/"1" (assigned to the variant or not), the position in six digits, then the hash.
    key = (case((ProductImageVariant.variant_id.is_not(None), "0"), else_="1")
           + cast(ProductImage.position + 100000, String) + ProductImage.thumb_hash)
    thumb = (select(func.substr(func.min(key), 8, 64))
             .select_from(ProductImage)
             .outerjoin(ProductImageVariant, and_(ProductImageVariant.image_id == ProductImage.id,
                                                  ProductImageVariant.variant_id == Variant.id))
             .where(ProductImage.product_id == Product.id).scalar_subquery())
    return (Variant.id, Variant.product_id, Variant.version, Product.version, Product.title, Product.handle,
            Variant.sku, Variant.barcode, Variant.title, Product.status, Variant.status, Product.category_id,
            _GridCategory.name, Product.vendor, Product.product_type, Variant.price, Variant.compare_at_price,
            Variant.cost, Variant.updated_at, Product.updated_at, tags, options, stock, thumb)


def _options_text(packed: str | None, fallback: str) -> str:
    if not packed:
        return fallback
    items = []
    for item in packed.split(_ITEM_SEP):
        position, attribute_id, value = item.split(_PART_SEP, 2)
        items.append((int(position), int(attribute_id), value))
    return " / ".join(value for _, _, value in sorted(items))


def _grid_row(r: Any) -> GridRow:
    (vid, pid, vver, pver, title, handle, sku, barcode, vtitle, status, vstatus, cat_id, cat_name, vendor, ptype,
     price, compare_at, cost, v_upd, p_upd, tags, options, stock, thumb) = r
    return GridRow(
        variant_id=vid, product_id=pid, variant_version=vver, product_version=pver, title=title, handle=handle,
        sku=sku, barcode=barcode, options=_options_text(options, vtitle), status=status.value,
        variant_status=vstatus.value, category_id=cat_id, category=cat_name or "", vendor=vendor,
        product_type=ptype, tags=sorted(tags.split(_ITEM_SEP)) if tags else [], price=price,
        compare_at_price=compare_at, cost=cost, stock=int(stock or 0), updated_at=max(v_upd, p_upd),
        thumb_hash=thumb,
    )


class PageReader:
    """A connection kept for the grid's many small reads.

    Each page is one statement. Through the pool, every read would also pay a checkout with a liveness
    ping, a BEGIN and a ROLLBACK: three more round trips than the query itself. A reader checks one
    connection out once and runs each page in autocommit on it (PostgreSQL), one read at a time, and
    replaces the connection once if it was dropped. On SQLite (a local file) it simply reads through
    the pool. Long reads (the ids, the count) do not belong here: they would hold up the pages.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._closed = False

    def __call__(self, read: Callable[[Connection], T]) -> T:
        if self.db.is_sqlite:
            with self.db.read() as session:
                return read(session.connection())
        with self._lock:
            try:
                for attempt in (1, 2):
                    if self._conn is None:
                        self._conn = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                    try:
                        return read(self._conn)
                    except DBAPIError as exc:
                        if not exc.connection_invalidated or attempt == 2:
                            raise
                        self._drop()
            finally:
                if self._closed:
                    self._drop()
        raise AssertionError("unreachable")  # pragma: no cover

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Give the connection back to the pool, now or, if a read is under way, when it ends (so the
        caller, the GUI thread, never waits for a query)."""
        self._closed = True
        if self._lock.acquire(blocking=False):
            try:
                self._drop()
            finally:
                self._lock.release()


def read_one_statement(db: Database, read: Callable[[Connection], T]) -> T:
    """Run a read of one statement on a pooled connection in autocommit: on PostgreSQL that spares the
    BEGIN and ROLLBACK round trips a session pays (the statement sees one snapshot anyway), and unlike
    :class:`PageReader` any number of threads read at once (the store API's clients)."""
    return db.read_statement(read)


def _read(db: Database | PageReader, read: Callable[[Connection], T]) -> T:
    if isinstance(db, PageReader):
        return db(read)
    with db.read() as session:
        return read(session.connection())


@functools.lru_cache(maxsize=64)
def _page_statement(f: VariantFilter, sort_key: str, descending: bool, limit: int) -> tuple[Select, _Ordering]:
    """The statement of a first page, built once per filter and order (building and keying a statement
    with three correlated subqueries costs about a millisecond)."""
    stmt, order = _base(_row_columns(), f, sort_key, with_category=True)
    return stmt.order_by(*order.clauses(descending)).limit(limit), order


def _page(db: Database | PageReader, f: VariantFilter, sort_key: str, descending: bool, limit: int,
          after_id: int | None = None) -> list[GridRow]:
    if after_id is None:
        stmt, _ = _page_statement(f, sort_key, descending, limit)
        return [_grid_row(r) for r in _read(db, lambda conn: conn.execute(stmt).all())]
    base, order = _base(_row_columns(), f, sort_key, with_category=True)
    cursor_stmt, cursor_order = _base([Variant.id], VariantFilter(), sort_key)
    value_stmt = cursor_stmt.with_only_columns(cursor_order.expr, Variant.product_id).where(Variant.id == after_id)

    def read(conn: Connection) -> list[Any]:
        found = conn.execute(value_stmt).first()   # the cursor row's sort value (one indexed lookup)
        value, product_id = found if found is not None else (None, 0)
        tie = (product_id, after_id) if order.by_product else (after_id,)
        stmt = base.where(order.after(value, tie, descending)).order_by(*order.clauses(descending))
        return list(conn.execute(stmt.limit(limit)).all())

    return [_grid_row(r) for r in _read(db, read)]


# -- keyset pages with the key in hand (the store API's cursors) -----------------------------------------
_MONEY_SORTS = frozenset({"price", "compare_at_price", "cost"})
_INT_SORTS = frozenset({"id", "margin", "stock", "tags"})
_ENUM_SORTS = {"status": ProductStatus, "variant_status": VariantStatus}


def sort_value_from_json(sort_key: str, value: Any) -> Any:
    """A row's sort value of ``sort_key`` as :func:`keyset_page` gives it in JSON form (money as a
    string, a time in ISO 8601, a status by its value), back as the value to compare with; ValueError
    for a value that cannot be one."""
    if sort_key not in SORT_KEYS:
        raise ValueError(f"unknown sort key {sort_key!r}")
    if value is None:
        if sort_key not in _NULLABLE_SORTS:
            raise ValueError(f"{sort_key} is never empty")
        return None
    if sort_key in _INT_SORTS:
        if type(value) is not int or not -2**63 <= value < 2**63:
            raise ValueError(f"{sort_key} sorts by a whole number")
        return value
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError(f"{sort_key} sorts by a text value")
    if sort_key in _MONEY_SORTS:
        try:
            amount = Decimal(value)
        except ArithmeticError:       # decimal.InvalidOperation
            raise ValueError(f"{value!r} is not an amount") from None
        if not amount.is_finite() or abs(amount) >= 10**15:
            raise ValueError(f"{value!r} is not an amount")
        return amount
    if sort_key == "updated_at":
        return dt.datetime.fromisoformat(value)
    if sort_key in _ENUM_SORTS:
        return _ENUM_SORTS[sort_key](value)
    return value


def sort_value_to_json(value: Any) -> Any:
    """The JSON form of a sort value (see :func:`sort_value_from_json`)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return getattr(value, "value", value)


def key_length(sort_key: str) -> int:
    """How many values a keyset key of ``sort_key`` holds: (sort value, variant id), or for a product-field
    sort (sort value, product id, variant id)."""
    return 3 if sort_key in _PRODUCT_SORTS else 2


@functools.lru_cache(maxsize=256)
def _keyset_statement(f: VariantFilter, sort_key: str, descending: bool, limit: int, after: str) -> Select:
    """A page's statement with the sort value as its last column; ``after`` is "" (the first page),
    "value" (after the row of :after_value, [:after_product,] :after_id) or "null" (after that row among
    the NULLs). Built once per filter and order: the key is bound per read."""
    stmt, order = _base(_row_columns(), f, sort_key, with_category=True)
    stmt = stmt.add_columns(order.expr.label("grid_sort_value"))
    tie = (bindparam("after_product"), bindparam("after_id")) if order.by_product else (bindparam("after_id"),)
    if after == "value":
        stmt = stmt.where(order.after(bindparam("after_value", type_=order.expr.type), tie, descending))
    elif after == "null":
        stmt = stmt.where(order.after(None, tie, descending))
    return stmt.order_by(*order.clauses(descending)).limit(limit)


def _keyset_bound(f: VariantFilter, sort_key: str, descending: bool, limit: int, after: Sequence[Any] | None,
                  statement: Callable[[VariantFilter, str, bool, int, str], Select]) -> tuple[Select, dict[str, Any]]:
    """The page's statement (made by ``statement``, cached) and the key's values to bind."""
    if sort_key not in SORT_KEYS:
        raise ValueError(f"unknown sort key {sort_key!r}; valid: {', '.join(SORT_KEYS)}")
    if after is None:
        return statement(f, sort_key, descending, limit, ""), {}
    if len(after) != key_length(sort_key):
        raise ValueError(f"a {sort_key} key has {key_length(sort_key)} values")
    params = {"after_id": after[-1], **({"after_product": after[1]} if sort_key in _PRODUCT_SORTS else {})}
    if after[0] is None:
        return statement(f, sort_key, descending, limit, "null"), params
    return statement(f, sort_key, descending, limit, "value"), {**params, "after_value": after[0]}


def _last_key(sort_key: str, found: list[Any]) -> tuple[Any, ...] | None:
    """The key of the last row read (rows are (variant id, product id, …, sort value))."""
    if not found:
        return None
    last = found[-1]
    return (last[-1], last[1], last[0]) if sort_key in _PRODUCT_SORTS else (last[-1], last[0])


def keyset_page(db: Database | PageReader, f: VariantFilter = VariantFilter(), sort_key: str = "id",
                descending: bool = False, limit: int = 200,
                after: Sequence[Any] | None = None) -> tuple[list[GridRow], tuple[Any, ...] | None]:
    """The rows after the key ``after`` in display order (the first rows without one), and the key of the
    last row returned (None when none was). A key is (sort value, variant id), or for a product-field sort
    (sort value, product id, variant id): see :func:`key_length`. Unlike :func:`page_after` the key is not
    read again, so a page follows its cursor even when that row changed or is gone."""
    stmt, params = _keyset_bound(f, sort_key, descending, limit, after, _keyset_statement)

    def page(conn: Connection) -> list[Any]:
        return list(conn.execute(stmt, params).all())

    found = db(page) if isinstance(db, PageReader) else read_one_statement(db, page)
    return [_grid_row(r[:-1]) for r in found], _last_key(sort_key, found)


# -- pages as JSON (the store API's grid pages) -----------------------------------------------------------
def _json_time(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with microseconds, as the change feeds write times."""
    return None if value is None else value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _json_money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def row_json(r: GridRow) -> dict[str, Any]:
    """A grid row as JSON: money and the margin as strings, the time in ISO 8601. PostgreSQL writes the
    same document itself for a page (:func:`keyset_page_json`); a test holds the two equal."""
    margin = r.margin
    return {
        "variant_id": r.variant_id, "product_id": r.product_id, "variant_version": r.variant_version,
        "product_version": r.product_version, "title": r.title, "handle": r.handle, "sku": r.sku,
        "barcode": r.barcode, "options": r.options, "status": r.status, "variant_status": r.variant_status,
        "category_id": r.category_id, "category": r.category, "vendor": r.vendor, "product_type": r.product_type,
        "tags": r.tags, "price": str(r.price), "compare_at_price": _json_money(r.compare_at_price),
        "cost": _json_money(r.cost), "margin": None if margin is None else str(margin), "stock": r.stock,
        "updated_at": _json_time(r.updated_at), "thumb_hash": r.thumb_hash,
    }


@functools.cache
def _row_document() -> ColumnElement:
    """PostgreSQL: the row's :func:`row_json` document written by the database, so a page costs no Python
    work per row. Stock and picture come from the subqueries of ``_row_columns``."""
    stock, thumb = _row_columns()[-2:]
    # Each value from a map of every attribute value made once per page (the CTE of
    # _keyset_json_statement); a variant has one value per attribute, so position and attribute order
    # them. Joined instead, the planner hashes the attribute values again for every row.
    options = _text_column("""(SELECT string_agg(grid_attribute_values.map ->> variant_options.attribute_value_id::text,
                                                ' / ' ORDER BY attributes.position, attributes.id)
                              FROM variant_options JOIN attributes ON attributes.id = variant_options.attribute_id,
                                   grid_attribute_values
                              WHERE variant_options.variant_id = variants.id)""")
    tags = _text_column("""coalesce((SELECT json_agg(product_tags.tag ORDER BY product_tags.tag COLLATE "C")
                                    FROM product_tags WHERE product_tags.product_id = products.id), '[]'::json)""")
    margin = case((or_(Variant.cost.is_(None), Variant.price == 0), None),
                  else_=cast(func.round((Variant.price - Variant.cost) / Variant.price * 100, 1), String))
    updated = _text_column("""to_char(greatest(variants.updated_at, products.updated_at) AT TIME ZONE 'UTC',
                                     'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')""")
    fields = (
        ("variant_id", Variant.id), ("product_id", Variant.product_id), ("variant_version", Variant.version),
        ("product_version", Product.version), ("title", Product.title), ("handle", Product.handle),
        ("sku", Variant.sku), ("barcode", Variant.barcode), ("options", func.coalesce(options, Variant.title)),
        ("status", Product.status), ("variant_status", Variant.status), ("category_id", Product.category_id),
        ("category", func.coalesce(_GridCategory.name, "")), ("vendor", Product.vendor),
        ("product_type", Product.product_type), ("tags", tags), ("price", cast(Variant.price, String)),
        ("compare_at_price", cast(Variant.compare_at_price, String)), ("cost", cast(Variant.cost, String)),
        ("margin", margin), ("stock", func.coalesce(stock, 0)), ("updated_at", updated), ("thumb_hash", thumb),
    )
    args: list[Any] = []
    for key, expr in fields:
        args += [literal_column(f"'{key}'"), expr]
    return cast(func.json_build_object(*args), String)


def _text_column(sql: str) -> ColumnElement:
    return literal_column(" ".join(sql.split()))


@functools.lru_cache(maxsize=256)
def _keyset_json_statement(f: VariantFilter, sort_key: str, descending: bool, limit: int, after: str) -> Select:
    """:func:`_keyset_statement` with the row as one JSON document: (variant id, product id, document,
    sort value)."""
    stmt = _keyset_statement(f, sort_key, descending, limit, after)
    sort_value = list(stmt.selected_columns)[-1]
    values = (select(func.jsonb_object_agg(cast(AttributeValue.id, String), AttributeValue.value).label("map"))
              .cte("grid_attribute_values").prefix_with("MATERIALIZED"))
    return stmt.with_only_columns(Variant.id, Variant.product_id, _row_document(), sort_value,
                                  maintain_column_froms=True).add_cte(values)


def keyset_page_json(db: Database, f: VariantFilter = VariantFilter(), sort_key: str = "id",
                     descending: bool = False, limit: int = 200,
                     after: Sequence[Any] | None = None) -> tuple[str, int, tuple[Any, ...] | None]:
    """:func:`keyset_page` as the text of a JSON array of :func:`row_json` documents, how many, and the
    key of the last row. On PostgreSQL the database writes the documents; on SQLite they are made from
    the rows."""
    if db.is_sqlite:
        rows, last = keyset_page(db, f, sort_key, descending, limit, after)
        return orjson.dumps([row_json(r) for r in rows]).decode(), len(rows), last
    stmt, params = _keyset_bound(f, sort_key, descending, limit, after, _keyset_json_statement)
    found = read_one_statement(db, lambda conn: list(conn.execute(stmt, params).all()))
    return "[" + ",".join(r[2] for r in found) + "]", len(found), _last_key(sort_key, found)


def first_page(db: Database | PageReader, f: VariantFilter = VariantFilter(), sort_key: str = "id",
               descending: bool = False, limit: int = 200) -> list[GridRow]:
    """The first rows in display order, read without touching the rest of the table."""
    return _page(db, f, sort_key, descending, limit)


def page_after(db: Database | PageReader, after_id: int, f: VariantFilter = VariantFilter(), sort_key: str = "id",
               descending: bool = False, limit: int = 200) -> list[GridRow]:
    """The rows that follow the row of variant ``after_id`` in display order (keyset, no OFFSET)."""
    return _page(db, f, sort_key, descending, limit, after_id)


def last_page(db: Database | PageReader, f: VariantFilter = VariantFilter(), sort_key: str = "id",
              descending: bool = False, limit: int = 200) -> list[GridRow]:
    """The last ``limit`` rows in display order: the first page of the reversed order, turned back.
    What jumping to the end of the grid needs, at the cost of one keyset page."""
    rows = _page(db, f, sort_key, not descending, limit)
    rows.reverse()
    return rows


@functools.cache
def _rows_statement() -> Select:
    return (select(*_row_columns()).select_from(Variant).join(Product, Product.id == Variant.product_id)
            .outerjoin(_GridCategory, _GridCategory.id == Product.category_id)
            .where(Variant.id.in_(bindparam("ids", expanding=True))))


def rows_by_id(db: Database | PageReader, ids: Sequence[int]) -> dict[int, GridRow]:
    """Full grid rows for the given variant ids (a visible page), in one statement."""
    if not ids:
        return {}
    stmt, params = _rows_statement(), {"ids": list(ids)}
    return {r[0]: _grid_row(r) for r in _read(db, lambda conn: conn.execute(stmt, params).all())}


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
