"""The local replica of an API profile: an SQLite file with the application's own schema, kept current
from the store API's change feeds, that the product grid and the stock views read in-process.

Why a replica at all: the grid pages through a million variants, sorts, filters and jumps to the end;
over the network each of those would be a round trip to the server. Kept as a file with the app's own
schema, the same read code as direct mode (``LocalOperations(replica.db, actor).catalog``,
``.stock``) answers them locally, in the same milliseconds as the embedded store.

**What it holds**: products (with tags), variants (with their options), stock levels, and the small
lists those reads join to (locations, categories, attributes and their values). Ids and versions are
the server's, so a row read here can be edited through the API with its version as If-Match.

**How it follows the server**: each big kind (products, variants, stock levels) is read from its change
feed (``source.feeds.changes``) after the cursor stored for it, in pages of ``feeds.MAX_LIMIT`` rows; a
replica that never synced starts from the beginning of the feed, which returns every current row once.
Each page is written in one transaction together with the cursor that follows it, so a sync stopped at
any point (cancelled, the network gone, the process killed) leaves a replica that is consistent with
some position of the feed, and the next sync continues from there: no page is lost and none is applied
twice in a way that shows (writes are upserts by id, deletions are idempotent). The small lists are read
whole on every sync and replaced row by row (written when different, deleted when gone).

**Why the app's write rules do not apply here**: nothing writes the replica but the sync, and the
server has already enforced them. The file has no triggers (the change log's, dropped after the schema
is created) and the sync writes with foreign keys off: pages of different kinds arrive in feed order,
not in the order of the constraints (a variant may arrive before the product made after the products
were read; a SKU may move from one variant to another across pages). A row that would break a UNIQUE
rule is replaced (``INSERT OR REPLACE``): the row holding the value on the replica is stale, and its own
change, later in the feed, brings it back as it is now.

**Speed**: the first sync of a million variants is bound by the network, so the next page is fetched
in a thread while the current one is stored, and pages are written with ``executemany`` on a plain
sqlite3 connection (WAL, ``synchronous=NORMAL``, a large page cache).

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
from backoffice.operations.base import CancelCallback, ProgressCallback
from backoffice.services.change_feed import MAX_LIMIT

__all__ = ["FEED_KINDS", "Replica", "SyncReport", "replica_path"]

log = logging.getLogger(__name__)

# The feeds the replica follows, in the order they are read: a variant's product is usually there before
# it, and a stock level's variant.
FEED_KINDS: tuple[str, ...] = ("products", "variants", "stock-levels")
_SYNC = "sync"          # the state row of the last complete sync (its time; no cursor)
_TABLES = {"products": "products", "variants": "variants", "stock-levels": "stock_levels"}
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
        out.append((vid, r["product_id"], r["sku"], r["barcode"], r["title"], r["price"], r["compare_at_price"],
                    r["cost"], r["weight_grams"], r["status"], r["position"], r["version"], updated, updated))
        for pair in (r["options"] or {}).items():
            found = options.get(pair)
            if found is None:
                unknown.append(pair)
            else:
                opts.append((vid, found[0], found[1]))
    return out, opts, ids, unknown


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


def _list_rows(source: Any) -> dict[str, list[tuple]]:
    """The small lists as rows of ``_LISTS``'s columns, read through the contract."""
    locations = [(r["id"], r["code"], r["name"], r["kind"], int(bool(r["active"])), r["version"])
                 for r in source.store.list_locations(include_archived=True)]
    # The list comes in display order (parents first, siblings by position then name) without the
    # positions: the index in it is a position that gives the replica's own listing the same order.
    categories = [(r["id"], r["parent_id"], r["name"], r["path"], index, r["version"])
                  for index, r in enumerate(source.store.list_categories())]
    attributes: list[tuple] = []
    values: list[tuple] = []
    for a in source.variants.attributes(include_archived=True):
        aid = _field(a, "id")
        attributes.append((aid, _field(a, "code"), _field(a, "name"), _field(a, "position"),
                           int(bool(_field(a, "archived"))), _field(a, "version")))
        for v in _field(a, "values"):
            values.append((_field(v, "id"), aid, _field(v, "value"), _field(v, "position"),
                           int(bool(_field(v, "archived"))), _field(v, "version")))
    return {"locations": locations, "categories": categories, "attributes": attributes, "attribute_values": values}


# -- fetching ahead -------------------------------------------------------------------------------------------
_DONE = object()


