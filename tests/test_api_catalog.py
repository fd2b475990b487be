"""The catalog resources of the store API on a real loopback server, on SQLite and PostgreSQL: grid pages
walked by cursor, filters, products and variants with ETag/If-Match (428, 412 with the current body, a
race of two clients), roles, Idempotency-Key on creation, bulk preview/apply with per-row errors, and
changesets listed, shown and reverted."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from backoffice.db import Database
from backoffice.operations import Actor, ValidationError
from backoffice.operations.local import LocalOperations
from tests.api_support import RunningServer

D = Decimal


class Catalog:
    """Three products, seven variants, one category, made through the contract by the admin."""

    def __init__(self, db: Database) -> None:
        ops = LocalOperations(db, None, sign_in="admin", owns_database=False)
        self.category_id = ops.store.add_category("Apparel").entity_id
        self.crew = ops.catalog.create_product(
            {"handle": "merino-crew", "title": "Merino Crew", "vendor": "Norda", "status": "active",
             "tags": ["wool", "winter"], "category_id": self.category_id},
            [{"sku": f"MC-{s}", "price": "59.99", "cost": "21.00"} for s in "SML"])
        self.cap = ops.catalog.create_product(
            {"handle": "wool-cap", "title": "Wool Cap", "vendor": "Other", "status": "draft", "tags": ["wool"]},
            [{"sku": "CAP-1", "price": "15.00"}, {"sku": "CAP-2", "price": "17.50", "compare_at_price": "20.00"}])
        self.shirt = ops.catalog.create_product(
            {"handle": "linen-shirt", "title": "Linen Shirt", "vendor": "Norda", "status": "active",
             "tags": ["summer"]},
            [{"sku": "LS-1", "price": "39.00", "cost": "12.00"}, {"sku": "LS-2", "price": "42.00"}])
        self.variant = {c.after["sku"]: c.entity_id
                        for p in (self.crew, self.cap, self.shirt) for c in p.children}
        ops.close()


@pytest.fixture
def cat(api: RunningServer, db: Database) -> Catalog:
    return Catalog(db)


def scalar(db: Database, sql: str, **params: Any) -> Any:  # noqa: ANN401
    with db.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def walk(c: httpx.Client, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every row of the grid, page by page through next_cursor."""
    rows: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        r = c.get("/v1/catalog/variants", params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["rows"]) <= limit
        rows += page["rows"]
        cursor = page["next_cursor"]
        if cursor is None:
            return rows
    raise AssertionError("the cursor never ended")


def sort_value(row: dict[str, Any], key: str) -> Any:  # noqa: ANN401
    value = row[key]
    return D(value) if key in ("price", "compare_at_price", "cost") and value is not None else value


