"""The Medusa 2.x store adapter: :class:`~backoffice.connectors.base.StoreAdapter` over Medusa's admin API.

Medusa keeps no vendor, compare-at price or "archived" status, so they live in metadata: the product's
``metadata.vendor`` and ``metadata.backoffice_status`` ("archived", with Medusa's status "draft"), the
variant's ``metadata.compare_at_price`` (a decimal string). Amounts are major units in Medusa 2 (as in the
back-office). Every variant is made with ``manage_inventory``, so Medusa makes one inventory item per
variant: that item carries the variant's stock levels, one per stock location.

HTTP: one keep-alive :class:`httpx.Client` with the secret key as HTTP Basic user name. Reads, and writes
that set absolute values, are sent again after network errors and 5xx with exponential backoff and
jitter; creations are not (a resumed push finds what a lost answer made by handle, SKU or reference). A
429 waits for ``Retry-After``; a rate-limit budget at 0 waits for its reset before the next call. Waiting
more than :data:`MAX_WAIT` seconds in all raises :class:`RateLimited`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import httpx

from backoffice import __version__
from backoffice.connectors.base import (
    CallObserver, Capabilities, FulfilmentPush, Health, PricePush, ProductPush, PushOutcome, RateLimited,
    StockLevel, StockOutcome, StockSet, StoreError, StoreLocation, StoreOrder, StoreOrderLine, StoreProduct,
    StoreUnavailable, StoreVariant, VariantPush,
)

__all__ = ["MedusaAdapter"]

MAX_WAIT = 60.0               # seconds a call may spend waiting for rate limits and backoff in all
BACKOFF = 0.5                 # seconds before the first retry, doubled each time
MAX_BACKOFF = 8.0
ID_CHUNK = 100                # ids or SKUs per filtered GET (URLs stay under about 4 KB)
_PUSHED_FIELDS = "id,handle,*variants,*variants.inventory_items"   # what a push reads back

ARCHIVED = "archived"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_STATUS_TO_MEDUSA = {"active": "published", "draft": "draft", ARCHIVED: "draft"}
_PAYMENT_STATUS = {
    "not_paid": "pending", "awaiting": "pending", "requires_action": "pending",
    "authorized": "authorised", "partially_authorized": "authorised", "partially_captured": "authorised",
    "captured": "paid", "partially_refunded": "partially_refunded", "refunded": "refunded",
    "canceled": "cancelled",
}
_ORDER_STATUS = {"pending": "open", "requires_action": "open", "draft": "open", "completed": "completed",
                 "archived": "completed", "canceled": "cancelled"}

_PRODUCT_FIELDS = ("id,handle,title,status,description,metadata,updated_at,*type,*tags,*options,"
                   "*options.values,*variants,*variants.options,*variants.options.option,*variants.prices,"
                   "*variants.inventory_items")
_VARIANT_FIELDS = ("id,product_id,sku,title,barcode,metadata,updated_at,*options,*options.option,*prices,"
                   "*inventory_items")
_ORDER_FIELDS = ("id,display_id,status,payment_status,email,currency_code,created_at,updated_at,*items,"
                 "items.detail.fulfilled_quantity,*shipping_address,*customer")


class _Failed(StoreError):
    """A request answered with ``status`` (0: no answer)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _Unavailable(StoreUnavailable):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _decimal(value: Any) -> Decimal | None:  # noqa: ANN401 - JSON
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _text(value: Decimal | None) -> str:
    """A decimal for metadata; "" (which removes the key in Medusa's metadata merge) for None."""
    return str(value) if value is not None else ""


def _money(value: Decimal) -> float | int:
    """A Decimal as the JSON number Medusa's validators take (exact for cents)."""
    return int(value) if value == value.to_integral_value() else float(value)


def _time(value: Any) -> dt.datetime | None:  # noqa: ANN401 - JSON
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from ``Retry-After`` (seconds or an HTTP date), None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def _budget_pause(response: httpx.Response) -> float:
    """Seconds to wait before the next call when a rate-limit budget header says none is left."""
    remaining = response.headers.get("ratelimit-remaining") or response.headers.get("x-ratelimit-remaining")
    if remaining is None:
        return 0.0
    try:
        if int(float(remaining)) > 0:
            return 0.0
    except ValueError:
        return 0.0
    reset = response.headers.get("ratelimit-reset") or response.headers.get("x-ratelimit-reset")
    try:
        seconds = float(reset) if reset is not None else 1.0
    except ValueError:
        return 1.0
    if seconds > 1e9:                       # an epoch time, not a delay
        seconds -= time.time()
    return max(0.0, seconds)


