"""Change feeds: the rows of a kind (products, variants, stock levels, orders, the audit log) changed
after a position, in keyset pages, each at its current state, deletions as tombstones.

The database's triggers log every change in ``change_log`` (models/feeds.py, migration 0011). A page is
one statement: an indexed range scan of the log after the cursor, joined by id to the rows as they are
now, each written as a JSON document by the database (no per-row work in Python). A row comes back once, at the position of its latest change: a change followed by a later one of
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
import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import BigInteger, Text, TextClause, text
from sqlalchemy.engine import Connection

from backoffice.db import Database
from backoffice.services.base import ValidationError

__all__ = ["DEFAULT_LIMIT", "KINDS", "MAX_LIMIT", "FeedPage", "current_cursor", "decode_cursor", "encode_cursor",
           "page_statement", "read_page"]

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000          # a feed is read in bulk: larger pages than the API's lists (1000)
_BIGINT_MAX = 2**63 - 1
_CURSOR = re.compile(r"^(\d{1,19})\.(\d{1,19})$")


@dataclass(frozen=True)
class FeedPage:
    """Rows changed after a cursor, where to continue, and whether more are there now. The database writes
    the rows as JSON (``body``, an array): a server sends it as it is; ``rows`` parses it."""

    body: str
    next_cursor: str
    has_more: bool

    @cached_property
    def rows(self) -> list[dict[str, Any]]:
        return json.loads(self.body)

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "next_cursor": self.next_cursor, "has_more": self.has_more}

    def to_json_text(self) -> str:
        """The page as the API's JSON document, without parsing the rows again."""
        return (f'{{"rows":{self.body},"next_cursor":{json.dumps(self.next_cursor)},'
                f'"has_more":{"true" if self.has_more else "false"}}}')


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
# -- the kinds: each row as a JSON document written by the database ------------------------------------
# Fields are (key, PostgreSQL expression, SQLite expression) over the row "x"; money as text with two
# decimals, times as ISO 8601 in UTC. Written by the database so a page is one statement and no Python
# work per row: a feed page is thousands of rows.
def _money(column: str) -> tuple[str, str]:
    return f"{column}::text", f"CASE WHEN {column} IS NULL THEN NULL ELSE printf('%.2f', {column}) END"


def _time(column: str) -> tuple[str, str]:
    return (f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')""",
            f"CASE WHEN {column} IS NULL THEN NULL ELSE replace({column}, ' ', 'T') || '+00:00' END")


def _same(column: str) -> tuple[str, str]:
    return column, column


@dataclass(frozen=True)
class _Kind:
    entity: str                                        # change_log.entity: the table
    fields: tuple[tuple[str, tuple[str, str]], ...]    # (key, (PostgreSQL, SQLite expression))
    joins: str = ""                                    # more joins after "page p LEFT JOIN <table> x"
    pg_lookup: str = ""                                # PostgreSQL: a one-row CTE "m" made once, joined to the page

    def document(self, pg: bool) -> str:
        pairs = ", ".join(f"'{key}', {exprs[0] if pg else exprs[1]}" for key, exprs in self.fields)
        if pg:
            return (f"CASE WHEN x.id IS NULL THEN json_build_object('id', p.entity_id, 'deleted', true)::text "
                    f"ELSE json_build_object({pairs}, 'deleted', false)::text END")
        return (f"CASE WHEN x.id IS NULL THEN json_object('id', p.entity_id, 'deleted', json('true')) "
                f"ELSE json_object({pairs}, 'deleted', json('false')) END")


