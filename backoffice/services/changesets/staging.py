"""PostgreSQL's fast paths for big changesets: edits COPYed into a temporary table, checked and written
with a few set-based statements instead of one statement per row."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from backoffice.models import Variant
from backoffice.services.base import jsonable
from backoffice.services.changesets.rows import Conflict, RowChange
from backoffice.services.price_rules import compare_at_below_price_sql
from backoffice.services.wording import money_text

def update_from_stage(session: Session, table: Table, entity: str, cols: tuple[str, ...],
                       params: list[dict[str, Any]], changeset_id: int) -> None:
    """PostgreSQL: COPY the old and new values into a temporary table, then one UPDATE … FROM and one
    INSERT … SELECT of the changeset entries (the fast path for bulk edits of thousands of rows)."""
    conn = session.connection()
    raw = conn.connection.driver_connection
    types = {c: table.c[c].type.compile(dialect=conn.dialect) for c in cols}
    stage = "_stage_" + table.name
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {stage}")
    col_defs = "".join(f", {c} {types[c]}, old_{c} {types[c]}" for c in cols)
    conn.exec_driver_sql(f"CREATE TEMP TABLE {stage} (id bigint PRIMARY KEY, expected int{col_defs}) ON COMMIT DROP")
    names = "".join(f", {c}, old_{c}" for c in cols)
    with raw.cursor() as cur, cur.copy(f"COPY {stage} (id, expected{names}) FROM STDIN") as copy:
        for p in params:
            row = [p["_id"], p["_expected"]]
            for c in cols:
                row += (p[f"_{c}"], p[f"_old_{c}"])
            copy.write_row(row)
    sets = ", ".join([f"{c} = s.{c}" for c in cols] + ["version = t.version + 1", "updated_at = %(now)s"])

    def as_json(expr: str, c: str) -> str:
        # money as a string ("12.99"), as jsonable() records it; other values as JSON scalars
        return f"{expr}::text" if str(types[c]).startswith("NUMERIC") else expr

    before = ", ".join(f"'{c}', {as_json('s.old_' + c, c)}" for c in cols)
    after = ", ".join(f"'{c}', {as_json('s.' + c, c)}" for c in cols)
    with raw.cursor() as cur:
        cur.execute(f"UPDATE {table.name} t SET {sets} FROM {stage} s WHERE t.id = s.id AND t.version = s.expected",
                    {"now": params[0]["_now"]})
        if cur.rowcount != len(params):
            raise RuntimeError("a locked row changed under the transaction")  # pragma: no cover
        cur.execute(
            "INSERT INTO changeset_entries (changeset_id, entity, entity_id, version_before, version_after, before, after) "
            f"SELECT %(cs)s, %(entity)s, s.id, s.expected, s.expected + 1, jsonb_build_object({before}), "
            f"jsonb_build_object({after}) FROM {stage} s ORDER BY s.id",
            {"cs": changeset_id, "entity": entity})
    conn.exec_driver_sql(f"DROP TABLE {stage}")



# -- PostgreSQL: big batches of variant edits, checked and written in SQL ----------------------------------
SET_BASED_MIN_ROWS = 500   # more variant rows than this take the staged path on PostgreSQL
_STAGED_FIELDS = ("barcode", "title", "price", "compare_at_price", "cost", "weight_grams", "status")
_STAGE = "_cs_variant_stage"


class StagedVariants:
    """A batch of variant edits on PostgreSQL, done as ``_apply`` does it row by row but set-based.

    The edits are COPYed into a temporary table; one statement locks the rows in id order and copies
    their version and current values beside the new ones; queries that return only the rows concerned
    find missing rows, conflicts (version moved on), unchanged rows and compare-at prices that would end
    up below the price; after the changeset row exists, one UPDATE … FROM writes the rows (versions
    checked again) and one INSERT … SELECT records their changeset entries with the before/after values
    of the fields that change. Problems, conflicts, counts, versions and records are the same as the
    row-by-row path gives (SKU changes, which need uniqueness checks, stay on that path)."""

    @staticmethod
    def suits(session: Session, batch: list, wanted: set[str]) -> bool:
        return (len(batch) > SET_BASED_MIN_ROWS and bool(wanted) and wanted <= set(_STAGED_FIELDS)
                and session.get_bind().dialect.name == "postgresql")

    def __init__(self, session: Session, batch: list[tuple[RowChange, dict[str, Any]]], wanted: set[str],
                 locked: dict[int, dict[str, Any]] | None = None) -> None:
        self.batch = batch
        self.cols = cols = [c for c in _STAGED_FIELDS if c in wanted]
        conn = session.connection()
        self.raw = conn.connection.driver_connection
        table = Variant.__table__
        self.types = {c: table.c[c].type.compile(dialect=conn.dialect) for c in _STAGED_FIELDS}
        self.olds = list(dict.fromkeys([*cols, "price", "compare_at_price"]))
        bits = [(c, 1 << i) for i, c in enumerate(cols)]
        self.bit = dict(bits)
        everywhere = (1 << len(cols)) - 1
        new_defs = "".join(f", {c} {self.types[c]}" for c in cols)
        old_defs = "".join(f", old_{c} {self.types[c]}" for c in self.olds)
        with self.raw.cursor() as cur:
            # sorts and hashes of 100k rows fit in memory (the default 4 MB spills them to disk)
            cur.execute("SELECT CASE WHEN pg_size_bytes(current_setting('work_mem')) < 64 * 1024 * 1024 "
                        "THEN set_config('work_mem', '64MB', true) END")
            cur.execute(f"DROP TABLE IF EXISTS {_STAGE}")
            cur.execute(f"CREATE TEMP TABLE {_STAGE} (pos int, id bigint, expected int, mask int{new_defs}, "
                        f"found bool NOT NULL DEFAULT false, version int, sku text{old_defs}) ON COMMIT DROP")
            names = "pos, id, expected, mask" + "".join(", " + c for c in cols)
            if locked is not None:   # the caller read and locked the rows: their values go in with the edits
                names += ", found, version, sku" + "".join(", old_" + c for c in self.olds)
            with cur.copy(f"COPY {_STAGE} ({names}) FROM STDIN") as copy:
                write = copy.write_row
                for pos, (ch, vals) in enumerate(batch):
                    row = [pos, ch.entity_id, ch.expected_version, 0]
                    mask = 0
                    for c, bit in bits:
                        if c in vals:
                            v = vals[c]
                            row.append(v.value if isinstance(v, enum.Enum) else v)
                            mask |= bit
                        else:
                            row.append(None)
                    row[3] = mask
                    everywhere &= mask
                    if locked is not None:
                        now = locked.get(ch.entity_id)
                        if now is None:
                            row += [False, None, None, *[None] * len(self.olds)]
                        else:
                            row += [True, now["version"], now["sku"], *[now[c] for c in self.olds]]
                    write(row)
            if locked is None:
                # lock the rows in id order, and keep their version and current values beside the new ones
                current = ", ".join(f"v.{c}" for c in self.olds)
                copied = ", ".join(f"old_{c} = t.{c}" for c in self.olds)
                cur.execute(f"UPDATE {_STAGE} s SET found = true, version = t.version, sku = t.sku, {copied} "
                            f"FROM (SELECT v.id, v.version, v.sku, {current} FROM variants v "
                            f"WHERE v.id IN (SELECT id FROM {_STAGE}) ORDER BY v.id FOR UPDATE OF v) t WHERE s.id = t.id")
            cur.execute(f"ANALYZE {_STAGE}")
        self.everywhere = {c for c, bit in bits if everywhere & bit}
        self.ok = "s.found AND s.version = s.expected"
        self.changed = "(" + " OR ".join(self._changes(c) for c in cols) + ")"
        self.ready = 0
        self.invalid: list[tuple[str, str, str]] = []

    def _has(self, c: str) -> str:
        return "true" if c in self.everywhere else f"(s.mask & {self.bit[c]}) <> 0"

    def _changes(self, c: str) -> str:
        return f"({self._has(c)} AND s.{c} IS DISTINCT FROM s.old_{c})"

    def _final(self, c: str) -> str:
        if c not in self.bit:
            return f"s.old_{c}"
        return f"s.{c}" if c in self.everywhere else f"CASE WHEN {self._has(c)} THEN s.{c} ELSE s.old_{c} END"

    def check(self, problems: list, conflicts: list[Conflict]) -> int:
        """Add missing rows to ``problems`` and stale ones to ``conflicts`` (batch order), note the rows
        whose compare-at would end below the price in ``invalid``; returns the unchanged row count."""
        with self.raw.cursor() as cur:
            olds = ", ".join(f"s.old_{c}" for c in self.cols)
            cur.execute(f"SELECT s.pos, s.found, s.version, s.sku, {olds} FROM {_STAGE} s "
                        f"WHERE NOT ({self.ok}) ORDER BY s.pos")
            for pos, found, version, sku, *now in cur.fetchall():
                ch, vals = self.batch[pos]
                if not found:
                    problems.append((f"variant {ch.entity_id}", "", "does not exist"))
                    continue
                theirs = dict(zip(self.cols, now, strict=True))
                for name, new in vals.items():
                    conflicts.append(Conflict("variant", ch.entity_id, sku, name, jsonable(ch.original.get(name)),
                                              jsonable(new), jsonable(theirs.get(name)), version))
            cur.execute(f"SELECT count(*) FILTER (WHERE NOT {self.changed}), count(*) FILTER (WHERE {self.changed}) "
                        f"FROM {_STAGE} s WHERE {self.ok}")
            unchanged, self.ready = cur.fetchone()
            if "price" in self.bit or "compare_at_price" in self.bit:
                touched = " OR ".join(self._changes(c) for c in ("price", "compare_at_price") if c in self.bit)
                compare, price = self._final("compare_at_price"), self._final("price")
                cur.execute(f"SELECT s.sku, {compare}, {price} FROM {_STAGE} s WHERE {self.ok} AND ({touched}) "
                            f"AND {compare_at_below_price_sql(price, compare)} ORDER BY s.pos")
                self.invalid = [(f"SKU {sku}", "compare_at_price",
                                 f"{money_text(compare_at)} would be below the price {money_text(price_)}")
                                for sku, compare_at, price_ in cur.fetchall()]
        return int(unchanged)

    def write(self, now: dt.datetime, changeset_id: int) -> dict[tuple[str, int], int]:
        """Write the changed rows and their changeset entries; returns their new versions."""
        sets = ", ".join(f"{c} = s.{c}" if c in self.everywhere else f"{c} = CASE WHEN {self._has(c)} THEN s.{c} ELSE t.{c} END"
                         for c in self.cols)

        def as_json(expr: str, c: str) -> str:   # money as a string ("12.99"), as jsonable() records it
            return f"{expr}::text" if self.types[c].startswith("NUMERIC") else expr

        def record(prefix: str) -> str:
            obj = "jsonb_build_object(" + ", ".join(f"'{c}', {as_json('s.' + prefix + c, c)}" for c in self.cols) + ")"
            if len(self.cols) == 1:
                return obj   # a row that changes changes its only field
            unchanged = ", ".join(f"CASE WHEN NOT {self._changes(c)} THEN '{c}' END" for c in self.cols)
            return f"({obj} - ARRAY[{unchanged}]::text[])"

        where = f"{self.ok} AND {self.changed}"
        with self.raw.cursor() as cur:
            # the rows and their entries in one statement: each written row's record comes from the stage
            cur.execute(
                f"WITH written AS (UPDATE variants t SET {sets}, version = t.version + 1, updated_at = %(now)s "
                f"FROM {_STAGE} s WHERE t.id = s.id AND t.version = s.expected AND {where} "
                f"RETURNING s.pos, s.id, s.expected, {record('old_')} AS before, {record('')} AS after) "
                "INSERT INTO changeset_entries (changeset_id, entity, entity_id, version_before, version_after, before, after) "
                "SELECT %(cs)s, 'variant', w.id, w.expected, w.expected + 1, w.before, w.after FROM written w ORDER BY w.pos",
                {"now": now, "cs": changeset_id})
            if cur.rowcount != self.ready:
                raise RuntimeError("a locked row changed under the transaction")  # pragma: no cover
            cur.execute(f"SELECT s.id, s.expected + 1 FROM {_STAGE} s WHERE {where}")
            versions = {("variant", vid): version for vid, version in cur.fetchall()}
            cur.execute(f"DROP TABLE {_STAGE}")
        return versions


