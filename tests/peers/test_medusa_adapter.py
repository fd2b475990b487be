"""The Medusa adapter against a real Medusa 2 server: products pushed read back field for field, a push
repeated after a crash matches instead of duplicating, prices, stock read-compare-set with a change made
in Medusa in between, orders placed through the store API and their fulfilment (pushed twice, made
once), a refused key; retries and rate limits against a mock transport (a real server cannot be made to
answer 429 on demand). Each test makes its own products (random suffixes): the server is shared."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from backoffice.connectors.base import (
    FulfilmentLine, FulfilmentPush, PricePush, ProductPush, PushOutcome, RateLimited, StockSet, StoreAdapter,
    StoreError, StoreUnavailable, VariantPush,
)
from backoffice.connectors.medusa import MedusaAdapter
from tests.peers.medusa import storefront
from tests.peers.medusa.server import MedusaServer

pytestmark = [pytest.mark.store_peer, pytest.mark.postgres]


class Calls:
    """An observer that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int, float]] = []

    def __call__(self, method: str, endpoint: str, status: int, elapsed_ms: float, /) -> None:
        self.calls.append((method, endpoint, status, elapsed_ms))


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def adapter(medusa: MedusaServer, calls: Calls) -> Iterator[MedusaAdapter]:
    settings = {"currency": "eur", "sales_channel_id": medusa.sales_channel_id}
    store = MedusaAdapter(medusa.base_url, medusa.api_key, settings, observer=calls)
    yield store
    store.close()


def _suffix() -> str:
    return uuid.uuid4().hex[:8]


def _tee(suffix: str, key: str = "1", *, sizes: tuple[str, ...] = ("S", "M", "L"), status: str = "active",
         vendor: str = "Acme", product_type: str = "Shirts", tags: tuple[str, ...] = ("cotton", "summer"),
         price: str = "19.90", compare_at: str | None = "24.90") -> ProductPush:
    return ProductPush(
        key=f"{key}-{suffix}", handle=f"tee-{key}-{suffix}", title=f"Tee {key} {suffix}", status=status,
        description=f"A tee ({key})", vendor=vendor, product_type=product_type, tags=tags,
        options={"Size": sizes},
        variants=tuple(VariantPush(sku=f"TEE{key}-{size}-{suffix}".upper(), title=size, options={"Size": size},
                                   price=Decimal(price), compare_at_price=Decimal(compare_at) if compare_at else None,
                                   barcode=f"400{key}{n}{suffix}")
                       for n, size in enumerate(sizes)))


def _sku(outcome: PushOutcome, size: str) -> str:
    [sku] = [sku for sku in outcome.variant_ids if f"-{size}-" in sku]
    return sku


def _all_products(adapter: MedusaAdapter, **kwargs: object) -> list:
    return [p for page in adapter.products(**kwargs) for p in page]  # type: ignore[arg-type]


def test_it_is_a_store_adapter(adapter: MedusaAdapter) -> None:
    assert isinstance(adapter, StoreAdapter)
    assert adapter.kind == "medusa"
    assert adapter.capabilities.batch_size == 100 and adapter.capabilities.stock_compare
    assert not adapter.capabilities.stock_deltas


def test_health_and_locations(adapter: MedusaAdapter, medusa: MedusaServer, calls: Calls) -> None:
    health = adapter.health()
    assert health.ok, health.message
    assert health.latency_ms > 0
    assert {("GET", "/health", 200), ("GET", "/admin/stock-locations", 200)} <= {c[:3] for c in calls.calls}
    locations = {loc.id: loc.name for loc in adapter.locations()}
    assert {locations[i] for i in medusa.location_ids} == {"Warehouse Berlin", "Store Amsterdam"}


def test_a_refused_key_makes_health_not_ok(medusa: MedusaServer) -> None:
    with MedusaAdapter(medusa.base_url, "sk_" + uuid.uuid4().hex) as store:
        health = store.health()
        assert not health.ok
        assert "401" in health.message and "key" in health.message
        with pytest.raises(StoreError) as failed:
            store.locations()
        assert not isinstance(failed.value, StoreUnavailable)
        assert "GET /admin/stock-locations" in str(failed.value)


