"""Buying over the store API: suppliers and their items, purchase orders from a draft to stock on the
shelf (the ledger read with SQL), replays of keyed requests, stale writes, the permission table per
route, replenishment settings and drafts, and the audit trail for managers only."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import text

from backoffice.db import Database
from backoffice.services.base import Actor
from backoffice.services.users import find_user
from tests.api_support import RunningServer
from tests.conftest import SmallStore


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def scalar(db: Database, sql: str, **params: object) -> object:
    with db.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def received_into(db: Database, location_id: int) -> dict[int, int]:
    """Units the ledger moved into ``location_id``, per variant."""
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT variant_id, SUM(quantity) FROM stock_moves WHERE to_location_id = :loc "
                                 "GROUP BY variant_id"), {"loc": location_id}).all()
    return {int(v): int(q) for v, q in rows}


@pytest.fixture
def shop(api: RunningServer, db: Database) -> SmallStore:
    """The small store, made by the admin (after the API's accounts exist)."""
    admin = find_user(db, "admin")
    assert admin is not None
    from backoffice.models import Role

    return SmallStore(db, Actor(admin["id"], "admin", Role.ADMIN))


def make_supplier(api: RunningServer, shop: SmallStore, cost: str = "10.00") -> int:
    """A supplier selling every variant of the store at ``cost``, made over the API by the purchaser."""
    with api.as_user("purchaser") as c:
        r = c.post("/v1/suppliers", json={"name": "Norda Mills", "currency": "EUR", "lead_time_days": 7},
                   headers=key())
        assert r.status_code == 201, r.text
        supplier_id = r.json()["id"]
        for vid in shop.variant_ids:
            made = c.post(f"/v1/suppliers/{supplier_id}/items", json={"variant_id": vid, "unit_cost": cost},
                          headers=key())
            assert made.status_code == 201, made.text
    return supplier_id


def test_create_send_receive_moves_exactly_the_received_units_and_a_replay_moves_nothing(
        api: RunningServer, db: Database, shop: SmallStore) -> None:
    supplier_id = make_supplier(api, shop)
    v1, v2, v3 = shop.variant_ids
    wh = shop.locations["WH1"]
    with api.as_user("purchaser") as c:
        r = c.post("/v1/purchase-orders", headers=key(), json={
            "supplier_id": supplier_id, "destination_location_id": wh,
            "lines": [{"variant_id": v1, "quantity": 10}, {"variant_id": v2, "quantity": 5, "unit_cost": "9.50"}]})
        assert r.status_code == 201, r.text
        order = r.json()
        assert order["state"] == "draft" and r.headers["etag"] == f'"{order["version"]}"'
        assert {ln["variant_id"]: ln["unit_cost"] for ln in order["lines"]} == {v1: "10.00", v2: "9.50"}
        sent = c.post(f"/v1/purchase-orders/{order['number']}/send", headers={"If-Match": r.headers["etag"]})
        assert sent.status_code == 200, sent.text
        assert sent.json()["state"] == "sent"
    assert received_into(db, wh) == {}

    receipt = {"lines": [{"variant_id": v1, "quantity": 4}, {"variant_id": v2, "quantity": 5}]}
    keyed = key()
    with api.as_user("warehouse") as c:
        first = c.post(f"/v1/purchase-orders/{order['id']}/receive", json=receipt, headers=keyed)
        assert first.status_code == 200, first.text
        assert first.json()["state"] == "partial"
        assert received_into(db, wh) == {v1: 4, v2: 5}
        operations = scalar(db, "SELECT COUNT(*) FROM stock_operations")

        again = c.post(f"/v1/purchase-orders/{order['id']}/receive", json=receipt, headers=keyed)
        assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        other = c.post(f"/v1/purchase-orders/{order['id']}/receive",
                       json={"lines": [{"variant_id": v1, "quantity": 6}]}, headers=keyed)
        assert other.status_code == 422                                   # the same key for another receipt
        too_many = c.post(f"/v1/purchase-orders/{order['id']}/receive",
                          json={"lines": [{"variant_id": v1, "quantity": 7}]}, headers=key())
        assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "quantity"
        not_on_order = c.post(f"/v1/purchase-orders/{order['id']}/receive",
                              json={"lines": [{"variant_id": v3, "quantity": 1}]}, headers=key())
        assert not_on_order.status_code == 422
        assert c.post(f"/v1/purchase-orders/{order['id']}/receive", json=receipt).status_code == 428
        assert received_into(db, wh) == {v1: 4, v2: 5}
        assert scalar(db, "SELECT COUNT(*) FROM stock_operations") == operations

        rest = c.post(f"/v1/purchase-orders/{order['id']}/receive", json={"lines": None}, headers=key())
        assert rest.status_code == 200, rest.text
        assert rest.json()["state"] == "received"
    assert received_into(db, wh) == {v1: 10, v2: 5}
    on_hand = {int(v): int(q) for v, q in _rows(db, "SELECT variant_id, on_hand FROM stock_levels "
                                                    "WHERE location_id = :loc AND on_hand <> 0", loc=wh)}
    assert on_hand == {v1: 10, v2: 5}
    with api.as_user("purchaser") as c:
        closed = c.post(f"/v1/purchase-orders/{order['id']}/close", json={"reason": "all in"})
        assert closed.status_code == 200 and closed.json()["state"] == "closed"
        shown = c.get(f"/v1/purchase-orders/{order['number']}")
        assert shown.json()["state"] == "closed" and len(shown.json()["receipts"]) == 2
        assert shown.headers["etag"] == f'"{shown.json()["version"]}"'


def _rows(db: Database, sql: str, **params: object) -> list[tuple]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params).all()]


