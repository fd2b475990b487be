"""What a store adapter implements: the only store-specific part of syncing with a store.

The sync engine (:mod:`backoffice.connectors.engine`) knows nothing of any one store. It talks to an
adapter through :class:`StoreAdapter` with the plain values below: SKUs and the store's own ids (strings),
quantities as ints, money as :class:`~decimal.Decimal` in major units (12.50, not 1250), times as aware
UTC datetimes. An adapter

- never writes to the back-office database and keeps no state between calls but its HTTP client;
- raises :class:`StoreError` (or a subclass) for anything the store refused or could not do, with the
  store's message; :class:`StoreUnavailable` when the store cannot be reached or keeps failing (the
  engine stops the run and tries again next time); :class:`RateLimited` is handled inside the adapter's
  client (it waits and retries) and only escapes when the wait would be unreasonable;
- reports each HTTP call it makes to the ``observer`` given to it (:class:`CallObserver`), so the sync log
  shows the store API's response times and error rates;
- is safe to call again with the same input after a crash: creating a product whose SKUs already exist in
  the store answers the existing ids instead of making a second copy (:meth:`StoreAdapter.push_products`),
  and a fulfilment carries the back-office shipment's number as a reference that is looked up first
  (:meth:`StoreAdapter.push_fulfilment`).

See ``docs/connectors.md`` for how to write one and how the engine uses each method.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, runtime_checkable

__all__ = [
    "Capabilities", "CallObserver", "FulfilmentLine", "FulfilmentPush", "Health", "PricePush", "ProductPush",
    "PushOutcome", "RateLimited", "StockLevel", "StockOutcome", "StockSet", "StoreAdapter", "StoreError",
    "StoreLocation", "StoreOrder", "StoreOrderLine", "StoreProduct", "StoreUnavailable", "StoreVariant",
    "VariantPush",
]


# -- errors --------------------------------------------------------------------------------------------------
class StoreError(Exception):
    """The store refused a request or answered something the adapter cannot use; the message says which
    request and the store's own words."""


class StoreUnavailable(StoreError):
    """The store cannot be reached, or answered 5xx after the adapter's retries."""