def test_an_unreachable_store_makes_health_not_ok() -> None:
    with MedusaAdapter("http://127.0.0.1:9", "sk_x", max_retries=0) as store:
        health = store.health()
    assert not health.ok and health.message


def test_pushed_products_read_back_field_for_field(adapter: MedusaAdapter, calls: Calls) -> None:
    s = _suffix()
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    pushes = [_tee(s, "1"), _tee(s, "2", sizes=("S", "M"), status="draft", vendor="", product_type="", tags=(),
                                 compare_at=None),
              _tee(s, "3", status="archived", product_type="Hoodies", tags=("winter",), price="49")]
    outcomes = adapter.push_products(pushes)
    assert [o.key for o in outcomes] == [p.key for p in pushes]
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert not any(o.matched for o in outcomes)
    assert [("POST", "/admin/products/batch")] == [c[:2] for c in calls.calls if c[1] == "/admin/products/batch"]
    for push, outcome in zip(pushes, outcomes):
        assert set(outcome.variant_ids) == {v.sku for v in push.variants}
        assert set(outcome.inventory_item_ids) == {v.sku for v in push.variants}
        assert all(i.startswith("iitem_") for i in outcome.inventory_item_ids.values())

    stored = {p.handle: p for p in _all_products(adapter, updated_after=before)}
    for push, outcome in zip(pushes, outcomes):
        product = stored[push.handle]
        assert product.id == outcome.store_id
        assert (product.title, product.status, product.description, product.vendor, product.product_type) == \
            (push.title, push.status, push.description, push.vendor, push.product_type)
        assert set(product.tags) == set(push.tags)
        by_sku = {v.sku: v for v in product.variants}
        for variant in push.variants:
            got = by_sku[variant.sku]
            assert (got.title, got.options, got.price, got.compare_at_price, got.barcode) == \
                (variant.title, variant.options, variant.price, variant.compare_at_price, variant.barcode)
            assert got.id == outcome.variant_ids[variant.sku]
            assert got.inventory_item_id == outcome.inventory_item_ids[variant.sku]
            assert got.product_id == outcome.store_id

    found = adapter.variants_by_sku([v.sku for p in pushes for v in p.variants] + ["NO-SUCH-SKU-" + s])
    assert set(found) == {v.sku for p in pushes for v in p.variants}
    first = found[pushes[0].variants[0].sku]
    assert (first.price, first.compare_at_price, first.options) == (Decimal("19.90"), Decimal("24.90"), {"Size": "S"})


def test_pushing_the_same_creates_again_matches_instead_of_duplicating(adapter: MedusaAdapter,
                                                                       medusa: MedusaServer) -> None:
    s = _suffix()
    pushes = [_tee(s, "1"), _tee(s, "2")]
    first = adapter.push_products(pushes)
    assert all(o.ok for o in first)
    # The engine died before it saved the ids: the same creates come again, one with a changed title.
    again = [pushes[0], ProductPush(**{**{f: getattr(pushes[1], f) for f in pushes[1].__dataclass_fields__},
                                       "title": "Renamed", "handle": f"other-handle-{s}"})]
    second = adapter.push_products(again)
    assert all(o.ok for o in second), [o.error for o in second]
    assert all(o.matched for o in second)
    assert [o.store_id for o in second] == [o.store_id for o in first]
    assert [o.variant_ids for o in second] == [o.variant_ids for o in first]
    with medusa.client() as api:
        for push in pushes:
            body = api.get("/admin/products", params={"handle": push.handle, "fields": "id"}).json()
            assert body["count"] == (1 if push is pushes[0] else 0)
        skus = [v.sku for p in pushes for v in p.variants]
        variants = api.get("/admin/product-variants", params={"sku[]": skus, "fields": "id,sku", "limit": 100}).json()
        assert sorted(v["sku"] for v in variants["variants"]) == sorted(skus)
        renamed = api.get(f"/admin/products/{first[1].store_id}", params={"fields": "title,handle"}).json()["product"]
        assert (renamed["title"], renamed["handle"]) == ("Renamed", f"other-handle-{s}")