# -- grid pages ------------------------------------------------------------------------------------------
def test_walks_of_two_row_pages_return_every_variant_once_in_order(api: RunningServer, db: Database,
                                                                  cat: Catalog) -> None:
    in_sql = scalar(db, "SELECT count(*) FROM variants")
    with api.as_user("warehouse") as c:
        for sort in ("id", "price", "compare_at_price", "title", "status", "updated_at"):
            for descending in (False, True):
                rows = walk(c, 2, sort=sort, descending=descending)
                ids = [r["variant_id"] for r in rows]
                assert len(ids) == len(set(ids)) == in_sql == 7, (sort, descending)
                assert set(ids) == set(cat.variant.values())
                if sort == "updated_at":
                    continue   # a row shows the later of its variant's and product's times; it sorts by the variant's
                # the display order: sort value (empty ones last ascending, first descending), then the
                # product id for a product field (its variants stay together), then the variant id
                field = "variant_id" if sort == "id" else sort
                present = [r for r in rows if r[field] is not None]
                keys = [(sort_value(r, field), r["product_id"] if sort in ("title", "status") else 0, r["variant_id"])
                        for r in present]
                assert keys == sorted(keys, reverse=descending), (sort, descending)
                empty_at = [i for i, r in enumerate(rows) if r[field] is None]
                assert empty_at == (list(range(len(empty_at))) if descending
                                    else list(range(len(present), len(rows)))), (sort, descending)
        first = c.get("/v1/catalog/variants", params={"sort": "price", "limit": 3, "total": "true"}).json()
        assert len(walk(c, 7)) == len(walk(c, 1000)) == 7          # a last full page, then an empty one
        none = c.get("/v1/catalog/variants", params={"vendor": "Nobody", "total": "true"}).json()
        one = c.get("/v1/catalog/variants", params={"variant_id": cat.variant["MC-S"]}).json()["rows"][0]
    assert first["total"] == in_sql and len(first["rows"]) == 3 and first["next_cursor"]
    assert none == {"rows": [], "next_cursor": None, "total": 0}
    assert (one["sku"], one["title"], one["price"], one["cost"], one["compare_at_price"], one["category"]) == (
        "MC-S", "Merino Crew", "59.99", "21.00", None, "Apparel")
    assert one["margin"] == "65.0" and one["tags"] == ["winter", "wool"] and one["variant_version"] == 1


def test_the_contracts_keyset_pages_follow_the_grid_order_for_every_sort_key(db: Database, actor: Actor) -> None:
    """What the cursors wrap: page after page from the last row's key, each order is the grid's own
    (``ordered_ids``), NULLs and ties included; a key that is not one of the order is refused."""
    from backoffice.operations.catalog import SORT_KEYS

    ops = LocalOperations(db, actor)
    for n, (vendor, prices) in enumerate((("Norda", ("59.99", "59.99", "12.00")), ("", ("12.00", "8.50")),
                                          ("Other", ("59.99",)))):
        ops.catalog.create_product(
            {"handle": f"p-{n}", "title": f"Product {2 - n}", "vendor": vendor, "tags": ["a", f"t{n}"][: n + 1],
             "status": ("active", "draft", "archived")[n]},
            [{"sku": f"S{n}-{i}", "price": price, **({"cost": "5.00"} if i % 2 else {}),
              **({"barcode": f"{n}{i}"} if i else {})} for i, price in enumerate(prices)])
    for key in SORT_KEYS:
        for descending in (False, True):
            walked: list[int] = []
            after = None
            while True:
                page = ops.catalog.page(sort_key=key, descending=descending, limit=2, after=after)
                walked += [r.variant_id for r in page.rows]
                if page.next_after is None:
                    break
                after = page.next_after
            assert walked == list(ops.catalog.ordered_ids(sort_key=key, descending=descending)), (key, descending)
    for key, after in (("price", ["x", 1]), ("price", [None, 1]), ("price", ["1e999999", 1]), ("id", ["7", 1]),
                       ("id", [2**70, 1]), ("id", [1, 2**64]), ("status", ["sold", 1]), ("title", ["a\x00", 1]),
                       ("title", ["a"]), ("title", ["a", 1]), ("title", ["a", -1, 1]), ("price", ["1.00", 1, 1]),
                       ("updated_at", ["noon", 1]), ("bogus", None)):
        with pytest.raises(ValidationError):
            ops.catalog.page(sort_key=key, after=after)


FILTERS: list[tuple[dict[str, Any], set[str]]] = [
    ({"vendor": "Norda"}, {"MC-S", "MC-M", "MC-L", "LS-1", "LS-2"}),
    ({"vendor": ["Norda", "Other"]}, {"MC-S", "MC-M", "MC-L", "LS-1", "LS-2", "CAP-1", "CAP-2"}),
    ({"tag": "summer"}, {"LS-1", "LS-2"}),
    ({"tag": ["summer", "winter"]}, {"MC-S", "MC-M", "MC-L", "LS-1", "LS-2"}),
    ({"status": "draft"}, {"CAP-1", "CAP-2"}),
    ({"text": "cap"}, {"CAP-1", "CAP-2"}),
    ({"text": "ls-"}, {"LS-1", "LS-2"}),
    ({"price_min": "40", "price_max": "59.99"}, {"MC-S", "MC-M", "MC-L", "LS-2"}),
    ({"price_max": "16"}, {"CAP-1"}),
    ({"vendor": "Norda", "tag": "wool", "price_min": "50"}, {"MC-S", "MC-M", "MC-L"}),
    ({"variant_status": "archived"}, set()),
]


