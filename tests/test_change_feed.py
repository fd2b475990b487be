"""Change feeds (``ops.feeds``, ``GET /v1/changes/{kind}``): the triggers log every write on both engines;
a walk returns each changed row once at its current state; what changes after a cursor comes back after
it; deletions are tombstones; a cursor read twice gives the same page; and on PostgreSQL a transaction
that commits late is never skipped, while one of another database on the server holds nothing back."""

from __future__ import annotations

import base64
import datetime as dt
import os
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, insert, make_url, select, text, update

from backoffice.db import Database
from backoffice.models import AuditEntry, ChangeLogEntry, Order, Product, Role, StockLevel, Variant
from backoffice.operations.base import PermissionDenied, ValidationError
from backoffice.operations.local import LocalOperations
from backoffice.services import catalog, inventory
from backoffice.services.base import Actor
from backoffice.services.inventory import MoveLine
from backoffice.services.users import ensure_user
from tests.api_support import RunningServer
from tests.conftest import PG_ENV, SmallStore
from tests.history_support import rewriting_history


@pytest.fixture
def ops(db: Database, store: SmallStore) -> LocalOperations:
    """The contract as a manager (who may read every feed), over the small store."""
    return LocalOperations(db, ensure_user(db, "feed-manager", Role.MANAGER))


def walk(ops: LocalOperations, kind: str, cursor: str | None = None, limit: int = 2) -> tuple[list[dict], str]:
    """Every page from ``cursor`` to the end: the rows in order and the last cursor."""
    rows: list[dict[str, Any]] = []
    for _ in range(10_000):
        page = ops.feeds.changes(kind, cursor, limit)
        assert len(page.rows) <= limit
        rows += page.rows
        if page.rows:
            assert page.next_cursor != cursor
        cursor = page.next_cursor
        if not page.has_more:
            return rows, cursor
    raise AssertionError("the walk did not end")


def variant_state(db: Database) -> dict[int, tuple[str, int]]:
    with db.read() as s:
        return {v.id: (str(v.price), v.version) for v in s.execute(select(Variant.id, Variant.price, Variant.version))}


def set_price(db: Database, actor: Actor, variant_id: int, price: str) -> None:
    current = catalog.get_variant(db, variant_id)
    catalog.update_variant(db, actor, variant_id, expected_version=current["version"], values={"price": price})


def log(db: Database, entity: str) -> list[tuple[str, int, int]]:
    with db.read() as s:
        return [tuple(r) for r in s.execute(
            select(ChangeLogEntry.op, ChangeLogEntry.entity_id, ChangeLogEntry.txid)
            .where(ChangeLogEntry.entity == entity).order_by(ChangeLogEntry.seq))]


# -- the log ---------------------------------------------------------------------------------------------
def test_every_insert_update_and_delete_of_the_five_tables_is_logged_by_the_database(db: Database, store: SmallStore,
                                                                                    actor: Actor) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    before = {t: len(log(db, t)) for t in ("products", "variants", "stock_levels", "orders", "audit_log")}
    with db.engine.begin() as conn:
        txid = 0 if db.is_sqlite else conn.execute(text("SELECT pg_current_xact_id()::text::bigint")).scalar_one()
        pid = conn.execute(insert(Product).values(handle="x", title="X", created_at=now, updated_at=now)
                           .returning(Product.id)).scalar_one()
        vid = conn.execute(insert(Variant).values(product_id=pid, sku="X-1", price=Decimal("1.00"), created_at=now,
                                                  updated_at=now).returning(Variant.id)).scalar_one()
        lid = conn.execute(insert(StockLevel).values(variant_id=vid, location_id=store.locations["WH1"], on_hand=0,
                                                     created_at=now, updated_at=now).returning(StockLevel.id)).scalar_one()
        oid = conn.execute(insert(Order).values(number="O-1", ordered_at=now, total=Decimal("1.00"))
                           .returning(Order.id)).scalar_one()
        aid = conn.execute(insert(AuditEntry).values(at=now, username="x", entity="x", entity_id="1", action="x")
                           .returning(AuditEntry.id)).scalar_one()
        made = [(Product, "products", pid), (Variant, "variants", vid), (StockLevel, "stock_levels", lid),
                (Order, "orders", oid), (AuditEntry, "audit_log", aid)]
        with rewriting_history(conn, "audit_log"):    # as its owner: staff can only add to the audit log
            for model, _, row_id in made:
                conn.execute(update(model).where(model.id == row_id).values(id=row_id))
            for model, _, row_id in reversed(made):
                conn.execute(delete(model).where(model.id == row_id))
    for _, entity, row_id in made:
        assert log(db, entity)[before[entity]:] == [("insert", row_id, txid), ("update", row_id, txid),
                                                     ("delete", row_id, txid)], entity
    if not db.is_sqlite:
        assert txid > 0