def test_the_permission_table_decides_per_route(api: RunningServer, db: Database, shop: SmallStore) -> None:
    supplier_id = make_supplier(api, shop, cost="12.00")
    vid = shop.variant_ids[0]
    orders = scalar(db, "SELECT COUNT(*) FROM purchase_orders")
    with api.as_user("merchandiser") as c:
        r = c.post("/v1/purchase-orders", headers=key(), json={
            "supplier_id": supplier_id, "destination_location_id": shop.locations["WH1"],
            "lines": [{"variant_id": vid, "quantity": 1}]})
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
        cost = c.patch(f"/v1/suppliers/{supplier_id}/items/{vid}", json={"unit_cost": "1.00"},
                       headers={"If-Match": '"1"'})
        assert cost.status_code == 403
        bulk = c.put(f"/v1/suppliers/{supplier_id}/items",
                     json={"rows": [{"variant_id": vid, "version": 1, "values": {"unit_cost": "1.00"}}]})
        assert bulk.status_code == 403
        assert c.get("/v1/suppliers").status_code == 200                  # the list is for everyone
    assert scalar(db, "SELECT COUNT(*) FROM purchase_orders") == orders
    assert {Decimal(str(v)) for v in _column(db, "SELECT unit_cost FROM supplier_items")} == {Decimal("12.00")}
    with api.as_user("purchaser") as c:
        assert c.get("/v1/audit").status_code == 403
        assert c.get("/v1/audit/facets").status_code == 403
    with api.as_user("warehouse") as c:                                  # receivers read orders, buyers write
        assert c.get("/v1/purchase-orders").status_code == 200
        assert c.post("/v1/suppliers", json={"name": "X"}, headers=key()).status_code == 403
    with api.as_user("manager") as c:
        assert c.get("/v1/audit").status_code == 200


def _column(db: Database, sql: str) -> list[object]:
    return [r[0] for r in _rows(db, sql)]


def test_a_stale_cost_change_is_412_with_the_current_item(api: RunningServer, db: Database, shop: SmallStore) -> None:
    supplier_id = make_supplier(api, shop, cost="10.00")
    vid = shop.variant_ids[1]
    path = f"/v1/suppliers/{supplier_id}/items/{vid}"
    with api.as_user("purchaser") as c:
        read = c.get(path)
        assert read.status_code == 200 and read.json()["unit_cost"] == "10.00"
        tag = read.headers["etag"]
        assert c.patch(path, json={"unit_cost": "11.00"}).status_code == 428
        first = c.patch(path, json={"unit_cost": "11.00"}, headers={"If-Match": tag})
        assert first.status_code == 200 and first.json()["unit_cost"] == "11.00"
        assert first.headers["etag"] != tag
        stale = c.patch(path, json={"unit_cost": "12.00"}, headers={"If-Match": tag})
        assert stale.status_code == 412, stale.text
        body = stale.json()
        assert body["current"]["unit_cost"] == "11.00" and body["current"]["version"] == first.json()["version"]
        assert stale.headers["etag"] == first.headers["etag"]
        assert c.patch(path, json={"unit_cost": "12.00"}, headers={"If-Match": "not a tag"}).status_code == 412
        for bad in ("-3", "1e10000", "NaN", "12.345"):
            refused = c.patch(path, json={"unit_cost": bad}, headers={"If-Match": first.headers["etag"]})
            assert refused.status_code == 422
    costs = _rows(db, "SELECT unit_cost FROM supplier_items WHERE supplier_id = :s AND variant_id = :v",
                  s=supplier_id, v=vid)
    assert [Decimal(str(c[0])) for c in costs] == [Decimal("11.00")]


