"""The sync engine: what to send to a store and what to take from it, for any store adapter.

One run (:meth:`SyncEngine.sync`) goes in this order, each step only when the connection's direction
rules allow it:

1. **Pull orders** (store → back-office). Orders updated after the cursor (a store time) minus the
   overlap window (store timestamps can commit out of order) are read page by page. An order seen for
   the first time is placed here through the order service (its lines matched by SKU, reserved at once;
   the operation id is the store's order id, so it is never placed twice); one seen before is compared
   with what was recorded and its cancellation or payment status applied. Orders already seen at the same
   store time (the overlap) are passed over. The cursor moves to the newest order handled, and never past
   an order that failed (it is tried again next run).
2. **Pull catalog**: the store's products updated after their cursor are matched by SKU. Store variants
   not linked yet are linked (so a store that had the products already gets no second copy); where the
   store shows something else than was pushed (someone edited in the store's admin), the link forgets
   what was pushed, so step 3 sends the back-office's version again: the back-office owns the catalog.
3. **Push catalog and prices** (back-office → store). Products changed since the change-feed cursors
   (every product the first time) are compared with what was last pushed: a product whose fields,
   options or variants differ, or that has variants the store lacks, is planned as a product push; one
   whose only change is prices, as price pushes. Plans go into the outbox (``store_outbox``) and are
   sent in batches; each entry is acknowledged once the store answered and the ids were recorded. An entry
   a killed run left ``sending`` is sent again: the adapter matches products and SKUs that already
   arrived instead of creating them twice.
4. **Push fulfilments**: our shipments of store orders not pushed yet, each with its shipment number
   as the reference the adapter looks up first (pushing twice records one fulfilment).
5. **Push stock** at the locations the back-office owns: on hand where it differs from what the store
   held when we last wrote or read it, as a read-compare-set: a level the store changed since (a sale, a
   correction in its admin) is reported as a conflict and not overwritten; where the store already shows
   our quantity, nothing is written. Pairs with a shipment still to push wait for it (the store takes the
   shipped units off itself when it records the fulfilment).

:meth:`SyncEngine.reconcile` compares the store's whole stock snapshot with ours row by row and, with
``fix``, sets the store to ours where they differ (compared with the value just read).

Each run is logged (``store_sync_runs``) with what it sent and received, its errors, and every API call
with its status and response time (``store_api_calls``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from backoffice.connectors import key_env, open_adapter, read_key
from backoffice.connectors.base import (
    FulfilmentLine,
    FulfilmentPush,
    PricePush,
    ProductPush,
    StockSet,
    StoreAdapter,
    StoreError,
    StoreOrder,
    StoreProduct,
    StoreUnavailable,
    VariantPush,
)
from backoffice.db import Database
from backoffice.services import bundles as bundle_service
from backoffice.services import orders as order_service
from backoffice.services import store_links as links
from backoffice.services.base import Actor, ServiceError, ValidationError
from backoffice.services.change_feed import read_page

log = logging.getLogger(__name__)

__all__ = ["DIRECTIONS", "ReconcileReport", "StockConflict", "StockDifference", "SyncEngine", "SyncReport"]

DIRECTIONS = ("both", "pull", "push")
FEED_PAGE = 5000
MAX_LISTED = 200          # conflicts, differences and errors kept in a report (the counts are whole)

Progress = Callable[[float | None, str | None], None]
Cancel = Callable[[], bool]


# -- reports ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StockConflict:
    sku: str
    location: str
    ours: int
    expected: int | None
    store: int | None


@dataclass(frozen=True)
class StockDifference:
    sku: str
    location: str
    ours: int
    store: int | None            # None: the store has no level there
    fixed: bool = False


@dataclass
class SyncReport:
    connection: str
    direction: str
    dry_run: bool
    run_id: int | None = None
    state: str = "ok"                      # ok, partial (some items failed or it was stopped), failed
    orders_seen: int = 0
    orders_new: int = 0
    orders_updated: int = 0
    orders_failed: int = 0
    store_products_seen: int = 0
    variants_linked: int = 0
    catalog_drift: int = 0
    products_planned: int = 0
    prices_planned: int = 0
    products_created: int = 0
    products_updated: int = 0
    products_matched: int = 0
    products_failed: int = 0
    prices_pushed: int = 0
    prices_failed: int = 0
    fulfilments_pushed: int = 0
    fulfilments_failed: int = 0
    stock_planned: int = 0
    stock_set: int = 0
    stock_in_step: int = 0
    stock_conflicts: list[StockConflict] = field(default_factory=list)
    stock_conflict_count: int = 0
    stock_waiting: int = 0
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    calls: int = 0
    api_errors: int = 0
    mean_ms: float = 0.0
    seconds: float = 0.0
    stopped: bool = False

    def error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED:
            self.errors.append(message)
        log.warning("store sync %s: %s", self.connection, message)

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("connection", "run_id", "state", "dry_run",
                                                                   "direction")}
        out["stock_conflicts"] = out["stock_conflicts"][:50]
        out["errors"] = out["errors"][:50]
        return out


@dataclass
class ReconcileReport:
    connection: str
    fix: bool
    run_id: int | None = None
    state: str = "ok"
    checked: int = 0
    differences: list[StockDifference] = field(default_factory=list)
    difference_count: int = 0
    fixed: int = 0
    missing_in_store: list[str] = field(default_factory=list)    # linked SKUs the store has no stock item for
    errors: list[str] = field(default_factory=list)
    calls: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("connection", "run_id", "state")}
        out["differences"] = out["differences"][:MAX_LISTED]
        out["missing_in_store"] = out["missing_in_store"][:MAX_LISTED]
        return out


# -- recording API calls -------------------------------------------------------------------------------------
class CallLog:
    """The adapter's observer: every call with its time, thread-safe (an adapter may call from a pool)."""

    def __init__(self) -> None:
        self.calls: list[tuple[dt.datetime, str, str, int, float]] = []
        self._lock = threading.Lock()

    def __call__(self, method: str, endpoint: str, status: int, elapsed_ms: float) -> None:
        with self._lock:
            self.calls.append((dt.datetime.now(dt.timezone.utc), method, endpoint, int(status), float(elapsed_ms)))

    def figures(self) -> tuple[int, int, float]:
        with self._lock:
            calls = list(self.calls)
        errors = sum(1 for c in calls if c[3] == 0 or c[3] >= 400)
        mean = sum(c[4] for c in calls) / len(calls) if calls else 0.0
        return len(calls), errors, round(mean, 1)


