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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, TextClause, select, text
from sqlalchemy.engine import Connection

from backoffice.db import Database
from backoffice.models import Attribute, AttributeValue
from backoffice.models.base import JsonDoc, Money, UTCDateTime
from backoffice.services.base import ValidationError

__all__ = ["DEFAULT_LIMIT", "KINDS", "MAX_LIMIT", "FeedPage", "current_cursor", "decode_cursor", "encode_cursor",
           "page_statement", "read_page"]

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000          # a feed is read in bulk: larger pages than the API's lists (1000)
_BIGINT_MAX = 2**63 - 1
_CURSOR = re.compile(r"^(\d{1,19})\.(\d{1,19})$")
_SEP = "\x1f"   # the unit separator: lists packed in one text column


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
    types: dict[str, Any]                         # result types (money, timestamps, JSON) by column
    shape: Callable[[Any, Any], dict[str, Any]]   # (a result row, the page's lookup) -> the feed's JSON row
    joins: str = ""                               # more joins after "page p LEFT JOIN <table> x"
    lookup: Callable[[Connection, Sequence[Any]], Any] | None = None   # what the rows refer to, once a page


def _money(value: Any) -> str | None:
    return None if value is None else str(value)


def _when(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _tags(packed: str | None) -> list[str]:
    return packed.split(_SEP) if packed else []


# Shapes: a result row (txid, seq, entity_id, present, *the kind's columns) -> the feed's JSON row. Rows
# are unpacked by position: a page is thousands of rows, and this is most of the Python work per row.
def _product(r: Any, _lookup: Any = None) -> dict[str, Any]:
    _, _, id_, _, handle, title, vendor, product_type, status, category_id, category, tags, version, updated_at = r
    return {"id": id_, "handle": handle, "title": title, "vendor": vendor, "product_type": product_type,
            "status": status, "category_id": category_id, "category": category, "tags": _tags(tags),
            "version": version, "updated_at": _when(updated_at), "deleted": False}


def _variant(r: Any, options: Callable[[str | None], dict[str, str]]) -> dict[str, Any]:
    (_, _, id_, _, product_id, sku, barcode, title, price, compare_at_price, cost, weight_grams, status, position,
     packed, version, updated_at) = r
    return {"id": id_, "product_id": product_id, "sku": sku, "barcode": barcode, "title": title,
            "price": None if price is None else str(price),
            "compare_at_price": None if compare_at_price is None else str(compare_at_price),
            "cost": None if cost is None else str(cost), "weight_grams": weight_grams, "status": status,
            "position": position, "options": options(packed), "version": version,
            "updated_at": None if updated_at is None else updated_at.isoformat(), "deleted": False}


def _stock_level(r: Any, _lookup: Any = None) -> dict[str, Any]:
    _, _, id_, _, variant_id, location_id, on_hand, reserved, threshold, reorder_point, version, updated_at = r
    return {"id": id_, "variant_id": variant_id, "location_id": location_id, "on_hand": on_hand,
            "reserved": reserved, "low_stock_threshold": threshold, "reorder_point": reorder_point,
            "version": version, "updated_at": _when(updated_at), "deleted": False}


def _order(r: Any, _lookup: Any = None) -> dict[str, Any]:
    _, _, id_, _, number, customer_id, ordered_at, status, currency, total = r
    return {"id": id_, "number": number, "customer_id": customer_id, "ordered_at": _when(ordered_at),
            "status": status, "currency": currency, "total": _money(total), "deleted": False}


def _audit(r: Any, _lookup: Any = None) -> dict[str, Any]:
    _, _, id_, _, at, user_id, username, entity, entity_id, action, operation_id, before, after = r
    return {"id": id_, "at": _when(at), "user_id": user_id, "username": username, "entity": entity,
            "entity_id": entity_id, "action": action, "operation_id": operation_id, "before": before,
            "after": after, "deleted": False}


def _option_values(conn: Connection, rows: Sequence[Any]) -> Callable[[str | None], dict[str, str]]:
    """How to read a page's variants' options (attribute code -> value, in the attributes' order) from
    their packed value ids: the attribute values the page uses, looked up once; each combination once."""
    packs = {r[14] for r in rows if r[14]}
    ids = sorted({int(i) for packed in packs for i in packed.split(_SEP)})
    values: dict[str, tuple[Any, str, str]] = {}
    if ids:
        found = conn.execute(
            select(AttributeValue.id, Attribute.position, Attribute.id, Attribute.code, AttributeValue.value)
            .join(Attribute, Attribute.id == AttributeValue.attribute_id).where(AttributeValue.id.in_(ids)))
        values = {str(vid): ((position, aid), code, value) for vid, position, aid, code, value in found}
    combos = {packed: {code: value for _, code, value in sorted(values[i] for i in packed.split(_SEP) if i in values)}
              for packed in packs}

    def options(packed: str | None) -> dict[str, str]:
        return dict(combos[packed]) if packed else {}

    return options


def _packed(pg: bool, value: str, order: str, source: str) -> str:
    """A correlated subquery packing ``value`` of the rows of ``source`` into one text, in ``order``. Keep
    ``source`` to one index (no joins): it runs once per row of the page."""
    if pg:
        return f"(SELECT string_agg({value}, chr(31) ORDER BY {order}) FROM {source})"
    return f"(SELECT group_concat(v, char(31)) FROM (SELECT {value} AS v FROM {source} ORDER BY {order}))"


def _kinds(pg: bool) -> dict[str, _Kind]:
    return {
        "products": _Kind(
            "products",
            "x.handle, x.title, x.vendor, x.product_type, x.status, x.category_id, c.name AS category, "
            + _packed(pg, "t.tag", "t.tag", "product_tags t WHERE t.product_id = x.id")
            + " AS tags, x.version, x.updated_at",
            {"updated_at": UTCDateTime()}, _product,
            joins="LEFT JOIN categories c ON c.id = x.category_id"),
        "variants": _Kind(
            "variants",
            "x.product_id, x.sku, x.barcode, x.title, x.price, x.compare_at_price, x.cost, x.weight_grams, "
            "x.status, x.position, "
            # the option values' ids (an index-only scan); their attributes and text come from one lookup
            # per page (attribute values are few), see _with_options
            + _packed(pg, "CAST(vo.attribute_value_id AS TEXT)", "vo.attribute_value_id",
                      "variant_options vo WHERE vo.variant_id = x.id")
            + " AS options, x.version, x.updated_at",
            {"price": Money, "compare_at_price": Money, "cost": Money, "updated_at": UTCDateTime()}, _variant,
            lookup=_option_values),
        "stock-levels": _Kind(
            "stock_levels",
            "x.variant_id, x.location_id, x.on_hand, x.reserved, x.low_stock_threshold, x.reorder_point, "
            "x.version, x.updated_at",
            {"updated_at": UTCDateTime()}, _stock_level),
        "orders": _Kind(
            "orders",
            "x.number, x.customer_id, x.ordered_at, x.status, x.currency, x.total",
            {"ordered_at": UTCDateTime(), "total": Money}, _order),
        "audit": _Kind(
            "audit_log",
            "x.at, x.user_id, x.username, x.entity, x.entity_id AS audit_entity_id, x.action, x.operation_id, "
            "x.before, x.after",
            {"at": UTCDateTime(), "before": JsonDoc, "after": JsonDoc}, _audit),
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
    k = _BY_DIALECT[not db.is_sqlite][kind]
    with db.read() as session:
        conn = session.connection()
        rows = conn.execute(page_statement(db, kind),
                            {"txid": position[0], "seq": position[1], "limit": limit + 1}).all()
        has_more = len(rows) > limit
        if has_more:
            rows = rows[:limit]
        lookup = k.lookup(conn, rows) if k.lookup is not None else None
    if rows:
        position = (rows[-1][0], rows[-1][1])
    shape = k.shape
    out = [shape(r, lookup) if r[3] is not None else {"id": r[2], "deleted": True} for r in rows]
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