_KINDS: dict[str, _Kind] = {
    "products": _Kind("products", (
        ("id", _same("x.id")), ("handle", _same("x.handle")), ("title", _same("x.title")),
        ("vendor", _same("x.vendor")), ("product_type", _same("x.product_type")), ("status", _same("x.status")),
        ("category_id", _same("x.category_id")), ("category", _same("c.name")),
        ("tags", ("coalesce((SELECT json_agg(t.tag ORDER BY t.tag) FROM product_tags t WHERE t.product_id = x.id), "
                  "'[]'::json)",
                  "json((SELECT json_group_array(tag) FROM (SELECT t.tag FROM product_tags t "
                  "WHERE t.product_id = x.id ORDER BY t.tag)))")),
        # The product's images in gallery order with the variants each is shown for: what the grid's
        # picture is chosen from. A change to them logs the product (migration 0015).
        ("images", ("coalesce((SELECT json_agg(json_build_object('id', i.id, 'position', i.position, "
                    "'content_hash', i.content_hash, 'thumb_hash', i.thumb_hash, 'variant_ids', "
                    "coalesce((SELECT json_agg(iv.variant_id ORDER BY iv.variant_id) FROM product_image_variants iv "
                    "WHERE iv.image_id = i.id), '[]'::json)) ORDER BY i.position, i.id) "
                    "FROM product_images i WHERE i.product_id = x.id), '[]'::json)",
                    "json((SELECT json_group_array(json(o)) FROM (SELECT json_object('id', i.id, 'position', "
                    "i.position, 'content_hash', i.content_hash, 'thumb_hash', i.thumb_hash, 'variant_ids', "
                    "json((SELECT json_group_array(v) FROM (SELECT iv.variant_id AS v FROM product_image_variants iv "
                    "WHERE iv.image_id = i.id ORDER BY iv.variant_id)))) AS o "
                    "FROM product_images i WHERE i.product_id = x.id ORDER BY i.position, i.id)))")),
        ("version", _same("x.version")), ("updated_at", _time("x.updated_at"))),
        joins="LEFT JOIN categories c ON c.id = x.category_id"),
    "variants": _Kind("variants", (
        ("id", _same("x.id")), ("product_id", _same("x.product_id")), ("sku", _same("x.sku")),
        ("barcode", _same("x.barcode")), ("title", _same("x.title")), ("price", _money("x.price")),
        ("compare_at_price", _money("x.compare_at_price")), ("cost", _money("x.cost")),
        ("weight_grams", _same("x.weight_grams")), ("status", _same("x.status")), ("position", _same("x.position")),
        # attribute code -> value. PostgreSQL: each value's [code, value] from a map of every attribute value
        # made once per page (the CTE "m", see pg_lookup); joining the attribute tables in this subquery instead
        # makes the planner hash them again for every row (twice the time of the whole page).
        ("options", ("coalesce((SELECT json_object_agg(m.map -> vo.attribute_value_id::text ->> 0, "
                     "m.map -> vo.attribute_value_id::text ->> 1 ORDER BY vo.attribute_id) "
                     "FROM variant_options vo WHERE vo.variant_id = x.id), '{}'::json)",
                     "json((SELECT json_group_object(a.code, av.value) FROM variant_options vo "
                     "JOIN attributes a ON a.id = vo.attribute_id JOIN attribute_values av ON av.id = vo.attribute_value_id "
                     "WHERE vo.variant_id = x.id))")),
        ("version", _same("x.version")), ("updated_at", _time("x.updated_at"))),
        pg_lookup="m AS MATERIALIZED (SELECT jsonb_object_agg(av.id::text, jsonb_build_array(a.code, av.value)) "
                  "AS map FROM attribute_values av JOIN attributes a ON a.id = av.attribute_id)"),
    "stock-levels": _Kind("stock_levels", (
        ("id", _same("x.id")), ("variant_id", _same("x.variant_id")), ("location_id", _same("x.location_id")),
        ("on_hand", _same("x.on_hand")), ("reserved", _same("x.reserved")),
        ("low_stock_threshold", _same("x.low_stock_threshold")), ("reorder_point", _same("x.reorder_point")),
        ("version", _same("x.version")), ("updated_at", _time("x.updated_at")))),
    "orders": _Kind("orders", (
        ("id", _same("x.id")), ("number", _same("x.number")), ("customer_id", _same("x.customer_id")),
        ("ordered_at", _time("x.ordered_at")), ("status", _same("x.status")), ("currency", _same("x.currency")),
        ("total", _money("x.total")), ("state", _same("x.state")), ("channel", _same("x.channel")),
        ("version", _same("x.version")))),
    "audit": _Kind("audit_log", (
        ("id", _same("x.id")), ("at", _time("x.at")), ("user_id", _same("x.user_id")),
        ("username", _same("x.username")), ("entity", _same("x.entity")), ("entity_id", _same("x.entity_id")),
        ("action", _same("x.action")), ("operation_id", _same("x.operation_id")),
        ("before", ("x.before", "json(x.before)")), ("after", ("x.after", "json(x.after)")))),
}


KINDS: tuple[str, ...] = ("products", "variants", "stock-levels", "orders", "audit")

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
    """The page read of ``kind`` as one statement (parameters: txid, seq, limit; columns: txid, seq, doc,
    the row's JSON document or its tombstone). The benchmark runs the same statement directly."""
    pg = not db.is_sqlite
    k = _KINDS[_kind(kind)]
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
        ){(", " + k.pg_lookup) if pg and k.pg_lookup else ""}
        SELECT p.txid, p.seq, {k.document(pg)} AS doc
        FROM page p {"CROSS JOIN m" if pg and k.pg_lookup else ""}
             LEFT JOIN {k.entity} x ON x.id = p.entity_id {k.joins}
        ORDER BY p.txid, p.seq
    """
    return text(sql).columns(txid=BigInteger, seq=BigInteger, doc=Text)


def read_page(db: Database, kind: str, cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> FeedPage:
    """The rows of ``kind`` changed after ``cursor`` (at most ``limit``), each at its state now."""
    _kind(kind)
    position = decode_cursor(cursor)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError([("", "limit", f"must be a whole number from 1 to {MAX_LIMIT}, not {limit!r}")])
    with db.read() as session:
        result = session.connection().execute(page_statement(db, kind),
                                              {"txid": position[0], "seq": position[1], "limit": limit + 1})
        rows = result.all()
    has_more = len(rows) > limit
    if has_more:
        rows = rows[:limit]
    if rows:
        position = (rows[-1][0], rows[-1][1])
    return FeedPage("[" + ",".join(r[2] for r in rows) + "]", encode_cursor(*position), has_more)


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