class Stopped(Exception):
    """The user asked to stop: the run ends after the batch in flight, with what it did recorded."""


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat()


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


# -- the engine ---------------------------------------------------------------------------------------------------
class SyncEngine:
    """Syncs one connected store. ``adapter``: given by tests and benchmarks; otherwise opened from the
    connection's kind, URL and the API key in the keyring (``secrets``: a :class:`SecretStore`)."""

    def __init__(self, db: Database, actor: Actor, connection: str, *, adapter: StoreAdapter | None = None,
                 secrets: Any = None, progress: Progress | None = None, cancel: Cancel | None = None) -> None:
        self.db, self.actor = db, actor
        self.conn = links.connection_row(db, connection)
        self.settings: dict[str, Any] = self.conn["settings"]
        self.calls = CallLog()
        self._drifted: set[int] = set()      # products the store shows otherwise than pushed (pull found them)
        self._new_variants = 0               # variants a product push plans to create (a dry run's stock)
        self._progress = progress
        self._cancel = cancel
        self._own_adapter = adapter is None
        if adapter is None:
            if secrets is None:
                from backoffice.secrets import SecretStore
                secrets = SecretStore()
            key = read_key(connection, secrets)
            if not key:
                raise ValidationError([("store", "api_key",
                                        f"no API key for the store {connection} in this computer's keyring "
                                        f"(nor in {key_env(connection)}): run `backoffice store set-key {connection}`")])
            adapter = open_adapter(self.conn["kind"], self.conn["url"], key, self.settings, observer=self.calls)
        elif hasattr(adapter, "observer"):
            adapter.observer = self.calls           # the log of this run's calls
        self.adapter = adapter

    @property
    def connection_id(self) -> int:
        return int(self.conn["id"])

    def close(self) -> None:
        if self._own_adapter:
            self.adapter.close()

    def __enter__(self) -> SyncEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ------------------------------------------------------------------------------------------------
    def _say(self, fraction: float | None, text: str | None) -> None:
        if self._progress is not None:
            self._progress(fraction, text)

    def _check_cancel(self) -> None:
        if self._cancel is not None and self._cancel():
            raise Stopped()

    def _observer_figures(self) -> tuple[int, int, float]:
        return self.calls.figures()

    # -- a run ----------------------------------------------------------------------------------------------------
    def sync(self, *, direction: str = "both", dry_run: bool = False) -> SyncReport:
        if direction not in DIRECTIONS:
            raise ValidationError([("sync", "direction", f"{direction!r} is not one of {', '.join(DIRECTIONS)}")])
        if not self.conn["active"]:
            raise ValidationError([("store", "active", f"the store {self.conn['name']} is paused: "
                                    f"`backoffice store resume {self.conn['name']}` first")])
        report = SyncReport(connection=self.conn["name"], direction=direction, dry_run=dry_run)
        started = time.monotonic()
        run_id = links.start_run(self.db, self.actor, self.connection_id, kind="sync", direction=direction,
                                 dry_run=dry_run)
        report.run_id = run_id
        pull, push = direction in ("both", "pull"), direction in ("both", "push")
        fatal = ""
        try:
            if pull and self.settings.get("pull_orders", True):
                self._say(0.02, "Reading the store's orders…")
                self._pull_orders(report, dry_run)
            if pull:
                self._check_cancel()
                self._say(0.2, "Reading the store's catalog…")
                self._pull_catalog(report, dry_run)
            if push and (self.settings.get("push_catalog", True) or self.settings.get("push_prices", True)):
                self._check_cancel()
                self._say(0.35, "Planning catalog and price changes…")
                self._plan_catalog(report, dry_run)
                if not dry_run:
                    self._send_products(report)
                    self._send_prices(report)
            if push and self.settings.get("push_fulfilments", True):
                self._check_cancel()
                self._say(0.8, "Sending shipments…")
                self._push_fulfilments(report, dry_run)
            if push and self.settings.get("push_stock", True):
                self._check_cancel()
                self._say(0.88, "Sending stock…")
                self._push_stock(report, dry_run)
        except Stopped:
            report.stopped = True
        except StoreUnavailable as exc:
            fatal = str(exc)
            report.error(fatal)
        except StoreError as exc:
            fatal = str(exc)
            report.error(fatal)
        finally:
            report.calls, report.api_errors, report.mean_ms = self._observer_figures()
            report.seconds = round(time.monotonic() - started, 2)
            if fatal:
                report.state = "failed"
            elif report.stopped or report.error_count or report.stock_conflict_count:
                report.state = "partial"
            links.finish_run(self.db, self.actor, run_id, state=report.state, summary=report.summary(),
                             error=fatal, calls=self.calls.calls)
            self._say(1.0, "Done")
        return report

    # -- 1. orders ------------------------------------------------------------------------------------------------
    def _pull_orders(self, report: SyncReport, dry_run: bool) -> None:
        cid = self.connection_id
        cursor = _parse_time(links.get_cursor(self.db, cid, "pull.orders"))
        overlap = dt.timedelta(seconds=int(self.settings.get("overlap_seconds", 600)))
        if cursor is not None:
            since = cursor - overlap
        else:       # the first pull: orders from the setting's time, or from when the store was connected
            since = _parse_time(self.settings.get("orders_since")) or self.conn["created_at"]
        newest_ok: dt.datetime | None = cursor
        oldest_failed: dt.datetime | None = None
        for page in self.adapter.orders(updated_after=since):
            self._check_cancel()
            known = links.order_links(self.db, cid, [o.id for o in page])
            skus = {ln.sku for o in page for ln in o.lines}
            variants = links.variants_by_sku(self.db, list(skus))
            for order in page:
                report.orders_seen += 1
                try:
                    changed = self._take_order(order, known.get(order.id), variants, report, dry_run)
                except (ServiceError, StoreError) as exc:
                    report.orders_failed += 1
                    report.error(f"order {order.number} ({order.id}): {exc}")
                    oldest_failed = order.updated_at if oldest_failed is None else min(oldest_failed, order.updated_at)
                    continue
                if changed is not None and (newest_ok is None or order.updated_at > newest_ok):
                    newest_ok = order.updated_at
        if dry_run or newest_ok is None:
            return
        position = newest_ok if oldest_failed is None else min(newest_ok, oldest_failed - dt.timedelta(microseconds=1))
        if cursor is None or position > cursor:
            links.set_cursor(self.db, cid, "pull.orders", _iso(position))

    def _take_order(self, order: StoreOrder, link: links.OrderLinkRow | None,
                    variants: dict[str, tuple[int, int]], report: SyncReport, dry_run: bool) -> str | None:
        """Place, update or pass over one store order; what was done ("new", "updated", "same")."""
        cid = self.connection_id
        if link is not None and order.updated_at <= link.store_updated_at:
            return "same"                      # seen at this store time already (the overlap window)
        if link is None:
            if order.status == "cancelled":
                return "same"                  # cancelled before it reached us: nothing to reserve
            missing = sorted({ln.sku for ln in order.lines if ln.sku not in variants})
            if missing:
                raise ValidationError([("order", "sku", f"SKUs not in the catalog here: {', '.join(missing)}")])
            if not order.lines:
                raise ValidationError([("order", "lines", "the store's order has no lines")])
            report.orders_new += 1
            if dry_run:
                return "new"
            prefix = self.settings.get("order_prefix") or f"{self.conn['name'].upper()}-"
            channel = (self.settings.get("channel") or self.conn["name"])[:40]
            payment = order.payment_status if order.payment_status in order_service.PAYMENT_STATUSES else "pending"
            op_id = "store-order:" + hashlib.sha256(f"{cid}:{order.id}".encode()).hexdigest()[:40]
            order_id = order_service.place_order(
                self.db, self.actor, lines=[(variants[ln.sku][0], ln.quantity, ln.unit_price) for ln in order.lines],
                number=f"{prefix}{order.number}"[:40], channel=channel, status=payment,
                currency=order.currency.upper(), operation_id=op_id, ordered_at=order.created_at)
            # a bundle's line was placed as its components' lines: those match no store line
            ours = bundle_service.store_line_ids(self.db, order_id, [variants[ln.sku][0] for ln in order.lines])
            line_map = {str(our_id): ln.id for our_id, ln in zip(ours, order.lines) if our_id is not None}
            links.save_order_link(self.db, cid, store_order_id=order.id, order_id=order_id,
                                  store_updated_at=order.updated_at, status=order.status, payment_status=payment,
                                  lines=line_map)
            return "new"
        # seen before: apply a cancellation and the payment status
        report.orders_updated += 1
        if dry_run:
            return "updated"
        if order.status == "cancelled" and link.status != "cancelled":
            state, _ = links.order_state(self.db, link.order_id)
            if state not in ("cancelled", "fulfilled"):
                order_service.cancel(self.db, self.actor, link.order_id, reason="cancelled in the store",
                                     operation_id="store-cancel:" + hashlib.sha256(
                                         f"{cid}:{order.id}".encode()).hexdigest()[:40])
        payment = order.payment_status if order.payment_status in order_service.PAYMENT_STATUSES else link.payment_status
        if payment != link.payment_status:
            order_service.record_payment(self.db, self.actor, link.order_id, status=payment)
        links.save_order_link(self.db, cid, store_order_id=order.id, order_id=link.order_id,
                              store_updated_at=order.updated_at, status=order.status, payment_status=payment)
        return "updated"

    # -- 2. the store's catalog -----------------------------------------------------------------------------------
    def _pull_catalog(self, report: SyncReport, dry_run: bool) -> None:
        cid = self.connection_id
        cursor = _parse_time(links.get_cursor(self.db, cid, "pull.products"))
        overlap = dt.timedelta(seconds=int(self.settings.get("overlap_seconds", 600)))
        since = None if cursor is None else cursor - overlap
        newest = cursor
        for page in self.adapter.products(updated_after=since):
            self._check_cancel()
            report.store_products_seen += len(page)
            self._match_products(page, report, dry_run)
            for p in page:
                if p.updated_at is not None and (newest is None or p.updated_at > newest):
                    newest = p.updated_at
        if not dry_run and newest is not None and (cursor is None or newest > cursor):
            links.set_cursor(self.db, cid, "pull.products", _iso(newest))

    def _match_products(self, page: list[StoreProduct], report: SyncReport, dry_run: bool) -> None:
        cid = self.connection_id
        skus = [v.sku for p in page for v in p.variants if v.sku]
        ours = links.variants_by_sku(self.db, skus)
        if not ours:
            return
        vlinks = links.variant_links(self.db, cid, [vid for vid, _ in ours.values()])
        pids = sorted({pid for _, pid in ours.values()})
        plinks = links.product_links(self.db, cid, pids)
        docs = links.product_documents(self.db, pids)
        new_products: list[tuple[int, str, str]] = []
        new_variants: list[tuple[int, str, str, str, str | None, Decimal | None, Decimal | None]] = []
        for product in page:
            matched = [(v, ours[v.sku]) for v in product.variants if v.sku in ours]
            if not matched:
                continue
            pid = matched[0][1][1]
            doc = docs.get(pid)
            if doc is None:
                continue
            store_hash = links.catalog_hash(_store_doc(product, doc))
            plink = plinks.get(pid)
            if plink is None or plink[0] != product.id or plink[1] != store_hash:
                if plink is not None and plink[1] and plink[1] != store_hash:
                    report.catalog_drift += 1
                    self._drifted.add(pid)
                new_products.append((pid, product.id, store_hash))
            for v, (vid, _) in matched:
                link = vlinks.get(vid)
                if link is None:
                    report.variants_linked += 1
                elif link.store_variant_id == v.id and link.pushed_price == _money(v.price) \
                        and link.pushed_compare_at == _money(v.compare_at_price) and link.inventory_item_id:
                    continue
                elif link.pushed_price is not None and (link.pushed_price != _money(v.price)
                                                        or link.pushed_compare_at != _money(v.compare_at_price)):
                    report.catalog_drift += 1
                    self._drifted.add(pid)
                new_variants.append((vid, v.sku, v.id, product.id, v.inventory_item_id, _money(v.price),
                                     _money(v.compare_at_price)))
        if not dry_run and (new_products or new_variants):
            links.save_product_links(self.db, cid, new_products, new_variants)

    # -- 3. catalog and prices ------------------------------------------------------------------------------------------
    def _changed_products(self, dry_run: bool) -> tuple[set[int], dict[str, str]]:
        """Product ids changed (or whose variants changed) since the push cursors, and the cursors to save."""
        cid = self.connection_id
        ids: set[int] = set()
        ends: dict[str, str] = {}
        for kind, entity, key in (("products", "push.products", "id"), ("variants", "push.variants", "product_id")):
            cursor = links.get_cursor(self.db, cid, entity)
            while True:
                self._check_cancel()
                page = read_page(self.db, kind, cursor, FEED_PAGE)
                for row in page.rows:
                    if not row.get("deleted") and row.get(key) is not None:
                        ids.add(int(row[key]))
                cursor = page.next_cursor
                if not page.has_more:
                    break
            ends[entity] = cursor
        return ids, ends

    def _plan_catalog(self, report: SyncReport, dry_run: bool) -> None:
        cid = self.connection_id
        ids, ends = self._changed_products(dry_run)
        ids |= self._drifted
        push_catalog = bool(self.settings.get("push_catalog", True))
        push_prices = bool(self.settings.get("push_prices", True))
        ordered = sorted(ids)
        for start in range(0, len(ordered), 2000):
            self._check_cancel()
            chunk = ordered[start:start + 2000]
            docs = links.product_documents(self.db, chunk)
            plinks = links.product_links(self.db, cid, chunk)
            vlinks = links.variant_links(self.db, cid, [v["id"] for d in docs.values() for v in d["variants"]])
            entries: list[tuple[str, str, dict[str, Any]]] = []
            for pid in chunk:
                doc = docs.get(pid)
                if doc is None or not doc["variants"]:
                    continue              # deleted, or nothing a store can sell
                plink = plinks.get(pid)
                unlinked = [v for v in doc["variants"] if v["id"] not in vlinks]
                h = links.catalog_hash(doc)
                if push_catalog and (plink is None or plink[1] != h or unlinked):
                    entries.append(("products", f"product:{pid}", _product_payload(doc, h)))
                    self._new_variants += len(unlinked)
                    continue
                if not push_prices or plink is None:
                    continue
                for v in doc["variants"]:
                    link = vlinks.get(v["id"])
                    if link is None:
                        continue
                    if link.pushed_price != _money(v["price"]) or link.pushed_compare_at != _money(v["compare_at_price"]):
                        entries.append(("prices", f"price:{v['id']}", {
                            "variant_id": v["id"], "sku": v["sku"], "price": str(_money(v["price"])),
                            "compare_at_price": None if v["compare_at_price"] is None else str(_money(v["compare_at_price"]))}))
            report.products_planned += sum(1 for e in entries if e[0] == "products")
            report.prices_planned += sum(1 for e in entries if e[0] == "prices")
            if entries and not dry_run:
                links.enqueue(self.db, cid, entries)
        if not dry_run:
            for entity, position in ends.items():
                links.set_cursor(self.db, cid, entity, position)

    def _send_products(self, report: SyncReport) -> None:
        cid = self.connection_id
        size = max(1, int(getattr(self.adapter.capabilities, "batch_size", 100)))
        total = max(1, report.products_planned)
        done = 0
        while True:
            self._check_cancel()
            batch = links.waiting_entries(self.db, cid, "products", size)
            if not batch:
                return
            links.mark_sending(self.db, [e.id for e in batch])
            pids = [int(e.payload["product_id"]) for e in batch]
            plinks = links.product_links(self.db, cid, pids)
            vlinks = links.variant_links(self.db, cid, [v["id"] for e in batch for v in e.payload["variants"]])
            pushes = [_product_push(e.payload, plinks.get(int(e.payload["product_id"])), vlinks) for e in batch]
            outcomes = self.adapter.push_products(pushes)
            if len(outcomes) != len(batch):
                raise StoreError(f"the adapter answered {len(outcomes)} outcomes for {len(batch)} products")
            products, variants, results = [], [], []
            for entry, push, outcome in zip(batch, pushes, outcomes):
                payload = entry.payload
                if not outcome.ok:
                    report.products_failed += 1
                    report.error(f"product {payload['handle']}: {outcome.error}")
                    results.append((entry.id, "failed", outcome.error))
                    continue
                if outcome.matched:
                    report.products_matched += 1
                elif push.store_id is None:
                    report.products_created += 1
                else:
                    report.products_updated += 1
                products.append((int(payload["product_id"]), outcome.store_id, payload["hash"]))
                for v in payload["variants"]:
                    store_vid = outcome.variant_ids.get(v["sku"])
                    if store_vid is None:
                        link = vlinks.get(v["id"])
                        store_vid = None if link is None else link.store_variant_id
                    if store_vid is None:
                        report.error(f"product {payload['handle']}: the store did not answer an id for {v['sku']}")
                        continue
                    variants.append((v["id"], v["sku"], store_vid, outcome.store_id,
                                     outcome.inventory_item_ids.get(v["sku"]), _money(v["price"]),
                                     _money(v["compare_at_price"])))
                results.append((entry.id, "done", ""))
            links.save_product_links(self.db, cid, products, variants)
            links.mark_entries(self.db, results)
            done += len(batch)
            self._say(0.35 + 0.35 * min(1.0, done / total), f"Sent {done:,} of {total:,} products")

    def _send_prices(self, report: SyncReport) -> None:
        cid = self.connection_id
        size = max(1, int(getattr(self.adapter.capabilities, "batch_size", 100)))
        while True:
            self._check_cancel()
            batch = links.waiting_entries(self.db, cid, "prices", size)
            if not batch:
                return
            links.mark_sending(self.db, [e.id for e in batch])
            vlinks = links.variant_links(self.db, cid, [int(e.payload["variant_id"]) for e in batch])
            sendable, results = [], []
            for entry in batch:
                link = vlinks.get(int(entry.payload["variant_id"]))
                if link is None:
                    results.append((entry.id, "failed", "the variant is not linked to the store (push its product)"))
                    report.prices_failed += 1
                    continue
                sendable.append((entry, PricePush(sku=link.sku, variant_id=link.store_variant_id,
                                                  product_id=link.store_product_id,
                                                  price=Decimal(entry.payload["price"]),
                                                  compare_at_price=_money(entry.payload["compare_at_price"]))))
            outcomes = self.adapter.push_prices([p for _, p in sendable]) if sendable else []
            pushed = []
            for (entry, push), outcome in zip(sendable, outcomes):
                if outcome.ok:
                    report.prices_pushed += 1
                    pushed.append((int(entry.payload["variant_id"]), push.price, push.compare_at_price))
                    results.append((entry.id, "done", ""))
                else:
                    report.prices_failed += 1
                    report.error(f"price of {push.sku}: {outcome.error}")
                    results.append((entry.id, "failed", outcome.error))
            links.save_pushed_prices(self.db, cid, pushed)
            links.mark_entries(self.db, results)

    # -- 4. fulfilments ----------------------------------------------------------------------------------------------
    def _push_fulfilments(self, report: SyncReport, dry_run: bool) -> None:
        cid = self.connection_id
        locations = {l.location_id: l for l in links.location_links(self.db, cid)}
        for shipment in links.shipments_to_push(self.db, cid):
            self._check_cancel()
            location = locations.get(shipment.location_id)
            if location is None:
                report.fulfilments_failed += 1
                report.error(f"shipment {shipment.number}: its location is not linked to a stock location of the store")
                continue
            lines = []
            for order_line_id, qty in shipment.lines:
                store_line = shipment.order_lines.get(str(order_line_id))
                if store_line is None:
                    lines = []
                    break
                lines.append(FulfilmentLine(line_id=store_line, quantity=qty))
            if not lines:
                report.fulfilments_failed += 1
                report.error(f"shipment {shipment.number}: a line is not one of the store order's lines")
                continue
            if dry_run:
                report.fulfilments_pushed += 1
                continue
            try:
                store_id = self.adapter.push_fulfilment(FulfilmentPush(
                    order_id=shipment.store_order_id, location_id=location.store_location_id, lines=tuple(lines),
                    reference=shipment.number, carrier=shipment.carrier, tracking=shipment.tracking))
            except StoreUnavailable:
                raise
            except StoreError as exc:
                report.fulfilments_failed += 1
                report.error(f"shipment {shipment.number}: {exc}")
                continue
            links.save_fulfilment_link(self.db, cid, shipment.shipment_id, store_id)
            report.fulfilments_pushed += 1

    # -- 5. stock ---------------------------------------------------------------------------------------------------------
    def _push_stock(self, report: SyncReport, dry_run: bool) -> None:
        cid = self.connection_id
        rows = links.stock_rows(self.db, cid, only_different=True)
        waiting = self._pairs_waiting_for_fulfilment()
        if waiting:
            kept = [r for r in rows if (r.variant_id, r.location_id) not in waiting]
            report.stock_waiting += len(rows) - len(kept)
            rows = kept
        report.stock_planned += len(rows)
        if dry_run:      # and the levels of the variants the product pushes would create
            owned = sum(1 for link in links.location_links(self.db, cid) if link.owned)
            report.stock_planned += self._new_variants * owned
            return
        if not rows:
            return
        self._set_stock(rows, report, use_expected=True)

    def _pairs_waiting_for_fulfilment(self) -> set[tuple[int, int]]:
        pending = links.shipments_to_push(self.db, self.connection_id)
        if not pending:
            return set()
        lines = {ol: v for s in pending for ol, v in links.order_line_ids(self.db, s.order_id)}
        return {(lines[ol], s.location_id) for s in pending for ol, _ in s.lines if ol in lines}

    def _set_stock(self, rows: list[links.StockRow], report: SyncReport | ReconcileReport, *, use_expected: bool,
                   found: dict[tuple[int, int], int | None] | None = None) -> int:
        """Write rows' on hand to the store (read-compare-set against the expected value); the number set."""
        cid = self.connection_id
        caps = self.adapter.capabilities
        size = max(1, int(getattr(caps, "stock_batch_size", 0) or getattr(caps, "batch_size", 100)))
        written = 0
        for start in range(0, len(rows), size):
            self._check_cancel()
            chunk = rows[start:start + size]
            items = [StockSet(sku=r.sku, inventory_item_id=r.inventory_item_id, location_id=r.store_location_id,
                              quantity=r.on_hand,
                              expected=r.expected if use_expected else (found or {}).get((r.variant_id, r.location_id)))
                     for r in chunk]
            outcomes = self.adapter.push_stock(items)
            saved = []
            for row, item, outcome in zip(chunk, items, outcomes):
                if outcome.state == "set" or (outcome.state == "conflict" and outcome.found == item.quantity):
                    saved.append((row.variant_id, row.location_id, item.quantity))
                    if isinstance(report, SyncReport):
                        if outcome.state == "set":
                            report.stock_set += 1
                        else:
                            report.stock_in_step += 1
                    written += 1
                elif outcome.state == "conflict":
                    if isinstance(report, SyncReport):
                        report.stock_conflict_count += 1
                        if len(report.stock_conflicts) < MAX_LISTED:
                            report.stock_conflicts.append(StockConflict(sku=row.sku, location=row.location_code,
                                                                        ours=row.on_hand, expected=item.expected,
                                                                        store=outcome.found))
                    else:
                        report.errors.append(f"{row.sku} at {row.location_code}: changed in the store again "
                                             f"(now {outcome.found}); not overwritten")
                else:
                    if isinstance(report, SyncReport):
                        report.error(f"stock of {row.sku} at {row.location_code}: {outcome.error}")
                    else:
                        report.errors.append(f"{row.sku} at {row.location_code}: {outcome.error}")
            links.save_stock_links(self.db, cid, saved)
            if isinstance(report, SyncReport):
                done = min(len(rows), start + size)
                self._say(0.88 + 0.1 * done / len(rows), f"Stock: {done:,} of {len(rows):,}")
        return written

    # -- reconciliation ------------------------------------------------------------------------------------------------------
    def reconcile(self, *, fix: bool = False) -> ReconcileReport:
        """Our on hand against the store's snapshot at every owned, linked location, row by row; with
        ``fix``, the store is set to ours where they differ (compared with the value just read)."""
        report = ReconcileReport(connection=self.conn["name"], fix=fix)
        started = time.monotonic()
        run_id = links.start_run(self.db, self.actor, self.connection_id, kind="reconcile",
                                 direction="fix" if fix else "check", dry_run=False)
        report.run_id = run_id
        fatal = ""
        try:
            self._say(0.05, "Reading the store's stock…")
            rows = links.stock_rows(self.db, self.connection_id, only_different=False)
            items = sorted({r.inventory_item_id for r in rows})
            snapshot: dict[tuple[str, str], int] = {}
            items_seen: set[str] = set()
            for page in self.adapter.stock_levels(inventory_item_ids=items):
                self._check_cancel()
                for level in page:
                    snapshot[(level.inventory_item_id, level.location_id)] = level.on_hand
                    items_seen.add(level.inventory_item_id)
            same, different, found = [], [], {}
            for r in rows:
                report.checked += 1
                store = snapshot.get((r.inventory_item_id, r.store_location_id))
                found[(r.variant_id, r.location_id)] = store
                if store == r.on_hand:
                    same.append((r.variant_id, r.location_id, store))
                else:
                    different.append(r)
            report.missing_in_store = sorted({r.sku for r in rows if r.inventory_item_id not in items_seen})[:MAX_LISTED]
            links.save_stock_links(self.db, self.connection_id, same)
            report.difference_count = len(different)
            fixed_keys: set[tuple[int, int]] = set()
            if fix and different:
                self._say(0.6, f"Fixing {len(different):,} differences…")
                before = {(r.variant_id, r.location_id) for r in different}
                self._set_stock(different, report, use_expected=False, found=found)
                fixed_rows = links.stock_rows(self.db, self.connection_id, only_different=True)
                still = {(r.variant_id, r.location_id) for r in fixed_rows}
                fixed_keys = before - still
                report.fixed = len(fixed_keys)
            report.differences = [StockDifference(sku=r.sku, location=r.location_code, ours=r.on_hand,
                                                  store=found[(r.variant_id, r.location_id)],
                                                  fixed=(r.variant_id, r.location_id) in fixed_keys)
                                  for r in different[:MAX_LISTED]]
        except Stopped:
            report.errors.append("stopped")
        except StoreError as exc:
            fatal = str(exc)
            report.errors.append(fatal)
        finally:
            report.calls = self._observer_figures()[0]
            report.seconds = round(time.monotonic() - started, 2)
            report.state = "failed" if fatal else ("partial" if report.errors or (report.difference_count
                                                                                   and not fix) else "ok")
            links.finish_run(self.db, self.actor, run_id, state=report.state, summary=report.summary(), error=fatal,
                             calls=self.calls.calls)
            self._say(1.0, "Done")
        return report