def test_filters_narrow_the_pages_and_the_count(api: RunningServer, db: Database, cat: Catalog) -> None:
    filters = [*FILTERS, ({"category_id": cat.category_id}, {"MC-S", "MC-M", "MC-L"}),
               ({"product_id": cat.shirt.entity_id}, {"LS-1", "LS-2"}),
               ({"variant_id": [cat.variant["CAP-2"], cat.variant["LS-1"]]}, {"CAP-2", "LS-1"})]
    with api.as_user("purchaser") as c:
        for params, skus in filters:
            rows = c.get("/v1/catalog/variants", params={**params, "limit": 1000}).json()["rows"]
            assert sorted(r["sku"] for r in rows) == sorted(skus), params
            assert c.get("/v1/catalog/count", params=params).json() == {"count": len(skus)}, params
        facets = c.get("/v1/catalog/facets").json()
    norda = scalar(db, "SELECT count(*) FROM variants v JOIN products p ON p.id = v.product_id "
                       "WHERE p.vendor = 'Norda'")
    assert norda == len(FILTERS[0][1])
    assert facets["vendors"] == ["Norda", "Other"] and facets["tags"] == ["summer", "winter", "wool"]
    assert [c["name"] for c in facets["categories"]] == ["Apparel"] and "price" in facets["sort_keys"]


BAD_QUERIES: list[dict[str, Any]] = [
    {"cursor": "not-a-cursor"}, {"cursor": "eyJhIjoxfQ"}, {"sort": "bogus"}, {"limit": 0}, {"limit": 1001},
    {"status": "sold"}, {"text": "a\x00b"}, {"price_min": "NaN"}, {"price_min": "-1"}, {"category_id": 2**64},
    {"changed_since": "yesterday"},
]


def test_bad_queries_and_cursors_of_another_order_are_422_and_a_cursor_survives_its_row_changing(
        api: RunningServer, cat: Catalog) -> None:
    with api.as_user("admin") as c:
        for params in BAD_QUERIES:
            r = c.get("/v1/catalog/variants", params=params)
            assert r.status_code == 422, (params, r.text)
            assert r.headers["content-type"] == "application/problem+json"
        first = c.get("/v1/catalog/variants", params={"sort": "price", "limit": 2}).json()
        other = c.get("/v1/catalog/variants", params={"sort": "title", "cursor": first["next_cursor"]})
        assert other.status_code == 422 and other.json()["errors"][0]["field"] == "cursor"
        flipped = c.get("/v1/catalog/variants", params={"sort": "price", "descending": True,
                                                         "cursor": first["next_cursor"]})
        assert flipped.status_code == 422
        # the cursor holds the last row's key: repricing that row does not move the next page
        last = first["rows"][-1]
        r = c.patch(f"/v1/variants/{last['variant_id']}", json={"price": "99.00", "compare_at_price": None},
                    headers={"If-Match": f'"{last["variant_version"]}"'})
        assert r.status_code == 200, r.text
        rest = c.get("/v1/catalog/variants", params={"sort": "price", "limit": 100,
                                                      "cursor": first["next_cursor"]}).json()
    assert [r["price"] for r in first["rows"]] == ["15.00", "17.50"]
    assert [r["sku"] for r in rest["rows"]][:2] == ["LS-1", "LS-2"]
    assert rest["rows"][-1]["price"] == "99.00"           # found again at its new place, after the cursor