class _Prefetcher:
    """Reads the feed pages of the kinds in order in a thread of its own, one page ahead of the writer:
    the next page is on its way over the network (and parsed) while the current one is stored.

    Each kind starts after its stored cursor and ends with the first page that says nothing more is
    there. Items are (kind, rows, next cursor, has more) or an exception raised by the source."""

    def __init__(self, source: Any, cursors: dict[str, str | None], limit: int) -> None:
        self._source = source
        self._cursors = cursors
        self._limit = limit
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1)
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
                    rows = _parsed(page)
                    if not self._put((kind, rows, page.next_cursor, page.has_more)):
                        return
                    cursor = page.next_cursor
                    if not page.has_more:
                        break
            self._put(_DONE)
        except BaseException as exc:    # handed to the writer, which raises it in the caller's thread
            self._put(exc)

    def __iter__(self) -> Iterator[tuple[str, list[dict[str, Any]], str, bool]]:
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
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            db = Database(f"sqlite:///{self.path}")
        migrations.upgrade(db)
        with db.engine.begin() as conn:
            triggers = [name for (name,) in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'")]
            for name in triggers:    # the change log's: nothing here needs a log of the replica's writes
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
            conn.exec_driver_sql(_STATE_DDL)
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
                       "temp_store = MEMORY", "busy_timeout = 30000"):
            conn.execute(f"PRAGMA {pragma}")
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
        progress(None, "Reading locations, categories and attributes")
        report.lists_changed = self._replace_lists(conn, _list_rows(source))
        options = self._option_ids(conn)
        estimate = self._estimate(source) if report.initial else None
        done = 0
        fetcher = _Prefetcher(source, cursors, self.page_size)
        try:
            for kind, rows, next_cursor, has_more in fetcher:
                if kind == "variants" and rows:
                    missing = self._missing_options(rows, options)
                    if missing:   # an attribute or value made after the lists were read
                        report.lists_changed += self._replace_lists(conn, _list_rows(source))
                        options = self._option_ids(conn)
                        still = self._missing_options(rows, options)
                        if still:
                            log.warning("replica: options unknown to the attribute list skipped: %s",
                                        sorted(still)[:10])
                conn.execute("BEGIN IMMEDIATE")
                try:
                    written, deleted = self._store(conn, kind, rows, options)
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
            conn.execute("INSERT OR REPLACE INTO replica_state (kind, cursor, synced_at) VALUES (?, NULL, ?)",
                         (_SYNC, began.isoformat()))
            if report.initial:
                conn.execute("PRAGMA optimize")
        if report.rows:
            # Copy the pages just written back into the file now, without waiting for readers, so the
            # next small sync does not pay for this one's log in its commit.
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            progress(1.0, "Up to date")
        report.seconds = time.perf_counter() - started
        return report

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
    @staticmethod
    def _store(conn: sqlite3.Connection, kind: str, rows: list[dict[str, Any]],
               options: dict[tuple[str, str], tuple[int, int]]) -> tuple[int, int]:
        """Write one feed page (inside the caller's transaction); (rows written, rows deleted)."""
        if kind == "products":
            out, tags, ids = _product_rows(rows)
            conn.executemany("DELETE FROM product_tags WHERE product_id = ?", ids)
            gone = len(ids) - len(out)
            if gone:
                conn.executemany("DELETE FROM products WHERE id = ?", [(r["id"],) for r in rows if r["deleted"]])
            conn.executemany(_UPSERT[kind], out)
            conn.executemany("INSERT OR IGNORE INTO product_tags (product_id, tag) VALUES (?, ?)", tags)
            return len(out), gone
        if kind == "variants":
            out, opts, ids, _unknown = _variant_rows(rows, options)
            conn.executemany("DELETE FROM variant_options WHERE variant_id = ?", ids)
            gone = len(ids) - len(out)
            if gone:
                conn.executemany("DELETE FROM variants WHERE id = ?", [(r["id"],) for r in rows if r["deleted"]])
            conn.executemany(_UPSERT[kind], out)
            conn.executemany("INSERT OR REPLACE INTO variant_options (variant_id, attribute_id, attribute_value_id) "
                             "VALUES (?, ?, ?)", opts)
            return len(out), gone
        out, dead = _level_rows(rows)
        if dead:
            conn.executemany("DELETE FROM stock_levels WHERE id = ?", dead)
        conn.executemany(_UPSERT[kind], out)
        return len(out), len(dead)

    @staticmethod
    def _option_ids(conn: sqlite3.Connection) -> dict[tuple[str, str], tuple[int, int]]:
        """(attribute code, value) -> (attribute id, value id), as the replica holds them."""
        return {(code, value): (aid, vid) for code, value, aid, vid in conn.execute(
            "SELECT a.code, v.value, a.id, v.id FROM attribute_values v JOIN attributes a ON a.id = v.attribute_id")}

    @staticmethod
    def _missing_options(rows: list[dict[str, Any]], options: dict[tuple[str, str], tuple[int, int]]) -> set:
        return {pair for r in rows if not r["deleted"] for pair in (r["options"] or {}).items() if pair not in options}

    @staticmethod
    def _replace_lists(conn: sqlite3.Connection, lists: dict[str, list[tuple]]) -> int:
        """Make each small table hold exactly ``lists``' rows (by id), in one transaction; how many rows
        were written or deleted (0 when nothing differed)."""
        changed = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            for item in _LISTS:
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
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return changed


_LABELS = {"products": "Products", "variants": "Variants", "stock-levels": "Stock levels"}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()
