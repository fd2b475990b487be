"""The catalog area of the operations contract: the product grid's reads (keyset pages, the ordered ids,
counts, rows by variant id, the filter choices), one product's details and history, saving the grid's
edits as one changeset, and creating a product with its variants.

The grid is built for a million variants: it shows one keyset page first, then reads the ordered ids
(``ordered_ids``, a compact ``array('q')`` of ints: 8 MB for a million) and fetches rows by id as they
come into view (``rows_by_id``). Page reads share one kept connection on PostgreSQL (no pool checkout
per page); it is released by :meth:`CatalogOperations.close`.
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from backoffice.models import ProductStatus, VariantStatus
from backoffice.operations.base import Actor, Area, ValidationError
from backoffice.operations.changes import CHANGESETS, PRICES, PRODUCTS, VARIANTS, Changes
from backoffice.services import catalog, catalog_grid, changesets
from backoffice.services import variants as variant_service
from backoffice.services.base import Change
from backoffice.services.catalog import HANDLE_RE, MAX_LENGTHS, MONEY_LIMIT, SKU_RE, handle_from_title
from backoffice.services.catalog_grid import (
    COLUMN_BY_KEY,
    COLUMNS,
    SORT_KEYS,
    Column,
    GridRow,
    PageReader,
    VariantFilter,
)
from backoffice.services.changesets import ApplyResult, Conflict, RowChange
from backoffice.services.variants import AttributeInfo

if TYPE_CHECKING:
    from backoffice.db import Database

__all__ = ["COLUMNS", "COLUMN_BY_KEY", "HANDLE_RE", "MAX_LENGTHS", "MONEY_FIELDS", "MONEY_LIMIT", "PRODUCT_STATUSES",
           "SKU_RE", "SORT_KEYS", "VARIANT_STATUSES", "ApplyResult", "AttributeInfo", "CatalogOperations", "Change",
           "Column", "Conflict", "GridPage", "GridPageJson", "GridRow", "HistoryLine", "NewProductChoices",
           "ProductHistory", "RowChange", "VariantFilter", "handle_from_title"]

PRODUCT_STATUSES: tuple[str, ...] = tuple(s.value for s in ProductStatus)
VARIANT_STATUSES: tuple[str, ...] = tuple(s.value for s in VariantStatus)
MONEY_FIELDS = frozenset({"price", "compare_at_price", "cost"})
_HIDDEN_HISTORY_FIELDS = frozenset({"id", "version", "created_at", "updated_at", "position", "product_id"})


@dataclass(frozen=True)
class HistoryLine:
    """One field of one recorded change."""

    at: dt.datetime
    username: str
    source: str        # "changeset #12 (bulk): …" or an audit action ("update")
    row: str           # "product merino-crew" / "SKU MC-S"
    field: str         # the field ("variant_status" for a variant's status)
    before: Any
    after: Any


@dataclass(frozen=True)
class ProductHistory:
    title: str
    lines: list[HistoryLine]                     # newest first
    categories: list[dict[str, Any]] = field(default_factory=list)   # the tree, to name category ids


@dataclass(frozen=True)
class NewProductChoices:
    """What the new-product form offers: the active attributes, the category tree, the known vendors."""

    attributes: list[AttributeInfo]
    categories: list[dict[str, Any]]             # catalog order, each with "id" and "full_name"
    vendors: list[str]


@dataclass(frozen=True)
class GridPage:
    """One keyset page of the grid; ``next_after`` is the key to pass for the next page (None when this
    page was the last)."""

    rows: list[GridRow]
    next_after: list[Any] | None


@dataclass(frozen=True)
class GridPageJson:
    """A grid page whose rows are the text of a JSON array (see ``CatalogOperations.page_json``)."""

    rows_json: str
    next_after: list[Any] | None


def _key(sort_key: str, after: Sequence[Any] | None) -> tuple[Any, ...] | None:
    """A page's ``next_after`` (JSON-safe) as the key of the order; ValidationError for one that is not."""
    if sort_key not in catalog_grid.SORT_KEYS:
        raise ValidationError([("sort", "sort_key", f"unknown sort key {sort_key!r}")])
    if after is None:
        return None
    try:
        size = catalog_grid.key_length(sort_key)
        ids = list(after)[1:]
        if len(after) != size or any(type(i) is not int or not 0 <= i < 2**63 for i in ids):
            raise ValueError("a key is [sort value, " + ("product id, " if size == 3 else "") + "variant id]")
        return (catalog_grid.sort_value_from_json(sort_key, after[0]), *ids)
    except (ValueError, TypeError) as exc:
        raise ValidationError([("cursor", "after", f"not a key of this order: {exc}")]) from None