def test_an_update_adds_variants_and_option_values_and_deletes_none(adapter: MedusaAdapter) -> None:
    s = _suffix()
    push = _tee(s, "1", sizes=("S", "M"))
    [created] = adapter.push_products([push])
    assert created.ok, created.error
    variants = tuple(VariantPush(**{**{f: getattr(v, f) for f in v.__dataclass_fields__},
                                    "store_id": created.variant_ids[v.sku], "price": Decimal("21.00")})
                     for v in push.variants[1:])        # S is no longer sent
    xl = VariantPush(sku=f"TEE1-XL-{s}".upper(), title="XL", options={"Size": "XL"}, price=Decimal("23.5"))
    update = ProductPush(**{**{f: getattr(push, f) for f in push.__dataclass_fields__},
                            "store_id": created.store_id, "title": "Tee, now in XL", "status": "archived",
                            "tags": ("cotton",), "options": {"Size": ("M", "XL")}, "variants": (*variants, xl)})
    [updated] = adapter.push_products([update])
    assert updated.ok, updated.error
    assert not updated.matched
    assert set(updated.variant_ids) == {v.sku for v in push.variants} | {xl.sku}
    assert xl.sku in updated.inventory_item_ids
    [product] = [p for p in _all_products(adapter) if p.id == created.store_id]
    assert (product.title, product.status, product.tags) == ("Tee, now in XL", "archived", ("cotton",))
    prices = {v.sku: v.price for v in product.variants}
    assert prices == {push.variants[0].sku: Decimal("19.90"), push.variants[1].sku: Decimal("21"),
                      xl.sku: Decimal("23.5")}
    # Back to active: the archived mark goes.
    [again] = adapter.push_products([ProductPush(**{**{f: getattr(update, f) for f in update.__dataclass_fields__},
                                                    "status": "active"})])
    assert again.ok, again.error
    [product] = [p for p in _all_products(adapter) if p.id == created.store_id]
    assert product.status == "active"


def test_one_bad_product_fails_alone(adapter: MedusaAdapter) -> None:
    s = _suffix()
    good = _tee(s, "1")
    bad = ProductPush(**{**{f: getattr(good, f) for f in good.__dataclass_fields__}, "key": f"bad-{s}",
                         "handle": f"bad handle with spaces {s}",
                         "variants": (VariantPush(sku=f"BAD-{s}", title="S", options={"Size": "S"},
                                                  price=Decimal(1)),)})
    outcomes = adapter.push_products([bad, good])
    assert [o.key for o in outcomes] == [bad.key, good.key]
    assert not outcomes[0].ok and outcomes[0].error
    assert outcomes[1].ok, outcomes[1].error
    assert adapter.variants_by_sku([f"BAD-{s}"]) == {}


def test_push_prices_changes_prices_and_keeps_other_currencies(adapter: MedusaAdapter, medusa: MedusaServer) -> None:
    s = _suffix()
    [created] = adapter.push_products([_tee(s, "1", sizes=("S", "M"))])
    sku_s, sku_m = _sku(created, "S"), _sku(created, "M")
    with medusa.client() as api:     # a USD price made in Medusa must survive
        variant = api.get(f"/admin/products/{created.store_id}/variants/{created.variant_ids[sku_s]}",
                          params={"fields": "id,*prices"}).json()["variant"]
        prices = [{"id": p["id"]} for p in variant["prices"]] + [{"currency_code": "usd", "amount": 30}]
        assert api.post(f"/admin/products/{created.store_id}/variants/{created.variant_ids[sku_s]}",
                        json={"prices": prices}).status_code == 200
    other = adapter.push_products([_tee(s, "2", sizes=("S",))])[0]
    mark = dt.datetime.now(dt.timezone.utc)
    time.sleep(0.05)
    outcomes = adapter.push_prices([
        PricePush(sku_s, created.variant_ids[sku_s], created.store_id, Decimal("17.25"), Decimal("29.99")),
        PricePush(sku_m, created.variant_ids[sku_m], created.store_id, Decimal("18"), None),
        PricePush("GONE-" + s, "variant_01NOSUCHVARIANT00000000000", created.store_id, Decimal(1)),
    ])
    assert [(o.key, o.ok) for o in outcomes] == [(sku_s, True), (sku_m, True), ("GONE-" + s, False)]
    found = adapter.variants_by_sku([sku_s, sku_m])
    assert (found[sku_s].price, found[sku_s].compare_at_price) == (Decimal("17.25"), Decimal("29.99"))
    assert (found[sku_m].price, found[sku_m].compare_at_price) == (Decimal("18"), None)
    # Only variants changed, not the product: it is still read as changed since the mark.
    changed = {p.id: p for p in _all_products(adapter, updated_after=mark)}
    assert created.store_id in changed and other.store_id not in changed
    assert {v.sku: v.price for v in changed[created.store_id].variants} == {sku_s: Decimal("17.25"), sku_m: Decimal(18)}
    assert changed[created.store_id].updated_at > mark
    with medusa.client() as api:
        variant = api.get(f"/admin/products/{created.store_id}/variants/{created.variant_ids[sku_s]}",
                          params={"fields": "id,*prices"}).json()["variant"]
    assert sorted((p["currency_code"], p["amount"]) for p in variant["prices"]) == [("eur", 17.25), ("usd", 30)]


