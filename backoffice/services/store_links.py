"""The write path of the store connectors' bookkeeping (backoffice/models/connectors.py): connections and
their settings, location links, id maps, cursors, the push outbox and the sync log.

The sync engine (backoffice/connectors/engine.py) decides what to send and receive; everything it
records goes through here, and everything it changes in the catalog, stock or orders goes through those
areas' own services. Nothing here talks to a store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import (
    Attribute,
    AttributeValue,
    Location,
    Order,
    Product,
    ProductTag,
    Shipment,
    ShipmentLine,
    StockLevel,
    StoreApiCall,
    StoreConnection,
    StoreCursor,
    StoreFulfilmentLink,
    StoreLocationLink,
    StoreOrderLink,
    StoreOutboxEntry,
    StoreProductLink,
    StoreStockLink,
    StoreSyncRun,
    StoreVariantLink,
    Variant,
    VariantOption,
    utcnow,
)
from backoffice.services.base import Actor, ConflictError, NotFound, ValidationError, audit, dialect_insert

__all__ = [
    "DEFAULT_SETTINGS", "ConnectionInfo", "LocationLinkInfo", "OutboxEntryInfo", "RunInfo", "ApiStat",
    "create_connection", "update_connection", "get_connection", "list_connections", "link_location",
    "unlink_location", "location_links", "delete_connection",
]

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,59}$")
KINDS = ("medusa",)
# Direction rules and tuning, shown and edited in the settings. Catalog and prices flow back-office ->
# store, orders store -> back-office (fulfilments back), stock from the locations the back-office owns.
DEFAULT_SETTINGS: dict[str, Any] = {
    "push_catalog": True,        # products, variants, options (a changeset applied or reverted here)
    "push_prices": True,
    "push_stock": True,          # on hand at owned, linked locations
    "pull_orders": True,         # store orders placed here, reserved by the order service
    "push_fulfilments": True,    # our shipments of store orders recorded on the store's order
    "overlap_seconds": 600,      # timestamp pulls start this much before the cursor (late commits)
    "currency": "EUR",
    "order_prefix": "",          # order numbers here: prefix + the store's number (default: NAME-)
    "channel": "",               # the sales channel of pulled orders here (default: the connection's name)
    "orders_since": "",          # the first pull takes orders updated after this ISO time (default: when
                                 # the store was connected: its past orders were handled before)
}
BOOLEAN_SETTINGS = ("push_catalog", "push_prices", "push_stock", "pull_orders", "push_fulfilments")


# -- connections -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LocationLinkInfo:
    location_id: int
    code: str
    name: str
    store_location_id: str
    owned: bool


@dataclass(frozen=True)
class RunInfo:
    id: int
    kind: str
    direction: str
    dry_run: bool
    state: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    summary: dict[str, Any]
    error: str
    calls: int = 0
    errors: int = 0
    mean_ms: float = 0.0


@dataclass(frozen=True)
class ConnectionInfo:
    id: int
    name: str
    kind: str
    url: str
    active: bool
    settings: dict[str, Any]
    version: int
    locations: list[LocationLinkInfo] = field(default_factory=list)
    linked_variants: int = 0
    pending: int = 0            # outbox entries waiting
    failed: int = 0             # outbox entries failed or in conflict
    last_run: RunInfo | None = None
    last_ok_at: dt.datetime | None = None


def _clean_settings(kind: str, settings: dict[str, Any] | None, base: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    problems: list[tuple[str, str, str]] = []
    for key, value in (settings or {}).items():
        if key in BOOLEAN_SETTINGS:
            if not isinstance(value, bool):
                problems.append(("settings", key, f"must be true or false, not {value!r}"))
                continue
        elif key == "overlap_seconds":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 86_400:
                problems.append(("settings", key, f"must be whole seconds from 0 to 86400, not {value!r}"))
                continue
        elif key == "orders_since":
            if value:
                try:
                    parsed = dt.datetime.fromisoformat(str(value))
                except ValueError:
                    problems.append(("settings", key, f"{value!r} is not an ISO date or time"))
                    continue
                value = (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)).isoformat()
        elif key == "currency":
            if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value):
                problems.append(("settings", key, f"must be a 3-letter currency code, not {value!r}"))
                continue
            value = value.upper()
        elif not isinstance(value, (str, int, float, bool)) and value is not None:
            problems.append(("settings", key, f"must be a plain value, not {type(value).__name__}"))
            continue
        out[key] = value
    if problems:
        raise ValidationError(problems)
    return out


def create_connection(db: Database, actor: Actor, *, name: str, kind: str, url: str,
                      settings: dict[str, Any] | None = None, operation_id: str | None = None) -> int:
    """A store to sync with; its API key goes to the keyring (the caller's), never here."""
    problems = []
    if not NAME.match(name or ""):
        problems.append(("connection", "name", "1-60 letters, digits, '.', '_' or '-', starting with a letter or digit"))
    if kind not in KINDS:
        problems.append(("connection", "kind", f"{kind!r} is not a store kind this version knows ({', '.join(KINDS)})"))
    if not re.match(r"^https?://[^\s/]+", url or ""):
        problems.append(("connection", "url", f"{url!r} is not an http(s) URL"))
    if problems:
        raise ValidationError(problems)
    clean = _clean_settings(kind, settings, DEFAULT_SETTINGS)

    def write(session: Session) -> int:
        if session.scalar(select(StoreConnection.id).where(StoreConnection.name == name)) is not None:
            raise ValidationError([("connection", "name", f"a store named {name} is connected already")])
        row = StoreConnection(name=name, kind=kind, url=url.rstrip("/"), settings=clean, active=True)
        session.add(row)
        session.flush()
        audit(session, actor, "store_connection", row.id, "create", None,
              {"name": name, "kind": kind, "url": row.url, "settings": clean}, operation_id)
        return row.id

    return db.run_write(write)


def update_connection(db: Database, actor: Actor, name: str, *, url: str | None = None,
                      settings: dict[str, Any] | None = None, active: bool | None = None,
                      expected_version: int | None = None, operation_id: str | None = None) -> None:
    def write(session: Session) -> None:
        row = _connection(session, name)
        if expected_version is not None and row.version != expected_version:
            raise ConflictError(f"the store {name} was changed by someone else (version {row.version}, "
                                f"you read {expected_version})")
        before = {"url": row.url, "settings": dict(row.settings), "active": row.active}
        if url is not None:
            if not re.match(r"^https?://[^\s/]+", url):
                raise ValidationError([("connection", "url", f"{url!r} is not an http(s) URL")])
            row.url = url.rstrip("/")
        if settings is not None:
            row.settings = _clean_settings(row.kind, settings, dict(row.settings))
        if active is not None:
            row.active = active
        session.flush()
        audit(session, actor, "store_connection", row.id, "update", before,
              {"url": row.url, "settings": dict(row.settings), "active": row.active}, operation_id)

    db.run_write(write)


def delete_connection(db: Database, actor: Actor, name: str, *, operation_id: str | None = None) -> None:
    """Forget a store: its links, cursors, outbox and log (nothing in the catalog, stock or orders)."""
    def write(session: Session) -> None:
        row = _connection(session, name)
        audit(session, actor, "store_connection", row.id, "delete", {"name": row.name, "url": row.url}, None,
              operation_id)
        session.delete(row)

    db.run_write(write)


def _connection(session: Session, name: str) -> StoreConnection:
    row = session.scalar(select(StoreConnection).where(StoreConnection.name == name))
    if row is None:
        names = list(session.scalars(select(StoreConnection.name).order_by(StoreConnection.name)))
        raise NotFound(f"no store named {name!r} is connected"
                       + (f" (there are: {', '.join(names)})" if names else " (add one with `backoffice store add`)"))
    return row


def connection_row(db: Database, name: str) -> dict[str, Any]:
    with db.read() as session:
        row = _connection(session, name)
        return {"id": row.id, "name": row.name, "kind": row.kind, "url": row.url, "active": row.active,
                "settings": {**DEFAULT_SETTINGS, **row.settings}, "version": row.version, "created_at": row.created_at}


def _run_info(run: StoreSyncRun, stats: tuple[int, int, float] | None = None) -> RunInfo:
    calls, errors, mean = stats or (0, 0, 0.0)
    return RunInfo(id=run.id, kind=run.kind, direction=run.direction, dry_run=run.dry_run, state=run.state,
                   started_at=run.started_at, finished_at=run.finished_at, summary=dict(run.summary or {}),
                   error=run.error, calls=calls, errors=errors, mean_ms=round(mean, 1))


def _run_stats(session: Session, run_ids: Sequence[int]) -> dict[int, tuple[int, int, float]]:
    if not run_ids:
        return {}
    failed = (StoreApiCall.status >= 400) | (StoreApiCall.status == 0)
    rows = session.execute(
        select(StoreApiCall.run_id, func.count(), func.count().filter(failed), func.avg(StoreApiCall.elapsed_ms))
        .where(StoreApiCall.run_id.in_(list(run_ids))).group_by(StoreApiCall.run_id))
    return {r[0]: (int(r[1]), int(r[2] or 0), float(r[3] or 0.0)) for r in rows}


def get_connection(db: Database, name: str) -> ConnectionInfo:
    with db.read() as session:
        row = _connection(session, name)
        return _info(session, row)


def list_connections(db: Database) -> list[ConnectionInfo]:
    with db.read() as session:
        return [_info(session, row) for row in session.scalars(select(StoreConnection).order_by(StoreConnection.name))]


def _info(session: Session, row: StoreConnection) -> ConnectionInfo:
    links = [LocationLinkInfo(location_id=l.location_id, code=code, name=lname, store_location_id=l.store_location_id,
                              owned=l.owned)
             for l, code, lname in session.execute(
                 select(StoreLocationLink, Location.code, Location.name)
                 .join(Location, Location.id == StoreLocationLink.location_id)
                 .where(StoreLocationLink.connection_id == row.id).order_by(Location.code))]
    counts = dict(session.execute(select(StoreOutboxEntry.state, func.count())
                                  .where(StoreOutboxEntry.connection_id == row.id,
                                         StoreOutboxEntry.state != "done")
                                  .group_by(StoreOutboxEntry.state)).all())
    last = session.scalar(select(StoreSyncRun).where(StoreSyncRun.connection_id == row.id)
                          .order_by(StoreSyncRun.id.desc()).limit(1))
    last_ok = session.scalar(select(func.max(StoreSyncRun.finished_at)).where(
        StoreSyncRun.connection_id == row.id, StoreSyncRun.state == "ok", StoreSyncRun.dry_run.is_(False)))
    linked = session.scalar(select(func.count()).select_from(StoreVariantLink)
                            .where(StoreVariantLink.connection_id == row.id)) or 0
    return ConnectionInfo(
        id=row.id, name=row.name, kind=row.kind, url=row.url, active=row.active,
        settings={**DEFAULT_SETTINGS, **row.settings}, version=row.version, locations=links, linked_variants=int(linked),
        pending=int(counts.get("pending", 0) + counts.get("sending", 0)),
        failed=int(counts.get("failed", 0) + counts.get("conflict", 0)),
        last_run=None if last is None else _run_info(last, _run_stats(session, [last.id]).get(last.id)),
        last_ok_at=last_ok)


def link_location(db: Database, actor: Actor, name: str, *, location_code: str, store_location_id: str,
                  owned: bool = True, operation_id: str | None = None) -> None:
    """Map one of our locations to a stock location of the store (replacing its previous link)."""
    if not store_location_id or len(store_location_id) > 100:
        raise ValidationError([("location", "store_location_id", "the store's stock location id is required")])

    def write(session: Session) -> None:
        conn = _connection(session, name)
        location = session.scalar(select(Location).where(func.lower(Location.code) == location_code.lower()))
        if location is None:
            raise NotFound(f"no location with the code {location_code!r}")
        if getattr(location.kind, "value", location.kind) not in ("warehouse", "store"):
            raise ValidationError([("location", "code", f"{location.code} is not a warehouse or a store: only "
                                    "those hold stock a store can sell")])
        other = session.scalar(select(StoreLocationLink).where(
            StoreLocationLink.connection_id == conn.id, StoreLocationLink.store_location_id == store_location_id,
            StoreLocationLink.location_id != location.id))
        if other is not None:
            raise ValidationError([("location", "store_location_id",
                                    f"{store_location_id} is linked to another location already")])
        existing = session.get(StoreLocationLink, (conn.id, location.id))
        before = None if existing is None else {"store_location_id": existing.store_location_id, "owned": existing.owned}
        if existing is None:
            session.add(StoreLocationLink(connection_id=conn.id, location_id=location.id,
                                          store_location_id=store_location_id, owned=owned))
        else:
            if existing.store_location_id != store_location_id:
                session.execute(delete(StoreStockLink).where(StoreStockLink.connection_id == conn.id,
                                                             StoreStockLink.location_id == location.id))
            existing.store_location_id, existing.owned = store_location_id, owned
        audit(session, actor, "store_connection", conn.id, "link_location", before,
              {"location": location.code, "store_location_id": store_location_id, "owned": owned}, operation_id)

    db.run_write(write)


def unlink_location(db: Database, actor: Actor, name: str, *, location_code: str,
                    operation_id: str | None = None) -> None:
    def write(session: Session) -> None:
        conn = _connection(session, name)
        location = session.scalar(select(Location).where(func.lower(Location.code) == location_code.lower()))
        link = None if location is None else session.get(StoreLocationLink, (conn.id, location.id))
        if link is None:
            raise NotFound(f"{location_code} is not linked to a location of {name}")
        session.execute(delete(StoreStockLink).where(StoreStockLink.connection_id == conn.id,
                                                     StoreStockLink.location_id == link.location_id))
        audit(session, actor, "store_connection", conn.id, "unlink_location",
              {"location": location.code, "store_location_id": link.store_location_id}, None, operation_id)
        session.delete(link)

    db.run_write(write)


def location_links(db: Database, connection_id: int) -> list[LocationLinkInfo]:
    with db.read() as session:
        return [LocationLinkInfo(location_id=l.location_id, code=code, name=lname,
                                 store_location_id=l.store_location_id, owned=l.owned)
                for l, code, lname in session.execute(
                    select(StoreLocationLink, Location.code, Location.name)
                    .join(Location, Location.id == StoreLocationLink.location_id)
                    .where(StoreLocationLink.connection_id == connection_id).order_by(Location.code))]


# -- cursors ------------------------------------------------------------------------------------------------------
def get_cursor(db: Database, connection_id: int, entity: str) -> str | None:
    with db.read() as session:
        return session.scalar(select(StoreCursor.position).where(StoreCursor.connection_id == connection_id,
                                                                 StoreCursor.entity == entity))


def cursors(db: Database, connection_id: int) -> dict[str, str]:
    with db.read() as session:
        return dict(session.execute(select(StoreCursor.entity, StoreCursor.position)
                                    .where(StoreCursor.connection_id == connection_id)).all())


def _set_cursor(session: Session, connection_id: int, entity: str, position: str) -> None:
    row = session.get(StoreCursor, (connection_id, entity))
    if row is None:
        session.add(StoreCursor(connection_id=connection_id, entity=entity, position=position, updated_at=utcnow()))
    else:
        row.position, row.updated_at = position, utcnow()


def set_cursor(db: Database, connection_id: int, entity: str, position: str) -> None:
    db.run_write(lambda session: _set_cursor(session, connection_id, entity, position))


# -- the catalog as a store should show it --------------------------------------------------------------------------
def product_documents(db: Database, product_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Each product with its tags, options and variants (options by attribute name, in attribute order)."""
    out: dict[int, dict[str, Any]] = {}
    if not product_ids:
        return out
    ids = sorted(set(int(i) for i in product_ids))
    with db.read() as session:
        for chunk in _chunks(ids, 2000):
            for p in session.execute(select(Product.id, Product.handle, Product.title, Product.status,
                                            Product.description, Product.vendor, Product.product_type)
                                     .where(Product.id.in_(chunk))):
                out[p.id] = {"id": p.id, "handle": p.handle, "title": p.title,
                             "status": getattr(p.status, "value", p.status), "description": p.description or "",
                             "vendor": p.vendor or "", "product_type": p.product_type or "", "tags": [],
                             "variants": []}
            for pid, tag in session.execute(select(ProductTag.product_id, ProductTag.tag)
                                            .where(ProductTag.product_id.in_(chunk)).order_by(ProductTag.tag)):
                if pid in out:
                    out[pid]["tags"].append(tag)
            variants: dict[int, dict[str, Any]] = {}
            for v in session.execute(select(Variant.id, Variant.product_id, Variant.sku, Variant.title, Variant.price,
                                            Variant.compare_at_price, Variant.barcode, Variant.position)
                                     .where(Variant.product_id.in_(chunk))
                                     .order_by(Variant.product_id, Variant.position, Variant.id)):
                doc = {"id": v.id, "sku": v.sku, "title": v.title or "", "price": v.price,
                       "compare_at_price": v.compare_at_price, "barcode": v.barcode, "options": {}}
                variants[v.id] = doc
                if v.product_id in out:
                    out[v.product_id]["variants"].append(doc)
            if variants:
                for vid, name, value in session.execute(
                        select(VariantOption.variant_id, Attribute.name, AttributeValue.value)
                        .join(Attribute, Attribute.id == VariantOption.attribute_id)
                        .join(AttributeValue, AttributeValue.id == VariantOption.attribute_value_id)
                        .where(VariantOption.variant_id.in_(list(variants)))
                        .order_by(VariantOption.variant_id, Attribute.position, Attribute.id)):
                    variants[vid]["options"][name] = value
    return out


def _chunks(values: Sequence[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(values), size):
        yield list(values[start:start + size])


def catalog_hash(doc: dict[str, Any]) -> str:
    """What a product push depends on but prices (those are compared per variant): equal hashes, nothing to send."""
    body = {k: doc[k] for k in ("handle", "title", "status", "description", "vendor", "product_type", "tags")}
    body["variants"] = [{k: v[k] for k in ("sku", "title", "barcode", "options")} for v in doc["variants"]]
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def product_links(db: Database, connection_id: int, product_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """product id -> (store product id, pushed hash)."""
    out: dict[int, tuple[str, str]] = {}
    with db.read() as session:
        for chunk in _chunks(sorted(set(product_ids)), 5000):
            for pid, sid, h in session.execute(select(StoreProductLink.product_id, StoreProductLink.store_product_id,
                                                      StoreProductLink.pushed_hash)
                                               .where(StoreProductLink.connection_id == connection_id,
                                                      StoreProductLink.product_id.in_(chunk))):
                out[pid] = (sid, h)
    return out


@dataclass(frozen=True)
class VariantLinkRow:
    variant_id: int
    sku: str
    store_variant_id: str
    store_product_id: str
    inventory_item_id: str | None
    pushed_price: Decimal | None
    pushed_compare_at: Decimal | None


def variant_links(db: Database, connection_id: int, variant_ids: Sequence[int] | None = None) -> dict[int, VariantLinkRow]:
    out: dict[int, VariantLinkRow] = {}
    cols = (StoreVariantLink.variant_id, StoreVariantLink.sku, StoreVariantLink.store_variant_id,
            StoreVariantLink.store_product_id, StoreVariantLink.inventory_item_id, StoreVariantLink.pushed_price,
            StoreVariantLink.pushed_compare_at)
    with db.read() as session:
        if variant_ids is None:
            rows = session.execute(select(*cols).where(StoreVariantLink.connection_id == connection_id)).all()
        else:
            rows = []
            for chunk in _chunks(sorted(set(variant_ids)), 5000):
                rows.extend(session.execute(select(*cols).where(StoreVariantLink.connection_id == connection_id,
                                                                StoreVariantLink.variant_id.in_(chunk))).all())
    for r in rows:
        out[r[0]] = VariantLinkRow(*r)
    return out


def save_product_links(db: Database, connection_id: int, products: Sequence[tuple[int, str, str]],
                       variants: Sequence[tuple[int, str, str, str, str | None, Decimal | None, Decimal | None]]) -> None:
    """Record pushed products ((product id, store id, hash)) and variants ((variant id, sku, store variant
    id, store product id, inventory item id, price, compare-at)) in one transaction."""
    def write(session: Session) -> None:
        now = utcnow()
        if products:
            ins = dialect_insert(session)(StoreProductLink)
            stmt = ins.on_conflict_do_update(
                index_elements=["connection_id", "product_id"],
                set_={"store_product_id": ins.excluded.store_product_id, "pushed_hash": ins.excluded.pushed_hash,
                      "pushed_at": ins.excluded.pushed_at})
            session.execute(stmt, [{"connection_id": connection_id, "product_id": pid, "store_product_id": sid,
                                    "pushed_hash": h, "pushed_at": now} for pid, sid, h in products])
        if variants:
            ins = dialect_insert(session)(StoreVariantLink)
            stmt = ins.on_conflict_do_update(
                index_elements=["connection_id", "variant_id"],
                set_={"sku": ins.excluded.sku, "store_variant_id": ins.excluded.store_variant_id,
                      "store_product_id": ins.excluded.store_product_id,
                      "inventory_item_id": func.coalesce(ins.excluded.inventory_item_id,
                                                         StoreVariantLink.inventory_item_id),
                      "pushed_price": ins.excluded.pushed_price, "pushed_compare_at": ins.excluded.pushed_compare_at})
            session.execute(stmt, [{"connection_id": connection_id, "variant_id": vid, "sku": sku,
                                    "store_variant_id": svid, "store_product_id": spid, "inventory_item_id": inv,
                                    "pushed_price": price, "pushed_compare_at": cap}
                                   for vid, sku, svid, spid, inv, price, cap in variants])

    db.run_write(write)


def save_pushed_prices(db: Database, connection_id: int, prices: Sequence[tuple[int, Decimal, Decimal | None]]) -> None:
    def write(session: Session) -> None:      # one executemany by primary key
        session.execute(update(StoreVariantLink), [
            {"connection_id": connection_id, "variant_id": vid, "pushed_price": price, "pushed_compare_at": cap}
            for vid, price, cap in prices])

    if prices:
        db.run_write(write)


def variants_by_sku(db: Database, skus: Sequence[str]) -> dict[str, tuple[int, int]]:
    """sku -> (variant id, product id) for the SKUs known here."""
    out: dict[str, tuple[int, int]] = {}
    with db.read() as session:
        for chunk in _chunks(sorted(set(skus)), 2000):
            for sku, vid, pid in session.execute(select(Variant.sku, Variant.id, Variant.product_id)
                                                 .where(Variant.sku.in_(chunk))):
                out[sku] = (vid, pid)
    return out


# -- stock ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StockRow:
    variant_id: int
    sku: str
    location_id: int
    location_code: str
    inventory_item_id: str
    store_location_id: str
    on_hand: int
    expected: int | None          # what the store held when we last wrote or read it (None: never)


def stock_rows(db: Database, connection_id: int, *, only_different: bool) -> list[StockRow]:
    """Our on hand for every linked variant at every owned, linked location, with the store quantity we
    last saw there; ``only_different``: the pairs whose quantity differs from that (what to push)."""
    sql = select(StoreVariantLink.variant_id, StoreVariantLink.sku, StoreLocationLink.location_id, Location.code,
                 StoreVariantLink.inventory_item_id, StoreLocationLink.store_location_id,
                 func.coalesce(StockLevel.on_hand, 0), StoreStockLink.store_quantity) \
        .select_from(StoreVariantLink) \
        .join(StoreLocationLink, and_(StoreLocationLink.connection_id == StoreVariantLink.connection_id,
                                      StoreLocationLink.owned.is_(True))) \
        .join(Location, Location.id == StoreLocationLink.location_id) \
        .outerjoin(StockLevel, and_(StockLevel.variant_id == StoreVariantLink.variant_id,
                                    StockLevel.location_id == StoreLocationLink.location_id)) \
        .outerjoin(StoreStockLink, and_(StoreStockLink.connection_id == StoreVariantLink.connection_id,
                                        StoreStockLink.variant_id == StoreVariantLink.variant_id,
                                        StoreStockLink.location_id == StoreLocationLink.location_id)) \
        .where(StoreVariantLink.connection_id == connection_id, StoreVariantLink.inventory_item_id.is_not(None)) \
        .order_by(StoreVariantLink.variant_id, StoreLocationLink.location_id)
    if only_different:
        sql = sql.where((StoreStockLink.store_quantity.is_(None))
                        | (StoreStockLink.store_quantity != func.coalesce(StockLevel.on_hand, 0)))
    with db.read() as session:
        return [StockRow(*r) for r in session.execute(sql)]


def save_stock_links(db: Database, connection_id: int, rows: Sequence[tuple[int, int, int]]) -> None:
    """(variant id, location id, the store's quantity now) for each pair written or read."""
    if not rows:
        return

    def write(session: Session) -> None:
        ins = dialect_insert(session)(StoreStockLink)
        stmt = ins.on_conflict_do_update(index_elements=["connection_id", "variant_id", "location_id"],
                                         set_={"store_quantity": ins.excluded.store_quantity,
                                               "synced_at": ins.excluded.synced_at})
        now = utcnow()
        for chunk in _chunks(list(rows), 2000):
            session.execute(stmt, [{"connection_id": connection_id, "variant_id": v, "location_id": l,
                                    "store_quantity": q, "synced_at": now} for v, l, q in chunk])

    db.run_write(write)


# -- orders ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrderLinkRow:
    store_order_id: str
    order_id: int
    store_updated_at: dt.datetime
    status: str
    payment_status: str
    lines: dict[str, Any]


def order_links(db: Database, connection_id: int, store_order_ids: Sequence[str]) -> dict[str, OrderLinkRow]:
    out: dict[str, OrderLinkRow] = {}
    with db.read() as session:
        for chunk in _chunks(sorted(set(store_order_ids)), 2000):
            for r in session.execute(select(StoreOrderLink.store_order_id, StoreOrderLink.order_id,
                                            StoreOrderLink.store_updated_at, StoreOrderLink.status,
                                            StoreOrderLink.payment_status, StoreOrderLink.lines)
                                     .where(StoreOrderLink.connection_id == connection_id,
                                            StoreOrderLink.store_order_id.in_(chunk))):
                out[r[0]] = OrderLinkRow(*r)
    return out


def save_order_link(db: Database, connection_id: int, *, store_order_id: str, order_id: int,
                    store_updated_at: dt.datetime, status: str, payment_status: str,
                    lines: dict[str, Any] | None = None) -> None:
    def write(session: Session) -> None:
        row = session.get(StoreOrderLink, (connection_id, store_order_id))
        if row is None:
            session.add(StoreOrderLink(connection_id=connection_id, store_order_id=store_order_id, order_id=order_id,
                                       store_updated_at=store_updated_at, status=status, payment_status=payment_status,
                                       lines=lines or {}))
        else:
            row.store_updated_at, row.status, row.payment_status = store_updated_at, status, payment_status
            if lines is not None:
                row.lines = lines

    db.run_write(write)


def order_line_ids(db: Database, order_id: int) -> list[tuple[int, int]]:
    """(order line id, variant id) of an order, in line order."""
    from backoffice.models import OrderLine
    with db.read() as session:
        return [(r[0], r[1]) for r in session.execute(select(OrderLine.id, OrderLine.variant_id)
                                                      .where(OrderLine.order_id == order_id).order_by(OrderLine.id))]


@dataclass(frozen=True)
class ShipmentToPush:
    shipment_id: int
    number: str
    order_id: int
    location_id: int
    carrier: str
    tracking: str
    store_order_id: str
    order_lines: dict[str, Any]        # our order line id (text) -> store line id
    lines: tuple[tuple[int, int], ...]  # (our order line id, units)


def shipments_to_push(db: Database, connection_id: int, limit: int = 1000) -> list[ShipmentToPush]:
    with db.read() as session:
        heads = session.execute(
            select(Shipment.id, Shipment.number, Shipment.order_id, Shipment.location_id, Shipment.carrier,
                   Shipment.tracking, StoreOrderLink.store_order_id, StoreOrderLink.lines)
            .join(StoreOrderLink, and_(StoreOrderLink.order_id == Shipment.order_id,
                                       StoreOrderLink.connection_id == connection_id))
            .outerjoin(StoreFulfilmentLink, and_(StoreFulfilmentLink.shipment_id == Shipment.id,
                                                 StoreFulfilmentLink.connection_id == connection_id))
            .where(StoreFulfilmentLink.shipment_id.is_(None)).order_by(Shipment.id).limit(limit)).all()
        lines: dict[int, list[tuple[int, int]]] = {}
        if heads:
            for sid, olid, qty in session.execute(select(ShipmentLine.shipment_id, ShipmentLine.order_line_id,
                                                         ShipmentLine.quantity)
                                                  .where(ShipmentLine.shipment_id.in_([h[0] for h in heads]))
                                                  .order_by(ShipmentLine.id)):
                lines.setdefault(sid, []).append((olid, qty))
    return [ShipmentToPush(h[0], h[1], h[2], h[3], h[4] or "", h[5] or "", h[6], dict(h[7] or {}),
                           tuple(lines.get(h[0], []))) for h in heads]


def save_fulfilment_link(db: Database, connection_id: int, shipment_id: int, store_fulfilment_id: str) -> None:
    def write(session: Session) -> None:
        if session.get(StoreFulfilmentLink, (connection_id, shipment_id)) is None:
            session.add(StoreFulfilmentLink(connection_id=connection_id, shipment_id=shipment_id,
                                            store_fulfilment_id=store_fulfilment_id, pushed_at=utcnow()))

    db.run_write(write)


def order_state(db: Database, order_id: int) -> tuple[str, str]:
    with db.read() as session:
        state, status = session.execute(select(Order.state, Order.status).where(Order.id == order_id)).one()
    return getattr(state, "value", state), status


# -- the outbox -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutboxEntryInfo:
    id: int
    kind: str
    ref: str
    state: str
    attempts: int
    last_error: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    idem_key: str
    payload: dict[str, Any]


def _entry(row: StoreOutboxEntry) -> OutboxEntryInfo:
    return OutboxEntryInfo(id=row.id, kind=row.kind, ref=row.ref, state=row.state, attempts=row.attempts,
                           last_error=row.last_error, created_at=row.created_at, sent_at=row.sent_at,
                           idem_key=row.idem_key, payload=dict(row.payload))


def enqueue(db: Database, connection_id: int, entries: Sequence[tuple[str, str, dict[str, Any]]]) -> int:
    """Plan pushes ((kind, ref, payload)). An entry still waiting for the same kind and ref is replaced by
    the newer payload (it was never acknowledged, so only the newest matters); each new entry gets its own
    idempotency key, kept for every retry. Returns the number of entries waiting afterwards."""
    def write(session: Session) -> int:
        waiting = {(k, r): i for i, k, r in session.execute(
            select(StoreOutboxEntry.id, StoreOutboxEntry.kind, StoreOutboxEntry.ref)
            .where(StoreOutboxEntry.connection_id == connection_id,
                   StoreOutboxEntry.state.in_(("pending", "failed", "conflict"))))}
        now = utcnow()
        for kind, ref, payload in entries:
            existing = waiting.get((kind, ref))
            if existing is not None:
                session.execute(update(StoreOutboxEntry).where(StoreOutboxEntry.id == existing)
                                .values(payload=payload, state="pending", last_error=""))
            else:
                session.add(StoreOutboxEntry(connection_id=connection_id, kind=kind, ref=ref, payload=payload,
                                             idem_key=uuid.uuid4().hex, state="pending", created_at=now))
        session.flush()
        return int(session.scalar(select(func.count()).select_from(StoreOutboxEntry).where(
            StoreOutboxEntry.connection_id == connection_id, StoreOutboxEntry.state.in_(("pending", "sending")))) or 0)

    return db.run_write(write)


def waiting_entries(db: Database, connection_id: int, kind: str, limit: int) -> list[OutboxEntryInfo]:
    """The oldest entries of ``kind`` to send: pending, and those left ``sending`` by a run that stopped
    (sent again: the adapter matches what already arrived)."""
    with db.read() as session:
        return [_entry(r) for r in session.scalars(
            select(StoreOutboxEntry).where(StoreOutboxEntry.connection_id == connection_id,
                                           StoreOutboxEntry.kind == kind,
                                           StoreOutboxEntry.state.in_(("pending", "sending")))
            .order_by(StoreOutboxEntry.id).limit(limit))]


def mark_sending(db: Database, ids: Sequence[int]) -> None:
    if ids:
        db.run_write(lambda s: s.execute(update(StoreOutboxEntry).where(StoreOutboxEntry.id.in_(list(ids)))
                                         .values(state="sending", attempts=StoreOutboxEntry.attempts + 1)))


def mark_entries(db: Database, results: Sequence[tuple[int, str, str]]) -> None:
    """(entry id, new state, error) for each entry sent."""
    def write(session: Session) -> None:      # one executemany by primary key for the sent, one for the rest
        now = utcnow()
        done = [{"id": i, "state": st, "last_error": err[:4000], "sent_at": now} for i, st, err in results if st == "done"]
        rest = [{"id": i, "state": st, "last_error": err[:4000]} for i, st, err in results if st != "done"]
        for rows in (done, rest):
            if rows:
                session.execute(update(StoreOutboxEntry), rows)

    if results:
        db.run_write(write)


def outbox_entries(db: Database, connection_id: int, *, states: Sequence[str] | None = None,
                   limit: int = 200) -> list[OutboxEntryInfo]:
    with db.read() as session:
        sql = select(StoreOutboxEntry).where(StoreOutboxEntry.connection_id == connection_id)
        if states:
            sql = sql.where(StoreOutboxEntry.state.in_(list(states)))
        return [_entry(r) for r in session.scalars(sql.order_by(StoreOutboxEntry.id.desc()).limit(limit))]


def retry_entries(db: Database, actor: Actor, connection_id: int, ids: Sequence[int] | None,
                  *, discard: bool = False, operation_id: str | None = None) -> int:
    """Send failed entries again (or drop them with ``discard``); None: all failed ones. The number changed."""
    def write(session: Session) -> int:
        sql = update(StoreOutboxEntry).where(StoreOutboxEntry.connection_id == connection_id,
                                             StoreOutboxEntry.state.in_(("failed", "conflict")))
        if ids is not None:
            sql = sql.where(StoreOutboxEntry.id.in_(list(ids)))
        changed = session.execute(sql.values(state="done" if discard else "pending",
                                             last_error="discarded" if discard else "")).rowcount
        audit(session, actor, "store_connection", connection_id, "discard_outbox" if discard else "retry_outbox",
              None, {"entries": changed}, operation_id)
        return int(changed or 0)

    return db.run_write(write)


# -- the log ------------------------------------------------------------------------------------------------------------
def start_run(db: Database, actor: Actor, connection_id: int, *, kind: str, direction: str, dry_run: bool) -> int:
    def write(session: Session) -> int:
        run = StoreSyncRun(connection_id=connection_id, kind=kind, direction=direction, dry_run=dry_run,
                           state="running", started_at=utcnow(), summary={}, user_id=actor.user_id)
        session.add(run)
        session.flush()
        return run.id

    return db.run_write(write)


def finish_run(db: Database, actor: Actor, run_id: int, *, state: str, summary: dict[str, Any], error: str = "",
               calls: Sequence[tuple[dt.datetime, str, str, int, float]] = ()) -> None:
    """Close a run with its summary and the API calls it made ((at, method, endpoint, status, ms))."""
    def write(session: Session) -> None:
        run = session.get(StoreSyncRun, run_id)
        if run is None:
            raise NotFound(f"sync run {run_id}")
        run.state, run.summary, run.error, run.finished_at = state, summary, error[:4000], utcnow()
        if calls:
            session.execute(StoreApiCall.__table__.insert(), [
                {"connection_id": run.connection_id, "run_id": run_id, "at": at, "method": m, "endpoint": e[:200],
                 "status": s, "elapsed_ms": ms} for at, m, e, s, ms in calls])
        if not run.dry_run:
            audit(session, actor, "store_connection", run.connection_id, f"{run.kind}_{state}", None,
                  {"run": run_id, "direction": run.direction,
                   **{k: v for k, v in summary.items() if isinstance(v, (int, str))}}, None)

    db.run_write(write)


def list_runs(db: Database, connection_id: int, limit: int = 50) -> list[RunInfo]:
    with db.read() as session:
        runs = list(session.scalars(select(StoreSyncRun).where(StoreSyncRun.connection_id == connection_id)
                                    .order_by(StoreSyncRun.id.desc()).limit(limit)))
        stats = _run_stats(session, [r.id for r in runs])
        return [_run_info(r, stats.get(r.id)) for r in runs]


@dataclass(frozen=True)
class ApiStat:
    """The store API's calls of one endpoint (or of every endpoint: ``endpoint`` "*") over a period."""
    endpoint: str
    method: str
    calls: int
    errors: int
    error_rate: float
    mean_ms: float
    p95_ms: float
    max_ms: float


def api_stats(db: Database, connection_id: int, *, since: dt.datetime) -> list[ApiStat]:
    """Per endpoint since ``since``, the busiest first, with the whole ("*") first of all."""
    with db.read() as session:
        rows = session.execute(select(StoreApiCall.method, StoreApiCall.endpoint, StoreApiCall.status,
                                      StoreApiCall.elapsed_ms)
                               .where(StoreApiCall.connection_id == connection_id, StoreApiCall.at >= since)).all()
    groups: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for m, e, s, ms in rows:
        groups.setdefault((m, e), []).append((s, ms))
        groups.setdefault(("*", "*"), []).append((s, ms))
    out = []
    for (m, e), items in groups.items():
        times = sorted(ms for _, ms in items)
        errors = sum(1 for s, _ in items if s == 0 or s >= 400)
        out.append(ApiStat(endpoint=e, method=m, calls=len(items), errors=errors,
                           error_rate=round(errors / len(items), 4), mean_ms=round(sum(times) / len(times), 1),
                           p95_ms=round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
                           max_ms=round(times[-1], 1)))
    out.sort(key=lambda s: (s.endpoint != "*", -s.calls))
    return out


def response_times(db: Database, connection_id: int, *, since: dt.datetime) -> list[tuple[dt.datetime, float, int]]:
    """(when, ms, status) of each call since ``since``, oldest first (the panel's chart)."""
    with db.read() as session:
        return [(r[0], float(r[1]), int(r[2])) for r in session.execute(
            select(StoreApiCall.at, StoreApiCall.elapsed_ms, StoreApiCall.status)
            .where(StoreApiCall.connection_id == connection_id, StoreApiCall.at >= since)
            .order_by(StoreApiCall.at).limit(20_000))]