def test_suppliers_are_created_once_per_key_and_items_saved_together(api: RunningServer, db: Database,
                                                                    shop: SmallStore) -> None:
    supplier_id = make_supplier(api, shop)
    keyed = key()
    body = {"name": "Second Source", "currency": "EUR"}
    with api.as_user("purchaser") as c:
        made = c.post("/v1/suppliers", json=body, headers=keyed)
        again = c.post("/v1/suppliers", json=body, headers=keyed)
        assert made.status_code == again.status_code == 201
        assert again.json() == made.json() and again.headers["idempotent-replayed"] == "true"
        assert c.post("/v1/suppliers", json={"name": "Second Source"}, headers=key()).status_code == 422  # taken
        assert scalar(db, "SELECT COUNT(*) FROM suppliers WHERE name = 'Second Source'") == 1

        shown = c.get(f"/v1/suppliers/{supplier_id}")
        patched = c.patch(f"/v1/suppliers/{supplier_id}", json={"lead_time_days": 21},
                          headers={"If-Match": shown.headers["etag"]})
        assert patched.status_code == 200 and patched.json()["lead_time_days"] == 21
        stale = c.patch(f"/v1/suppliers/{supplier_id}", json={"lead_time_days": 3},
                        headers={"If-Match": shown.headers["etag"]})
        assert stale.status_code == 412 and stale.json()["current"]["lead_time_days"] == 21

        page = c.get(f"/v1/suppliers/{supplier_id}/items", params={"limit": 2})
        assert page.status_code == 200 and len(page.json()["items"]) == 2
        rest = c.get(f"/v1/suppliers/{supplier_id}/items", params={"limit": 2, "cursor": page.json()["next_cursor"]})
        assert rest.json()["next_cursor"] is None
        items = page.json()["items"] + rest.json()["items"]
        assert sorted(i["variant_id"] for i in items) == sorted(shop.variant_ids)
        assert c.get(f"/v1/suppliers/{supplier_id}/items", params={"cursor": "bogus!"}).status_code == 422

        v1, v2, v3 = shop.variant_ids
        version = {i["variant_id"]: i["version"] for i in items}
        bad = c.put(f"/v1/suppliers/{supplier_id}/items", json={"rows": [
            {"variant_id": v1, "version": version[v1], "values": {"unit_cost": "12.345"}},
            {"variant_id": v2, "version": version[v2], "values": {"pack_size": 6}},
            {"variant_id": 999_999, "version": 1, "values": {"pack_size": 2}}]})
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert {e["field"] for e in bad.json()["errors"]} == {"variant_id"}
        invalid = c.put(f"/v1/suppliers/{supplier_id}/items", json={"rows": [
            {"variant_id": v2, "version": version[v2], "values": {"pack_size": 6}},
            {"variant_id": v1, "version": version[v1], "values": {"unit_cost": "12.345"}}]})
        assert invalid.status_code == 422
        assert [(e["row"], e["field"]) for e in invalid.json()["errors"]] == [
            (f"supplier_item {items[[i['variant_id'] for i in items].index(v1)]['id']}", "unit_cost")]
        unparsable = c.put(f"/v1/suppliers/{supplier_id}/items", json={"rows": [
            {"variant_id": v1, "version": version[v1], "values": {"unit_cost": "abc"}}]})
        assert unparsable.status_code == 422
        assert [e["field"] for e in unparsable.json()["errors"]] == ["body.rows.0.values.unit_cost"]

        saved = c.put(f"/v1/suppliers/{supplier_id}/items", json={"rows": [
            {"variant_id": v1, "version": version[v1], "values": {"unit_cost": "8.00"}},
            {"variant_id": v2, "version": version[v2] - 1, "values": {"pack_size": 6}}]})
        assert saved.status_code == 200, saved.text
        assert saved.json()["applied_rows"] == 1 and saved.json()["conflicts"] == [v2]
        assert saved.json()["changeset_id"] is not None
    assert {int(v): (Decimal(str(cost)), int(pack)) for v, cost, pack in _rows(
        db, "SELECT variant_id, unit_cost, pack_size FROM supplier_items WHERE supplier_id = :s", s=supplier_id)} == {
        v1: (Decimal(8), 1), v2: (Decimal(10), 1), v3: (Decimal(10), 1)}


