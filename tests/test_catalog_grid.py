"""The product grid's queries on SQLite and PostgreSQL: keyset pages in every sort order (first, after a
cursor, last), the ordered ids they agree with, filters, full rows, and no OFFSET anywhere."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Self

import pytest
from sqlalchemy import event, select

from backoffice.db import Database
from backoffice.models import Category
from backoffice.services import catalog, catalog_grid, inventory
from backoffice.services.base import Actor
from backoffice.services.catalog_grid import SORT_KEYS, VariantFilter
from backoffice.services.demo import generate_demo
from backoffice.services.inventory import MoveLine


@pytest.fixture
def demo(db: Database, actor: Actor) -> Database:
    generate_demo(db, actor, products=60, seed=3)
    return db


class StatementLog:
    """SELECT statements sent to the database while the block runs."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.statements: list[str] = []

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith("SELECT"):
            return
        if statement.rstrip().endswith("OFFSET ?") and parameters[-1] == 0:
            statement = statement.rstrip()[:-len("OFFSET ?")]   # SQLite's compiler always adds "OFFSET 0"
        self.statements.append(statement)

    def __enter__(self) -> Self:
        event.listen(self.db.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc) -> None:  # type: ignore[no-untyped-def]
        event.remove(self.db.engine, "before_cursor_execute", self._record)


@pytest.mark.parametrize("descending", [False, True])
def test_keyset_pages_agree_with_the_ordered_ids_in_every_sort_order(demo: Database, descending: bool) -> None:
    for key in SORT_KEYS:
        ids = list(catalog_grid.ordered_ids(demo, sort_key=key, descending=descending))
        assert len(ids) == len(set(ids)) == catalog_grid.count(demo), key
        first = catalog_grid.first_page(demo, sort_key=key, descending=descending, limit=40)
        assert [r.variant_id for r in first] == ids[:40], key
        after = catalog_grid.page_after(demo, first[-1].variant_id, sort_key=key, descending=descending, limit=40)
        assert [r.variant_id for r in after] == ids[40:80], key
        last = catalog_grid.last_page(demo, sort_key=key, descending=descending, limit=40)
        assert [r.variant_id for r in last] == ids[-40:], key
        assert catalog_grid.page_after(demo, ids[-1], sort_key=key, descending=descending) == [], key


def test_a_product_field_sort_keeps_each_products_variants_together_in_product_order(demo: Database,
                                                                                      actor: Actor) -> None:
    """Sorted by a product's field, rows with the same value come product by product (ascending id, or
    descending), each product's variants in a block: the order an index on (value, product id) gives.
    The first product gets a variant last (the highest id), which must still sit with its siblings."""
    first = min(r.product_id for r in catalog_grid.rows_by_id(demo, list(catalog_grid.ordered_ids(demo))).values())
    catalog.add_variant(demo, actor, first, values={"sku": "LATE-1", "price": "9.99"})
    rows = catalog_grid.rows_by_id(demo, list(catalog_grid.ordered_ids(demo)))
    for key in ("title", "vendor", "status", "product_type", "handle", "category"):
        for descending in (False, True):
            ids = list(catalog_grid.ordered_ids(demo, sort_key=key, descending=descending))
            products = [rows[i].product_id for i in ids]
            blocks = [p for n, p in enumerate(products) if n == 0 or products[n - 1] != p]
            assert len(blocks) == len(set(products)), (key, descending)      # no product split in two
            value = (lambda r: (r.category or None) if key == "category" else getattr(r, key))
            for a, b in zip(ids, ids[1:], strict=False):
                ra, rb = rows[a], rows[b]
                if value(ra) == value(rb):
                    pair = ((ra.product_id, ra.variant_id), (rb.product_id, rb.variant_id))
                    assert pair == tuple(sorted(pair, reverse=descending)), (key, descending, pair)
    by_vendor = {}
    for r in rows.values():
        by_vendor.setdefault(r.vendor, set()).add(r.product_id)
    assert max(len(p) for p in by_vendor.values()) > 1          # the demo has ties to order


def test_descending_is_the_ascending_order_reversed_with_nulls_last_ascending(demo: Database) -> None:
    up = list(catalog_grid.ordered_ids(demo, sort_key="compare_at_price"))
    down = list(catalog_grid.ordered_ids(demo, sort_key="compare_at_price", descending=True))
    assert down == up[::-1]
    rows = catalog_grid.rows_by_id(demo, up)
    values = [rows[i].compare_at_price for i in up]
    nulls = values.index(None)
    assert nulls > 0 and all(v is None for v in values[nulls:])       # some amounts, then every empty one
    assert values[:nulls] == sorted(values[:nulls])