def test_push_stock_creates_levels_then_reports_a_change_made_in_medusa(adapter: MedusaAdapter,
                                                                        medusa: MedusaServer) -> None:
    s = _suffix()
    [created] = adapter.push_products([_tee(s, "1", sizes=("S", "M"))])
    berlin, amsterdam = medusa.location_ids
    sku_s, sku_m = _sku(created, "S"), _sku(created, "M")
    item_s, item_m = created.inventory_item_ids[sku_s], created.inventory_item_ids[sku_m]
    first = adapter.push_stock([StockSet(sku_s, item_s, berlin, 10, None), StockSet(sku_s, item_s, amsterdam, 4, None),
                                StockSet(sku_m, item_m, berlin, 0, None)])
    assert [(o.sku, o.location_id, o.state) for o in first] == \
        [(sku_s, berlin, "set"), (sku_s, amsterdam, "set"), (sku_m, berlin, "set")]
    levels = {(lv.sku, lv.location_id): lv.on_hand
              for page in adapter.stock_levels(inventory_item_ids=[item_s, item_m]) for lv in page}
    assert levels == {(sku_s, berlin): 10, (sku_s, amsterdam): 4, (sku_m, berlin): 0}

    storefront.set_stock(medusa, item_s, berlin, 7)          # staff count the shelf in Medusa's admin
    second = adapter.push_stock([StockSet(sku_s, item_s, berlin, 12, 10), StockSet(sku_s, item_s, amsterdam, 6, 4),
                                 StockSet(sku_m, item_m, berlin, 3, None), StockSet(sku_m, item_m, amsterdam, 2, 5)])
    assert [(o.state, o.found) for o in second] == [("conflict", 7), ("set", 6), ("conflict", 0), ("conflict", None)]
    levels = {(lv.sku, lv.location_id): lv.on_hand
              for page in adapter.stock_levels(inventory_item_ids=[item_s, item_m]) for lv in page}
    assert levels == {(sku_s, berlin): 7, (sku_s, amsterdam): 6, (sku_m, berlin): 0}
    # Expected None where a level exists with the same quantity: nothing to do, it is "set".
    [same] = adapter.push_stock([StockSet(sku_m, item_m, berlin, 0, None)])
    assert (same.state, same.found) == ("set", 0)
    # The whole snapshot holds them too.
    everything = {(lv.inventory_item_id, lv.location_id) for page in adapter.stock_levels(page_size=50) for lv in page}
    assert {(item_s, berlin), (item_s, amsterdam), (item_m, berlin)} <= everything