def test_order_lists_page_by_cursor_drafts_edit_with_if_match_and_the_document_streams(
        api: RunningServer, db: Database, shop: SmallStore) -> None:
    supplier_id = make_supplier(api, shop)
    vid = shop.variant_ids[0]
    with api.as_user("purchaser") as c:
        made = [c.post("/v1/purchase-orders", headers=key(), json={
            "supplier_id": supplier_id, "destination_location_id": shop.locations["WH1"],
            "lines": [{"variant_id": vid, "quantity": n}]}).json() for n in (1, 2, 3)]
        first = c.get("/v1/purchase-orders", params={"limit": 2})
        assert [o["id"] for o in first.json()["items"]] == [made[2]["id"], made[1]["id"]]
        second = c.get("/v1/purchase-orders", params={"limit": 2, "cursor": first.json()["next_cursor"]})
        assert [o["id"] for o in second.json()["items"]] == [made[0]["id"]] and second.json()["next_cursor"] is None
        assert c.get("/v1/purchase-orders", params={"state": "sent"}).json()["items"] == []
        assert c.get("/v1/purchase-orders/PO-999999").status_code == 404

        ref = f"/v1/purchase-orders/{made[0]['id']}"
        tag = c.get(ref).headers["etag"]
        edited = c.patch(ref, json={"lines": [{"variant_id": vid, "quantity": 7}], "note": "rush"},
                         headers={"If-Match": tag})
        assert edited.status_code == 200 and edited.json()["lines"][0]["quantity"] == 7
        stale = c.patch(ref, json={"note": "late"}, headers={"If-Match": tag})
        assert stale.status_code == 412 and stale.json()["current"]["note"] == "rush"
        keyed = key()
        cancelled = c.post(f"/v1/purchase-orders/{made[1]['id']}/cancel", json={"reason": "duplicate"}, headers=keyed)
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        replayed = c.post(f"/v1/purchase-orders/{made[1]['id']}/cancel", json={"reason": "duplicate"}, headers=keyed)
        assert replayed.headers["idempotent-replayed"] == "true" and replayed.json() == cancelled.json()
        assert c.post(f"/v1/purchase-orders/{made[1]['id']}/cancel", json={"reason": "again"}).status_code == 422
        assert c.post(f"/v1/purchase-orders/{made[1]['id']}/send").status_code == 422   # not a draft any more

        pdf = c.get(f"{ref}/document")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
    assert scalar(db, "SELECT COUNT(*) FROM purchase_orders") == 3
    assert scalar(db, "SELECT note FROM purchase_orders WHERE id = :i", i=made[0]["id"]) == "rush"