def test_a_change_to_a_products_images_sends_the_product_again_with_them(ops: LocalOperations, db: Database,
                                                                         store: SmallStore) -> None:
    """Images added, shown for a variant, moved, unassigned and removed, written by hand in SQL: each
    statement logs the image's product (migration 0015), whose document then lists its images in
    gallery order with the variants each is shown for."""
    pid, (v1, v2) = store.product.entity_id, store.variant_ids[:2]
    _, end = walk(ops, "products")

    def images_now() -> list[dict]:
        nonlocal end
        products, end = walk(ops, "products", end)
        assert [p["id"] for p in products] == [pid]
        return products[0]["images"]

    with db.engine.begin() as conn:
        for n, position in ((1, 1), (2, 0)):
            conn.execute(text("INSERT INTO product_images (id, product_id, position, content_hash, thumb_hash) "
                              "VALUES (:i, :p, :pos, :c, :t)"),
                         {"i": 900 + n, "p": pid, "pos": position, "c": f"c{n}", "t": f"t{n}"})
    assert images_now() == [{"id": 902, "position": 0, "content_hash": "c2", "thumb_hash": "t2", "variant_ids": []},
                            {"id": 901, "position": 1, "content_hash": "c1", "thumb_hash": "t1", "variant_ids": []}]
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO product_image_variants (image_id, variant_id) VALUES (901, :a), (901, :b)"),
                     {"a": v2, "b": v1})
    assert [i["variant_ids"] for i in images_now()] == [[], sorted([v1, v2])]
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE product_images SET position = 2 - position, thumb_hash = 'new' WHERE id = 902"))
    assert [(i["id"], i["thumb_hash"]) for i in images_now()] == [(901, "t1"), (902, "new")]
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM product_image_variants WHERE variant_id = :a"), {"a": v2})
    assert [i["variant_ids"] for i in images_now()] == [[v1], []]
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM product_images WHERE product_id = :p"), {"p": pid})
    assert images_now() == []
    assert ops.feeds.changes("products", end).rows == []


def test_a_cascaded_delete_is_logged_for_the_rows_it_takes(ops: LocalOperations, db: Database,
                                                           store: SmallStore) -> None:
    _, cursor = walk(ops, "variants")
    with db.engine.begin() as conn:
        conn.execute(delete(Product).where(Product.id == store.product.entity_id))
    rows, _ = walk(ops, "variants", cursor)
    assert rows == [{"id": v, "deleted": True} for v in store.variant_ids]
    products, _ = walk(ops, "products")                                # from the beginning: only the last change
    assert products == [{"id": store.product.entity_id, "deleted": True}]


# -- pages -----------------------------------------------------------------------------------------------
def test_a_walk_in_small_pages_returns_every_changed_row_once_at_its_latest_state(ops: LocalOperations, db: Database,
                                                                                  store: SmallStore, actor: Actor) -> None:
    more = catalog.create_product(db, actor, values={"handle": "linen-tee", "title": "Linen Tee", "status": "active"},
                                  variants=[{"sku": f"LT-{i}", "price": "19.00"} for i in range(4)])
    v1, v2 = store.variant_ids[0], more.children[1].entity_id
    for price in ("61.00", "62.50", "63.00"):
        set_price(db, actor, v1, price)
    set_price(db, actor, v2, "20.00")
    inventory.post_moves(db, actor, operation_id="r1", reason="receipt",
                         lines=[MoveLine(v, store.locations["SUP"], store.locations["WH1"], 5) for v in (v1, v2)])

    rows, _ = walk(ops, "variants", limit=2)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))                                  # once each
    state = variant_state(db)
    assert set(ids) == set(state)                                     # every variant (each was inserted)
    assert {r["id"]: (r["price"], r["version"]) for r in rows} == state   # at its latest state
    assert ids[-2:] == [v1, v2]                                       # at the position of its last change
    assert next(r for r in rows if r["id"] == v1)["options"] == {"size": "S"}

    levels, _ = walk(ops, "stock-levels", limit=1)
    assert sorted((r["variant_id"], r["on_hand"]) for r in levels) == [(v1, 5), (v2, 5)]
    products, _ = walk(ops, "products", limit=1)
    assert sorted((p["handle"], p["tags"]) for p in products) == [("linen-tee", []), ("merino-crew", ["winter", "wool"])]
    audit, _ = walk(ops, "audit", limit=3)
    with db.read() as s:
        assert [r["id"] for r in audit] == list(s.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))


