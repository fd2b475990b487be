"""The Medusa 2 peer answers as the connector will need it to: health, the stock locations made for the
tests, products with variants read back by SKU, inventory levels per location, and a refused wrong key.
Each test makes its own products (SKUs with a random suffix): the server is shared by the test process."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.peers.medusa.server import MedusaServer

pytestmark = [pytest.mark.store_peer, pytest.mark.postgres]


def _sku(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8].upper()}"


def _ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, f"{response.request.method} {response.request.url}: " \
                                        f"HTTP {response.status_code} {response.text[:500]}"
    return response.json()


def _create_tee(api: httpx.Client, medusa: MedusaServer, title: str, skus: dict[str, str],
                prices: dict[str, float]) -> dict:
    """A published product with a Size option and one variant per size, in the tests' sales channel."""
    return _ok(api.post("/admin/products", json={
        "title": title,
        "status": "published",
        "options": [{"title": "Size", "values": list(skus)}],
        "sales_channels": [{"id": medusa.sales_channel_id}],
        "variants": [
            {"title": size, "sku": sku, "options": {"Size": size}, "manage_inventory": True,
             "prices": [{"currency_code": "eur", "amount": prices[size]}]}
            for size, sku in skus.items()
        ],
    }))["product"]


def test_health_is_ok(medusa: MedusaServer) -> None:
    response = httpx.get(f"{medusa.base_url}/health", timeout=10)
    assert response.status_code == 200
    assert response.text == "OK"


def test_the_two_stock_locations_are_listed_with_the_secret_key(medusa: MedusaServer) -> None:
    with medusa.client() as api:
        body = _ok(api.get("/admin/stock-locations",
                           params={"fields": "id,name,*address,*sales_channels", "limit": 100}))
    by_id = {location["id"]: location for location in body["stock_locations"]}
    assert len(medusa.location_ids) == 2
    assert set(medusa.location_ids) <= set(by_id)
    assert {by_id[i]["name"] for i in medusa.location_ids} == {"Warehouse Berlin", "Store Amsterdam"}
    assert {by_id[i]["address"]["country_code"] for i in medusa.location_ids} == {"de", "nl"}
    for location_id in medusa.location_ids:
        assert [c["id"] for c in by_id[location_id]["sales_channels"]] == [medusa.sales_channel_id]


def test_the_region_and_sales_channel_exist(medusa: MedusaServer) -> None:
    with medusa.client() as api:
        region = _ok(api.get(f"/admin/regions/{medusa.region_id}"))["region"]
        channel = _ok(api.get(f"/admin/sales-channels/{medusa.sales_channel_id}"))["sales_channel"]
    assert region["currency_code"] == "eur"
    assert {c["iso_2"] for c in region["countries"]} == {"de", "fr", "nl"}
    assert channel["name"] == "Backoffice" and not channel["is_disabled"]


def test_a_product_with_two_variants_reads_back_by_sku(medusa: MedusaServer) -> None:
    skus = {"S": _sku("TEE-S"), "M": _sku("TEE-M")}
    prices = {"S": 19.5, "M": 21.0}
    with medusa.client() as api:
        created = _create_tee(api, medusa, "Peer Tee", skus, prices)
        other = _create_tee(api, medusa, "Other Tee", {"S": _sku("OTHER-S")}, {"S": 5.0})
        assert {v["sku"] for v in created["variants"]} == set(skus.values())

        for size, sku in skus.items():
            variants = _ok(api.get("/admin/product-variants", params={
                "sku": sku, "fields": "*prices,*options,*options.option,*product,*inventory_items"}))
            assert variants["count"] == 1, f"{sku}: {variants}"
            variant = variants["variants"][0]
            assert variant["sku"] == sku
            assert variant["title"] == size
            assert variant["manage_inventory"] is True
            assert variant["allow_backorder"] is False
            assert variant["product"]["id"] == created["id"]
            assert variant["product"]["title"] == "Peer Tee"
            assert variant["product"]["status"] == "published"
            assert [(o["option"]["title"], o["value"]) for o in variant["options"]] == [("Size", size)]
            assert [(p["currency_code"], p["amount"]) for p in variant["prices"]] == [("eur", prices[size])]
            assert len(variant["inventory_items"]) == 1     # Medusa made the variant's inventory item

        # The products list filtered by a variant's SKU finds the product, with both variants.
        products = _ok(api.get("/admin/products", params={
            "variants[sku]": skus["M"], "fields": "id,title,*variants,*sales_channels"}))
        assert [p["id"] for p in products["products"]] == [created["id"]]
        product = products["products"][0]
        assert {(v["title"], v["sku"]) for v in product["variants"]} == {(s, k) for s, k in skus.items()}
        assert [c["id"] for c in product["sales_channels"]] == [medusa.sales_channel_id]
        assert other["id"] != created["id"]


def test_an_inventory_level_at_one_location_reads_back(medusa: MedusaServer) -> None:
    skus = {"S": _sku("STOCK-S"), "M": _sku("STOCK-M")}
    berlin, amsterdam = medusa.location_ids
    with medusa.client() as api:
        _create_tee(api, medusa, "Stocked Tee", skus, {"S": 10.0, "M": 10.0})
        items = _ok(api.get("/admin/inventory-items", params={"sku": skus["S"]}))["inventory_items"]
        assert [i["sku"] for i in items] == [skus["S"]]
        item_id = items[0]["id"]
        assert items[0]["location_levels"] == []

        _ok(api.post(f"/admin/inventory-items/{item_id}/location-levels",
                     json={"location_id": berlin, "stocked_quantity": 7}))
        levels = _ok(api.get(f"/admin/inventory-items/{item_id}/location-levels"))["inventory_levels"]
        assert [(lv["location_id"], lv["stocked_quantity"], lv["reserved_quantity"], lv["available_quantity"])
                for lv in levels] == [(berlin, 7, 0, 7)]

        # A new quantity replaces the old one; the other location and the other variant have no level.
        _ok(api.post(f"/admin/inventory-items/{item_id}/location-levels/{berlin}", json={"stocked_quantity": 12}))
        levels = _ok(api.get(f"/admin/inventory-items/{item_id}/location-levels"))["inventory_levels"]
        assert [(lv["location_id"], lv["stocked_quantity"]) for lv in levels] == [(berlin, 12)]
        assert amsterdam not in {lv["location_id"] for lv in levels}
        other = _ok(api.get("/admin/inventory-items", params={"sku": skus["M"], "fields": "id,*location_levels"}))
        assert other["inventory_items"][0]["location_levels"] == []


def test_a_wrong_or_missing_api_key_gets_401(medusa: MedusaServer) -> None:
    wrong = "sk_" + uuid.uuid4().hex * 2
    with httpx.Client(base_url=medusa.base_url, timeout=10) as http:
        assert http.get("/admin/stock-locations", auth=httpx.BasicAuth(wrong, "")).status_code == 401
        assert http.get("/admin/stock-locations").status_code == 401
        # The publishable key is for the store API only.
        assert http.get("/admin/stock-locations",
                        auth=httpx.BasicAuth(medusa.publishable_key, "")).status_code == 401
        # The right key, for contrast.
        assert http.get("/admin/stock-locations", auth=medusa.auth).status_code == 200
