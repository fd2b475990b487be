"""The local replica of an API profile: an SQLite file with the application's own schema, kept current
from the store API's change feeds, that the product grid and the stock views read in-process.

Why a replica at all: the grid pages through a million variants, sorts, filters and jumps to the end;
over the network each of those would be a round trip to the server. Kept as a file with the app's own
schema, the same read code as direct mode (``LocalOperations(replica.db, actor).catalog``,
``.stock``) answers them locally, in the same milliseconds as the embedded store.

**What it holds**: products (with tags and their images' thumbnails: the grid's pictures), variants
(with their options), stock levels, and the small lists those reads join to (locations, categories,
attributes and their values, and the open transfers and purchase orders with their lines, which the
stock views sum as "in transit" and "incoming"). Ids and versions are the server's, so a row read
here can be edited through the API with its version as If-Match.

**How it follows the server**: each big kind (products, variants, stock levels) is read from its change
feed (``source.feeds.changes``) after the cursor stored for it, in pages of ``feeds.MAX_LIMIT`` rows; a
replica that never synced starts from the beginning of the feed, which returns every current row once.
Each page is written in one transaction together with the cursor that follows it, so a sync stopped at
any point (cancelled, the network gone, the process killed) leaves a replica that is consistent with
some position of the feed, and the next sync continues from there: no page is lost and none is applied
twice in a way that shows (writes are upserts by id, deletions are idempotent). The small lists are read
whole on every sync and replaced row by row (written when different, deleted when gone), except the
attributes list, which the server answers with per-value counts of variants (seconds on a big store):
it is read again when a variant brings an option the replica does not know, and otherwise every
``ATTRIBUTES_EVERY``. Open transfers and purchase orders are listed every sync; only a document whose
list row changed is read in full.

**Why the app's write rules do not apply here**: nothing writes the replica but the sync, and the
server has already enforced them. The file has no triggers (the change log's, dropped after the schema
is created) and the sync writes with foreign keys off: pages of different kinds arrive in feed order,
not in the order of the constraints (a variant may arrive before the product made after the products
were read; a SKU may move from one variant to another across pages). A row that would break a UNIQUE
rule is replaced (``INSERT OR REPLACE``): the row holding the value on the replica is stale, and its own
change, later in the feed, brings it back as it is now.

**Speed**: the first sync of a million variants is bound by the network, so the next page is fetched
in a thread while the current one is stored, and pages are written with ``executemany`` on a plain
sqlite3 connection (WAL, ``synchronous=NORMAL``, a large page cache and memory map). Until a first sync
completes the grid does not read the file, so the big tables are loaded without their secondary
indexes (their definitions kept in ``replica_indexes``), each table's built with one ``CREATE INDEX``
when its feed is done, while the fetcher goes on with the next kind: sorting once is far cheaper than
keeping five indexes current row by row. CHECK constraints are not evaluated on the sync's connection
(``ignore_check_constraints``; the server enforced them, and evaluating them doubled the cost of a
row). A later sync compares each page with the rows held and updates only the columns that changed,
so a price change touches the price index and not the four others. The file stays in WAL mode with
durable commits throughout: the outbox shares it, so it can never be thrown away and rebuilt.

Only contract methods are called on ``source`` (``feeds.changes``, ``store.list_locations``,
``store.list_categories``, ``variants.attributes``, ``catalog.count``), so the same code runs over the
in-process contract (tests, benchmarks) and over HTTP (an API profile).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import queue
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from backoffice.db import Database, data_dir
from backoffice.operations.base import CancelCallback, PermissionDenied, ProgressCallback
from backoffice.services.change_feed import MAX_LIMIT

__all__ = ["FEED_KINDS", "Replica", "SyncReport", "replica_path"]

log = logging.getLogger(__name__)

# The feeds the replica follows, in the order they are read: a variant's product is usually there before
# it, and a stock level's variant.
FEED_KINDS: tuple[str, ...] = ("products", "variants", "stock-levels")
_SYNC = "sync"          # the state row of the last complete sync (its time; no cursor)
_ATTRIBUTES = "attributes"   # the state row of the last read of the attributes list (its time)
_TABLES = {"products": "products", "variants": "variants", "stock-levels": "stock_levels"}
# The attributes list comes with each value's count of variants, seconds of work for the server on a
# million variants, so it is read again only every so often, and at once when a variant brings an
# attribute or value the replica does not know (a new one). A renamed or reordered attribute shows
# after at most this long.
ATTRIBUTES_EVERY = dt.timedelta(minutes=15)
# The tables each feed kind writes, and those whose secondary indexes a first load builds at the end.
_KIND_TABLES = {"products": ("products", "product_tags"), "variants": ("variants", "variant_options"),
                "stock-levels": ("stock_levels",)}
_INDEXED_TABLES: tuple[str, ...] = tuple(t for kind in FEED_KINDS for t in _KIND_TABLES[kind])
INCREMENTAL_PAGE = 2_000  # rows per feed page once the first load is done
_BULK_DEPTH = 32        # feed pages (as JSON text, 1-3 MB each) that may wait while the writer indexes
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def replica_path(profile_name: str) -> Path:
    """Where the replica of the API profile ``profile_name`` lives: ``<data dir>/replicas/<name>.sqlite``.
    Characters a file name cannot safely hold become "_", and then a short hash of the real name is added,
    so two profiles never share a file ("a/b" and "a_b")."""
    safe = _SAFE.sub("_", profile_name).strip("._") or "profile"
    if safe != profile_name:
        safe = f"{safe[:80]}-{hashlib.sha256(profile_name.encode()).hexdigest()[:8]}"
    return data_dir() / "replicas" / f"{safe}.sqlite"


@dataclass
class SyncReport:
    """What one sync did: rows written and deleted per feed kind, rows of the small lists written or
    deleted, pages read, time taken, and whether it was the first load or was cancelled (the pages
    stored until then are kept; the next sync continues after them)."""

    initial: bool
    upserted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FEED_KINDS, 0))
    deleted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FEED_KINDS, 0))
    lists_changed: int = 0
    pages: int = 0
    seconds: float = 0.0
    cancelled: bool = False

    @property
    def rows(self) -> int:
        """Every row written or deleted, feeds and lists alike: 0 when nothing had changed."""
        return sum(self.upserted.values()) + sum(self.deleted.values()) + self.lists_changed


# -- turning feed documents into rows ---------------------------------------------------------------------
def _time(value: str | None) -> str | None:
    """A feed time ("2026-01-02T03:04:05.678901+00:00", always UTC) as SQLite stores the app's times."""
    return None if value is None else value[:10] + " " + value[11:-6]