def _next_after(last: tuple[Any, ...] | None, count: int, limit: int) -> list[Any] | None:
    """The key to ask the next page with, when this one was full."""
    if last is None or count < limit:
        return None
    return [catalog_grid.sort_value_to_json(last[0]), *last[1:]]


class CatalogOperations(Area):
    def __init__(self, db: Database, actor: Actor) -> None:
        super().__init__(db, actor)
        self._pages = PageReader(db)

    def close(self) -> None:
        """Give back the connection kept for page reads (at once, or when a read under way ends)."""
        self._pages.close()

    # -- the grid ----------------------------------------------------------------------------------------
    def count(self, f: VariantFilter = VariantFilter()) -> int:
        """How many variants match ``f``."""
        return catalog_grid.count(self._db, f)

    def ordered_ids(self, f: VariantFilter = VariantFilter(), sort_key: str = "id",
                    descending: bool = False) -> array[int]:
        """Every matching variant id in display order (``array('q')``)."""
        return catalog_grid.ordered_ids(self._db, f, sort_key, descending)

    def first_page(self, f: VariantFilter = VariantFilter(), sort_key: str = "id", descending: bool = False,
                   limit: int = 200) -> list[GridRow]:
        """The first rows in display order (one keyset page)."""
        return catalog_grid.first_page(self._pages, f, sort_key, descending, limit=limit)

    def last_page(self, f: VariantFilter = VariantFilter(), sort_key: str = "id", descending: bool = False,
                  limit: int = 200) -> list[GridRow]:
        """The last rows in display order (a reverse keyset page)."""
        return catalog_grid.last_page(self._pages, f, sort_key, descending, limit=limit)

    def page(self, f: VariantFilter = VariantFilter(), sort_key: str = "id", descending: bool = False,
             limit: int = 100, after: Sequence[Any] | None = None) -> GridPage:
        """One keyset page in display order: the rows after ``after`` (a page's ``next_after``: the last
        row's sort value, product id for the product-field sorts, and variant id, JSON-safe), the first
        rows without one. Read through the pool, not the kept connection, so concurrent callers (the store
        API's clients) never queue for it."""
        rows, last = catalog_grid.keyset_page(self._db, f, sort_key, descending, limit, _key(sort_key, after))
        return GridPage(rows, _next_after(last, len(rows), limit))

    def page_json(self, f: VariantFilter = VariantFilter(), sort_key: str = "id", descending: bool = False,
                  limit: int = 100, after: Sequence[Any] | None = None) -> GridPageJson:
        """:meth:`page` with its rows as the text of a JSON array (``catalog_grid.row_json`` documents,
        written by PostgreSQL itself): what the store API sends, without a Python object per row."""
        rows, count, last = catalog_grid.keyset_page_json(self._db, f, sort_key, descending, limit,
                                                          _key(sort_key, after))
        return GridPageJson(rows, _next_after(last, count, limit))

    def rows_by_id(self, variant_ids: Sequence[int]) -> dict[int, GridRow]:
        """Grid rows of these variants (ids with no row were deleted)."""
        return catalog_grid.rows_by_id(self._pages, list(variant_ids))

    def facets(self) -> dict[str, list[Any]]:
        """The filter choices: ``vendors``, ``tags`` and ``categories`` (id, parent_id, name, path)."""
        return catalog_grid.facets(self._db)

    # -- one product ---------------------------------------------------------------------------------------
    def product_history(self, product_id: int, variant_id: int | None = None) -> ProductHistory:
        """Every recorded change of the product (and of one of its variants), one line per field, newest
        first: changesets (bulk edits, imports, grid saves, reverts) and single audited edits."""
        product = catalog.get_product(self._db, product_id)
        skus = {v["id"]: v["sku"] for v in product.get("variants", [])}
        rows = [("product", product_id, f"product {product['handle']}")]
        if variant_id is not None:
            rows.append(("variant", variant_id, f"SKU {skus.get(variant_id, variant_id)}"))
        lines: list[HistoryLine] = []
        for entity, entity_id, label in rows:
            for h in changesets.history(self._db, entity, entity_id):
                before, after = h["before"] or {}, h["after"] or {}
                for name in sorted(set(before) | set(after)):
                    if before.get(name) == after.get(name) or name in _HIDDEN_HISTORY_FIELDS:
                        continue
                    if name not in before and after.get(name) in (None, "", [], {}):
                        continue   # a created row's empty fields say nothing
                    shown = "variant_status" if entity == "variant" and name == "status" else name
                    lines.append(HistoryLine(h["at"], h["username"], h["source"], label, shown, before.get(name),
                                             after.get(name)))
        lines.sort(key=lambda line: line.at, reverse=True)
        return ProductHistory(product.get("title", ""), lines, catalog_grid.facets(self._db)["categories"])

    def product(self, product_id: int) -> dict[str, Any]:
        """A product with its variants as plain values (fields, tags, ``id`` and ``version``; each variant
        with its own); NotFound when there is none."""
        return catalog.get_product(self._db, product_id)

    def variant(self, variant_id: int) -> dict[str, Any]:
        """One variant as plain values (its fields, ``product_id``, ``id`` and ``version``); NotFound when
        there is none."""
        return catalog.get_variant(self._db, variant_id)

    def new_product_choices(self) -> NewProductChoices:
        return NewProductChoices(variant_service.list_attributes(self._db, include_archived=False),
                                 catalog.list_categories(self._db), catalog_grid.facets(self._db)["vendors"])

    # -- writes --------------------------------------------------------------------------------------------
    def save_edits(self, rows: list[RowChange], *, description: str, op_id: str | None = None) -> ApplyResult:
        """Write edited rows (each with the version it was read at) as one changeset. Rows changed by
        someone else since are not written: they come back as conflicts."""
        result = changesets.apply_changes(self._db, self._actor, rows, description=description, operation_id=op_id)
        conflicted = {(c.entity, c.entity_id) for c in result.conflicts}
        written = [r for r in rows if (r.entity, r.entity_id) not in conflicted]
        if result.changeset_id is not None and written:
            names = set().union(*(r.values.keys() for r in written))
            kinds = [kind for kind, concerned in ((PRICES, names & MONEY_FIELDS), (PRODUCTS, names - MONEY_FIELDS))
                     if concerned]
            self.changed(Changes.of(*kinds, CHANGESETS,
                                    variant=[r.entity_id for r in written if r.entity == "variant"],
                                    product=[r.entity_id for r in written if r.entity == "product"]))
        return result

    def create_product(self, values: dict[str, Any], variants: list[dict[str, Any]], *,
                       op_id: str | None = None) -> Change:
        """A product with its variants, in one transaction; every bad row is reported."""
        change = catalog.create_product(self._db, self._actor, values=values, variants=variants, operation_id=op_id)
        self.changed(Changes.of(PRODUCTS, VARIANTS, PRICES, product=[change.entity_id],
                                variant=[c.entity_id for c in change.children if c.entity == "variant"]))
        return change