def test_an_order_placed_in_the_store_is_read_and_fulfilled_once(adapter: MedusaAdapter, medusa: MedusaServer) -> None:
    s = _suffix()
    [created] = adapter.push_products([_tee(s, "1", sizes=("S", "M"), price="20")])
    assert created.ok, created.error
    berlin = medusa.location_ids[0]
    sku_s, sku_m = _sku(created, "S"), _sku(created, "M")
    adapter.push_stock([StockSet(sku, created.inventory_item_ids[sku], berlin, 10, None) for sku in (sku_s, sku_m)])
    t0 = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
    placed = storefront.place_order(medusa, [(created.variant_ids[sku_s], 2), (created.variant_ids[sku_m], 1)],
                                    email=f"ada-{s}@example.test")
    orders = [o for page in adapter.orders(updated_after=t0) for o in page]
    [order] = [o for o in orders if o.id == placed["id"]]
    assert order.number == str(placed["display_id"])
    assert (order.status, order.payment_status, order.currency, order.email) == \
        ("open", "authorised", "EUR", f"ada-{s}@example.test")
    assert order.customer_name == "Ada Shopper"
    lines = {line.sku: line for line in order.lines}
    assert {sku: (line.quantity, line.unit_price, line.fulfilled) for sku, line in lines.items()} == \
        {sku_s: (2, Decimal(20), 0), sku_m: (1, Decimal(20), 0)}
    assert lines[sku_s].variant_id == created.variant_ids[sku_s]

    def level(sku: str) -> tuple[int, int]:
        [lv] = [lv for page in adapter.stock_levels(inventory_item_ids=[created.inventory_item_ids[sku]])
                for lv in page if lv.location_id == berlin]
        return lv.on_hand, lv.reserved

    # The order reserves its units; stocked quantities change only when they are fulfilled.
    assert (level(sku_s), level(sku_m)) == ((10, 2), (10, 1))

    push = FulfilmentPush(order.id, berlin, (FulfilmentLine(lines[sku_s].id, 2),), reference=f"SH-{s}",
                          carrier="DHL", tracking="00340434")
    first = adapter.push_fulfilment(push)
    second = adapter.push_fulfilment(push)
    assert first == second and first.startswith("ful_")
    with medusa.client() as api:
        body = api.get(f"/admin/orders/{order.id}", params={"fields": "id,*fulfillments"}).json()["order"]
    assert [(f["id"], f["metadata"]) for f in body["fulfillments"]] == \
        [(first, {"reference": f"SH-{s}", "carrier": "DHL", "tracking": "00340434"})]
    assert (level(sku_s), level(sku_m)) == ((8, 0), (10, 1))      # Medusa took the shipped units off
    [again] = [o for page in adapter.orders(updated_after=order.updated_at - dt.timedelta(milliseconds=1))
               for o in page if o.id == order.id]
    assert {line.sku: line.fulfilled for line in again.lines} == {sku_s: 2, sku_m: 0}
    assert again.updated_at > order.updated_at
    # Nothing after the newest update.
    newest = max(o.updated_at for page in adapter.orders() for o in page)
    assert [o for page in adapter.orders(updated_after=newest) for o in page] == []


def test_products_page_without_gaps_or_repeats(adapter: MedusaAdapter) -> None:
    s = _suffix()
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
    pushes = [_tee(s, str(n), sizes=("S",)) for n in range(7)]
    assert all(o.ok for o in adapter.push_products(pushes))     # one transaction: equal updated_at
    everything = [p.id for page in adapter.products(page_size=100) for p in page]
    assert len(everything) == len(set(everything))
    paged = [p.id for page in adapter.products(page_size=3) for p in page]
    assert sorted(paged) == sorted(everything)
    for size in (1, 3):
        recent = [p for page in adapter.products(updated_after=start, page_size=size) for p in page]
        ours = [p.handle for p in recent if p.handle.endswith(s)]
        assert sorted(ours) == sorted(p.handle for p in pushes), size
        assert len(recent) == len({p.id for p in recent})


# -- retries and rate limits (a mock transport: a real Medusa cannot be made to answer 429) ---------------
def _mock(answers: list[httpx.Response]) -> tuple[httpx.MockTransport, list[float]]:
    sent: list[float] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        answer = answers.pop(0)
        return answer

    return httpx.MockTransport(handle), sent