def _product_rows(rows: list[dict[str, Any]]) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """(product rows, (product id, tag) rows, (id,) of every product in the page) of a feed page."""
    out: list[tuple] = []
    tags: list[tuple] = []
    ids: list[tuple] = []
    for r in rows:
        pid = r["id"]
        ids.append((pid,))
        if r["deleted"]:
            continue
        updated = _time(r["updated_at"])
        out.append((pid, r["handle"], r["title"], r["vendor"], r["product_type"], r["status"], r["category_id"],
                    r["version"], updated, updated))
        for tag in r["tags"] or ():
            tags.append((pid, tag))
    return out, tags, ids


def _image_rows(rows: list[dict[str, Any]]) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """(image rows, (image id, variant id) rows, (product id,) of the products whose images the page
    gives) of a products page. A product of a feed without images (an older server) is left as held."""
    images: list[tuple] = []
    shown: list[tuple] = []
    products: list[tuple] = []
    for r in rows:
        found = r.get("images")
        if found is None and not r["deleted"]:
            continue
        products.append((r["id"],))
        for image in found or ():
            images.append((image["id"], r["id"], image["position"], image["content_hash"], image["thumb_hash"]))
            shown.extend((image["id"], v) for v in image["variant_ids"] or ())
    return images, shown, products


def _variant_rows(rows: list[dict[str, Any]], options: dict[tuple[str, str], tuple[int, int]]
                  ) -> tuple[list[tuple], list[tuple], list[tuple], list[tuple[str, str]]]:
    """(variant rows, option rows, (id,) of every variant in the page, options not in ``options``)."""
    out: list[tuple] = []
    opts: list[tuple] = []
    ids: list[tuple] = []
    unknown: list[tuple[str, str]] = []
    for r in rows:
        vid = r["id"]
        ids.append((vid,))
        if r["deleted"]:
            continue
        updated = _time(r["updated_at"])
        out.append((vid, r["product_id"], r["sku"], r["barcode"], r["title"], _number(r["price"]),
                    _number(r["compare_at_price"]), _number(r["cost"]), r["weight_grams"], r["status"], r["position"], r["version"], updated, updated))
        for pair in (r["options"] or {}).items():
            found = options.get(pair)
            if found is None:
                unknown.append(pair)
            else:
                opts.append((vid, found[0], found[1]))
    return out, opts, ids, unknown


def _number(money: str | None) -> float | None:
    """A price as the feed sends it ("12.50") as the number the replica holds: the column's NUMERIC
    affinity stores the text as this same double (or as an integer when it is whole, as it does the
    float), so a held row and a feed row compare equal as tuples when nothing changed."""
    return None if money is None else float(money)


def _level_rows(rows: list[dict[str, Any]]) -> tuple[list[tuple], list[tuple]]:
    out: list[tuple] = []
    gone: list[tuple] = []
    for r in rows:
        if r["deleted"]:
            gone.append((r["id"],))
            continue
        updated = _time(r["updated_at"])
        out.append((r["id"], r["variant_id"], r["location_id"], r["on_hand"], r["reserved"],
                    r["low_stock_threshold"], r["reorder_point"], r["version"], updated, updated))
    return out, gone


_COLUMNS = {
    "products": ("id", "handle", "title", "vendor", "product_type", "status", "category_id", "version", "created_at",
                 "updated_at"),
    "variants": ("id", "product_id", "sku", "barcode", "title", "price", "compare_at_price", "cost", "weight_grams",
                 "status", "position", "version", "created_at", "updated_at"),
    "stock-levels": ("id", "variant_id", "location_id", "on_hand", "reserved", "low_stock_threshold", "reorder_point",
                     "version", "created_at", "updated_at"),
}
_UNIQUE = {"products": frozenset(("handle",)), "variants": frozenset(("sku",)),
           "stock_levels": frozenset(("variant_id", "location_id"))}