def test_walking_the_grid_page_by_page_visits_every_row_once(demo: Database) -> None:
    f = VariantFilter(statuses=("active", "draft"))
    expected = list(catalog_grid.ordered_ids(demo, f, sort_key="price", descending=True))
    seen = [r.variant_id for r in catalog_grid.first_page(demo, f, sort_key="price", descending=True, limit=75)]
    while True:
        page = catalog_grid.page_after(demo, seen[-1], f, sort_key="price", descending=True, limit=75)
        if not page:
            break
        seen += [r.variant_id for r in page]
    assert seen == expected


def test_pages_cost_one_statement_and_never_use_offset(demo: Database) -> None:
    with StatementLog(demo) as log:
        rows = catalog_grid.last_page(demo, sort_key="title", limit=50)
    assert len(rows) == 50
    assert len(log.statements) == 1
    with StatementLog(demo) as log:
        catalog_grid.first_page(demo, VariantFilter(text="a"), sort_key="stock", limit=50)
        catalog_grid.page_after(demo, rows[0].variant_id, sort_key="title", limit=50)
        catalog_grid.rows_by_id(demo, [r.variant_id for r in rows])
        catalog_grid.ordered_ids(demo, sort_key="margin")
        catalog_grid.count(demo, VariantFilter(low_stock=True))
    assert log.statements and not any("OFFSET" in s.upper() for s in log.statements)


def test_rows_carry_product_fields_options_tags_and_stock(db: Database, actor: Actor, store) -> None:
    loc = store.locations
    for location, quantity in (("WH1", 7), ("SHOP", 5)):
        inventory.post_moves(db, actor, operation_id=f"in-{location}", reason="receipt",
                             lines=[MoveLine(store.variant_ids[0], loc["SUP"], loc[location], quantity)])
    rows = catalog_grid.rows_by_id(db, store.variant_ids)
    first = rows[store.variant_ids[0]]
    assert (first.title, first.handle, first.sku, first.vendor, first.status) == \
        ("Merino Crew", "merino-crew", "MC-S", "Norda", "active")
    assert first.options == "S" and first.tags == ["winter", "wool"]
    assert first.price == Decimal("59.99") and first.cost == Decimal("21.00")
    assert first.margin == Decimal("65.0")
    assert first.stock == 12 and rows[store.variant_ids[1]].stock == 0
    assert [r.sku for r in catalog_grid.first_page(db, sort_key="sku", descending=True)] == ["MC-S", "MC-M", "MC-L"]


def test_the_json_page_is_the_rows_documents_in_every_order(demo: Database, actor: Actor) -> None:
    """The store API's pages: on PostgreSQL the database writes each row's JSON itself. Page after page,
    in every order, the text is exactly the contract's rows through row_json, awkward values included:
    tags in code-point order, text with quotes and backslashes, no options, no cost, a zero price, a
    margin a hair below zero (shown "0.0", never "-0.0") and one on a half (rounded away from zero)."""
    catalog.create_product(demo, actor, values={
        "handle": "odd-one", "title": 'Odd "quoted" \\ title ✓', "tags": ["b", "A", "a", "Zed", "é"]},
        variants=[{"sku": "ODD-0", "price": "0.00", "cost": "1.00"},
                  {"sku": "ODD-1", "price": "100.00", "cost": "100.04", "title": "Plain"},
                  {"sku": "ODD-2", "price": "20.00", "cost": "19.99", "barcode": "0042"},
                  {"sku": "ODD-3", "price": "19.99"}])
    odd = {r.sku: r for r in catalog_grid.rows_by_id(demo, list(catalog_grid.ordered_ids(demo))).values()
           if r.sku.startswith("ODD-")}
    assert [str(odd[f"ODD-{i}"].margin) for i in range(4)] == ["None", "0.0", "0.1", "None"]
    assert odd["ODD-0"].tags == ["A", "Zed", "a", "b", "é"] and odd["ODD-1"].options == "Plain"
    for key in SORT_KEYS:
        for descending in (False, True):
            after, pages = None, 0
            while True:
                rows, last = catalog_grid.keyset_page(demo, sort_key=key, descending=descending, limit=40,
                                                      after=after)
                text, count, last_json = catalog_grid.keyset_page_json(demo, sort_key=key, descending=descending,
                                                                      limit=40, after=after)
                assert json.loads(text) == [catalog_grid.row_json(r) for r in rows], (key, descending, pages)
                assert (count, last_json) == (len(rows), last), (key, descending, pages)
                pages += 1
                if len(rows) < 40:
                    break
                after = last
            assert pages > 1, key


