"""Planning an import: every row checked, then compared with the store.

The file's rows are read in chunks (rows.py): for each chunk, pass 1 works column by column (each
distinct cell text parsed once: prices, statuses and weights repeat a lot), pass 2 is one lean loop over
the rows with the store's rows for the chunk's SKUs. What crosses chunks is small: SKUs seen on more than
one row (found by the row store), each product's merged cells, counts, and the first problems and
conflicts. A dry run keeps nothing else (``keep=False``), so its memory does not grow with the file; an
import keeps the changes it will write. The same plan serves the dry run (read session) and the import
(inside the write transaction).

Stale rows: a row's version (the file's ``version``/``product_version`` cells, else the dry run's
``Baseline``, else "updated after ``changed_since``") older than the store's makes every cell that
differs from the stored value a conflict; cells equal to the stored value are no change. Conflicting
rows are refused (the default), skipped, or overwritten, as ``on_conflict`` says.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
from collections import defaultdict
from decimal import Decimal
from operator import itemgetter
from typing import Any

from sqlalchemy import String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from backoffice.models import Changeset, ChangesetEntry, Product, ProductTag, Variant, VariantOption
from backoffice.services.catalog import HANDLE_RE, MAX_LENGTHS, SKU_RE
from backoffice.services.changesets import RowChange
from backoffice.services.importexport.attributes import OptionResolver
from backoffice.services.importexport.cells import (
    ABSENT,
    PARSERS,
    PRODUCT_STATUSES,
    array_literal,
    parse_signature,
    same_value,
    short,
    signature,
    whole_number,
)
from backoffice.services.importexport.common import (
    SHOPIFY_IMAGE_COLUMNS,
    SHOPIFY_NO_OPTION,
    Problem,
    Steps,
    category_key,
    category_paths,
    unneutralise,
)
from backoffice.services.importexport.model import (
    MAX_KEPT_CONFLICTS,
    MAX_KEPT_PROBLEMS,
    Baseline,
    ImportConflict,
    ImportReport,
    NewProduct,
    NewVariant,
    Plan,
)
from backoffice.services.importexport.reading import ParsedFile
from backoffice.services.importexport.rows import CHUNK_ROWS, Chunk
from backoffice.services.price_rules import compare_at_below_price

CHUNK = 5000
PRODUCT_TEXT = {"title": 255, "vendor": 200, "product_type": 200, "seo_title": 255, "seo_description": 500}
PRODUCT_FIELDS = ("title", "description", "vendor", "product_type", "status", "category", "tags", "seo_title",
                  "seo_description", "published")
# variant fields as (field, column key); their position in a stored variant tuple (see load_variants)
VARIANT_FIELDS = (("price", "price"), ("compare_at_price", "compare_at_price"), ("cost", "cost"),
                  ("barcode", "barcode"), ("weight_grams", "weight_grams"), ("status", "variant_status"))
VARIANT_COLUMN = dict(VARIANT_FIELDS)
_STORED = {"barcode": 5, "price": 6, "compare_at_price": 7, "cost": 8, "weight_grams": 9, "status": 10}
# a stored variant tuple as changesets.apply_in_session(locked_variants=...) wants it (product id and handle unused)
_LOCKED_FIELDS = ("sku", "id", "version", "product_id", "handle", "barcode", "price", "compare_at_price", "cost",
                  "weight_grams", "status")
_UPDATED_AT = 11   # a stored variant tuple's updated_at


def _same(text: str) -> str:
    return text


def _same_value(a: Any, b: Any) -> bool:
    """Whether a value and one recorded in history (JSON: money as text, statuses as their value) agree."""
    a, b = getattr(a, "value", a), getattr(b, "value", b)
    if a == b:
        return True
    if a is None or b is None:
        return a in ("", []) or b in ("", [])
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return sorted(map(str, a)) == sorted(map(str, b))
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except ArithmeticError:
        return str(a) == str(b)


def _three_way(diff: dict[str, Any], now: dict[str, Any], at: dict[str, Any] | None) -> tuple[dict, dict]:
    """A stale row's cells that differ from the store, split into (the file's own edits, conflicts).
    ``at``: the values when the row was read (None: unknown). A cell equal to the value it had then was
    not edited (nothing to do); a field nobody changed since takes the file's edit; a field both changed
    is a conflict. Without the values of then, every differing cell is a conflict."""
    if at is None:
        return {}, dict(diff)
    own, clash = {}, {}
    for key, v in diff.items():
        was = at.get(key, now.get(key)) if key in at else now.get(key)
        if _same_value(v, was):
            continue
        if _same_value(was, now.get(key)):
            own[key] = v
        else:
            clash[key] = v
    return own, clash


def _when(t: Any) -> str | None:
    t = _utc(t)
    return t.isoformat(timespec="seconds") if isinstance(t, dt.datetime) else None


def _utc(t: Any) -> Any:
    if isinstance(t, dt.datetime) and t.tzinfo is None:
        return t.replace(tzinfo=dt.timezone.utc)
    return t



# -- the planner ----------------------------------------------------------------------------------------
class _ProductSpill:
    """A dry run's per-product state (first row, new variants, oldest version, merged cells and the rows
    they came from) kept in the row store's SQLite file between chunks, so that a file of two million
    one-variant products needs no more memory than one of a thousand. Before a chunk, the states of the
    products it names are loaded into the planner's dicts; after it, they are written back."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        conn.execute("DROP TABLE IF EXISTS p")
        conn.execute("CREATE TABLE p (handle TEXT PRIMARY KEY, first_row INTEGER, new INTEGER, pversion INTEGER,"
                     " merged TEXT, origin TEXT)")

    def _fill(self, pl: Planner, rows: list[tuple]) -> None:
        for handle, first, new, pversion, merged, origin in rows:
            if first is not None:
                pl.first_row[handle] = first
            if new:
                pl.new_rows[handle] = new
            if pversion is not None:
                pl.product_version[handle] = pversion
            if merged is not None:
                pl.merged[handle] = json.loads(merged)
                pl.origin[handle] = json.loads(origin)

    def load(self, pl: Planner, handles: set[str]) -> None:
        keys = sorted(h for h in handles if h)
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            self._fill(pl, self.conn.execute(
                f"SELECT handle, first_row, new, pversion, merged, origin FROM p WHERE handle IN "
                f"({','.join('?' * len(part))})", part).fetchall())

    def save(self, pl: Planner) -> None:
        handles = set(pl.first_row) | set(pl.new_rows) | set(pl.product_version) | set(pl.merged)
        self.conn.executemany(
            "INSERT OR REPLACE INTO p VALUES (?, ?, ?, ?, ?, ?)",
            ((h, pl.first_row.get(h), pl.new_rows.get(h) or 0, pl.product_version.get(h),
              json.dumps(pl.merged[h], ensure_ascii=False) if h in pl.merged else None,
              json.dumps(pl.origin[h]) if h in pl.merged else None) for h in handles))
        for d in (pl.first_row, pl.new_rows, pl.product_version, pl.merged, pl.origin):
            d.clear()

    def parts(self, pl: Planner, size: int) -> Any:
        """The products to plan, ``size`` at a time (by their first row), their state loaded."""
        self.conn.execute("CREATE INDEX IF NOT EXISTS p_first ON p (first_row)")
        after = 0
        while True:
            rows = self.conn.execute("SELECT handle, first_row, new, pversion, merged, origin FROM p"
                                     " WHERE first_row > ? ORDER BY first_row LIMIT ?", (after, size)).fetchall()
            if not rows:
                return
            for d in (pl.first_row, pl.new_rows, pl.product_version, pl.merged, pl.origin):
                d.clear()
            self._fill(pl, rows)
            after = rows[-1][1]
            yield [r[0] for r in rows]