_UPSERT = {
    "products": "INSERT OR REPLACE INTO products (id, handle, title, vendor, product_type, status, category_id, "
                "version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "variants": "INSERT OR REPLACE INTO variants (id, product_id, sku, barcode, title, price, compare_at_price, cost, "
                "weight_grams, status, position, version, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "stock-levels": "INSERT OR REPLACE INTO stock_levels (id, variant_id, location_id, on_hand, reserved, "
                    "low_stock_threshold, reorder_point, version, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
}


# -- the small lists ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _List:
    table: str
    columns: tuple[str, ...]      # the first is the id


_LISTS = (
    _List("locations", ("id", "code", "name", "kind", "active", "version")),
    _List("categories", ("id", "parent_id", "name", "path", "position", "version")),
    _List("attributes", ("id", "code", "name", "position", "archived", "version")),
    _List("attribute_values", ("id", "attribute_id", "value", "position", "archived", "version")),
)


def _field(item: Any, name: str) -> Any:
    return item[name] if isinstance(item, dict) else getattr(item, name)


def _list_rows(source: Any, *, attributes: bool = True) -> dict[str, list[tuple]]:
    """The small lists as rows of ``_LISTS``'s columns, read through the contract; without the
    attributes and their values unless ``attributes`` (see ``ATTRIBUTES_EVERY``)."""
    locations = [(r["id"], r["code"], r["name"], r["kind"], int(bool(r["active"])), r["version"])
                 for r in source.store.list_locations(include_archived=True)]
    # The list comes in display order (parents first, siblings by position then name) without the
    # positions: the index in it is a position that gives the replica's own listing the same order.
    categories = [(r["id"], r["parent_id"], r["name"], r["path"], index, r["version"])
                  for index, r in enumerate(source.store.list_categories())]
    lists = {"locations": locations, "categories": categories}
    if not attributes:
        return lists
    attrs: list[tuple] = []
    values: list[tuple] = []
    for a in source.variants.attributes(include_archived=True):
        aid = _field(a, "id")
        attrs.append((aid, _field(a, "code"), _field(a, "name"), _field(a, "position"),
                           int(bool(_field(a, "archived"))), _field(a, "version")))
        for v in _field(a, "values"):
            values.append((_field(v, "id"), aid, _field(v, "value"), _field(v, "position"),
                           int(bool(_field(v, "archived"))), _field(v, "version")))
    return {**lists, "attributes": attrs, "attribute_values": values}


# -- open transfers and purchase orders -----------------------------------------------------------------------
_OPEN_TRANSFERS = ("shipped", "partial")     # what stock_query sums as in transit
_OPEN_ORDERS = ("sent", "partial")           # what purchase_orders.incoming_subquery sums as incoming
_DOCUMENT_PAGE = 200
# The list row's fields that change whenever the document's lines' quantities or its state do.
_TRANSFER_PRINT = ("state", "lines", "units", "in_transit", "received_at")
_ORDER_PRINT = ("state", "lines", "units", "outstanding", "total", "sent_at")


def _every_page(read: Any) -> list[Any]:
    """Every row of a newest-first keyset list (``read(before_id)``)."""
    out: list[Any] = []
    before = None
    while True:
        page = read(before)
        out.extend(page)
        if len(page) < _DOCUMENT_PAGE:
            return out
        before = _field(page[-1], "id")


def _fingerprint(row: Any, names: tuple[str, ...]) -> str:
    return "|".join(str(_field(row, name)) for name in names)


def _sql_time(value: Any) -> str | None:
    """A time of the contract (a datetime, or its ISO text over HTTP) as SQLite holds the app's times."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(sep=" ", timespec="microseconds")


def _write_transfer(conn: sqlite3.Connection, info: Any) -> None:
    created = _sql_time(_field(info, "created_at"))
    conn.execute("INSERT OR REPLACE INTO transfers (id, number, state, source_location_id, destination_location_id, "
                 "note, version, created_at, updated_at, shipped_at, received_at, closed_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (_field(info, "id"), _field(info, "number"), _field(info, "state"),
                  _field(info, "source_location_id"), _field(info, "destination_location_id"), _field(info, "note"),
                  _field(info, "version"), created, created, _sql_time(_field(info, "shipped_at")),
                  _sql_time(_field(info, "received_at")), _sql_time(_field(info, "closed_at"))))
    conn.executemany("INSERT INTO transfer_lines (transfer_id, variant_id, position, quantity, shipped, received, "
                     "lost, returned) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     [(_field(info, "id"), _field(line, "variant_id"), position, _field(line, "quantity"),
                       _field(line, "shipped"), _field(line, "received"), _field(line, "lost"),
                       _field(line, "returned")) for position, line in enumerate(_field(info, "lines"))])


def _write_order(conn: sqlite3.Connection, info: Any) -> None:
    created = _sql_time(_field(info, "created_at"))
    expected = _field(info, "expected_on")
    conn.execute("INSERT OR REPLACE INTO purchase_orders (id, number, state, supplier_id, destination_location_id, "
                 "currency, expected_on, note, version, created_at, updated_at, sent_at, received_at, closed_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (_field(info, "id"), _field(info, "number"), _field(info, "state"), _field(info, "supplier_id"),
                  _field(info, "destination_location_id"), _field(info, "currency"),
                  None if expected is None else str(expected), _field(info, "note"), _field(info, "version"),
                  created, created, _sql_time(_field(info, "sent_at")), _sql_time(_field(info, "received_at")),
                  _sql_time(_field(info, "closed_at"))))
    conn.executemany("INSERT INTO purchase_order_lines (id, order_id, variant_id, supplier_sku, position, quantity, "
                     "unit_cost, received) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     [(_field(line, "id"), _field(info, "id"), _field(line, "variant_id"),
                       _field(line, "supplier_sku"), position, _field(line, "quantity"),
                       str(_field(line, "unit_cost")), _field(line, "received"))
                      for position, line in enumerate(_field(info, "lines"))])


# -- fetching ahead -------------------------------------------------------------------------------------------
_DONE = object()


class _Prefetcher:
    """Reads the feed pages of the kinds in order in a thread of its own, one page ahead of the writer:
    the next page is on its way over the network (and parsed) while the current one is stored.

    Each kind starts after its stored cursor and ends with the first page that says nothing more is
    there. Items are (kind, page, next cursor, has more) or an exception raised by the source; the
    writer parses the page (``_parsed``), so pages wait in the queue as compact JSON text. ``depth``
    pages may wait: a first load gives the fetcher room to go on while the writer builds a table's
    indexes."""

    def __init__(self, source: Any, cursors: dict[str, str | None], limit: int, depth: int = 1) -> None:
        self._source = source
        self._cursors = cursors
        self._limit = limit
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="replica-prefetch", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for kind in FEED_KINDS:
                cursor = self._cursors.get(kind)
                while not self._stop.is_set():
                    page = self._source.feeds.changes(kind, cursor, self._limit)
                    if not self._put((kind, page, page.next_cursor, page.has_more)):
                        return
                    cursor = page.next_cursor
                    if not page.has_more:
                        break
            self._put(_DONE)
        except BaseException as exc:    # handed to the writer, which raises it in the caller's thread
            self._put(exc)

    def __iter__(self) -> Iterator[tuple[str, Any, str, bool]]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _parsed(page: Any) -> list[dict[str, Any]]:
    """The rows of a feed page. The page's JSON text is parsed with orjson (several times faster than
    the standard library on a 10,000-row page) unless the page holds its rows already."""
    cached = getattr(page, "__dict__", {}).get("rows")
    if cached is not None:
        return cached
    body = getattr(page, "body", None)
    return orjson.loads(body) if isinstance(body, (str, bytes)) else page.rows


# -- the replica ---------------------------------------------------------------------------------------------
_STATE_DDL = ("CREATE TABLE IF NOT EXISTS replica_state (kind TEXT PRIMARY KEY, cursor TEXT, synced_at TEXT)")
_INDEXES_DDL = ("CREATE TABLE IF NOT EXISTS replica_indexes (name TEXT PRIMARY KEY, tbl_name TEXT NOT NULL, "
                "sql TEXT NOT NULL)")
_DOCUMENTS_DDL = ("CREATE TABLE IF NOT EXISTS replica_documents (kind TEXT NOT NULL, id INTEGER NOT NULL, "
                  "fingerprint TEXT NOT NULL, PRIMARY KEY (kind, id))")


# Tables of the file that are not a copy of the server's: the outbox's writes not yet sent. A rebuilt
# replica (a newer schema, a damaged copy) takes them along; only the copy is thrown away.
_KEPT_TABLES = ("outbox",)


def _kept_tables(path: Path) -> list[tuple[str, str, list[tuple[Any, ...]]]]:
    """(table, its CREATE statement, its rows) of the kept tables of the file at ``path``; none when
    the file cannot be read (then there is nothing to keep)."""
    kept = []
    try:
        conn = sqlite3.connect(str(path), timeout=30)
    except sqlite3.Error:
        return []
    try:
        for table in _KEPT_TABLES:
            found = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
            if found:
                kept.append((table, found[0], conn.execute(f'SELECT * FROM "{table}"').fetchall()))
    except sqlite3.Error:
        log.warning("replica %s: the waiting changes could not be read before rebuilding it", path)
        return []
    finally:
        conn.close()
    return kept


def _restore_tables(path: Path, kept: list[tuple[str, str, list[tuple[Any, ...]]]]) -> None:
    if not kept:
        return
    conn = sqlite3.connect(str(path), timeout=30)
    try:
        with conn:
            for table, ddl, rows in kept:
                conn.execute(ddl)
                if rows:
                    marks = ", ".join("?" * len(rows[0]))
                    conn.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)
    finally:
        conn.close()


class Replica:
    """The replica file at ``path``, created (schema at head, no triggers) when it does not exist or
    holds an older schema (a cache is rebuilt, never migrated). ``db`` is the :class:`Database` the
    grid and stock views read through ``LocalOperations(replica.db, actor)``."""

    def __init__(self, path: str | Path, *, page_size: int = MAX_LIMIT) -> None:
        self.path = Path(path)
        self.page_size = page_size     # rows per feed page; the feed's largest unless a test wants many pages
        self._db: Database | None = None
        self._sync_lock = threading.Lock()
        self._open_lock = threading.Lock()

    # -- the file -------------------------------------------------------------------------------------------
    @property
    def db(self) -> Database:
        """The replica as a Database (opened, and created when needed, on first use)."""
        with self._open_lock:
            if self._db is None:
                self._db = self._open()
            return self._db

    def _open(self) -> Database:
        from backoffice import migrations

        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = Database(f"sqlite:///{self.path}")
        if self.path.exists() and self.path.stat().st_size > 0:
            try:
                current = migrations.current_revision(db)
            except Exception:       # not an SQLite file we can read: a cache, so start again
                current = None
            if current == migrations.head_revision() and db.has_table("replica_state"):
                return db
            db.dispose()
            log.info("replica %s is of another schema version: rebuilt", self.path)
            kept = _kept_tables(self.path)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            db = Database(f"sqlite:///{self.path}")
            migrations.upgrade(db)
            _restore_tables(self.path, kept)
        migrations.upgrade(db)
        with db.engine.begin() as conn:
            triggers = [name for (name,) in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'")]
            for name in triggers:    # the change log's: nothing here needs a log of the replica's writes
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
            conn.exec_driver_sql(_STATE_DDL)
            conn.exec_driver_sql(_INDEXES_DDL)
            conn.exec_driver_sql(_DOCUMENTS_DDL)
        return db

    def close(self) -> None:
        """Close the file's connections (a later use opens it again)."""
        with self._open_lock:
            if self._db is not None:
                self._db.dispose()
                self._db = None

    def _connect(self) -> sqlite3.Connection:
        """A plain sqlite3 connection for the sync's bulk writes (transactions begun explicitly)."""
        self.db   # noqa: B018 - the file and its schema exist from here on
        conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = OFF", "cache_size = -262144",
                       "temp_store = MEMORY", "busy_timeout = 30000", "ignore_check_constraints = ON",
                       "mmap_size = 1073741824", "wal_autocheckpoint = 20000"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute(_INDEXES_DDL)
        conn.execute(_DOCUMENTS_DDL)
        return conn

    # -- state --------------------------------------------------------------------------------------------------
    def _state(self, conn: sqlite3.Connection) -> dict[str, tuple[str | None, str | None]]:
        return {kind: (cursor, at) for kind, cursor, at in conn.execute("SELECT kind, cursor, synced_at FROM replica_state")}

    def freshness(self) -> dt.datetime | None:
        """When the last complete sync began (UTC): every change the server had committed by then is
        here. None before the first complete sync."""
        with self.db.engine.connect() as conn:
            at = conn.exec_driver_sql("SELECT synced_at FROM replica_state WHERE kind = ?", (_SYNC,)).scalar()
        return None if at is None else dt.datetime.fromisoformat(at)

    def status(self) -> dict[str, Any]:
        """For the status bar and diagnostics: ``synced_at`` (as :meth:`freshness`), and per feed kind the
        rows held, the cursor and when a page of it was last stored; ``lists`` the rows of the small lists."""
        with self.db.engine.connect() as conn:
            state = {k: (c, a) for k, c, a in conn.exec_driver_sql("SELECT kind, cursor, synced_at FROM replica_state")}
            kinds = {}
            for kind in FEED_KINDS:
                cursor, at = state.get(kind, (None, None))
                rows = conn.exec_driver_sql(f"SELECT count(*) FROM {_TABLES[kind]}").scalar()
                kinds[kind] = {"rows": int(rows or 0), "cursor": cursor, "stored_at": at}
            lists = {item.table: int(conn.exec_driver_sql(f"SELECT count(*) FROM {item.table}").scalar() or 0)
                     for item in _LISTS}
        synced = state.get(_SYNC, (None, None))[1]
        return {"path": str(self.path), "synced_at": None if synced is None else dt.datetime.fromisoformat(synced),
                "kinds": kinds, "lists": lists}

    # -- syncing --------------------------------------------------------------------------------------------
    def sync(self, source: Any, *, progress: ProgressCallback | None = None,
             cancel: CancelCallback | None = None) -> SyncReport:
        """Bring the replica up to date with ``source`` (an implementation of the operations contract):
        the small lists replaced, then each feed followed from its stored cursor (the first time from the
        beginning) until the source says nothing more is there. ``cancel()`` is asked between pages; a
        cancelled sync keeps the pages stored so far (``SyncReport.cancelled``). One sync at a time: a
        second call waits for the first."""
        with self._sync_lock:
            conn = self._connect()
            try:
                return self._sync(conn, source, progress or (lambda fraction, text: None), cancel)
            finally:
                conn.close()

    def _sync(self, conn: sqlite3.Connection, source: Any, progress: ProgressCallback,
              cancel: CancelCallback | None) -> SyncReport:
        started = time.perf_counter()
        began = dt.datetime.now(dt.timezone.utc)
        state = self._state(conn)
        cursors = {kind: state.get(kind, (None, None))[0] for kind in FEED_KINDS}
        report = SyncReport(initial=all(c is None for c in cursors.values()))
        # Until a sync has completed, the grid does not read this file: its big tables are loaded
        # without their secondary indexes, which are built once per table when its feed is done.
        bulk = _SYNC not in state
        if bulk:
            self._drop_indexes(conn)
        else:
            self._build_indexes(conn, _INDEXED_TABLES)     # left dropped by a first load that stopped
        # The first page is on its way while the small lists are read. A later sync reads smaller
        # pages: it usually brings few rows, and the first page is then stored while the next is
        # fetched instead of the writer waiting for one big page.
        fetcher = _Prefetcher(source, cursors, self.page_size if bulk else min(self.page_size, INCREMENTAL_PAGE),
                              depth=_BULK_DEPTH if bulk else 2)
        try:
            progress(None, "Reading locations, categories and attributes")
            attributes_due = self._attributes_due(state)
            report.lists_changed = self._replace_lists(conn, _list_rows(source, attributes=attributes_due),
                                                       attributes_read=attributes_due)
            report.lists_changed += self._replace_documents(conn, source)
            options = self._option_ids(conn)
            estimate = self._estimate(source) if report.initial else None
            done = 0
            current: str | None = None
            for kind, page, next_cursor, has_more in fetcher:
                if bulk and kind != current:
                    if current is not None:      # the kind before is complete: its indexes now
                        self._build_indexes(conn, _KIND_TABLES[current])
                    current = kind
                rows = _parsed(page)
                if kind == "variants" and rows:
                    missing = self._missing_options(rows, options)
                    if missing:   # an attribute or value made after the lists were read
                        report.lists_changed += self._replace_lists(conn, _list_rows(source), attributes_read=True)
                        options = self._option_ids(conn)
                        still = self._missing_options(rows, options)
                        if still:
                            log.warning("replica: options unknown to the attribute list skipped: %s",
                                        sorted(still)[:10])
                conn.execute("BEGIN IMMEDIATE")
                try:
                    written, deleted = self._store(conn, kind, rows, options, merge=not bulk)
                    conn.execute("INSERT OR REPLACE INTO replica_state (kind, cursor, synced_at) VALUES (?, ?, ?)",
                                 (kind, next_cursor, _now()))
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                report.pages += 1
                report.upserted[kind] += written
                report.deleted[kind] += deleted
                done += len(rows)
                fraction = None if not estimate else min(0.99, done / estimate)
                progress(fraction, f"{_LABELS[kind]}: {report.upserted[kind] + report.deleted[kind]:,} rows")
                if cancel is not None and cancel():
                    report.cancelled = True
                    break
        finally:
            fetcher.close()
        if not report.cancelled:
            if bulk:
                progress(None, "Indexing")
                self._build_indexes(conn, _INDEXED_TABLES)
            conn.execute("INSERT OR REPLACE INTO replica_state (kind, cursor, synced_at) VALUES (?, NULL, ?)",
                         (_SYNC, began.isoformat()))
            if report.initial:
                conn.execute("PRAGMA optimize")
        if report.rows:
            # Copy the pages just written back into the file now, once, without waiting for readers.
            # The sync's connection checkpoints automatically only past 20,000 pages of log, so its
            # page commits do not each copy (and sync to disk) the pages of the one before.
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            progress(1.0, "Up to date")
        report.seconds = time.perf_counter() - started
        return report

    # -- open transfers and purchase orders ----------------------------------------------------------------
    def _replace_documents(self, conn: sqlite3.Connection, source: Any) -> int:
        """Hold the open transfers (shipped, partly received) and open purchase orders (sent, partly
        received) with their lines: what the stock views' "in transit" and "incoming" sum. The lists are
        read whole each sync (few rows: only documents still under way); a document is read in full
        (``get``) only when its list row differs from the one held, and one no longer open is deleted.
        How many documents were written or deleted.

        A role the server does not let read purchase orders (a merchandiser) holds none: its stock
        rows show nothing incoming, and the sync goes on."""
        listed: dict[tuple[str, int], str] = {}
        for kind, area, states, names in (("transfer", "transfers", _OPEN_TRANSFERS, _TRANSFER_PRINT),
                                          ("order", "purchase_orders", _OPEN_ORDERS, _ORDER_PRINT)):
            reader = getattr(source, area)
            try:
                rows = _every_page(lambda before, reader=reader, states=states: reader.list(
                    states=states, before_id=before, limit=_DOCUMENT_PAGE))
            except PermissionDenied:
                log.debug("replica: %s.list is not allowed to this account: none held", area)
                continue
            listed.update({(kind, _field(r, "id")): _fingerprint(r, names) for r in rows})
        held = {(kind, did): printed for kind, did, printed in conn.execute(
            "SELECT kind, id, fingerprint FROM replica_documents")}
        gone = [key for key in held if key not in listed]
        fetched = [(key, (source.transfers.get(key[1]) if key[0] == "transfer" else source.purchase_orders.get(key[1])))
                   for key, printed in listed.items() if held.get(key) != printed]
        if not gone and not fetched:
            return 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            for (kind, did) in gone + [key for key, _info in fetched]:
                if kind == "transfer":
                    conn.execute("DELETE FROM transfer_lines WHERE transfer_id = ?", (did,))
                    conn.execute("DELETE FROM transfers WHERE id = ?", (did,))
                else:
                    conn.execute("DELETE FROM purchase_order_lines WHERE order_id = ?", (did,))
                    conn.execute("DELETE FROM purchase_orders WHERE id = ?", (did,))
                conn.execute("DELETE FROM replica_documents WHERE kind = ? AND id = ?", (kind, did))
            for (kind, did), info in fetched:
                (_write_transfer if kind == "transfer" else _write_order)(conn, info)
                conn.execute("INSERT INTO replica_documents (kind, id, fingerprint) VALUES (?, ?, ?)",
                             (kind, did, listed[(kind, did)]))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return len(gone) + len(fetched)

    @staticmethod
    def _attributes_due(state: dict[str, tuple[str | None, str | None]]) -> bool:
        """Whether this sync reads the attributes list again (see ``ATTRIBUTES_EVERY``)."""
        at = state.get(_ATTRIBUTES, (None, None))[1]
        if at is None:
            return True
        try:
            age = dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(at)
        except ValueError:
            return True
        return not dt.timedelta(0) <= age < ATTRIBUTES_EVERY

    # -- secondary indexes during a first load ------------------------------------------------------------
    @staticmethod
    def _drop_indexes(conn: sqlite3.Connection) -> None:
        """Drop the secondary indexes of the big tables, keeping their definitions in
        ``replica_indexes`` (in the same transaction) so they are built again whatever happens next.
        Indexes that enforce a UNIQUE rule or a primary key stay: the writes rely on them."""
        marks = ", ".join("?" * len(_INDEXED_TABLES))
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = conn.execute(f"SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' "
                                 f"AND sql IS NOT NULL AND tbl_name IN ({marks})", _INDEXED_TABLES).fetchall()
            for name, table, sql in found:
                if sql.lstrip().upper().startswith("CREATE UNIQUE"):
                    continue
                conn.execute("INSERT OR REPLACE INTO replica_indexes (name, tbl_name, sql) VALUES (?, ?, ?)",
                             (name, table, sql))
                conn.execute(f'DROP INDEX "{name}"')
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _build_indexes(conn: sqlite3.Connection, tables: tuple[str, ...]) -> None:
        """Build again the indexes of ``tables`` that ``_drop_indexes`` dropped (one transaction each:
        ``CREATE INDEX`` on a loaded table sorts once, far cheaper than keeping the index up to date
        row by row while loading)."""
        marks = ", ".join("?" * len(tables))
        pending = conn.execute(f"SELECT name, sql FROM replica_indexes WHERE tbl_name IN ({marks})",
                               tables).fetchall()
        for name, sql in pending:
            conn.execute("BEGIN IMMEDIATE")
            try:
                exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)).fetchone()
                if not exists:
                    conn.execute(sql)
                conn.execute("DELETE FROM replica_indexes WHERE name = ?", (name,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @staticmethod
    def _estimate(source: Any) -> int | None:
        """About how many feed rows a first load reads, for the progress bar only: the variants (one
        cheap count) and, as a guess, two stock levels per variant and a product per ten variants (a
        typical store's shape; the bar stops short of the end until the load is done). None when the
        source cannot say. Counting the stock levels exactly costs seconds on a large store."""
        try:
            variants = int(source.catalog.count())
        except Exception:    # only for the progress bar
            return None
        return variants * 3 + variants // 10 or None

    # -- writing a page --------------------------------------------------------------------------------------
    @classmethod
    def _store(cls, conn: sqlite3.Connection, kind: str, rows: list[dict[str, Any]],
               options: dict[tuple[str, str], tuple[int, int]], *, merge: bool = True) -> tuple[int, int]:
        """Write one feed page (inside the caller's transaction); (rows written, rows deleted).

        ``merge``: compare the page with the rows held and write only what differs (an UPDATE of the
        changed columns, so an index whose columns did not change is not touched), the way a later
        sync finds most rows; without it (a first load, where the rows are new) every row is written."""
        if kind == "products":
            out, tags, ids = _product_rows(rows)
            cls._store_images(conn, *_image_rows(rows))
            gone = [(r["id"],) for r in rows if r["deleted"]]
            if gone:
                conn.executemany("DELETE FROM product_tags WHERE product_id = ?", gone)
                conn.executemany("DELETE FROM products WHERE id = ?", gone)
            if merge:
                cls._merge(conn, "products", _COLUMNS["products"], out)
                cls._merge_children(conn, "product_tags", "product_id", ("tag",), [r[0] for r in out], tags)
            else:
                conn.executemany("DELETE FROM product_tags WHERE product_id = ?", ids)
                conn.executemany(_UPSERT[kind], out)
                conn.executemany("INSERT OR IGNORE INTO product_tags (product_id, tag) VALUES (?, ?)", tags)
            return len(out), len(gone)
        if kind == "variants":
            out, opts, ids, _unknown = _variant_rows(rows, options)
            gone = [(r["id"],) for r in rows if r["deleted"]]
            if gone:
                conn.executemany("DELETE FROM variant_options WHERE variant_id = ?", gone)
                conn.executemany("DELETE FROM variants WHERE id = ?", gone)
            if merge:
                cls._merge(conn, "variants", _COLUMNS["variants"], out)
                cls._merge_children(conn, "variant_options", "variant_id", ("attribute_id", "attribute_value_id"),
                                    [r[0] for r in out], opts)
            else:
                conn.executemany("DELETE FROM variant_options WHERE variant_id = ?", ids)
                conn.executemany(_UPSERT[kind], out)
                conn.executemany("INSERT OR REPLACE INTO variant_options (variant_id, attribute_id, "
                                 "attribute_value_id) VALUES (?, ?, ?)", opts)
            return len(out), len(gone)
        out, dead = _level_rows(rows)
        if dead:
            conn.executemany("DELETE FROM stock_levels WHERE id = ?", dead)
        if merge:
            cls._merge(conn, "stock_levels", _COLUMNS["stock-levels"], out)
        else:
            conn.executemany(_UPSERT[kind], out)
        return len(out), len(dead)

    @staticmethod
    def _store_images(conn: sqlite3.Connection, images: list[tuple], shown: list[tuple], products: list[tuple]) -> None:
        """Replace the images (and the variants each is shown for) of ``products`` by ``images``: the
        rows the grid's picture is chosen from (``catalog_grid``)."""
        if not products:
            return
        held = conn.execute("SELECT count(*) FROM product_images WHERE product_id IN (SELECT value FROM json_each(?))",
                            (orjson.dumps([p for (p,) in products]).decode(),)).fetchone()[0]
        if held:
            conn.executemany("DELETE FROM product_image_variants WHERE image_id IN "
                             "(SELECT id FROM product_images WHERE product_id = ?)", products)
            conn.executemany("DELETE FROM product_images WHERE product_id = ?", products)
        if images:
            conn.executemany("INSERT OR REPLACE INTO product_images (id, product_id, position, content_hash, thumb_hash) "
                             "VALUES (?, ?, ?, ?, ?)", images)
            conn.executemany("INSERT OR REPLACE INTO product_image_variants (image_id, variant_id) VALUES (?, ?)", shown)

    @staticmethod
    def _merge(conn: sqlite3.Connection, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        """Make ``table`` hold ``rows`` (tuples of ``columns``, the id first), writing only what differs.

        A row whose changed columns include one of a UNIQUE rule (a SKU, a (variant, location) pair)
        is written with ``INSERT OR REPLACE``: the row holding that value here is stale (see the
        module's notes). Other changed rows are grouped by the set of columns that changed, one UPDATE
        statement per group."""
        if not rows:
            return
        cols = ", ".join(columns)
        held = {r[0]: r for r in conn.execute(
            f"SELECT {cols} FROM {table} WHERE id IN (SELECT value FROM json_each(?))",
            (orjson.dumps([r[0] for r in rows]).decode(),))}
        unique = _UNIQUE[table]
        fresh: list[tuple] = []
        groups: dict[tuple[int, ...], list[tuple]] = {}
        width = range(1, len(columns))
        for row in rows:
            old = held.get(row[0])
            if old is None:
                fresh.append(row)
                continue
            if old == row:
                continue
            changed = tuple(i for i in width if old[i] != row[i])
            if any(columns[i] in unique for i in changed):
                fresh.append(row)
            else:
                groups.setdefault(changed, []).append(tuple(row[i] for i in changed) + (row[0],))
        for changed, params in groups.items():
            sets = ", ".join(f"{columns[i]} = ?" for i in changed)
            conn.executemany(f"UPDATE {table} SET {sets} WHERE id = ?", params)
        if fresh:
            marks = ", ".join("?" * len(columns))
            conn.executemany(f"INSERT OR REPLACE INTO {table} ({cols}) VALUES ({marks})", fresh)

    @staticmethod
    def _merge_children(conn: sqlite3.Connection, table: str, parent: str, columns: tuple[str, ...],
                        parents: list[int], rows: list[tuple]) -> None:
        """Make the ``table`` rows of each parent in ``parents`` exactly ``rows`` ((parent, *columns)),
        rewriting only the parents whose set of rows changed."""
        if not parents:
            return
        cols = ", ".join((parent, *columns))
        held: dict[int, set[tuple]] = {}
        for r in conn.execute(f"SELECT {cols} FROM {table} WHERE {parent} IN (SELECT value FROM json_each(?))",
                              (orjson.dumps(parents).decode(),)):
            held.setdefault(r[0], set()).add(tuple(r))
        wanted: dict[int, set[tuple]] = {}
        for r in rows:
            wanted.setdefault(r[0], set()).add(tuple(r))
        stale = [p for p in parents if held.get(p, set()) != wanted.get(p, set())]
        if not stale:
            return
        conn.executemany(f"DELETE FROM {table} WHERE {parent} = ?", [(p,) for p in stale])
        marks = ", ".join("?" * (len(columns) + 1))
        conn.executemany(f"INSERT OR REPLACE INTO {table} ({cols}) VALUES ({marks})",
                         [r for p in stale for r in wanted.get(p, ())])

    @staticmethod
    def _option_ids(conn: sqlite3.Connection) -> dict[tuple[str, str], tuple[int, int]]:
        """(attribute code, value) -> (attribute id, value id), as the replica holds them."""
        return {(code, value): (aid, vid) for code, value, aid, vid in conn.execute(
            "SELECT a.code, v.value, a.id, v.id FROM attribute_values v JOIN attributes a ON a.id = v.attribute_id")}

    @staticmethod
    def _missing_options(rows: list[dict[str, Any]], options: dict[tuple[str, str], tuple[int, int]]) -> set:
        return {pair for r in rows if not r["deleted"] for pair in (r["options"] or {}).items() if pair not in options}

    @staticmethod
    def _replace_lists(conn: sqlite3.Connection, lists: dict[str, list[tuple]], *, attributes_read: bool) -> int:
        """Make each small table in ``lists`` hold exactly its rows (by id), in one transaction; how many
        rows were written or deleted (0 when nothing differed). ``attributes_read``: the lists hold the
        attributes, read now (the time is kept for ``ATTRIBUTES_EVERY``)."""
        changed = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            for item in _LISTS:
                if item.table not in lists:
                    continue
                wanted = {row[0]: tuple(row) for row in lists[item.table]}
                cols = ", ".join(item.columns)
                have = {row[0]: tuple(row) for row in conn.execute(f"SELECT {cols} FROM {item.table}")}
                gone = [(i,) for i in have.keys() - wanted.keys()]
                write = [row for i, row in wanted.items() if have.get(i) != row]
                if gone:
                    conn.executemany(f"DELETE FROM {item.table} WHERE id = ?", gone)
                if write:
                    marks = ", ".join("?" * len(item.columns))
                    conn.executemany(f"INSERT OR REPLACE INTO {item.table} ({cols}) VALUES ({marks})", write)
                changed += len(gone) + len(write)
            if attributes_read:
                conn.execute("INSERT OR REPLACE INTO replica_state (kind, cursor, synced_at) VALUES (?, NULL, ?)",
                             (_ATTRIBUTES, _now()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return changed


_LABELS = {"products": "Products", "variants": "Variants", "stock-levels": "Stock levels"}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()