def _own_failure(exc: StoreError) -> str:
    """The message of a failure that belongs to the items of the call (a refusal, or a 500: Medusa's
    workflows roll back and answer 500 for some bad input); the store being unreachable, overloaded or
    rate limited is raised again, for the engine to stop the run."""
    if isinstance(exc, StoreUnavailable) and getattr(exc, "status", 0) != 500:
        raise exc
    return str(exc)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("message") or body.get("type") or body)[:500]
    return str(body)[:300]


class MedusaAdapter:
    """A Medusa 2.x store, through its admin API with a secret API key. Settings: ``currency`` (default
    "eur"), ``sales_channel_id`` (new products join it), ``shipping_profile_id`` (default: the store's
    default profile, so storefront carts can ship the products)."""

    kind = "medusa"
    capabilities = Capabilities(batch_size=100, stock_batch_size=500, stock_deltas=False, stock_compare=True)

    def __init__(self, url: str, api_key: str, settings: dict | None = None, *,
                 observer: CallObserver | None = None, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None, max_retries: int = 5) -> None:
        settings = dict(settings or {})
        self.currency = str(settings.get("currency") or "eur").lower()
        self.sales_channel_id: str | None = settings.get("sales_channel_id") or None
        self._shipping_profile_id: str | None = settings.get("shipping_profile_id") or None
        self.max_retries = max_retries
        self.backoff = BACKOFF
        self.max_wait = MAX_WAIT
        self.observer = observer       # told of every call (the engine sets its log here)
        self._sleep: Callable[[float], None] = time.sleep
        self._pause_until = 0.0
        self._type_ids: dict[str, str] = {}
        self._tag_ids: dict[str, str] = {}
        self._client = httpx.Client(
            base_url=url.rstrip("/"), auth=httpx.BasicAuth(api_key, ""), timeout=timeout, transport=transport,
            headers={"User-Agent": f"backoffice/{__version__}", "Accept": "application/json"},
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=4))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> MedusaAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP ------------------------------------------------------------------------------------------------
    def _request(self, method: str, template: str, *ids: str, params: Any = None,  # noqa: ANN401
                 body: Any = None, retry: bool | None = None, attempts: int | None = None) -> dict[str, Any]:
        """One call to ``template`` with ``{id}`` replaced by ``ids`` in turn; the JSON answer (decimals as
        Decimal). ``retry``: send again after network errors and 5xx (default: GET only)."""
        parts = iter(ids)
        path = re.sub(r"\{id\}", lambda _: quote(next(parts), safe=""), template)
        retry = method == "GET" if retry is None else retry
        tries = 1 + (self.max_retries if attempts is None else max(0, attempts - 1))
        content = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        waited = 0.0
        delay = self.backoff
        last = ""
        for attempt in range(tries):
            pause = self._pause_until - time.monotonic()
            if pause > 0:
                if waited + pause > self.max_wait:
                    raise RateLimited(f"{method} {path}: the store's rate limit needs a {pause:.0f} s wait", pause)
                self._sleep(pause)
                waited += pause
            started = time.monotonic()
            try:
                response = self._client.request(method, path, params=params, content=content, headers=headers)
            except httpx.TransportError as exc:
                self._observe(method, template, 0, started)
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if not retry or attempt == tries - 1:
                    raise _Unavailable(f"{method} {path}: the store does not answer ({last})", 0) from exc
            else:
                self._observe(method, template, response.status_code, started)
                budget = _budget_pause(response)
                if budget:
                    self._pause_until = time.monotonic() + budget
                status = response.status_code
                if status < 400:
                    if not response.content or "json" not in response.headers.get("content-type", "json"):
                        return {"text": response.text}
                    try:
                        return json.loads(response.content, parse_float=Decimal)
                    except ValueError as exc:
                        raise _Failed(f"{method} {path}: the store answered something not JSON", status) from exc
                if status == 429:
                    wait = _retry_after(response)
                    wait = max(wait if wait is not None else delay, budget)
                    if waited + wait > self.max_wait or attempt == tries - 1:
                        raise RateLimited(f"{method} {path}: rate limited by the store (retry after {wait:.0f} s)",
                                          wait)
                    self._sleep(wait)
                    waited += wait
                    delay = min(delay * 2, MAX_BACKOFF)
                    continue
                last = f"HTTP {status} {_message(response)}"
                if status < 500:
                    raise _Failed(f"{method} {path}: HTTP {status}: {_message(response)}", status)
                if not retry or attempt == tries - 1:
                    raise _Unavailable(f"{method} {path}: the store failed ({last})", status)
            wait = delay * (0.5 + random.random() / 2)
            if waited + wait > self.max_wait:
                break
            self._sleep(wait)
            waited += wait
            delay = min(delay * 2, MAX_BACKOFF)
        raise _Unavailable(f"{method} {path}: the store keeps failing ({last})", 0)

    def _observe(self, method: str, template: str, status: int, started: float) -> None:
        if self.observer is not None:
            self.observer(method, template, status, (time.monotonic() - started) * 1000.0)

    def _get(self, template: str, *ids: str, **params: Any) -> dict[str, Any]:  # noqa: ANN401
        return self._request("GET", template, *ids, params=params)

    def _list(self, template: str, key: str, params: dict[str, Any], page_size: int = 100) -> list[dict[str, Any]]:
        """Every row of a list endpoint (offset paging)."""
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            body = self._get(template, **params, limit=page_size, offset=offset)
            page = body.get(key) or []
            rows.extend(page)
            offset += len(page)
            if not page or offset >= int(body.get("count", 0)):
                return rows

    def _changed(self, template: str, key: str, fields: str, updated_after: dt.datetime | None,
                 page_size: int) -> Iterator[list[dict[str, Any]]]:
        """Rows ordered by updated_at, oldest first, strictly after ``updated_after``, paged by keyset on
        updated_at (a row changed while paging moves to the end and is read there, not skipped).

        Medusa orders by one field only, and rows written in one transaction share their updated_at to
        the microsecond (a batch of products), so offsets among equal times are not stable. The API shows
        times truncated to the millisecond: when a page ends inside a millisecond, that whole millisecond
        is read on its own, ordered by id, and the keyset goes on from the next one."""
        page_size = max(1, page_size)
        low: tuple[str, dt.datetime] | None = ("$gt", updated_after) if updated_after else None
        while True:
            params: dict[str, Any] = {"fields": fields, "order": "updated_at", "limit": page_size}
            if low is not None:
                params[f"updated_at[{low[0]}]"] = _iso(low[1])
            page = self._get(template, **params).get(key) or []
            if len(page) < page_size:
                if page:
                    yield page
                return
            last = str(page[-1].get("updated_at"))
            head = [row for row in page if row.get("updated_at") != last]
            if head:
                yield head
            bucket = _time(last)
            if bucket is None:
                return
            following = bucket + dt.timedelta(milliseconds=1)
            bottom = low if low is not None and low[1] >= bucket else ("$gte", bucket)
            offset = 0
            while True:
                rows = self._get(template, fields=fields, order="id", limit=page_size, offset=offset, **{
                    f"updated_at[{bottom[0]}]": _iso(bottom[1]), "updated_at[$lt]": _iso(following)}).get(key) or []
                if rows:
                    yield rows
                offset += len(rows)
                if len(rows) < page_size:
                    break
            low = ("$gte", following)

    # -- health and locations -------------------------------------------------------------------------------
    def health(self) -> Health:
        started = time.monotonic()
        try:
            self._request("GET", "/health", attempts=1)
            self._request("GET", "/admin/stock-locations", params={"limit": 1, "fields": "id"}, attempts=1)
        except StoreError as exc:
            text = str(exc)
            if getattr(exc, "status", None) == 401:
                text = f"the API key was refused: {text}"
            return Health(False, latency_ms=(time.monotonic() - started) * 1000.0, message=text)
        except Exception as exc:  # noqa: BLE001 - health never raises
            return Health(False, latency_ms=(time.monotonic() - started) * 1000.0,
                          message=f"{type(exc).__name__}: {exc}")
        return Health(True, latency_ms=(time.monotonic() - started) * 1000.0)

    def locations(self) -> list[StoreLocation]:
        rows = self._list("/admin/stock-locations", "stock_locations", {"fields": "id,name"})
        return [StoreLocation(str(row["id"]), str(row.get("name") or "")) for row in rows]

    # -- catalog ----------------------------------------------------------------------------------------------
    def _our_price(self, prices: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
        """The variant's plain price in the connection's currency (no rules, no quantity tiers)."""
        for price in prices or ():
            if str(price.get("currency_code", "")).lower() == self.currency and not price.get("rules") \
                    and price.get("min_quantity") is None and price.get("max_quantity") is None:
                return price
        return None

    def _variant(self, row: dict[str, Any], product_id: str | None = None) -> StoreVariant:
        price = self._our_price(row.get("prices") or [])
        metadata = row.get("metadata") or {}
        inventory = row.get("inventory_items") or []
        options = {}
        for value in row.get("options") or []:
            option = value.get("option") or {}
            if option.get("title") is not None:
                options[str(option["title"])] = str(value.get("value"))
        return StoreVariant(
            id=str(row["id"]), product_id=str(product_id or row.get("product_id") or ""), sku=str(row.get("sku") or ""),
            title=str(row.get("title") or ""), options=options,
            price=_decimal(price["amount"]) if price else None,
            compare_at_price=_decimal(metadata.get("compare_at_price")), barcode=row.get("barcode") or None,
            inventory_item_id=str(inventory[0]["inventory_item_id"]) if inventory else None,
            updated_at=_time(row.get("updated_at")))

    def _product(self, row: dict[str, Any]) -> StoreProduct:
        metadata = row.get("metadata") or {}
        if metadata.get("backoffice_status") == ARCHIVED:
            status = ARCHIVED
        else:
            status = "active" if row.get("status") == "published" else "draft"
        variants = tuple(self._variant(v, row["id"]) for v in row.get("variants") or [])
        times = [_time(row.get("updated_at")), *(v.updated_at for v in variants)]
        return StoreProduct(
            id=str(row["id"]), handle=str(row.get("handle") or ""), title=str(row.get("title") or ""), status=status,
            description=str(row.get("description") or ""), vendor=str(metadata.get("vendor") or ""),
            product_type=str((row.get("type") or {}).get("value") or ""),
            tags=tuple(sorted(str(t["value"]) for t in row.get("tags") or [])),
            variants=variants, updated_at=max((t for t in times if t is not None), default=None))

    def products(self, *, updated_after: dt.datetime | None = None,
                 page_size: int = 100) -> Iterator[list[StoreProduct]]:
        """Medusa leaves a product's updated_at alone when only its variants change (prices, SKUs,
        barcodes, compare-at prices), so with ``updated_after`` a second pass reads the products of the
        variants changed since then; a product's ``updated_at`` is the latest of its own and its variants'."""
        seen: set[str] = set()
        for rows in self._changed("/admin/products", "products", _PRODUCT_FIELDS, updated_after, page_size):
            seen.update(str(row["id"]) for row in rows)
            yield [self._product(row) for row in rows]
        if updated_after is None:
            return
        for rows in self._changed("/admin/product-variants", "variants", "id,product_id,updated_at", updated_after,
                                  page_size):
            ids = [i for i in dict.fromkeys(str(row.get("product_id")) for row in rows) if i not in seen]
            if ids:
                seen.update(ids)
                products = [self._product(row) for row in self._products_by("id", ids, _PRODUCT_FIELDS)]
                yield sorted(products, key=lambda p: p.updated_at or _EPOCH)

    def variants_by_sku(self, skus: Sequence[str]) -> dict[str, StoreVariant]:
        found: dict[str, StoreVariant] = {}
        wanted = sorted({s for s in skus if s})
        for chunk in _chunks(wanted, ID_CHUNK):
            params = {"sku[]": list(chunk), "fields": _VARIANT_FIELDS}
            for row in self._list("/admin/product-variants", "variants", params):
                if row.get("sku"):
                    found[str(row["sku"])] = self._variant(row)
        return found

    def _product_ids_by_sku(self, skus: Sequence[str]) -> dict[str, str]:
        """sku -> the store's product id, reading only those two fields (the lookup before a create)."""
        found: dict[str, str] = {}
        for chunk in _chunks(sorted({s for s in skus if s}), ID_CHUNK):
            params = {"sku[]": list(chunk), "fields": "id,sku,product_id"}
            for row in self._list("/admin/product-variants", "variants", params):
                if row.get("sku") and row.get("product_id"):
                    found[str(row["sku"])] = str(row["product_id"])
        return found

    def _products_by(self, key: str, values: Sequence[str], fields: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for chunk in _chunks(sorted(set(values)), ID_CHUNK):
            rows += self._list("/admin/products", "products", {f"{key}[]": list(chunk), "fields": fields})
        return rows

    def _shipping_profile(self) -> str | None:
        if self._shipping_profile_id is None:
            rows = self._get("/admin/shipping-profiles", type="default", limit=1, fields="id").get("shipping_profiles")
            if not rows:
                rows = self._get("/admin/shipping-profiles", limit=1, fields="id").get("shipping_profiles")
            self._shipping_profile_id = str(rows[0]["id"]) if rows else ""
        return self._shipping_profile_id or None

    def _ensure_values(self, kind: str, cache: dict[str, str], values: set[str]) -> None:
        """Ids of product types or tags with these values, made when missing."""
        missing = sorted(v for v in values if v and v not in cache)
        if not missing:
            return
        route, key = f"/admin/product-{kind}s", f"product_{kind}s"
        for chunk in _chunks(missing, ID_CHUNK):
            for row in self._list(route, key, {"value[]": list(chunk), "fields": "id,value"}):
                cache[str(row["value"])] = str(row["id"])
        for value in missing:
            if value not in cache:
                made = self._request("POST", route, body={"value": value})
                cache[value] = str(made[f"product_{kind}"]["id"])

    def _product_fields(self, item: ProductPush) -> dict[str, Any]:
        """The product-level fields of a create or update (not options, variants, channels)."""
        return {
            "title": item.title, "handle": item.handle, "description": item.description,
            "status": _STATUS_TO_MEDUSA.get(item.status, "draft"),
            "type_id": self._type_ids[item.product_type] if item.product_type else None,
            "tags": [{"id": self._tag_ids[t]} for t in dict.fromkeys(item.tags)],
            "metadata": {"vendor": item.vendor or "", "backoffice_status": ARCHIVED if item.status == ARCHIVED else ""},
        }

    def _prices(self, existing: Sequence[dict[str, Any]], amount: Decimal) -> list[dict[str, Any]]:
        """A variant's prices with ours set to ``amount``. Medusa replaces a variant's whole price set with
        the list it is sent, so the other prices (other currencies, tiers, rules) go along by id."""
        ours = self._our_price(existing)
        prices: list[dict[str, Any]] = [{"id": p["id"]} for p in existing if p is not ours]
        price: dict[str, Any] = {"currency_code": self.currency, "amount": _money(amount)}
        if ours is not None:
            price["id"] = ours["id"]
        return [*prices, price]

    def _variant_fields(self, variant: VariantPush, existing_prices: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
        return {
            "title": variant.title, "sku": variant.sku, "barcode": variant.barcode or None,
            "options": dict(variant.options), "prices": self._prices(existing_prices, variant.price),
            "metadata": {"compare_at_price": _text(variant.compare_at_price)},
        }

    def _create_body(self, item: ProductPush) -> dict[str, Any]:
        body = self._product_fields(item)
        body["metadata"] = {k: v for k, v in body["metadata"].items() if v}
        if not body["type_id"]:
            del body["type_id"]
        body["options"] = [{"title": name, "values": list(values)} for name, values in item.options.items()]
        variants = []
        for variant in item.variants:
            fields = self._variant_fields(variant)
            fields["metadata"] = {k: v for k, v in fields["metadata"].items() if v}
            variants.append(fields | {"manage_inventory": True})
        body["variants"] = variants
        if self.sales_channel_id:
            body["sales_channels"] = [{"id": self.sales_channel_id}]
        profile = self._shipping_profile()
        if profile:
            body["shipping_profile_id"] = profile
        return body

    def push_products(self, items: Sequence[ProductPush]) -> list[PushOutcome]:
        outcomes: list[PushOutcome] = []
        for chunk in _chunks(list(items), self.capabilities.batch_size):
            outcomes += self._push_product_chunk(chunk)
        return outcomes

    def _push_product_chunk(self, items: Sequence[ProductPush]) -> list[PushOutcome]:
        # Where each item goes: an existing product (its own id, or found by handle or SKU) or a new one.
        target: list[str | None] = [item.store_id for item in items]
        matched = [False] * len(items)
        known = {row["id"]: row for row in self._products_by("id", [i for i in target if i], _PRODUCT_FIELDS)}
        for n, product_id in enumerate(target):
            if product_id and product_id not in known:
                target[n] = None                # deleted in the store: made again
        lookups = [n for n, product_id in enumerate(target) if product_id is None]
        if lookups:
            by_handle = {row["handle"]: row["id"] for row in
                         self._products_by("handle", [items[n].handle for n in lookups], "id,handle")}
            by_sku = self._product_ids_by_sku([v.sku for n in lookups for v in items[n].variants])
            for n in lookups:
                found = by_handle.get(items[n].handle) or next(
                    (by_sku[v.sku] for v in items[n].variants if v.sku in by_sku), None)
                if found:
                    target[n], matched[n] = found, True
            more = [target[n] for n in lookups if target[n] and target[n] not in known]
            known |= {row["id"]: row for row in self._products_by("id", more, _PRODUCT_FIELDS)}

        self._ensure_values("type", self._type_ids, {i.product_type for i in items})
        self._ensure_values("tag", self._tag_ids, {t for i in items for t in i.tags})

        errors: dict[int, str] = {}
        answered: dict[str, dict[str, Any]] = {}     # products created, as the batch call answered them
        creates = [n for n, product_id in enumerate(target) if product_id is None]
        updates = [n for n, product_id in enumerate(target) if product_id is not None]
        create_bodies = {n: self._create_body(items[n]) for n in creates}
        update_bodies = {n: self._product_fields(items[n]) | {"id": target[n]} for n in updates}
        try:
            answer = self._request("POST", "/admin/products/batch", params={"fields": _PUSHED_FIELDS},
                                   body={"create": [create_bodies[n] for n in creates],
                                         "update": [update_bodies[n] for n in updates]}, retry=not creates)
            made = {row["handle"]: row["id"] for row in answer.get("created") or []}
            answered = {str(row["id"]): row for row in answer.get("created") or []}
            for n in creates:
                target[n] = made.get(items[n].handle)
                if target[n] is None:
                    errors[n] = f"the store made no product with handle {items[n].handle!r}"
        except StoreError as exc:
            _own_failure(exc)
            for n in creates:               # one at a time: a bad item fails alone
                try:
                    made_one = self._request("POST", "/admin/products", params={"fields": "id"}, body=create_bodies[n],
                                             retry=False)
                    target[n] = str(made_one["product"]["id"])
                except StoreError as one_exc:
                    errors[n] = _own_failure(one_exc)
            for n in updates:
                body = dict(update_bodies[n])
                product_id = body.pop("id")
                try:
                    self._request("POST", "/admin/products/{id}", product_id, params={"fields": "id"}, body=body,
                                  retry=True)
                except StoreError as one_exc:
                    errors[n] = _own_failure(one_exc)

        for n in updates:
            if n not in errors:
                try:
                    self._update_options_and_variants(items[n], known[target[n]])  # type: ignore[index]
                except StoreError as exc:
                    errors[n] = _own_failure(exc)

        done = dict(answered)      # the created ones came back with their variants; the rest are read
        done |= {row["id"]: row for row in self._products_by(
            "id", [p for n, p in enumerate(target) if p and n not in errors and p not in answered], _PUSHED_FIELDS)}
        outcomes = []
        for n, item in enumerate(items):
            product_id = target[n]
            if n in errors or product_id not in done:
                outcomes.append(PushOutcome(item.key, False, store_id=product_id or "", matched=matched[n],
                                            error=errors.get(n, "the product is not in the store after the push")))
                continue
            variant_ids, inventory_ids = {}, {}
            for variant in done[product_id].get("variants") or []:
                sku = variant.get("sku")
                if sku:
                    variant_ids[str(sku)] = str(variant["id"])
                    links = variant.get("inventory_items") or []
                    if links:
                        inventory_ids[str(sku)] = str(links[0]["inventory_item_id"])
            missing = [v.sku for v in item.variants if v.sku not in variant_ids]
            outcomes.append(PushOutcome(item.key, not missing, store_id=product_id, variant_ids=variant_ids,
                                        inventory_item_ids=inventory_ids, matched=matched[n],
                                        error=f"variants missing after the push: {', '.join(missing)}"
                                        if missing else ""))
        return outcomes

    def _update_options_and_variants(self, item: ProductPush, current: dict[str, Any]) -> None:
        """Extend the product's options with new names and values, then update its variants and create
        the new ones (variants not in the push are left alone)."""
        options = {str(o["title"]): {str(v["value"]) for v in o.get("values") or []}
                   for o in current.get("options") or []}
        option_ids = {str(o["title"]): str(o["id"]) for o in current.get("options") or []}
        add = [{"title": name, "values": list(values)} for name, values in item.options.items() if name not in options]
        extend = [{"product_option_id": option_ids[name],
                   "add": [{"value": v} for v in values if v not in options[name]]}
                  for name, values in item.options.items()
                  if name in options and any(v not in options[name] for v in values)]
        if add or extend:
            body: dict[str, Any] = {}
            if add:
                body["add"] = add
            if extend:
                body["update"] = extend
            self._request("POST", "/admin/products/{id}/options/batch", current["id"], params={"fields": "id"},
                          body=body, retry=True)

        existing = {str(v["id"]): v for v in current.get("variants") or []}
        by_sku = {str(v["sku"]): v for v in existing.values() if v.get("sku")}
        create, update = [], []
        for variant in item.variants:
            row = existing.get(variant.store_id or "") or by_sku.get(variant.sku)
            if row is None:
                create.append(self._variant_fields(variant) | {"manage_inventory": True})
                create[-1]["metadata"] = {k: v for k, v in create[-1]["metadata"].items() if v}
            elif self._differs(row, variant):
                update.append(self._variant_fields(variant, row.get("prices") or []) | {"id": row["id"]})
        if create or update:
            self._request("POST", "/admin/products/{id}/variants/batch", current["id"], params={"fields": "id"},
                          body={"create": create, "update": update}, retry=not create)

    def _differs(self, row: dict[str, Any], variant: VariantPush) -> bool:
        """Whether the store's variant differs from the push in anything the push sets."""
        have = self._variant(row)
        return (have.sku, have.title, have.options, have.price, have.compare_at_price, have.barcode) != \
            (variant.sku, variant.title, dict(variant.options), variant.price, variant.compare_at_price,
             variant.barcode or None)

    def push_prices(self, items: Sequence[PricePush]) -> list[PushOutcome]:
        rows = {}
        for chunk in _chunks(sorted({i.variant_id for i in items}), ID_CHUNK):
            for row in self._list("/admin/product-variants", "variants",
                                  {"id[]": list(chunk), "fields": "id,product_id,sku,*prices"}):
                rows[str(row["id"])] = row
        errors: dict[int, str] = {}
        by_product: dict[str, list[int]] = {}
        for n, item in enumerate(items):
            row = rows.get(item.variant_id)
            if row is None:
                errors[n] = f"variant {item.variant_id} ({item.sku}) is not in the store"
            else:
                by_product.setdefault(str(row.get("product_id") or item.product_id), []).append(n)
        for product_id, indexes in by_product.items():
            updates = {}
            for n in indexes:          # the last push of a variant wins
                item = items[n]
                prices = self._prices(rows[item.variant_id].get("prices") or [], item.price)
                updates[item.variant_id] = {"id": item.variant_id, "prices": prices,
                                            "metadata": {"compare_at_price": _text(item.compare_at_price)}}
            try:
                self._request("POST", "/admin/products/{id}/variants/batch", product_id, params={"fields": "id"},
                              body={"update": list(updates.values())}, retry=True)
            except StoreError as exc:
                for n in indexes:
                    errors[n] = _own_failure(exc)
        return [PushOutcome(item.sku, n not in errors, store_id=item.product_id,
                            variant_ids={item.sku: item.variant_id}, error=errors.get(n, ""))
                for n, item in enumerate(items)]

    # -- stock ------------------------------------------------------------------------------------------------
    def _inventory_items(self, ids: Sequence[str] | None, page_size: int) -> Iterator[list[dict[str, Any]]]:
        fields = "id,sku,*location_levels"
        if ids is None:
            offset = 0
            while True:
                body = self._get("/admin/inventory-items", fields=fields, limit=page_size, offset=offset, order="id")
                page = body.get("inventory_items") or []
                if page:
                    yield page
                offset += len(page)
                if not page or offset >= int(body.get("count", 0)):
                    return
        for chunk in _chunks(sorted(set(ids or ())), min(page_size, ID_CHUNK)):
            rows = self._list("/admin/inventory-items", "inventory_items", {"id[]": list(chunk), "fields": fields})
            if rows:
                yield rows

    def stock_levels(self, *, inventory_item_ids: Sequence[str] | None = None,
                     page_size: int = 500) -> Iterator[list[StockLevel]]:
        for rows in self._inventory_items(inventory_item_ids, page_size):
            levels = [StockLevel(inventory_item_id=str(row["id"]), location_id=str(level["location_id"]),
                                 sku=str(row.get("sku") or ""), on_hand=int(level.get("stocked_quantity") or 0),
                                 reserved=int(level.get("reserved_quantity") or 0),
                                 updated_at=_time(level.get("updated_at")))
                      for row in rows for level in row.get("location_levels") or []]
            if levels:
                yield levels

    def push_stock(self, items: Sequence[StockSet]) -> list[StockOutcome]:
        current: dict[tuple[str, str], int] = {}
        seen_items: set[str] = set()
        for rows in self._inventory_items([i.inventory_item_id for i in items], ID_CHUNK):
            for row in rows:
                seen_items.add(str(row["id"]))
                for level in row.get("location_levels") or []:
                    current[(str(row["id"]), str(level["location_id"]))] = int(level.get("stocked_quantity") or 0)
        outcomes: list[StockOutcome | None] = [None] * len(items)
        create: dict[int, dict[str, Any]] = {}
        update: dict[int, dict[str, Any]] = {}
        for n, item in enumerate(items):
            if item.inventory_item_id not in seen_items:
                outcomes[n] = StockOutcome(item.sku, item.location_id, "error",
                                           error=f"inventory item {item.inventory_item_id} is not in the store")
                continue
            found = current.get((item.inventory_item_id, item.location_id))
            row = {"inventory_item_id": item.inventory_item_id, "location_id": item.location_id,
                   "stocked_quantity": max(0, item.quantity)}
            if found is None and item.expected is None:
                create[n] = row
            elif found is not None and (found == item.quantity or found == item.expected):
                if found == item.quantity:
                    outcomes[n] = StockOutcome(item.sku, item.location_id, "set", found=found)
                else:
                    update[n] = row
            else:
                outcomes[n] = StockOutcome(item.sku, item.location_id, "conflict", found=found)
        if create or update:
            try:
                self._request("POST", "/admin/inventory-items/location-levels/batch",
                              body={"create": list(create.values()), "update": list(update.values())}, retry=True)
                for n in (*create, *update):
                    written = (create.get(n) or update[n])["stocked_quantity"]
                    outcomes[n] = StockOutcome(items[n].sku, items[n].location_id, "set", found=written)
            except StoreError as exc:
                _own_failure(exc)
                for n, row in create.items():
                    outcomes[n] = self._set_level(items[n], row, create=True)
                for n, row in update.items():
                    outcomes[n] = self._set_level(items[n], row, create=False)
        return [o for o in outcomes if o is not None]

    def _set_level(self, item: StockSet, row: dict[str, Any], *, create: bool) -> StockOutcome:
        try:
            if create:
                self._request("POST", "/admin/inventory-items/{id}/location-levels", item.inventory_item_id,
                              params={"fields": "id"},
                              body={"location_id": item.location_id, "stocked_quantity": row["stocked_quantity"]},
                              retry=False)
            else:
                self._request("POST", "/admin/inventory-items/{id}/location-levels/{id}", item.inventory_item_id,
                              item.location_id, params={"fields": "id"},
                              body={"stocked_quantity": row["stocked_quantity"]}, retry=True)
        except StoreError as exc:
            return StockOutcome(item.sku, item.location_id, "error", error=_own_failure(exc))
        return StockOutcome(item.sku, item.location_id, "set", found=row["stocked_quantity"])

    # -- orders -------------------------------------------------------------------------------------------------
    def _order(self, row: dict[str, Any]) -> StoreOrder:
        lines = []
        for line in row.get("items") or []:
            detail = line.get("detail") or {}
            lines.append(StoreOrderLine(
                id=str(line["id"]), sku=str(line.get("variant_sku") or ""), variant_id=line.get("variant_id") or None,
                quantity=int(Decimal(str(line.get("quantity") or 0))),
                unit_price=_decimal(line.get("unit_price")) or Decimal(0),
                fulfilled=int(Decimal(str(detail.get("fulfilled_quantity") or 0)))))
        address = row.get("shipping_address") or {}
        customer = row.get("customer") or {}
        name = " ".join(p for p in (address.get("first_name"), address.get("last_name")) if p) or \
            " ".join(p for p in (customer.get("first_name"), customer.get("last_name")) if p)
        created = _time(row.get("created_at")) or dt.datetime.now(dt.timezone.utc)
        return StoreOrder(
            id=str(row["id"]), number=str(row.get("display_id") or ""), created_at=created,
            updated_at=_time(row.get("updated_at")) or created,
            status=_ORDER_STATUS.get(str(row.get("status")), "open"),
            payment_status=_PAYMENT_STATUS.get(str(row.get("payment_status")), "pending"),
            currency=str(row.get("currency_code") or "").upper(), lines=tuple(lines),
            email=str(row.get("email") or ""), customer_name=name)

    def orders(self, *, updated_after: dt.datetime | None = None,
               page_size: int = 100) -> Iterator[list[StoreOrder]]:
        for rows in self._changed("/admin/orders", "orders", _ORDER_FIELDS, updated_after, page_size):
            yield [self._order(row) for row in rows]

    def _fulfilment_by_reference(self, order_id: str, reference: str) -> str | None:
        order = self._get("/admin/orders/{id}", order_id, fields="id,*fulfillments")["order"]
        for fulfilment in order.get("fulfillments") or []:
            if (fulfilment.get("metadata") or {}).get("reference") == reference and not fulfilment.get("canceled_at"):
                return str(fulfilment["id"])
        return None

    def push_fulfilment(self, item: FulfilmentPush) -> str:
        existing = self._fulfilment_by_reference(item.order_id, item.reference)
        if existing:
            return existing
        body = {"items": [{"id": line.line_id, "quantity": line.quantity} for line in item.lines],
                "location_id": item.location_id,
                "metadata": {"reference": item.reference, "carrier": item.carrier, "tracking": item.tracking}}
        try:
            self._request("POST", "/admin/orders/{id}/fulfillments", item.order_id, params={"fields": "id"},
                          body=body, retry=False)
        except StoreUnavailable:
            made = self._fulfilment_by_reference(item.order_id, item.reference)   # the answer was lost, not the write
            if made:
                return made
            raise
        made = self._fulfilment_by_reference(item.order_id, item.reference)
        if not made:
            raise StoreError(f"POST /admin/orders/{item.order_id}/fulfillments: no fulfilment with reference "
                             f"{item.reference!r} afterwards")
        return made