def test_a_change_after_the_cursor_comes_back_and_the_same_cursor_gives_the_same_page(
        ops: LocalOperations, db: Database, store: SmallStore, actor: Actor) -> None:
    _, end = walk(ops, "variants")
    idle = ops.feeds.changes("variants", end)
    assert (idle.rows, idle.next_cursor, idle.has_more) == ([], end, False)

    v = store.variant_ids[1]
    set_price(db, actor, v, "70.00")
    first = ops.feeds.changes("variants", end, 10)
    assert [(r["id"], r["price"]) for r in first.rows] == [(v, "70.00")]
    assert ops.feeds.changes("variants", end, 10) == first             # the same cursor twice: the same page
    assert ops.feeds.changes("variants", first.next_cursor).rows == []
    assert ops.feeds.changes("products", end).rows == []              # another kind's change is not in it


def test_a_deleted_row_is_a_tombstone_and_an_archived_product_keeps_its_row(ops: LocalOperations, db: Database,
                                                                           store: SmallStore, actor: Actor) -> None:
    _, variants_end = walk(ops, "variants")
    _, products_end = walk(ops, "products")
    gone = store.variant_ids[2]
    with db.engine.begin() as conn:
        conn.execute(delete(Variant).where(Variant.id == gone))
    product = catalog.get_product(db, store.product.entity_id)
    catalog.archive_product(db, actor, store.product.entity_id, expected_version=product["version"])

    products = ops.feeds.changes("products", products_end).rows
    assert [(p["id"], p["status"], p["deleted"]) for p in products] == [(store.product.entity_id, "archived", False)]
    variants = ops.feeds.changes("variants", variants_end).rows
    assert {"id": gone, "deleted": True} in variants
    assert {(r["id"], r["status"]) for r in variants if not r["deleted"]} == {
        (v, "archived") for v in store.variant_ids[:2]}


def test_the_cursor_for_now_skips_the_past_and_keeps_what_follows(ops: LocalOperations, db: Database,
                                                                  store: SmallStore, actor: Actor) -> None:
    now = ops.feeds.cursor("variants")
    assert ops.feeds.changes("variants", now).rows == []
    set_price(db, actor, store.variant_ids[0], "80.00")
    assert [r["id"] for r in ops.feeds.changes("variants", now).rows] == [store.variant_ids[0]]
    assert ops.feeds.changes("audit", ops.feeds.cursor("audit")).rows == []


BAD_CURSORS = ["garbage!", "bm90LWEtY3Vyc29y", base64.urlsafe_b64encode(b"1.x").decode(),
               base64.urlsafe_b64encode(b"-1.2").decode(), base64.urlsafe_b64encode(b"1.2.3").decode(),
               base64.urlsafe_b64encode(b"99999999999999999999.1").decode(), "x" * 100]


def test_a_malformed_cursor_an_unknown_kind_or_a_bad_limit_is_refused(ops: LocalOperations) -> None:
    for cursor in BAD_CURSORS:
        with pytest.raises(ValidationError, match="cursor"):
            ops.feeds.changes("variants", cursor)
    with pytest.raises(ValidationError, match="kind"):
        ops.feeds.changes("customers")
    for limit in (0, -1, 10_001, True):
        with pytest.raises(ValidationError, match="limit"):
            ops.feeds.changes("variants", None, limit)


def test_the_audit_feed_is_for_managers(db: Database, store: SmallStore) -> None:
    merchandiser = LocalOperations(db, ensure_user(db, "feed-merch", Role.MERCHANDISER))
    assert merchandiser.feeds.changes("variants").rows
    for call in (lambda: merchandiser.feeds.changes("audit"), merchandiser.feeds.audit_changes,
                 lambda: merchandiser.feeds.cursor("audit"), merchandiser.feeds.audit_cursor):
        with pytest.raises(PermissionDenied):
            call()