class Planner:
    """``lock``: the plan is made inside the import's write transaction: the store's variants that the
    file names are read locked (in id order), so the changeset can take their values as read.
    ``keep``: keep what the import would write (an import); a dry run keeps only counts, the first
    problems and conflicts, and the ``Baseline`` (each row's version as read).
    ``baseline``: a dry run's view of the store; rows changed since are stale (see the module's notes).
    ``changed_since``: rows the store changed after this time are stale (when there is no version)."""

    def __init__(self, session: Session, parsed: ParsedFile, steps: Steps, *, lock: bool = False,
                 keep: bool = True, on_conflict: str = "refuse", baseline: Baseline | None = None,
                 changed_since: dt.datetime | None = None) -> None:
        self.s, self.p, self.steps, self.lock, self.keep = session, parsed, steps, lock, keep
        self.pg = session.get_bind().dialect.name == "postgresql"
        self.problems: list[Problem] = []
        self.cols = parsed.columns
        self.header = parsed.header
        self.report = ImportReport(parsed.name, parsed.format, parsed.container, parsed.data_rows,
                                   notes=list(parsed.notes), on_conflict=on_conflict)
        self.unq = unneutralise if parsed.container == "csv" else _same
        self.on_conflict = on_conflict
        if baseline is not None and baseline.rows != parsed.data_rows:
            baseline = None   # not this file's
        self.baseline = baseline
        self.changed_since = _utc(changed_since)
        self.seen = Baseline(parsed.data_rows, parsed.signature) if not keep else None   # what this dry run reads
        self.repeated = parsed.store.repeated_skus()
        self.names_by_handle: dict[str, list[str]] = {}
        self.images = 0
        self.rows: list[list[str]] = []
        self.nums: list[int] = []
        self.start = 0

    def problem(self, row: int, col: int | str | None, message: str) -> None:
        self.report.problem_count += 1
        if len(self.problems) < MAX_KEPT_PROBLEMS:
            name = self.header[col] if isinstance(col, int) else (col or "")
            self.problems.append(Problem(row, name, message))

    def conflict(self, c: ImportConflict) -> None:
        self.report.conflict_count += 1
        if len(self.report.conflicts) < MAX_KEPT_CONFLICTS:
            self.report.conflicts.append(c)

    def column(self, i: int) -> list[str]:
        return list(map(itemgetter(i), self.rows))

    def versions(self, key: str) -> list[Any] | None:
        """The file's version cells of a column as whole numbers (None where empty); bad ones are problems."""
        i = self.cols.get(key)
        if i is None:
            return None
        out: list[Any] = []
        cache: dict[str, Any] = {}
        for k, t in enumerate(self.column(i)):
            v = cache.get(t, False)
            if v is False:
                text = t.strip()
                n = whole_number(text) if text else None
                v = cache[t] = -1 if text and (n is None or n < 0) else n
            if v == -1:
                self.problem(self.nums[k], i, f"{short(t.strip())} is not a version (a whole number, as exported); "
                                              "leave it as the export wrote it, or empty")
                v = None
            out.append(v)
        return out

    # -- pass 1: every row on its own, column by column ----------------------------------------------
    def read_rows(self) -> tuple[list[int], list[str], list[str], dict[str, list[Any]], list[Any]]:
        """Row indexes that passed, with per-row SKU, handle, variant values (by field) and options."""
        p, cols, nums, unq = self.p, self.cols, self.nums, self.unq
        n_rows = len(self.rows)
        bad: set[int] = set()
        skip: set[int] = set()
        i_sku, i_handle = cols["sku"], cols.get("handle")
        shopify = p.format == "shopify"
        clean = {t: unq(t).strip() for t in set(self.column(i_sku))}
        skus = [clean[t] for t in self.column(i_sku)]
        sku_max = MAX_LENGTHS["sku"]
        sku_errors = {}
        for s in set(clean.values()):
            if len(s) > sku_max:
                sku_errors[s] = f"is {len(s)} characters long; at most {sku_max}"
            elif s and not SKU_RE.match(s):
                sku_errors[s] = f"{short(s)} must start with a letter or digit and hold no spaces"
        self.steps.within(0.05)
        values: dict[str, list[Any]] = {}
        value_errors: dict[str, tuple[int, dict[str, str]]] = {}
        for key, col in VARIANT_FIELDS:
            if col not in cols:
                continue
            texts = self.column(cols[col])
            parse = PARSERS[key]
            if key == "barcode":   # nearly every barcode is distinct: skip the call for plain digits
                parsed = {t: (t, None) if t.isdigit() and len(t) <= 64 else parse(unq(t).strip())
                          for t in set(texts)}
            else:
                parsed = {t: parse(unq(t).strip()) for t in set(texts)}
            errors = {t: e for t, (_, e) in parsed.items() if e is not None}
            values[key] = [parsed[t][0] for t in texts]
            if errors:
                value_errors[key] = (cols[col], errors)
                for k, t in enumerate(texts):
                    if t in errors:
                        bad.add(k)
        self.steps.within(0.2)
        money_cols = [cols[k] for k in ("price", "compare_at_price", "cost") if k in cols]
        option_idx = [i for pair in p.option_columns for i in pair if i is not None]
        if p.options_column is not None:
            option_idx = [p.options_column]
        # empty SKUs: Shopify image rows are skipped, anything else is a problem
        if "" in clean.values():
            for k, s in enumerate(skus):
                if s:
                    continue
                r = self.rows[k]
                if shopify and not any(r[i].strip() for i in money_cols + option_idx):
                    skip.add(k)
                else:
                    self.problem(nums[k], i_sku, "is empty: every variant needs a SKU (variants are matched by SKU)")
                    bad.add(k)
        if shopify:
            image_cols = [p.header.index(h) for h in SHOPIFY_IMAGE_COLUMNS if h in p.header]
            self.images += sum(1 for r in self.rows if any(r[i].strip() for i in image_cols)) if image_cols else 0
            self.report.skipped_rows += len(skip)
        if sku_errors:
            for k, s in enumerate(skus):
                if s in sku_errors:
                    self.problem(nums[k], i_sku, sku_errors[s])
                    bad.add(k)
        if self.repeated:   # SKUs on more than one row of the file (the row store found them)
            repeated = self.repeated
            for k, s in enumerate(skus):
                first = repeated.get(s)
                if first is not None and first != nums[k]:
                    self.problem(nums[k], i_sku, f"{short(s)} already appears on row {first}; each SKU may appear once")
                    bad.add(k)
        if i_handle is not None:
            hclean = {t: unq(t).strip() for t in set(self.column(i_handle))}
            handles = [hclean[t] for t in self.column(i_handle)]
            handle_errors = {}
            for h in set(hclean.values()):
                if len(h) > MAX_LENGTHS["handle"]:
                    handle_errors[h] = f"is {len(h)} characters long; at most {MAX_LENGTHS['handle']}"
                elif h and not HANDLE_RE.match(h):
                    handle_errors[h] = f"{short(h)} must be lower-case letters, digits and single dashes"
            if handle_errors:
                for k, h in enumerate(handles):
                    if h in handle_errors and k not in skip:
                        self.problem(nums[k], i_handle, handle_errors[h])
                        bad.add(k)
        else:
            handles = [""] * n_rows
            handle_errors = {}
        for col_i, errors in value_errors.values():
            texts = self.column(col_i)
            for k, t in enumerate(texts):
                if t in errors and k not in skip:
                    self.problem(nums[k], col_i, errors[t])
        self.steps.within(0.3)
        options: list[Any] = [None] * n_rows
        if option_idx:
            options = self._options(handles, option_idx, bad, skip, shopify)
        self.steps.within(0.4)
        good = [k for k in range(n_rows) if k not in bad and k not in skip] if (bad or skip) else list(range(n_rows))
        self.valid_handles = {h for h in set(handles) if h and h not in handle_errors}
        self.skipped = skip
        return good, skus, handles, values, options

    def _options(self, handles: list[str], option_idx: list[int], bad: set[int], skip: set[int],
                 shopify: bool) -> list[Any]:
        """Per row: a list of (name, value, column), shared between rows with the same option cells."""
        p, nums = self.p, self.nums
        get = itemgetter(*option_idx)
        names_by_handle = self.names_by_handle
        cache: dict[tuple, list | None] = {}
        out: list[Any] = [None] * len(self.rows)
        single = len(option_idx) == 1
        for k, r in enumerate(self.rows):
            if k in skip:
                continue
            raw = get(r)
            if single:
                raw = (raw,)
            handle = handles[k]
            carried = names_by_handle.get(handle) if handle else None
            key = (raw, tuple(carried) if carried else None)
            if key in cache:
                found = cache[key]
                if found is None:
                    self._row_options(nums[k], handle, r, names_by_handle, shopify)   # report this row too
                elif handle and carried is None and p.option_columns:
                    self._row_options(nums[k], handle, r, names_by_handle, shopify)   # remember the names
            else:
                found = cache[key] = self._row_options(nums[k], handle, r, names_by_handle, shopify)
            if found is None:
                bad.add(k)
            else:
                out[k] = found
        return out

    def _row_options(self, num: int, handle: str, r: list[str], names_by_handle: dict[str, list[str]],
                     shopify: bool) -> list[tuple[str, str, int]] | None:
        unq = self.unq

        def cell(i: int | None) -> str:
            return unq(r[i]).strip() if i is not None else ""

        pairs: list[tuple[str, str, int]] = []
        ok = True
        i_options = self.p.options_column
        if i_options is not None:
            for part in (x.strip() for x in cell(i_options).split(";")):
                if not part:
                    continue
                if "=" not in part:
                    self.problem(num, i_options, f"{short(part)} is not name=value (write options as \"size=M; colour=Red\")")
                    ok = False
                    continue
                name, value = (x.strip() for x in part.split("=", 1))
                if not name or not value:
                    self.problem(num, i_options, f"{short(part)} needs both a name and a value")
                    ok = False
                    continue
                pairs.append((name, value, i_options))
        else:
            carried = names_by_handle.get(handle) if handle else None
            names: list[str] = []
            for slot, (i_name, i_value) in enumerate(self.p.option_columns):
                name = cell(i_name)
                if not name and carried and slot < len(carried):
                    name = carried[slot]
                names.append(name)
                value = cell(i_value)
                if not value:
                    continue
                if not name:
                    self.problem(num, i_value, f"{short(value)} has no option name (option{slot + 1}_name is empty)")
                    ok = False
                    continue
                pairs.append((name, value, i_value))
            if handle and any(names) and handle not in names_by_handle:
                names_by_handle[handle] = names
            if shopify and len(pairs) == 1 and (pairs[0][0], pairs[0][1]) == SHOPIFY_NO_OPTION:
                pairs = []
        seen_names: set[str] = set()
        for name, value, col in pairs:
            if name.casefold() in seen_names:
                self.problem(num, col, f"option {short(name)} is given twice")
                ok = False
            seen_names.add(name.casefold())
            if len(name) > 200 or len(value) > 200:
                self.problem(num, col, "option names and values are at most 200 characters")
                ok = False
        return pairs if ok else None

    # -- reads of the store ---------------------------------------------------------------------------
    def _keyed(self, stmt_for, keys: list[Any]):  # type: ignore[no-untyped-def]
        """Rows of ``stmt_for(condition)`` for the keys, in chunks (``= ANY(array)`` on PostgreSQL)."""
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start:start + CHUNK]
            if self.pg:
                kind = String if isinstance(chunk[0], str) else Variant.id.type
                yield from self.s.execute(stmt_for(lambda col, c=chunk, t=kind: col == any_(bindparam(
                    "keys", c, type_=ARRAY(t))))).all()
            else:
                yield from self.s.execute(stmt_for(lambda col, c=chunk: col.in_(c))).all()

    def _raw(self, sql: str, keys: list[Any]) -> list[tuple]:
        """PostgreSQL: one plain driver query joining the keys as ``unnest(%s)`` (the array sent as one
        text literal: far cheaper than adapting a list element by element; the server then picks a hash
        join for big files), rows without ORM processing."""
        if not keys:
            return []
        raw = self.s.connection().connection.driver_connection
        with raw.cursor() as cur:
            cur.execute(sql, [array_literal(keys)])
            return cur.fetchall()

    def load_variants(self, skus: list[str], with_handle: bool = True) -> dict[str, tuple]:
        """sku -> (sku, id, version, product_id, handle, barcode, price, compare_at, cost, weight, status);
        handle None unless ``with_handle`` (PostgreSQL: then products are not joined)."""
        if self.pg:
            # "= ANY(array)": the server hashes the keys and probes them from a scan of variants (a join with
            # unnest() made it hash all of variants instead, several times slower at 100k keys)
            handle, join = ("p.handle", " JOIN products p ON p.id = v.product_id") if with_handle else ("NULL", "")
            return {r[0]: r for r in self._raw(
                f"SELECT v.sku, v.id, v.version, v.product_id, {handle}, v.barcode, v.price, v.compare_at_price, v.cost,"
                f" v.weight_grams, v.status, v.updated_at FROM variants v{join}"
                " WHERE v.sku = ANY(%s::text[])" + (" ORDER BY v.id FOR UPDATE OF v" if self.lock else ""), skus)}
        cols = (Variant.sku, Variant.id, Variant.version, Variant.product_id, Product.handle, Variant.barcode,
                Variant.price, Variant.compare_at_price, Variant.cost, Variant.weight_grams, Variant.status,
                Variant.updated_at)
        return {r[0]: (*r[:10], r[10].value, r[11]) for r in self._keyed(
            lambda cond: select(*cols).join(Product, Product.id == Variant.product_id).where(cond(Variant.sku)), skus)}

    def load_options(self, variant_ids: list[int]) -> dict[int, str]:
        """variant id -> its options as "attribute id:value id,..." ordered by attribute id (one string per
        variant: cheap to fetch and to compare with what the file says)."""
        if self.pg:
            return dict(self._raw(
                "SELECT o.variant_id, string_agg(o.attribute_id || ':' || o.attribute_value_id, ','"
                " ORDER BY o.attribute_id) FROM unnest(%s::bigint[]) AS k(id)"
                " JOIN variant_options o ON o.variant_id = k.id GROUP BY o.variant_id", variant_ids))
        pairs: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for vid, aid, avid in self._keyed(lambda cond: select(VariantOption.variant_id, VariantOption.attribute_id,
                                                              VariantOption.attribute_value_id)
                                          .where(cond(VariantOption.variant_id)), variant_ids):
            pairs[vid].append((aid, avid))
        return {vid: signature(p) for vid, p in pairs.items()}

    def load_products(self, handles: list[str], with_tags: bool) -> tuple[dict[str, tuple], dict[int, list[str]]]:
        cols = (Product.handle, Product.id, Product.version, Product.title, Product.description, Product.vendor,
                Product.product_type, Product.status, Product.category_id, Product.seo_title, Product.seo_description,
                Product.updated_at)
        products = {r[0]: r for r in self._keyed(lambda cond: select(*cols).where(cond(Product.handle)), handles)}
        tags: dict[int, list[str]] = defaultdict(list)
        if with_tags and products:
            for pid, tag in self._keyed(
                    lambda cond: select(ProductTag.product_id, ProductTag.tag).where(cond(ProductTag.product_id)),
                    sorted(r[1] for r in products.values())):
                tags[pid].append(tag)
        return products, tags

    # -- pass 2: against the store --------------------------------------------------------------------
    def plan(self) -> Plan:
        plan = Plan(self.report)
        self.plan_ = plan
        plan.locked_variants = {} if self.lock else None
        cols = self.cols
        self.product_cols = [(k, cols[k]) for k in PRODUCT_FIELDS if k in cols]
        self.cat_by_key: dict[str, int] = {}
        if "category" in cols:
            self.cat_by_key = {category_key(path): cid for cid, path in category_paths(self.s).items()}
        self.attrs: OptionResolver | None = None
        # product cells, merged per product over every row that names it (rows with other problems too):
        # the first non-empty value wins, a different one is a problem
        self.merged: dict[str, list[str]] = {}
        self.origin: dict[str, list[int]] = {}
        self.last: tuple[str, tuple] = ("", ())       # the last row's handle and product cells
        self.product_version: dict[str, int] = {}     # handle -> the oldest version the file's rows give
        self.first_row: dict[str, int] = {}
        # handle -> its new variants' values (an import), or how many there are (a dry run)
        self.new_rows: dict[str, Any] = defaultdict(list) if self.keep else defaultdict(int)
        self.new_variant_count = 0
        # a dry run of a file spilled to disk keeps the products' state there too, between chunks
        self.spill = _ProductSpill(self.p.store.connection) if not self.keep and self.p.store.spilled else None
        total = max(1, self.p.data_rows)
        for chunk in self.p.store.chunks(CHUNK_ROWS):
            self.steps.within(0.9 * chunk.start / total)
            self._plan_chunk(chunk, plan)
            if self.spill is not None:
                self.spill.save(self)
            self.rows = self.nums = chunk = None   # type: ignore[assignment]
            if self.p.store.spilled:
                gc.collect(0)   # the collector is paused while planning (no_gc): free this chunk's cycles (young)
        self.rows, self.nums = [], []
        if self.images:
            self.report.notes.append(f"{self.images:,} image URL{'s' if self.images != 1 else ''} not imported "
                                     "(add images in Backoffice's image library)")
        if self.changed_since is not None:
            n = self.report.changed_since_rows
            self.report.notes.append(
                f"{n:,} row{'s' if n != 1 else ''} of the file name variants changed in the store since "
                f"{_when(self.changed_since)}; cells that differ from the store on those rows are conflicts, "
                "the others change nothing")
        self.steps.within(0.9)
        self._plan_products(plan)
        self.report.new_products = len(plan.new_products) if self.keep else self.report.new_products
        self.report.new_variants = self.new_variant_count
        attrs = self.attrs
        if attrs is not None:
            self.report.new_attributes = list(plan.new_attributes.values())
            self.report.new_attribute_values = [f"{attrs.attribute_name(a)}: {v}" for a, v in plan.new_values]
        order = {h: i for i, h in enumerate(self.header)}
        self.report.problems = sorted(self.problems, key=lambda q: (q.row, order.get(q.column, -1)))
        self.report.conflicts.sort(key=lambda c: (c.row, order.get(c.column, -1)))
        self._who_changed(self.report.conflicts)
        if self.seen is not None:
            self.report.baseline = self.seen
        return plan

    def _plan_chunk(self, chunk: Chunk, plan: Plan) -> None:
        self.rows, self.nums, self.start = chunk.rows, chunk.numbers, chunk.start
        width = len(self.header)
        for r in self.rows:   # pad short rows once, so every column index is valid below
            if len(r) < width:
                r.extend([""] * (width - len(r)))
        cols, nums = self.cols, self.nums
        good, skus, handles, values, options = self.read_rows()
        valid_handles = self.valid_handles
        locked = plan.locked_variants
        product_cols = self.product_cols
        keep, seen, base, start = self.keep, self.seen, self.baseline, self.start
        file_versions = self.versions("version")
        file_pversions = self.versions("product_version") if product_cols else None
        # the stored variant's product matters for a row with a handle or product fields (a price list: no)
        existing = self.load_variants(sorted({skus[k] for k in good}), "handle" in cols or bool(product_cols))
        if self.spill is not None:
            self.spill.load(self, {h for h in handles if h in valid_handles} | {v[4] for v in existing.values()})
        need_options = any(options[k] for k in good)
        if need_options and self.attrs is None:
            self.attrs = OptionResolver(self.s, plan)
        attrs = self.attrs
        stored_options: dict[int, str] = {}
        if need_options:
            stored_options = self.load_options(sorted(existing[skus[k]][1] for k in good
                                                      if options[k] and skus[k] in existing))

        fields = [(key, values[key], _STORED[key]) for key, _ in VARIANT_FIELDS if key in values]
        price_col = values.get("price")
        compare_col = values.get("compare_at_price")
        get_cells = itemgetter(*[i for _, i in product_cols]) if product_cols else None
        single_product_col = len(product_cols) == 1
        merged, origin, first_row = self.merged, self.origin, self.first_row
        new_rows = self.new_rows
        resolved_cache: dict[int, tuple] = {}   # option lists are shared by rows with equal cells
        i_sku = cols["sku"]
        if get_cells is not None:
            pversions = self.product_version
            for k, r in enumerate(self.rows):
                handle = handles[k] if handles[k] in valid_handles else ""
                if not handle:
                    ex = existing.get(skus[k])
                    if ex is None:
                        continue
                    handle = ex[4]
                if file_pversions is not None and file_pversions[k] is not None:
                    pv = pversions.get(handle)
                    if pv is None or file_pversions[k] < pv:
                        pversions[handle] = file_pversions[k]
                cells = get_cells(r)
                if single_product_col:
                    cells = (cells,)
                m = merged.get(handle)
                if m is None:
                    merged[handle] = list(cells)
                    origin[handle] = [nums[k]] * len(cells)
                elif cells != self.last[1] or handle != self.last[0]:
                    self._merge(handle, cells, nums[k], m, origin[handle], product_cols)
                self.last = (handle, cells)
        add_change, updated, unchanged = plan.changes.append, 0, 0
        stale_rows: list[tuple] = []   # (row number, sku, stored tuple, version, cells that differ)
        since = self.changed_since
        on_conflict = self.on_conflict
        header = self.header
        for k in good:
            sku, num = skus[k], nums[k]
            ex = existing.get(sku)
            handle = handles[k]
            price = price_col[k] if price_col is not None else None
            compare_at = compare_col[k] if compare_col is not None else None
            if ex is not None:
                if handle and handle != ex[4]:
                    self.problem(num, i_sku, f"SKU {sku} belongs to product {ex[4]!r} in the store, not {handle!r}; "
                                             "an import cannot move variants between products")
                    continue
                handle = ex[4]
                if price_col is not None and price is None:
                    self.problem(num, cols["price"], "is empty; a variant's price cannot be removed")
                    continue
                if price_col is None:
                    price = ex[6]
                if compare_col is None:
                    compare_at = ex[7]
            else:
                if not handle:
                    self.problem(num, cols.get("handle", i_sku), f"SKU {sku} is not in the store, and a new variant "
                                                                 "needs a handle (the product it belongs to)")
                    continue
                if price is None:
                    self.problem(num, cols.get("price", i_sku), "is required for a new variant")
                    continue
            if compare_at_below_price(price, compare_at):
                self.problem(num, cols.get("compare_at_price", cols.get("price")), f"{compare_at} is below the price {price}")
                continue
            if handle not in first_row and (ex is None or product_cols):   # (no product fields: nothing to plan)
                first_row[handle] = num
            # options
            opts = options[k]
            resolved: list = []
            if opts and attrs is not None:
                found = resolved_cache.get(id(opts))
                if found is None:
                    resolved = attrs.resolve(opts)
                    expected = (signature([(a[1], v[1]) for a, v in resolved])
                                if all(a[0] == "a" and v[0] == "v" for a, v in resolved) else None)
                    found = resolved_cache[id(opts)] = (resolved, expected)
                resolved, expected = found
                if ex is not None:
                    stored = stored_options.get(ex[1])
                    if expected is None or stored != expected:   # else: exactly as stored
                        self._check_options(num, sku, resolved, opts, parse_signature(stored), attrs)
            if ex is None:
                self.new_variant_count += 1
                if keep:
                    new_rows[handle].append(self._new_variant_values(k, skus, values, opts, resolved))
                else:
                    new_rows[handle] += 1
                continue
            if seen is not None:
                seen.variants[start + k] = ex[2]
            if since is not None and ex[_UPDATED_AT] is not None and _utc(ex[_UPDATED_AT]) > since:
                self.report.changed_since_rows += 1
            diff = {}
            for key, column, pos in fields:
                v = column[k]
                if v is not ABSENT and v != ex[pos]:
                    diff[key] = v
            if not diff:
                unchanged += 1
                continue
            # stale row? (its version from the file, else from the dry run, else by time)
            version = file_versions[k] if file_versions is not None else None
            if version is None and base is not None:
                version = base.variants[start + k] or None
            if version is not None and version > ex[2]:
                self.problem(num, cols.get("version", i_sku), f"version {version} is newer than the store's "
                                                              f"({ex[2]}) for SKU {sku}: is this file from another store?")
                continue
            stale = (version < ex[2]) if version is not None else (
                since is not None and ex[_UPDATED_AT] is not None and _utc(ex[_UPDATED_AT]) > since)
            if stale:
                stale_rows.append((num, sku, ex, version, diff))
                continue
            if keep:
                add_change(RowChange("variant", ex[1], ex[2], diff))
            if locked is not None:
                locked[ex[1]] = dict(zip(_LOCKED_FIELDS, ex, strict=False))
            updated += 1
        if stale_rows:
            history = self._values_at("variant", [(ex[1], version, ex[2]) for _, _, ex, version, _ in stale_rows])
            for num, sku, ex, version, diff in stale_rows:
                now = {key: ex[_STORED[key]] for key in diff}
                own, clash = _three_way(diff, now, history.get(ex[1]))
                if clash:
                    self.report.conflict_rows += 1
                    for key, v in clash.items():
                        col = VARIANT_COLUMN[key]
                        self.conflict(ImportConflict(num, header[cols[col]] if col in cols else col, "variant", sku,
                                                     key, v, now[key], version, ex[2],
                                                     changed_at=_when(ex[_UPDATED_AT])))
                    if on_conflict != "overwrite":
                        continue
                    own.update(clash)
                if not own:
                    unchanged += 1
                    continue
                if keep:
                    add_change(RowChange("variant", ex[1], ex[2], own))
                if locked is not None:
                    locked[ex[1]] = dict(zip(_LOCKED_FIELDS, ex, strict=False))
                updated += 1
        self.report.updated_variants += updated
        self.report.unchanged_variants += unchanged

    def _new_variant_values(self, k: int, skus: list[str], values: dict[str, list[Any]], opts: Any,
                            resolved: list) -> tuple:
        def get(key: str) -> Any:
            col = values.get(key)
            return col[k] if col is not None else None

        status = get("status")
        title = " / ".join(value for _, value, _ in opts)[:255] if opts else ""
        return (skus[k], get("barcode"), get("price"), get("compare_at_price"), get("cost"), get("weight_grams"),
                None if status is ABSENT else status, title, resolved)

    def _merge(self, handle: str, cells: tuple, num: int, m: list[str], o: list[int],
               product_cols: list[tuple[str, int]]) -> None:
        for j, v in enumerate(cells):
            if not v or v == m[j]:
                continue
            if not m[j]:
                m[j], o[j] = v, num
            elif same_value(product_cols[j][0], self.unq(v), self.unq(m[j])):
                continue
            else:
                self.problem(num, product_cols[j][1], f"{short(self.unq(v))} differs from {short(self.unq(m[j]))} "
                                                      f"on row {o[j]} (product fields must agree on every row of {handle!r})")

    def _check_options(self, num: int, sku: str, resolved: list, opts: list, stored: dict[int, int],
                       attrs: OptionResolver) -> None:
        for (akey, vkey), (name, _value, col) in zip(resolved, opts, strict=True):
            if akey[0] == "a" and vkey[0] == "v" and stored.get(akey[1]) == vkey[1]:
                continue
            now = attrs.value_text(stored.get(akey[1])) if akey[0] == "a" else None
            held = f"{name}={now}" if now else f"no {name}"
            self.problem(num, col, f"SKU {sku} has {held} in the store; an import cannot change the options of "
                                   "existing variants (use the variant generator)")

    def _plan_products(self, plan: Plan) -> None:
        """Products in chunks of handles: new ones, changed ones (stale ones as conflicts), and the new
        variants' places (after the product's last variant)."""
        cols, product_cols, keep = self.cols, self.product_cols, self.keep
        seen, base, since = self.seen, self.baseline, self.changed_since
        new_products = 0
        if self.spill is not None:
            parts = self.spill.parts(self, CHUNK)
        else:
            handles = list(self.first_row)
            parts = (handles[start:start + CHUNK] for start in range(0, len(handles), CHUNK))
        for part in parts:
            products, tags = self.load_products(sorted(part), "tags" in cols)
            ids = sorted(products[h][1] for h in part if h in products and h in self.new_rows)
            last_position: dict[int, int] = {}
            for i in range(0, len(ids), CHUNK):
                last_position.update(self.s.execute(select(Variant.product_id, func.max(Variant.position))
                                                    .where(Variant.product_id.in_(ids[i:i + CHUNK]))
                                                    .group_by(Variant.product_id)).all())
            for handle in part:
                first = self.first_row[handle]
                cur = products.get(handle)
                if seen is not None and cur is not None:
                    seen.products[handle] = cur[2]
                new_variants = self.new_rows.get(handle)
                if new_variants and keep:
                    pid = cur[1] if cur is not None else None
                    pos = (last_position.get(pid, -1) + 1) if pid is not None else 0
                    for values in new_variants:
                        plan.new_variants.append(NewVariant(handle, pid, values[:8], values[8], pos))
                        pos += 1
                values = self._product_values(product_cols, self.merged.get(handle), self.origin.get(handle),
                                              self.cat_by_key, new=cur is None)
                if values is None:
                    continue
                if cur is None:
                    if not values.get("title"):
                        self.problem(first, cols.get("title", cols.get("handle")), f"is required for the new product {handle!r}")
                        continue
                    tag_list = values.pop("tags", [])
                    new_products += 1
                    if keep:
                        plan.new_products.append(NewProduct(handle, values, tag_list))
                    continue
                now = {"title": cur[3], "description": cur[4], "vendor": cur[5], "product_type": cur[6],
                       "status": cur[7].value, "category_id": cur[8], "seo_title": cur[9], "seo_description": cur[10],
                       "tags": sorted(tags.get(cur[1], []))}
                diff = {k: v for k, v in values.items() if now.get(k) != v}
                if not diff:
                    continue
                version = self.product_version.get(handle)
                if version is None and base is not None:
                    version = base.products.get(handle)
                if version is not None and version > cur[2]:
                    self.problem(first, cols.get("product_version", cols.get("handle", cols["sku"])),
                                 f"product version {version} is newer than the store's ({cur[2]}) for {handle!r}: "
                                 "is this file from another store?")
                    continue
                stale = (version < cur[2]) if version is not None else (
                    since is not None and cur[11] is not None and _utc(cur[11]) > since)
                if stale:
                    at = self._values_at("product", [(cur[1], version, cur[2])]).get(cur[1]) if version else None
                    diff, clash = _three_way(diff, now, at)
                if stale and clash:
                    self.report.conflict_rows += 1
                    for key, v in clash.items():
                        col = "category" if key == "category_id" else key
                        j = next((j for j, (k, _) in enumerate(product_cols) if k == col), None)
                        row = self.origin[handle][j] if j is not None and handle in self.origin else first
                        shown_file = self._category_path(v) if key == "category_id" else v
                        shown_now = self._category_path(now.get(key)) if key == "category_id" else now.get(key)
                        self.conflict(ImportConflict(row, self.header[cols[col]] if col in cols else col, "product",
                                                     handle, col, shown_file, shown_now, version, cur[2],
                                                     changed_at=_when(cur[11])))
                    if self.on_conflict != "overwrite":
                        continue
                    diff.update(clash)
                if not diff:
                    continue
                if keep:
                    plan.changes.append(RowChange("product", cur[1], cur[2], diff, {k: now.get(k) for k in diff}))
                self.report.updated_products += 1
        self.report.new_products = new_products

    def _values_at(self, entity: str, items: list[tuple[int, int | None, int]]) -> dict[int, dict[str, Any]]:
        """For rows read at an older version: (id, that version, current version) -> the fields' values at
        that version, as the changesets recorded them ({}: a field not in it was not changed since).
        Rows whose history has a gap (a change made outside changesets) are left out: their cells can
        only be compared with the current values."""
        wanted = {eid: (v, now) for eid, v, now in items if v is not None and v > 0}
        out: dict[int, dict[str, Any]] = {}
        ids = sorted(wanted)
        for start in range(0, len(ids), CHUNK):
            part = ids[start:start + CHUNK]
            low = min(wanted[i][0] for i in part)
            entries: dict[int, list] = defaultdict(list)
            for eid, vb, va, before in self.s.execute(
                    select(ChangesetEntry.entity_id, ChangesetEntry.version_before, ChangesetEntry.version_after,
                           ChangesetEntry.before)
                    .where(ChangesetEntry.entity == entity, ChangesetEntry.entity_id.in_(part),
                           ChangesetEntry.version_after > low)
                    .order_by(ChangesetEntry.entity_id, ChangesetEntry.version_before)):
                entries[eid].append((vb, va, before))
            for eid in part:
                version, now = wanted[eid]
                at = version
                values: dict[str, Any] = {}
                for vb, va, before in entries.get(eid, ()):
                    if va <= version:
                        continue
                    if vb != at:
                        break
                    for f, v in (before or {}).items():
                        values.setdefault(f, v)
                    at = va
                if at == now:
                    out[eid] = values
        return out

    def _category_path(self, cid: Any) -> str:
        if cid is None:
            return ""
        if not hasattr(self, "_paths"):
            self._paths = category_paths(self.s)
        return self._paths.get(cid, str(cid))

    def _who_changed(self, conflicts: list[ImportConflict]) -> None:
        """Who made the last change to each conflicting row, and when, from the changesets' history."""
        wanted: dict[tuple[str, int], list[ImportConflict]] = defaultdict(list)
        ids: dict[str, dict[str, int]] = {"variant": {}, "product": {}}
        if not conflicts:
            return
        variants = {c.label for c in conflicts if c.entity == "variant"}
        products = {c.label for c in conflicts if c.entity == "product"}
        for start in range(0, len(variants), CHUNK):
            part = sorted(variants)[start:start + CHUNK]
            ids["variant"].update(self.s.execute(select(Variant.sku, Variant.id).where(Variant.sku.in_(part))).all())
        for start in range(0, len(products), CHUNK):
            part = sorted(products)[start:start + CHUNK]
            ids["product"].update(self.s.execute(select(Product.handle, Product.id).where(Product.handle.in_(part))).all())
        for c in conflicts:
            eid = ids[c.entity].get(c.label)
            if eid is not None:
                wanted[(c.entity, eid)].append(c)
        for entity in ("variant", "product"):
            keys = sorted(eid for e, eid in wanted if e == entity)
            for start in range(0, len(keys), CHUNK):
                part = keys[start:start + CHUNK]
                stmt = (select(ChangesetEntry.entity_id, ChangesetEntry.version_after, Changeset.username,
                               Changeset.created_at)
                        .join(Changeset, Changeset.id == ChangesetEntry.changeset_id)
                        .where(ChangesetEntry.entity == entity, ChangesetEntry.entity_id.in_(part))
                        .order_by(ChangesetEntry.entity_id, ChangesetEntry.version_after))
                last: dict[int, tuple] = {}
                for eid, _version, who, when in self.s.execute(stmt):
                    last[eid] = (who, when)   # the newest change (entries in version order)
                for eid, (who, when) in last.items():
                    for c in wanted[(entity, eid)]:
                        c.changed_by, c.changed_at = who, _when(when)

    def _product_values(self, product_cols: list[tuple[str, int]], cells: list[str] | None, rows: list[int] | None,
                        cat_by_key: dict[str, int], *, new: bool) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        ok = True
        published = None
        for j, (key, i) in enumerate(product_cols):
            text = self.unq(cells[j]) if cells else ""
            row = rows[j] if rows else 0
            if key in PRODUCT_TEXT:
                if key == "title":
                    text = text.strip()
                    if not text:
                        continue   # an existing product keeps its title; a new one is checked by the caller
                if len(text) > PRODUCT_TEXT[key]:
                    self.problem(row, i, f"is {len(text)} characters long; at most {PRODUCT_TEXT[key]}")
                    ok = False
                out[key] = text
            elif key == "description":
                out[key] = text
            elif key == "status":
                st = text.strip().lower()
                if not st:
                    continue
                if st not in PRODUCT_STATUSES:
                    self.problem(row, i, f"{short(st)} is not one of {', '.join(sorted(PRODUCT_STATUSES))}")
                    ok = False
                out["status"] = st
            elif key == "published":
                published = text.strip().lower() in ("true", "yes", "1")
            elif key == "category":
                path = text.strip()
                if not path:
                    out["category_id"] = None
                    continue
                cid = cat_by_key.get(category_key(path))
                if cid is None:
                    self.problem(row, i, f"unknown category {short(path, 80)} (write the full path of names, "
                                         "such as \"Apparel > Shirts\")")
                    ok = False
                out["category_id"] = cid
            elif key == "tags":
                found = sorted({t.strip() for t in text.split(",") if t.strip()})
                long = [t for t in found if len(t) > 100]
                if long:
                    self.problem(row, i, f"tag {short(long[0])} is longer than 100 characters")
                    ok = False
                out["tags"] = found
        if new and "status" not in out:
            out["status"] = "active" if published else "draft"
        return out if ok else None