class RateLimited(StoreUnavailable):
    """The store's rate limit would need a longer wait than the adapter allows (``retry_after`` s)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# -- observing calls -------------------------------------------------------------------------------------------
class CallObserver(Protocol):
    def __call__(self, method: str, endpoint: str, status: int, elapsed_ms: float, /) -> None:
        """One HTTP call made: ``endpoint`` is the route with ids replaced by ``{id}`` (so calls group),
        ``status`` 0 when no answer came (network error)."""


# -- what the store holds ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    version: str = ""          # the store's version when it tells it
    latency_ms: float = 0.0
    message: str = ""          # why not ok


@dataclass(frozen=True, slots=True)
class Capabilities:
    batch_size: int = 100           # products or prices per batch call the engine sends at most
    stock_batch_size: int = 100     # stock levels per push_stock call (levels are small: more per call)
    stock_deltas: bool = False      # push_stock may take deltas with an idempotency reference
    stock_compare: bool = True      # push_stock compares with StockSet.expected before writing


@dataclass(frozen=True, slots=True)
class StoreLocation:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class StoreVariant:
    id: str
    product_id: str
    sku: str
    title: str = ""
    options: dict[str, str] = field(default_factory=dict)     # option name -> value
    price: Decimal | None = None                              # in the connection's currency
    compare_at_price: Decimal | None = None
    barcode: str | None = None
    inventory_item_id: str | None = None                      # the store's key for the variant's stock
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class StoreProduct:
    id: str
    handle: str
    title: str
    status: str                      # the back-office's words: "active", "draft" or "archived"
    description: str = ""
    vendor: str = ""
    product_type: str = ""
    tags: tuple[str, ...] = ()
    variants: tuple[StoreVariant, ...] = ()
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class StockLevel:
    inventory_item_id: str
    location_id: str                 # the store's stock location id
    sku: str
    on_hand: int                     # the store's stocked quantity
    reserved: int = 0                # held by the store's own orders
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class StoreOrderLine:
    id: str                          # the store's line id (fulfilments name it)
    sku: str
    variant_id: str | None
    quantity: int
    unit_price: Decimal
    fulfilled: int = 0               # units the store already shows fulfilled


@dataclass(frozen=True, slots=True)
class StoreOrder:
    id: str
    number: str                      # what staff and customers call it (Medusa's display id)
    created_at: dt.datetime
    updated_at: dt.datetime
    status: str                      # "open", "cancelled" or "completed" (the back-office's words)
    payment_status: str              # pending, authorised, paid, partially_refunded, refunded, cancelled
    currency: str                    # ISO 4217, upper case
    lines: tuple[StoreOrderLine, ...]
    email: str = ""
    customer_name: str = ""


# -- what the engine sends -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VariantPush:
    sku: str
    title: str
    options: dict[str, str]
    price: Decimal
    compare_at_price: Decimal | None = None
    barcode: str | None = None
    store_id: str | None = None          # None: create it


@dataclass(frozen=True, slots=True)
class ProductPush:
    """A whole product as the store should show it. With ``store_id`` None it is created (or, when its
    handle or SKUs already exist in the store, matched and updated); otherwise updated: its fields, its
    options, its variants (created when their ``store_id`` is None). Variants of the store product that
    are not in ``variants`` are left alone (never deleted by a push)."""
    key: str                             # the back-office's product id, as text (returned in the outcome)
    handle: str
    title: str
    status: str                          # "active", "draft" or "archived"
    description: str
    vendor: str
    product_type: str
    tags: tuple[str, ...]
    options: dict[str, tuple[str, ...]]  # option name -> every value its variants use, in order
    variants: tuple[VariantPush, ...]
    store_id: str | None = None


@dataclass(frozen=True, slots=True)
class PricePush:
    sku: str
    variant_id: str                      # the store's variant id
    product_id: str                      # the store's product id
    price: Decimal
    compare_at_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class StockSet:
    """Set the store's stocked quantity of an item at a location to ``quantity``, only if it still holds
    ``expected`` (what the engine last wrote or read there; None: the level may not exist yet, create it).
    With ``delta`` and an adapter that has ``stock_deltas``, add ``delta`` under ``reference`` instead."""
    sku: str
    inventory_item_id: str
    location_id: str
    quantity: int
    expected: int | None
    delta: int | None = None
    reference: str = ""


@dataclass(frozen=True, slots=True)
class PushOutcome:
    key: str                             # ProductPush.key, or the SKU for prices
    ok: bool
    store_id: str = ""                   # the product's id in the store
    variant_ids: dict[str, str] = field(default_factory=dict)            # sku -> store variant id
    inventory_item_ids: dict[str, str] = field(default_factory=dict)     # sku -> store inventory item id
    error: str = ""
    matched: bool = False                # it already existed in the store and was matched, not created


@dataclass(frozen=True, slots=True)
class StockOutcome:
    sku: str
    location_id: str
    state: str          # "set": written; "conflict": the store held ``found``, not expected; "error"
    found: int | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class FulfilmentLine:
    line_id: str                         # StoreOrderLine.id
    quantity: int


@dataclass(frozen=True, slots=True)
class FulfilmentPush:
    order_id: str
    location_id: str                     # the store's stock location
    lines: tuple[FulfilmentLine, ...]
    reference: str                       # the back-office shipment number: pushing it twice makes one
    carrier: str = ""
    tracking: str = ""


# -- the adapter -------------------------------------------------------------------------------------------------
@runtime_checkable
class StoreAdapter(Protocol):
    """One store kind. Construct with the store's URL, the secret (API key or token), settings (a dict,
    adapter-specific: currency, sales channel…) and an optional :class:`CallObserver`."""

    kind: str                            # "medusa"
    capabilities: Capabilities

    def health(self) -> Health:
        """Whether the store answers and the key is accepted; never raises."""

    def locations(self) -> list[StoreLocation]:
        """The store's stock locations (for mapping them to the back-office's)."""

    def products(self, *, updated_after: dt.datetime | None = None, page_size: int = 100) -> Iterator[list[StoreProduct]]:
        """The catalog, a page at a time, oldest change first (``updated_after``: only products updated
        strictly after it; the engine subtracts its overlap window and de-duplicates)."""

    def variants_by_sku(self, skus: Sequence[str]) -> dict[str, StoreVariant]:
        """The store's variants with these SKUs (missing ones are absent)."""

    def stock_levels(self, *, inventory_item_ids: Sequence[str] | None = None,
                     page_size: int = 500) -> Iterator[list[StockLevel]]:
        """Every stock level (or those of these items), a page at a time: the reconciliation's snapshot."""

    def orders(self, *, updated_after: dt.datetime | None = None, page_size: int = 100) -> Iterator[list[StoreOrder]]:
        """Orders a page at a time, oldest update first (``updated_after`` strictly after)."""

    def push_products(self, items: Sequence[ProductPush]) -> list[PushOutcome]:
        """Create or update these products (one batch call where the store has one); an outcome per item,
        in order. One bad item is its own failed outcome, not an exception for the batch."""

    def push_prices(self, items: Sequence[PricePush]) -> list[PushOutcome]:
        """Set these variants' prices in the connection's currency; an outcome per item, in order."""

    def push_stock(self, items: Sequence[StockSet]) -> list[StockOutcome]:
        """Read-compare-set (or deltas): never overwrites a level the store changed since ``expected``."""

    def push_fulfilment(self, item: FulfilmentPush) -> str:
        """Record a shipment on the store's order; returns the store's fulfilment id. When a fulfilment
        with this reference exists already, returns its id and creates nothing."""

    def close(self) -> None:
        """Release the HTTP client."""