# -- PostgreSQL: commits out of order --------------------------------------------------------------------
@pytest.mark.postgres
def test_a_transaction_that_commits_late_is_never_skipped(pg_db: Database) -> None:
    """T1 (the older transaction) changes variant A and stays open; T2 changes variant B and commits.
    The feed must not move past T1: once T1 commits, the cursor read while it was open yields A. A
    cursor on the order of writing (seq, like updated_at) would have skipped A: its change was written
    before B's."""
    actor = ensure_user(pg_db, "tester")
    store = SmallStore(pg_db, actor)
    ops = LocalOperations(pg_db, actor)
    a, b = store.variant_ids[0], store.variant_ids[1]
    _, start = walk(ops, "variants")
    t1, t2 = pg_db.engine.connect(), pg_db.engine.connect()
    try:
        t1.begin()
        t1.execute(update(Variant).where(Variant.id == a).values(price=Decimal("1.11"), version=Variant.version + 1))
        with t2.begin():
            t2.execute(update(Variant).where(Variant.id == b).values(price=Decimal("2.22"), version=Variant.version + 1))
        held = ops.feeds.changes("variants", start)
        now = ops.feeds.cursor("variants")                               # taken while T1 runs
        assert held.rows == [] and held.next_cursor == start          # B waits for T1: the feed stays put
        assert not held.has_more
        t1.commit()
    finally:
        t1.close()
        t2.close()
    with pg_db.engine.connect() as conn:
        (a_seq, a_txid), (b_seq, b_txid) = [conn.execute(text(
            "SELECT seq, txid FROM change_log WHERE entity = 'variants' AND entity_id = :i ORDER BY seq DESC LIMIT 1"),
            {"i": i}).one() for i in (a, b)]
    assert a_seq < b_seq and a_txid < b_txid                           # A was written first, committed last
    after = ops.feeds.changes("variants", held.next_cursor)
    assert [(r["id"], r["price"]) for r in after.rows] == [(a, "1.11"), (b, "2.22")]
    assert [r["id"] for r in ops.feeds.changes("variants", now).rows] == [a, b]


@pytest.mark.postgres
def test_a_transaction_of_another_database_on_the_server_holds_nothing_back(pg_db: Database) -> None:
    actor = ensure_user(pg_db, "tester")
    store = SmallStore(pg_db, actor)
    ops = LocalOperations(pg_db, actor)
    _, start = walk(ops, "variants")
    other = create_engine(make_url(os.environ[PG_ENV]).set(drivername="postgresql+psycopg"))
    try:
        with other.connect() as conn:
            conn.begin()
            conn.execute(text("SELECT pg_current_xact_id()"))             # an open transaction with an id, elsewhere
            set_price(pg_db, actor, store.variant_ids[0], "99.00")
            assert [r["id"] for r in ops.feeds.changes("variants", start).rows] == [store.variant_ids[0]]
            conn.rollback()
    finally:
        other.dispose()


# -- the routes ------------------------------------------------------------------------------------------
def test_the_routes_walk_the_feed_and_check_who_asks(api: RunningServer, db: Database) -> None:
    admin = ensure_user(db, "admin")
    store = SmallStore(db, admin)
    with api.client() as anonymous:
        assert anonymous.get("/v1/changes/variants").status_code == 401
        assert anonymous.get("/v1/changes/variants/cursor").status_code == 401
    with api.as_user("merchandiser") as merch, api.as_user("manager") as manager:
        for path in ("/v1/changes/audit", "/v1/changes/audit/cursor"):
            r = merch.get(path)
            assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
            assert manager.get(path).status_code == 200

        seen, cursor = [], None
        while True:
            r = merch.get("/v1/changes/variants", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
            assert r.status_code == 200, r.text
            body = r.json()
            seen += body["rows"]
            cursor = body["next_cursor"]
            if not body["has_more"]:
                break
        assert sorted(v["id"] for v in seen) == sorted(store.variant_ids)
        assert {v["sku"] for v in seen} == {"MC-S", "MC-M", "MC-L"}

        now = merch.get("/v1/changes/variants/cursor").json()["cursor"]
        set_price(db, admin, store.variant_ids[2], "12.34")
        r = merch.get("/v1/changes/variants", params={"cursor": now})
        assert [(v["id"], v["price"]) for v in r.json()["rows"]] == [(store.variant_ids[2], "12.34")]

        for bad in ("not-a-cursor!", uuid.uuid4().hex):
            r = merch.get("/v1/changes/variants", params={"cursor": bad})
            assert r.status_code == 422, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            assert [e["field"] for e in r.json()["errors"]] == ["cursor"]
        assert merch.get("/v1/changes/variants", params={"limit": 0}).status_code == 422
        assert merch.get("/v1/changes/customers").status_code == 422
        assert manager.get("/v1/changes/audit", params={"cursor": "%%%"}).status_code == 422