# -- variants: ETag, If-Match, races, roles ---------------------------------------------------------------
def variant_in_sql(db: Database, variant_id: int) -> tuple[str, int]:
    with db.engine.connect() as conn:
        price, version = conn.execute(text("SELECT price, version FROM variants WHERE id = :i"),
                                      {"i": variant_id}).one()
    return f"{D(price):.2f}", version


def test_a_variant_has_an_etag_a_write_needs_if_match_and_a_role_that_may_edit(api: RunningServer, db: Database,
                                                                               cat: Catalog) -> None:
    vid = cat.variant["MC-M"]
    with api.as_user("merchandiser") as c:
        got = c.get(f"/v1/variants/{vid}")
        assert got.status_code == 200 and got.headers["etag"] == '"1"'
        assert got.json()["price"] == "59.99" and got.json()["version"] == 1
        missing = c.patch(f"/v1/variants/{vid}", json={"price": "49.99"})
        assert missing.status_code == 428 and missing.headers["content-type"] == "application/problem+json"
        assert variant_in_sql(db, vid) == ("59.99", 1)
        ok = c.patch(f"/v1/variants/{vid}", json={"price": "49.99", "compare_at_price": "59.99"},
                     headers={"If-Match": '"1"'})
        assert ok.status_code == 200, ok.text
        assert ok.headers["etag"] == '"2"' and ok.json()["price"] == "49.99" and ok.json()["version"] == 2
        stale = c.patch(f"/v1/variants/{vid}", json={"price": "39.99"}, headers={"If-Match": '"1"'})
        assert stale.status_code == 412
        assert stale.headers["etag"] == '"2"'
        assert stale.json()["current"]["price"] == "49.99" and stale.json()["current"]["version"] == 2
        assert c.patch(f"/v1/variants/{vid}", json={"price": "39.99"}, headers={"If-Match": "2"}).status_code == 412
        assert c.get(f"/v1/variants/{vid}").headers["etag"] == '"2"'
    assert variant_in_sql(db, vid) == ("49.99", 2)
    vid = cat.variant["LS-1"]      # unknown ids and invalid values
    with api.as_user("merchandiser") as c:
        assert c.get("/v1/variants/999999").status_code == 404
        assert c.patch("/v1/variants/999999", json={"price": "1.00"}, headers={"If-Match": '"1"'}).status_code == 404
        bad = c.patch(f"/v1/variants/{vid}", json={"price": "12.345"}, headers={"If-Match": '"1"'})
        assert bad.status_code == 422
        below = c.patch(f"/v1/variants/{vid}", json={"compare_at_price": "10.00"}, headers={"If-Match": '"1"'})
        assert below.status_code == 422 and below.json()["errors"][0]["field"] == "compare_at_price"
        taken = c.patch(f"/v1/variants/{vid}", json={"sku": "LS-2"}, headers={"If-Match": '"1"'})
        assert taken.status_code == 422 and taken.json()["errors"][0]["field"] == "sku"
        assert c.patch(f"/v1/variants/{vid}", json={"price": None}, headers={"If-Match": '"1"'}).status_code == 422
        assert c.patch(f"/v1/variants/{vid}", json={}, headers={"If-Match": '"1"'}).status_code == 422
        assert c.patch(f"/v1/variants/{vid}", json={"colour": "red"}, headers={"If-Match": '"1"'}).status_code == 422
    assert variant_in_sql(db, vid) == ("39.00", 1)
    vid = cat.variant["LS-2"]      # a role that may read but not edit
    with api.as_user("warehouse") as c:
        assert c.get(f"/v1/variants/{vid}").status_code == 200
        refused = c.patch(f"/v1/variants/{vid}", json={"price": "1.00"}, headers={"If-Match": '"1"'})
        assert refused.status_code == 403
        assert c.patch(f"/v1/products/{cat.shirt.entity_id}", json={"title": "X"},
                       headers={"If-Match": '"1"'}).status_code == 403
    assert variant_in_sql(db, vid) == ("42.00", 1)
    with api.as_user("merchandiser") as c:
        assert c.patch(f"/v1/variants/{vid}", json={"price": "44.00"}, headers={"If-Match": '"1"'}).status_code == 200
    assert variant_in_sql(db, vid) == ("44.00", 2)
    assert scalar(db, "SELECT count(*) FROM changesets") == 2


