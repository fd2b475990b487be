"""Change feeds: the rows of a kind (products, variants, stock levels, orders, the audit log) changed
after a position, in keyset pages, each at its current state, deletions as tombstones.

The database's triggers log every change in ``change_log`` (models/feeds.py, migration 0011). A page is
one statement: an indexed range scan of the log after the cursor, joined by id to the rows as they are
now. A row comes back once, at the position of its latest change: a change followed by a later one of
the same row is passed over (one index probe), so a walk from the beginning returns each row once and a
row changed many times within a page or across pages is sent once. A row gone since is
``{"id": …, "deleted": true}``. An archived product is a row with ``status: archived``.

**Never skipping a late commit.** A position is (txid, seq). On PostgreSQL ``seq`` comes from a
sequence when the row is written, not when its transaction commits: a transaction that began first can
commit last with lower numbers than rows a client has already read. So a page holds only rows of
transactions older than the oldest one still running (``txid < pg_snapshot_xmin(pg_current_snapshot())``,
leaving out transactions of other databases on the server: see ``_PG_HORIZON``), in (txid, seq) order:
every transaction below that horizon has ended, and any transaction that commits later has a txid at or
above it, so it sorts after every cursor handed out. The price: a long transaction on the store's
database holds every feed back until it ends (nothing is lost, it arrives late). On SQLite one write
transaction runs at a time, so seq order is commit order (txid is 0).

The cursor is opaque to clients: URL-safe base64 of ``"txid.seq"``. ``None`` reads from the beginning
(existing rows were logged as inserts when the log was created); :func:`current_cursor` is the end as of
now, to take *before* a full load of the data so that everything committed after it comes after it.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, TextClause, text
from sqlalchemy.engine import Connection

from backoffice.db import Database
from backoffice.models.base import JsonDoc, Money, UTCDateTime
from backoffice.services.base import ValidationError

__all__ = ["DEFAULT_LIMIT", "KINDS", "MAX_LIMIT", "FeedPage", "current_cursor", "decode_cursor", "encode_cursor",
           "page_statement", "read_page"]

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000          # a feed is read in bulk: larger pages than the API's lists (1000)
_BIGINT_MAX = 2**63 - 1
_CURSOR = re.compile(r"^(\d{1,19})\.(\d{1,19})$")
_SEP, _PAIR = "\x1f", "\x1e"   # unit and record separators: lists packed in one text column


@dataclass(frozen=True)
class FeedPage:
    """Rows changed after a cursor (JSON-ready dicts), where to continue, and whether more are there now."""

    rows: list[dict[str, Any]]
    next_cursor: str
    has_more: bool

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "next_cursor": self.next_cursor, "has_more": self.has_more}


# -- cursors ---------------------------------------------------------------------------------------------
def encode_cursor(txid: int, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{txid}.{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[int, int]:
    """(txid, seq) of a cursor; (0, 0), before everything, for None or "". ValidationError when it is not
    one this server handed out."""
    if cursor is None or cursor == "":
        return 0, 0
    problem = ValidationError([("", "cursor", "is not a cursor of this feed: pass back a next_cursor unchanged")])
    if not isinstance(cursor, str) or len(cursor) > 64:
        raise problem
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise problem from None
    match = _CURSOR.match(raw)
    if match is None:
        raise problem
    txid, seq = int(match.group(1)), int(match.group(2))
    if txid > _BIGINT_MAX or seq > _BIGINT_MAX:
        raise problem
    return txid, seq


# -- the kinds -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Kind:
    entity: str                                   # change_log.entity: the table
    select: str                                   # columns of the row, aliased; "x" is the row
    joins: str                                    # FROM … after "page p LEFT JOIN <table> x ON x.id = p.entity_id"
    types: dict[str, Any]                         # result types (money, timestamps, JSON) by column
    shape: Callable[[Any], dict[str, Any]]        # a result row -> the feed's JSON row


def _money(value: Any) -> str | None:
    return None if value is None else str(value)


def _when(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _tags(packed: str | None) -> list[str]:
    return packed.split(_SEP) if packed else []


def _options(packed: str | None) -> dict[str, str]:
    if not packed:
        return {}
    return dict(pair.split(_PAIR, 1) for pair in packed.split(_SEP))


def _product(r: Any) -> dict[str, Any]:
    return {"id": r.entity_id, "handle": r.handle, "title": r.title, "vendor": r.vendor,
            "product_type": r.product_type, "status": r.status, "category_id": r.category_id,
            "category": r.category, "tags": _tags(r.tags), "version": r.version,
            "updated_at": _when(r.updated_at), "deleted": False}


def _variant(r: Any) -> dict[str, Any]:
    return {"id": r.entity_id, "product_id": r.product_id, "sku": r.sku, "barcode": r.barcode, "title": r.title,
            "price": _money(r.price), "compare_at_price": _money(r.compare_at_price), "cost": _money(r.cost),
            "weight_grams": r.weight_grams, "status": r.status, "position": r.position,
            "options": _options(r.options), "version": r.version, "updated_at": _when(r.updated_at),
            "deleted": False}


def _stock_level(r: Any) -> dict[str, Any]:
    return {"id": r.entity_id, "variant_id": r.variant_id, "location_id": r.location_id, "on_hand": r.on_hand,
            "reserved": r.reserved, "low_stock_threshold": r.low_stock_threshold,
            "reorder_point": r.reorder_point, "version": r.version, "updated_at": _when(r.updated_at),
            "deleted": False}


def _order(r: Any) -> dict[str, Any]:
    return {"id": r.entity_id, "number": r.number, "customer_id": r.customer_id,
            "ordered_at": _when(r.ordered_at), "status": r.status, "currency": r.currency,
            "total": _money(r.total), "deleted": False}


def _audit(r: Any) -> dict[str, Any]:
    return {"id": r.entity_id, "at": _when(r.at), "user_id": r.user_id, "username": r.username,
            "entity": r.entity, "entity_id": r.audit_entity_id, "action": r.action,
            "operation_id": r.operation_id, "before": r.before, "after": r.after, "deleted": False}


def _packed(pg: bool, value: str, order: str, source: str) -> str:
    """A correlated subquery packing ``value`` of the rows of ``source`` into one text, in ``order``."""
    if pg:
        return f"(SELECT string_agg({value}, chr(31) ORDER BY {order}) FROM {source})"
    return f"(SELECT group_concat(v, char(31)) FROM (SELECT {value} AS v FROM {source} ORDER BY {order}))"


def _kinds(pg: bool) -> dict[str, _Kind]:
    pair = "a.code || chr(30) || av.value" if pg else "a.code || char(30) || av.value"
    return {
        "products": _Kind(
            "products",
            "x.handle, x.title, x.vendor, x.product_type, x.status, x.category_id, c.name AS category, "
            + _packed(pg, "t.tag", "t.tag", "product_tags t WHERE t.product_id = x.id")
            + " AS tags, x.version, x.updated_at",
            "LEFT JOIN categories c ON c.id = x.category_id",
            {"updated_at": UTCDateTime()}, _product),
        "variants": _Kind(
            "variants",
            "x.product_id, x.sku, x.barcode, x.title, x.price, x.compare_at_price, x.cost, x.weight_grams, "
            "x.status, x.position, "
            + _packed(pg, pair, "a.position, a.id",
                      "variant_options vo JOIN attributes a ON a.id = vo.attribute_id "
                      "JOIN attribute_values av ON av.id = vo.attribute_value_id WHERE vo.variant_id = x.id")
            + " AS options, x.version, x.updated_at",
            "",
            {"price": Money, "compare_at_price": Money, "cost": Money, "updated_at": UTCDateTime()}, _variant),
        "stock-levels": _Kind(
            "stock_levels",
            "x.variant_id, x.location_id, x.on_hand, x.reserved, x.low_stock_threshold, x.reorder_point, "
            "x.version, x.updated_at",
            "", {"updated_at": UTCDateTime()}, _stock_level),
        "orders": _Kind(
            "orders",
            "x.number, x.customer_id, x.ordered_at, x.status, x.currency, x.total",
            "", {"ordered_at": UTCDateTime(), "total": Money}, _order),
        "audit": _Kind(
            "audit_log",
            "x.at, x.user_id, x.username, x.entity, x.entity_id AS audit_entity_id, x.action, x.operation_id, "
            "x.before, x.after",
            "", {"at": UTCDateTime(), "before": JsonDoc, "after": JsonDoc}, _audit),
    }


KINDS: tuple[str, ...] = ("products", "variants", "stock-levels", "orders", "audit")
_BY_DIALECT = {True: _kinds(True), False: _kinds(False)}

# PostgreSQL: the oldest transaction still running as of this statement's snapshot (its xmin), or the
# next transaction id when none is. Transactions of *other databases* on the same server are passed
# over: they can never write this log, and a long one (a DROP DATABASE, another store's import) would
# otherwise hold the feed back. The server tells every role which database a running transaction
# belongs to (pg_stat_get_activity's datid and backend_xid, 32 bits); one it cannot place (ended a moment
# ago, or prepared) counts as running here, so the horizon errs only towards waiting.
_PG_HORIZON = """(
    SELECT least(pg_snapshot_xmax(s.snap)::text::bigint,
                 (SELECT min(x::text::bigint) FROM pg_snapshot_xip(s.snap) AS x
                  WHERE NOT EXISTS (SELECT 1 FROM pg_stat_get_activity(NULL) AS a
                                    WHERE a.datid <> d.oid
                                      AND a.backend_xid::text::bigint = x::text::bigint % 4294967296)))
    FROM (SELECT pg_current_snapshot() AS snap) AS s,
         (SELECT oid FROM pg_database WHERE datname = current_database()) AS d
)"""


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValidationError([("", "kind", f"{kind!r} is not a change feed; one of {', '.join(KINDS)}")])
    return kind


def page_statement(db: Database, kind: str) -> TextClause:
    """The page read of ``kind`` as one statement (parameters: txid, seq, limit). The benchmark runs the
    same statement directly."""
    pg = not db.is_sqlite
    k = _BY_DIALECT[pg][_kind(kind)]
    horizon = f"AND c.txid < {_PG_HORIZON}" if pg else ""
    sql = f"""
        WITH page AS (
            SELECT c.txid, c.seq, c.entity_id FROM change_log c
            WHERE c.entity = '{k.entity}' AND (c.txid, c.seq) > (:txid, :seq) {horizon}
              AND NOT EXISTS (SELECT 1 FROM change_log l
                              WHERE l.entity = c.entity AND l.entity_id = c.entity_id
                                AND (l.txid, l.seq) > (c.txid, c.seq))
            ORDER BY c.txid, c.seq
            LIMIT :limit
        )
        SELECT p.txid, p.seq, p.entity_id, x.id AS present, {k.select}
        FROM page p LEFT JOIN {k.entity} x ON x.id = p.entity_id {k.joins}
        ORDER BY p.txid, p.seq
    """
    return text(sql).columns(txid=BigInteger, seq=BigInteger, present=BigInteger, **k.types)


def read_page(db: Database, kind: str, cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> FeedPage:
    """The rows of ``kind`` changed after ``cursor`` (at most ``limit``), each at its state now."""
    _kind(kind)
    position = decode_cursor(cursor)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError([("", "limit", f"must be a whole number from 1 to {MAX_LIMIT}, not {limit!r}")])
    shape = _BY_DIALECT[not db.is_sqlite][kind].shape
    with db.read() as session:
        result = session.connection().execute(page_statement(db, kind),
                                              {"txid": position[0], "seq": position[1], "limit": limit + 1})
        rows = result.all()
    has_more = len(rows) > limit
    if has_more:
        rows = rows[:limit]
    if rows:
        position = (rows[-1].txid, rows[-1].seq)
    out = [shape(r) if r.present is not None else {"id": r.entity_id, "deleted": True} for r in rows]
    return FeedPage(out, encode_cursor(*position), has_more)


def current_cursor(db: Database, kind: str) -> str:
    """The end of the feed as of now: everything that commits after this call comes after it (on
    PostgreSQL, changes of transactions still running now come after it too, so a client may see some
    of them twice). Take it before a full load, then follow the feed from it."""
    _kind(kind)
    with db.read() as session:
        conn: Connection = session.connection()
        if db.is_sqlite:
            seq = conn.execute(text("SELECT coalesce(max(seq), 0) FROM change_log")).scalar_one()
            return encode_cursor(0, int(seq))
        horizon = conn.execute(text(f"SELECT {_PG_HORIZON}")).scalar_one()
        return encode_cursor(int(horizon), 0)