def test_replenishment_settings_and_drafts(api: RunningServer, db: Database, shop: SmallStore) -> None:
    make_supplier(api, shop)
    with api.as_user("purchaser") as c:
        settings = c.get("/v1/replenishment/settings")
        assert settings.status_code == 200 and settings.json()["window_days"] == 90
        bad = c.put("/v1/replenishment/settings", json={**settings.json(), "window_days": 2, "service_level": 2})
        assert bad.status_code == 422
        assert {e["field"] for e in bad.json()["errors"]} == {"window_days", "service_level"}
        good = c.put("/v1/replenishment/settings", json={**settings.json(), "review_days": 7})
        assert good.status_code == 200 and c.get("/v1/replenishment/settings").json()["review_days"] == 7

        vid, wh = shop.variant_ids[0], shop.locations["WH1"]
        levels = c.put(f"/v1/replenishment/levels/{vid}/{wh}", json={"reorder_point": 5, "order_up_to": 20})
        assert levels.status_code == 200, levels.text
        assert c.put(f"/v1/replenishment/levels/{vid}/{wh}",
                     json={"reorder_point": 9, "order_up_to": 2}).status_code == 422
        assert c.get("/v1/replenishment/suggestions", params={"as_of": "0001-01-02"}).status_code == 422
        assert c.post("/v1/replenishment/drafts", json={"as_of": "9999-12-31"}, headers=key()).status_code == 422
        suggestions = c.get("/v1/replenishment/suggestions", params={"location_id": wh})
        assert suggestions.status_code == 200
        wanted = {(s["variant_id"], s["location_id"]): s["quantity"] for s in suggestions.json()["items"]}
        assert wanted.get((vid, wh)) == 20
        keyed = key()
        drafts = c.post("/v1/replenishment/drafts", json={"keys": [[vid, wh]]}, headers=keyed)
        assert drafts.status_code == 201, drafts.text
        assert drafts.json()["units"] == 20 and len(drafts.json()["orders"]) == 1
        again = c.post("/v1/replenishment/drafts", json={"keys": [[vid, wh]]}, headers=keyed)
        assert again.json() == drafts.json()
        more = c.post("/v1/replenishment/drafts", json={"keys": [[vid, wh]]}, headers=key())
        assert more.status_code == 201 and more.json()["units"] == 0      # already on a draft: not ordered twice
    assert scalar(db, "SELECT COUNT(*) FROM purchase_orders") == 1
    assert scalar(db, "SELECT SUM(quantity) FROM purchase_order_lines") == 20
    with api.as_user("warehouse") as c:                       # the warehouse sees the needs; buyers order
        assert c.get("/v1/replenishment/suggestions").status_code == 200
        assert c.post("/v1/replenishment/drafts", json={}, headers=key()).status_code == 403
        assert c.put("/v1/replenishment/settings", json=settings.json()).status_code == 403
    with api.as_user("merchandiser") as c:
        assert c.get("/v1/replenishment/suggestions").status_code == 403
    assert scalar(db, "SELECT COUNT(*) FROM purchase_orders") == len(drafts.json()["orders"])


def test_managers_read_the_audit_trail_by_pages_and_filters(api: RunningServer, db: Database,
                                                            shop: SmallStore) -> None:
    supplier_id = make_supplier(api, shop)
    with api.as_user("manager") as c:
        page = c.get("/v1/audit", params={"entity": "supplier_item", "limit": 2})
        assert page.status_code == 200, page.text
        rest = c.get("/v1/audit", params={"entity": "supplier_item", "limit": 2, "cursor": page.json()["next_cursor"]})
        entries = page.json()["items"] + rest.json()["items"]
        assert rest.json()["next_cursor"] is None
        assert [e["id"] for e in entries] == [int(i) for i in _column(
            db, "SELECT id FROM audit_log WHERE entity = 'supplier_item' ORDER BY id DESC")]
        assert {e["username"] for e in entries} == {"purchaser"}
        created = c.get("/v1/audit", params={"entity": "supplier", "action": "create"}).json()["items"]
        assert [e["entity_id"] for e in created] == [str(supplier_id)]
        one = c.get(f"/v1/audit/{created[0]['id']}")
        assert one.status_code == 200 and any(line["field"] == "name" for line in one.json()["lines"])
        assert c.get("/v1/audit/999999").status_code == 404
        naive = c.get("/v1/audit", params={"entity": "supplier", "since": "2000-01-01T00:00:00"})
        assert naive.status_code == 200 and len(naive.json()["items"]) == 1          # taken as UTC
        later = c.get("/v1/audit", params={"entity": "supplier", "since": "2999-01-01T00:00:00+02:00"})
        assert later.status_code == 200 and later.json()["items"] == []
        assert c.get("/v1/audit", params={"since": "0001-01-01T00:00:00+05:00"}).status_code == 422
        facets = c.get("/v1/audit/facets").json()
        assert {"supplier", "supplier_item"} <= set(facets["entity"]) and "purchaser" in facets["username"]