def test_filters_narrow_the_count_and_the_ids(demo: Database) -> None:
    everything = catalog_grid.count(demo)
    all_rows = catalog_grid.rows_by_id(demo, list(catalog_grid.ordered_ids(demo)))

    def check(f: VariantFilter, predicate) -> None:  # type: ignore[no-untyped-def]
        ids = set(catalog_grid.ordered_ids(demo, f))
        assert ids == {i for i, r in all_rows.items() if predicate(r)}, f
        assert catalog_grid.count(demo, f) == len(ids)
        assert 0 < len(ids) < everything, f

    some = next(iter(all_rows.values()))
    check(VariantFilter(text=some.sku.lower()), lambda r: some.sku.lower() in r.sku.lower()
          or some.sku.lower() in r.title.lower())
    check(VariantFilter(statuses=("draft",)), lambda r: r.status == "draft")
    check(VariantFilter(vendors=(some.vendor,)), lambda r: r.vendor == some.vendor)
    check(VariantFilter(tags=(some.tags[0],) if some.tags else ("sale",)),
          lambda r: (some.tags[0] if some.tags else "sale") in r.tags)
    check(VariantFilter(price_min=Decimal(20), price_max=Decimal(60)), lambda r: 20 <= r.price <= 60)
    check(VariantFilter(stock_max=10), lambda r: r.stock <= 10)
    with demo.read() as s:
        parent = s.scalar(select(Category.id).where(Category.parent_id.is_(None)).order_by(Category.id))
        below = {c.id for c in s.scalars(select(Category))
                 if c.path.startswith(s.get(Category, parent).path)}
    check(VariantFilter(category_id=parent), lambda r: r.category_id in below)


def test_changed_since_finds_rows_edited_after_the_time(db: Database, actor: Actor, store) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert catalog_grid.count(db, VariantFilter(changed_since=before + dt.timedelta(days=1))) == 0
    catalog.update_variant(db, actor, store.variant_ids[1], expected_version=1, values={"price": "10.00"})
    ids = catalog_grid.ordered_ids(db, VariantFilter(changed_since=before))
    assert store.variant_ids[1] in ids


def test_filter_round_trips_through_a_dict() -> None:
    f = VariantFilter(text="tee", category_id=4, statuses=("active",), tags=("sale", "new"),
                      price_min=Decimal("9.50"), stock_max=3, low_stock=True,
                      changed_since=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    assert VariantFilter.from_dict(f.to_dict()) == f


def test_unknown_sort_keys_are_refused(demo: Database) -> None:
    with pytest.raises(ValueError, match="unknown sort key"):
        catalog_grid.first_page(demo, sort_key="price; DROP TABLE variants")


def test_rows_show_the_variants_own_image_else_the_main_image(db: Database, actor: Actor, store) -> None:
    from backoffice.models import ProductImage, ProductImageVariant

    s, m, lg = store.variant_ids
    assert {r.thumb_hash for r in catalog_grid.rows_by_id(db, store.variant_ids).values()} == {None}
    pid = store.product.entity_id
    with db.write() as session:  # gallery rows as the image service leaves them (files not needed here)
        main = ProductImage(product_id=pid, position=0, content_hash="a" * 64, thumb_hash="1" * 64)
        second = ProductImage(product_id=pid, position=1, content_hash="b" * 64, thumb_hash="2" * 64)
        session.add_all([main, second])
        session.flush()
        session.add(ProductImageVariant(image_id=second.id, variant_id=m))
    rows = catalog_grid.rows_by_id(db, store.variant_ids)
    assert (rows[s].thumb_hash, rows[m].thumb_hash, rows[lg].thumb_hash) == ("1" * 64, "2" * 64, "1" * 64)
    page = catalog_grid.first_page(db, VariantFilter(product_ids=(pid,)), sort_key="sku", limit=10)
    assert {r.sku: r.thumb_hash for r in page} == {"MC-S": "1" * 64, "MC-M": "2" * 64, "MC-L": "1" * 64}