def test_two_clients_racing_one_variant_with_one_etag_one_wins(api: RunningServer, db: Database,
                                                               cat: Catalog) -> None:
    vid = cat.variant["CAP-1"]
    start = threading.Barrier(2)
    answers: dict[str, httpx.Response] = {}

    def edit(user: str, price: str) -> None:
        with api.as_user(user) as c:
            c.get("/health")                         # connected before the start
            start.wait()
            answers[price] = c.patch(f"/v1/variants/{vid}", json={"price": price}, headers={"If-Match": '"1"'})

    threads = [threading.Thread(target=edit, args=args) for args in (("merchandiser", "11.00"), ("manager", "12.00"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    statuses = sorted(r.status_code for r in answers.values())
    assert statuses == [200, 412], {p: r.text for p, r in answers.items()}
    winner = next(price for price, r in answers.items() if r.status_code == 200)
    loser = next(r for r in answers.values() if r.status_code == 412)
    assert variant_in_sql(db, vid) == (winner, 2)
    assert loser.json()["current"]["price"] == winner and loser.headers["etag"] == '"2"'


# -- products ----------------------------------------------------------------------------------------------
NEW_PRODUCT = {"handle": "alpaca-scarf", "title": "Alpaca Scarf", "vendor": "Norda", "tags": ["wool"],
               "variants": [{"sku": "AS-1", "price": "35.00", "cost": "12.50"}, {"sku": "AS-2", "price": "36.00"}]}


def test_creating_a_product_needs_a_key_and_a_replay_creates_nothing(api: RunningServer, db: Database,
                                                                    cat: Catalog) -> None:
    before = scalar(db, "SELECT count(*) FROM products")
    key = {"Idempotency-Key": uuid.uuid4().hex}
    with api.as_user("merchandiser") as c:
        assert c.post("/v1/products", json=NEW_PRODUCT).status_code == 428
        first = c.post("/v1/products", json=NEW_PRODUCT, headers=key)
        assert first.status_code == 201, first.text
        again = c.post("/v1/products", json=NEW_PRODUCT, headers=key)
        other = c.post("/v1/products", json={**NEW_PRODUCT, "title": "Something else"}, headers=key)
        got = c.get(first.headers["location"])
        bad = c.post("/v1/products", json={**NEW_PRODUCT, "handle": "Not A Handle", "variants": [
            {"sku": "MC-S", "price": "1.00"}, {"sku": "AS-9", "price": "2.00"}]},
            headers={"Idempotency-Key": uuid.uuid4().hex})
    with api.as_user("purchaser") as c:
        assert c.post("/v1/products", json=NEW_PRODUCT, headers={"Idempotency-Key": "p"}).status_code == 403
    assert bad.status_code == 422
    assert ("product", "handle") in {(e["row"], e["field"]) for e in bad.json()["errors"]}
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 422
    assert scalar(db, "SELECT count(*) FROM products") == before + 1
    body = first.json()
    assert first.headers["location"] == f"/v1/products/{body['id']}" and first.headers["etag"] == '"1"'
    assert [(v["sku"], v["price"], v["cost"]) for v in body["variants"]] == [("AS-1", "35.00", "12.50"),
                                                                             ("AS-2", "36.00", None)]
    assert got.status_code == 200 and got.json() == body


def test_a_product_is_patched_with_if_match_and_its_history_shows_it(api: RunningServer, db: Database,
                                                                     cat: Catalog) -> None:
    pid = cat.cap.entity_id
    with api.as_user("merchandiser") as c:
        got = c.get(f"/v1/products/{pid}")
        assert got.headers["etag"] == '"1"' and len(got.json()["variants"]) == 2
        assert c.patch(f"/v1/products/{pid}", json={"title": "Cap"}).status_code == 428
        ok = c.patch(f"/v1/products/{pid}", json={"title": "Wool Beanie", "tags": ["wool", "hats"],
                                                 "status": "active"}, headers={"If-Match": '"1"'})
        assert ok.status_code == 200, ok.text
        assert ok.headers["etag"] == '"2"' and ok.json()["tags"] == ["hats", "wool"]
        stale = c.patch(f"/v1/products/{pid}", json={"title": "Cap"}, headers={"If-Match": '"1"'})
        assert stale.status_code == 412 and stale.json()["current"]["title"] == "Wool Beanie"
        unknown = c.patch(f"/v1/products/{pid}", json={"category_id": 999999}, headers={"If-Match": '"2"'})
        assert unknown.status_code == 422
        assert c.get("/v1/products/999999").status_code == 404
        history = c.get(f"/v1/products/{pid}/history").json()
    assert scalar(db, "SELECT title FROM products WHERE id = :p", p=pid) == "Wool Beanie"
    assert history["title"] == "Wool Beanie"
    assert {(line["field"], line["before"], line["after"]) for line in history["lines"]
            if line["field"] in ("title", "status") and line["before"]} == {
        ("title", "Wool Cap", "Wool Beanie"), ("status", "draft", "active")}


# -- bulk and changesets -----------------------------------------------------------------------------------
RAISE_10 = {"kind": "money", "field": "price", "steps": [{"op": "percent", "value": "10"}]}


def test_bulk_preview_and_apply_then_revert_through_the_api(api: RunningServer, db: Database, cat: Catalog) -> None:
    target = {"filter": {"vendors": ["Norda"]}}
    with api.as_user("merchandiser") as c:
        preview = c.post("/v1/bulk/preview", json={"operation": RAISE_10, "target": target})
        assert preview.status_code == 200, preview.text
        p = preview.json()
        assert (p["considered"], p["affected"], p["invalid"]) == (5, 5, [])
        assert {"row": "SKU MC-S", "field": "price", "old": "59.99", "new": "65.99"} in p["sample"]
        body = {"operation": RAISE_10, "target": target, "stamp": p["stamp"], "description": "Autumn prices"}
        assert c.post("/v1/bulk/apply", json=body).status_code == 428
        key = {"Idempotency-Key": uuid.uuid4().hex}
        applied = c.post("/v1/bulk/apply", json=body, headers=key)
        assert applied.status_code == 201, applied.text
        replay = c.post("/v1/bulk/apply", json=body, headers=key)
        result = applied.json()
        assert replay.json() == result and result["applied_rows"] == 5 and result["conflicts"] == []
        cs = result["changeset_id"]
        assert applied.headers["location"] == f"/v1/changesets/{cs}"
        assert variant_in_sql(db, cat.variant["LS-1"]) == ("42.90", 2)
        shown = c.get(f"/v1/changesets/{cs}").json()
        assert (shown["kind"], shown["description"], shown["row_count"]) == ("bulk", "Autumn prices", 5)
        rows = c.get(f"/v1/changesets/{cs}/rows").json()
        assert {"label": "SKU LS-1", "field": "price", "before": "39.00", "after": "42.90"} in rows
        assert c.post(f"/v1/changesets/{cs}/revert").status_code == 428
        with api.as_user("warehouse") as w:
            assert w.post(f"/v1/changesets/{cs}/revert", headers={"Idempotency-Key": "w"}).status_code == 403
        key = {"Idempotency-Key": uuid.uuid4().hex}
        undone = c.post(f"/v1/changesets/{cs}/revert", headers=key)
        assert undone.status_code == 201, undone.text
        assert c.post(f"/v1/changesets/{cs}/revert", headers=key).json() == undone.json()
        listed = c.get("/v1/changesets").json()["items"]
        assert c.get("/v1/changesets/999999").status_code == 404
        assert c.get("/v1/changesets/999999/rows").status_code == 404
    assert variant_in_sql(db, cat.variant["LS-1"]) == ("39.00", 3)
    assert variant_in_sql(db, cat.variant["MC-L"]) == ("59.99", 3)
    assert [(i["kind"], i["reverts_id"]) for i in listed] == [("revert", cs), ("bulk", None)]
    assert listed[1]["reverted_by"] == [listed[0]["id"]]
    assert scalar(db, "SELECT count(*) FROM changesets") == 2


def test_a_bulk_apply_with_a_bad_row_is_refused_whole(api: RunningServer, db: Database, cat: Catalog) -> None:
    """Setting both caps to 25.00 would put CAP-2's compare-at price (20.00) below its price."""
    op = {"kind": "money", "field": "price", "steps": [{"op": "set", "value": "25.00"}]}
    target = {"variant_ids": [cat.variant["CAP-1"], cat.variant["CAP-2"]]}
    with api.as_user("manager") as c:
        preview = c.post("/v1/bulk/preview", json={"operation": op, "target": target}).json()
        assert [i["row"] for i in preview["invalid"]] == ["SKU CAP-2"] and preview["stamp"] == ""
        r = c.post("/v1/bulk/apply", json={"operation": op, "target": target},
                   headers={"Idempotency-Key": uuid.uuid4().hex})
        nonsense = c.post("/v1/bulk/preview", json={"operation": {"kind": "money", "field": "colour",
                                                                  "steps": []}, "target": target})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [("SKU CAP-2", "price")]
    assert "below the price" in r.json()["errors"][0]["message"]
    assert variant_in_sql(db, cat.variant["CAP-1"]) == ("15.00", 1)
    assert variant_in_sql(db, cat.variant["CAP-2"]) == ("17.50", 1)
    assert scalar(db, "SELECT count(*) FROM changesets") == 0
    assert nonsense.status_code == 422 and {e["field"] for e in nonsense.json()["errors"]} == {"field", "steps"}


def test_changesets_are_listed_in_keyset_pages_and_the_store_lists_categories_and_locations(
        api: RunningServer, db: Database, cat: Catalog) -> None:
    with api.as_user("merchandiser") as c:
        for n, sku in enumerate(("MC-S", "MC-M", "MC-L")):
            r = c.patch(f"/v1/variants/{cat.variant[sku]}", json={"price": f"5{n}.00"}, headers={"If-Match": '"1"'})
            assert r.status_code == 200
    with api.as_user("warehouse") as c:
        first = c.get("/v1/changesets", params={"limit": 2}).json()
        rest = c.get("/v1/changesets", params={"limit": 2, "before_id": first["next_before_id"]}).json()
    ids = [i["id"] for i in first["items"] + rest["items"]]
    assert len(ids) == 3 and ids == sorted(ids, reverse=True)
    assert rest["next_before_id"] is None
    ops = LocalOperations(db, None, sign_in="admin", owns_database=False)
    ops.store.add_location("WH1", "Main warehouse", "warehouse")
    ops.store.add_category("Shirts", cat.category_id)
    with api.as_user("purchaser") as c:
        categories = c.get("/v1/categories").json()
        locations = c.get("/v1/locations", params={"with_stock": True}).json()
    assert [(x["full_name"], x["products"]) for x in categories] == [("Apparel", 1), ("Apparel > Shirts", 0)]
    assert [(x["code"], x["kind"], x["on_hand"]) for x in locations] == [("WH1", "warehouse", 0)]