# -- payloads ------------------------------------------------------------------------------------------------------------
def _product_payload(doc: dict[str, Any], catalog_hash: str) -> dict[str, Any]:
    return {"product_id": doc["id"], "hash": catalog_hash, "handle": doc["handle"], "title": doc["title"],
            "status": doc["status"], "description": doc["description"], "vendor": doc["vendor"],
            "product_type": doc["product_type"], "tags": list(doc["tags"]),
            "variants": [{"id": v["id"], "sku": v["sku"], "title": v["title"], "options": dict(v["options"]),
                          "price": str(_money(v["price"])),
                          "compare_at_price": None if v["compare_at_price"] is None else str(_money(v["compare_at_price"])),
                          "barcode": v["barcode"]} for v in doc["variants"]]}


def _option_values(variants: Iterable[dict[str, Any]]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for v in variants:
        for name, value in v["options"].items():
            values = out.setdefault(name, [])
            if value not in values:
                values.append(value)
    return {k: tuple(v) for k, v in out.items()}


def _variant_title(v: dict[str, Any]) -> str:
    return v["title"] or " / ".join(v["options"].values()) or v["sku"]


def _product_push(payload: dict[str, Any], plink: tuple[str, str] | None,
                  vlinks: dict[int, links.VariantLinkRow]) -> ProductPush:
    variants = payload["variants"]
    options = _option_values(variants)
    if not options:                      # a store needs at least one option: a single "Default" one
        options = {"Title": ("Default",)}
        variants = [{**v, "options": {"Title": "Default"}} for v in variants]
    return ProductPush(
        key=str(payload["product_id"]), handle=payload["handle"], title=payload["title"], status=payload["status"],
        description=payload["description"], vendor=payload["vendor"], product_type=payload["product_type"],
        tags=tuple(payload["tags"]), options=options, store_id=None if plink is None else plink[0],
        variants=tuple(VariantPush(sku=v["sku"], title=_variant_title(v), options=dict(v["options"]),
                                   price=Decimal(v["price"]), compare_at_price=_money(v["compare_at_price"]),
                                   barcode=v["barcode"],
                                   store_id=None if v["id"] not in vlinks else vlinks[v["id"]].store_variant_id)
                       for v in variants))


def _store_doc(product: StoreProduct, ours: dict[str, Any]) -> dict[str, Any]:
    """The store's product in the shape of ``product_documents`` (for the same catalog hash): variants in
    our order, titles as we would push them, so only a real difference changes the hash."""
    by_sku = {v.sku: v for v in product.variants}
    variants = []
    for v in ours["variants"]:
        sv = by_sku.get(v["sku"])
        if sv is None:
            variants.append({"sku": "", "title": "", "barcode": None, "options": {}})
            continue
        same_title = sv.title == _variant_title(v)
        variants.append({"sku": sv.sku, "title": v["title"] if same_title else sv.title, "barcode": sv.barcode,
                         "options": dict(sv.options) if v["options"] else {}})
    return {"handle": product.handle, "title": product.title, "status": product.status,
            "description": product.description or "", "vendor": product.vendor or "",
            "product_type": product.product_type or "", "tags": sorted(product.tags), "variants": variants}