def test_a_429_waits_for_retry_after_and_every_call_is_observed(calls: Calls) -> None:
    ok = httpx.Response(200, json={"stock_locations": [{"id": "sloc_1", "name": "Berlin"}], "count": 1})
    transport, sent = _mock([httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(503), ok])
    with MedusaAdapter("http://medusa.test", "sk", observer=calls, transport=transport) as store:
        store.backoff = 0.05
        assert [loc.name for loc in store.locations()] == ["Berlin"]
    assert len(sent) == 3
    assert sent[1] - sent[0] >= 0.95
    assert [(m, e, st) for m, e, st, _ in calls.calls] == [("GET", "/admin/stock-locations", 429),
                                                          ("GET", "/admin/stock-locations", 503),
                                                          ("GET", "/admin/stock-locations", 200)]
    assert all(ms >= 0 for *_, ms in calls.calls)


def test_an_http_date_retry_after_and_an_empty_budget_are_honoured(calls: Calls) -> None:
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    empty = httpx.Response(200, json={"stock_locations": [], "count": 0},
                           headers={"RateLimit-Remaining": "0", "RateLimit-Reset": "1"})
    transport, sent = _mock([httpx.Response(429, headers={"Retry-After": later}), empty,
                             httpx.Response(200, json={"stock_locations": [], "count": 0})])
    with MedusaAdapter("http://medusa.test", "sk", observer=calls, transport=transport) as store:
        assert store.locations() == []
        assert store.locations() == []
    assert len(sent) == 3
    assert sent[1] - sent[0] >= 0.9          # the HTTP date is whole seconds away
    assert sent[2] - sent[1] >= 0.9          # no budget left: wait for its reset


def test_a_long_retry_after_raises_rate_limited_at_once(calls: Calls) -> None:
    transport, sent = _mock([httpx.Response(429, headers={"Retry-After": "3600"})])
    started = time.monotonic()
    with MedusaAdapter("http://medusa.test", "sk", observer=calls, transport=transport) as store, \
            pytest.raises(RateLimited) as limited:
        store.locations()
    assert limited.value.retry_after == 3600
    assert time.monotonic() - started < 1 and len(sent) == 1
    assert [c[2] for c in calls.calls] == [429]


def test_5xx_and_network_errors_are_retried_then_unavailable(calls: Calls) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    answers = [httpx.Response(502), httpx.Response(500)]

    def flaky(request: httpx.Request) -> httpx.Response:
        if answers:
            return answers.pop(0)
        raise httpx.ConnectError("refused", request=request)

    with MedusaAdapter("http://medusa.test", "sk", observer=calls, transport=httpx.MockTransport(flaky),
                       max_retries=3) as store:
        store.backoff = 0.01
        with pytest.raises(StoreUnavailable):
            store.locations()
    assert [c[2] for c in calls.calls] == [502, 500, 0, 0]
    # A creation is not sent twice: a lost answer is found by its reference on the next run instead.
    calls.calls.clear()
    with MedusaAdapter("http://medusa.test", "sk", observer=calls, transport=httpx.MockTransport(refuse)) as store:
        store.backoff = 0.01
        with pytest.raises(StoreUnavailable):
            store._request("POST", "/admin/products", body={"title": "x"}, retry=False)
    assert [c[:3] for c in calls.calls] == [("POST", "/admin/products", 0)]


def test_a_4xx_is_a_store_error_with_medusas_message(calls: Calls) -> None:
    transport, _ = _mock([httpx.Response(400, json={"type": "invalid_data", "message": "Product handle taken"})])
    with MedusaAdapter("http://medusa.test", "sk", observer=calls, transport=transport) as store, \
            pytest.raises(StoreError) as failed:
        store.push_fulfilment(FulfilmentPush("order_01ABCDEFGHJKMNPQRSTVWXYZ01", "sloc", (), "SH-1"))
    assert not isinstance(failed.value, StoreUnavailable)
    assert "GET /admin/orders/order_01ABCDEFGHJKMNPQRSTVWXYZ01" in str(failed.value)
    assert "Product handle taken" in str(failed.value)
    assert calls.calls[0][:3] == ("GET", "/admin/orders/{id}", 400)
