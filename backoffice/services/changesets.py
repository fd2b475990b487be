"""Changesets: the write path for staged grid edits, bulk operations, imports and reverts.

``apply_changes`` takes row changes ("variant 17, read at version 3: price → 9.99") and, in one
transaction:

1. reads the current rows (locked, in id order) and sets aside every row whose version moved on since
   the caller read it: those are *conflicts*, reported with the value the caller read, the value they
   want and the value now stored; they are never overwritten;
2. validates the remaining rows as they would end up (negative prices, compare-at below price,
   duplicate SKUs, unknown categories...) and refuses the whole batch if any is invalid, naming each row;
3. writes them with set-based statements (a staging table and one UPDATE … FROM per group of fields,
   versions checked in SQL), records a changeset with every row's before/after values and the row
   versions, and one audit row for the changeset.

Reverting a changeset is a new changeset that restores the "before" values of rows that have not been
changed since; rows changed since are reported as conflicts.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String, Table, bindparam, delete, insert, select
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import (
    Category,
    Changeset,
    ChangesetEntry,
    Product,
    ProductTag,
    Role,
    SupplierItem,
    Variant,
    utcnow,
)
from backoffice.services import catalog
from backoffice.services.base import (
    Actor,
    NotFound,
    ValidationError,
    audit,
    chunked_in,
    jsonable,
    require_role,
)
from backoffice.services.wording import money_text

EDITABLE = {
    "product": ("title", "handle", "description", "vendor", "product_type", "status", "category_id", "seo_title",
                "seo_description", "tags"),
    "variant": ("sku", "barcode", "title", "price", "compare_at_price", "cost", "weight_grams", "status"),
    "supplier_item": ("supplier_sku", "unit_cost", "min_order_qty", "pack_size", "lead_time_days"),
}
_MODELS = {"product": Product, "variant": Variant, "supplier_item": SupplierItem}
_LABEL = {"product": "handle", "variant": "sku", "supplier_item": "supplier_sku"}
CHUNK = 2000


@dataclass(frozen=True)
class RowChange:
    entity: str                      # "product" or "variant"
    entity_id: int
    expected_version: int            # the version the caller read
    values: dict[str, Any]           # field -> new value
    original: dict[str, Any] = field(default_factory=dict)  # field -> value the caller read (for conflict reports)

    def to_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "entity_id": self.entity_id, "expected_version": self.expected_version,
                "values": jsonable(self.values), "original": jsonable(self.original)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RowChange:
        return cls(d["entity"], int(d["entity_id"]), int(d["expected_version"]), dict(d["values"]),
                   dict(d.get("original") or {}))


@dataclass(frozen=True)
class Conflict:
    entity: str
    entity_id: int
    label: str           # SKU or handle
    field: str
    original: Any        # what the caller read
    yours: Any           # what the caller wanted
    theirs: Any          # what is stored now
    current_version: int

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self.__dict__)


@dataclass
class ApplyResult:
    changeset_id: int | None
    applied_rows: int
    conflicts: list[Conflict]
    unchanged_rows: int = 0
    versions: dict[tuple[str, int], int] = field(default_factory=dict)  # new version per applied row

    def to_dict(self) -> dict[str, Any]:
        return {"changeset_id": self.changeset_id, "applied_rows": self.applied_rows,
                "unchanged_rows": self.unchanged_rows, "conflicts": [c.to_dict() for c in self.conflicts]}


# -- validation -----------------------------------------------------------------------------------------
_MONEY = frozenset({"price", "compare_at_price", "cost"})


def _exact_money(v: Any) -> bool:
    # exponent -2 exactly ("12.50", not "12.5"): str() shows it as cheaply as anything (as_tuple() is 3x slower)
    return type(v) is Decimal and v.is_finite() and 0 <= v < catalog.MONEY_LIMIT and str(v)[-3:-2] == "."


def _clean_values(change: RowChange, problems: list) -> dict[str, Any]:
    if change.entity == "variant" and change.values.keys() <= _MONEY:
        for v in change.values.values():
            if v is not None and not _exact_money(v):
                break
        else:
            return dict(change.values)  # exact non-negative amounts: nothing to parse (the bulk-price path)
    allowed = EDITABLE.get(change.entity)
    row = f"{change.entity} {change.entity_id}"
    if allowed is None:
        problems.append((row, "", f"unknown entity {change.entity!r}"))
        return {}
    bad = [k for k in change.values if k not in allowed]
    for k in bad:
        problems.append((row, k, "cannot be edited here"))
    values = {k: v for k, v in change.values.items() if k in allowed}
    local: list = []
    if change.entity == "variant":
        clean = catalog.clean_variant_values(values, row, local, partial=True)
    elif change.entity == "supplier_item":
        from backoffice.services.suppliers import clean_item_values

        clean = clean_item_values(values, row, local)
    else:
        clean = catalog.clean_product_values(values, row, local, partial=True)
    problems.extend(local)
    return clean


def _current_values(session: Session, entity: str, ids: list[int], fields_: set[str]) -> dict[int, dict[str, Any]]:
    """Current version and field values of the rows, locked for the rest of the transaction (id order)."""
    model = _MODELS[entity]
    cols = sorted((fields_ - {"tags"}) | {"version", _LABEL[entity]} | ({"price", "compare_at_price"} if entity == "variant" else set()))
    out: dict[int, dict[str, Any]] = {}
    for cond in chunked_in(session, model.id, ids):
        stmt = select(model.id, *[getattr(model, c) for c in cols]).where(cond).order_by(model.id)
        for row in session.execute(stmt.with_for_update()):
            out[row[0]] = {c: (v.value if hasattr(v, "value") else v) for c, v in zip(cols, row[1:], strict=True)}
    if "tags" in fields_:
        tags: dict[int, list[str]] = defaultdict(list)
        for cond in chunked_in(session, ProductTag.product_id, ids):
            for pid, tag in session.execute(select(ProductTag.product_id, ProductTag.tag).where(cond)
                                            .order_by(ProductTag.tag)):
                tags[pid].append(tag)
        for pid, cur in out.items():
            cur["tags"] = tags.get(pid, [])
    return out


def _enum_value(v: Any) -> Any:
    return v.value if hasattr(v, "value") else v


# -- apply ----------------------------------------------------------------------------------------------
def _clean_batch(changes: list[RowChange]) -> list[tuple[RowChange, dict[str, Any]]]:
    problems: list = []
    cleaned: list[tuple[RowChange, dict[str, Any]]] = []
    seen: set[tuple[str, int]] = set()
    append, clean, exact = cleaned.append, _clean_values, _exact_money
    for ch in changes:
        key = (ch.entity, ch.entity_id)
        if key in seen:
            problems.append((f"{ch.entity} {ch.entity_id}", "", "appears more than once in the batch"))
        seen.add(key)
        values = ch.values
        if ch.entity == "variant" and values.keys() <= _MONEY:   # _clean_values' first case, inlined (100k rows)
            for v in values.values():
                if v is not None and not exact(v):
                    break
            else:
                append((ch, dict(values)))
                continue
        append((ch, clean(ch, problems)))
    if problems:
        raise ValidationError(problems)
    return cleaned


def apply_changes(db: Database, actor: Actor, changes: list[RowChange], *, description: str, kind: str = "edit",
                  operation_id: str | None = None, reverts_id: int | None = None) -> ApplyResult:
    """Apply row changes as one changeset. Conflicting rows are skipped and reported; invalid rows
    refuse the whole batch (ValidationError naming each row)."""
    require_role(actor, Role.MERCHANDISER, Role.MANAGER, Role.PURCHASER)
    cleaned = _clean_batch(changes)

    def work(session: Session) -> ApplyResult:
        return _apply(session, actor, cleaned, description, kind, operation_id, reverts_id, ())

    return db.run_write(work)


def apply_in_session(session: Session, actor: Actor, changes: list[RowChange], *, description: str, kind: str,
                     operation_id: str | None = None,
                     created: list[tuple[str, int, dict[str, Any]]] = (),  # type: ignore[assignment]
                     created_variants: list[int] = (),  # type: ignore[assignment]
                     locked_variants: dict[int, dict[str, Any]] | None = None) -> ApplyResult:
    """The same as ``apply_changes`` inside a transaction the caller owns (an import that also creates
    rows). ``created`` lists rows the caller inserted in this transaction, as (entity, id, values): they
    are recorded in the changeset with an empty "before", and reverting archives them.
    ``created_variants``: ids (ascending) of variants the caller inserted in this transaction, recorded
    the same way with their stored fields as "after" (see ``CREATED_VARIANT_FIELDS``; empty ones left
    out), read back by the database (in one INSERT … SELECT on PostgreSQL).

    ``locked_variants``: the changed variants as the caller read them *in this transaction, locked*
    (SELECT … FOR UPDATE; on SQLite the write transaction locks the file), by id: their "version",
    "sku", "price", "compare_at_price" and every field the changes set, as stored. They are then not
    read again; versions are still checked when the rows are written."""
    require_role(actor, Role.MERCHANDISER, Role.MANAGER, Role.PURCHASER)
    return _apply(session, actor, _clean_batch(changes), description, kind, operation_id, None, list(created),
                  locked_variants, list(created_variants))


def _apply(session: Session, actor: Actor, cleaned: list[tuple[RowChange, dict[str, Any]]], description: str,
           kind: str, operation_id: str | None, reverts_id: int | None,
           created: list[tuple[str, int, dict[str, Any]]],
           locked_variants: dict[int, dict[str, Any]] | None = None,
           created_variants: list[int] = ()) -> ApplyResult:  # type: ignore[assignment]
    description = (description or "").strip()[:500] or "Edit"
    if operation_id is not None:
        done = session.scalar(select(Changeset.id).where(Changeset.operation_id == operation_id))
        if done is not None:
            rows = session.scalar(select(Changeset.row_count).where(Changeset.id == done)) or 0
            return ApplyResult(done, rows, [])
    conflicts: list[Conflict] = []
    problems: list = []
    unchanged = 0
    # entity -> list of (change, new values, current values)
    ready: dict[str, list[tuple[RowChange, dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    staged: _StagedVariants | None = None
    for entity in ("product", "variant", "supplier_item"):
        batch = [(ch, vals) for ch, vals in cleaned if ch.entity == entity]
        if not batch:
            continue
        wanted = set().union(*(vals.keys() for _, vals in batch))
        if entity == "variant" and _StagedVariants.suits(session, batch, wanted):
            staged = _StagedVariants(session, batch, wanted, locked_variants)
            unchanged += staged.check(problems, conflicts)
            continue
        ids = sorted(ch.entity_id for ch, _ in batch)
        if entity == "variant" and locked_variants is not None:
            current = locked_variants
        else:
            current = _current_values(session, entity, ids, wanted)
        for ch, vals in batch:
            cur = current.get(ch.entity_id)
            label_field = _LABEL[entity]
            if cur is None:
                problems.append((f"{entity} {ch.entity_id}", "", "does not exist"))
                continue
            if cur["version"] != ch.expected_version:
                for name, new in vals.items():
                    conflicts.append(Conflict(entity, ch.entity_id, cur[label_field], name,
                                              jsonable(ch.original.get(name)), jsonable(new),
                                              jsonable(_enum_value(cur.get(name))), cur["version"]))
                continue
            diff = {k: v for k, v in vals.items() if _enum_value(v) != cur.get(k)}
            if not diff:
                unchanged += 1
                continue
            ready[entity].append((ch, diff, cur))
    _validate_final_state(session, ready, problems, staged.invalid if staged is not None else [])
    if problems:
        raise ValidationError(problems)

    applied = (sum(len(rows) for rows in ready.values()) + len(created) + len(created_variants)
               + (staged.ready if staged is not None else 0))
    if applied == 0:
        return ApplyResult(None, 0, conflicts, unchanged)
    changeset = Changeset(operation_id=operation_id, created_at=utcnow(), user_id=actor.user_id,
                          username=actor.username, kind=kind, description=description, row_count=applied,
                          reverts_id=reverts_id)
    session.add(changeset)
    session.flush()
    now = utcnow()
    versions: dict[tuple[str, int], int] = {}
    entries: list[dict[str, Any]] = []
    if staged is not None:
        versions.update(staged.write(now, changeset.id))
    for entity, rows in ready.items():
        recorded = _write_rows(session, entity, rows, now, changeset.id)
        for ch, diff, cur in rows:
            versions[(entity, ch.entity_id)] = cur["version"] + 1
            if ch.entity_id in recorded:
                continue
            entries.append({
                "changeset_id": changeset.id, "entity": entity, "entity_id": ch.entity_id,
                "version_before": cur["version"], "version_after": cur["version"] + 1,
                "before": {k: _enum_value(cur.get(k)) for k in diff},
                "after": {k: _enum_value(v) for k, v in diff.items()},
            })
    for entity, entity_id, values in created:
        entries.append({"changeset_id": changeset.id, "entity": entity, "entity_id": entity_id,
                        "version_before": 0, "version_after": 1, "before": {}, "after": values})
    _insert_many(session, ChangesetEntry.__table__, entries)
    _record_created_variants(session, changeset.id, created_variants)
    audit(session, actor, "changeset", changeset.id, kind, None,
          {"description": description, "rows": applied, "conflicts": len(conflicts), "reverts": reverts_id},
          operation_id)
    return ApplyResult(changeset.id, applied, conflicts, unchanged, versions)


def _validate_final_state(session: Session, ready: dict[str, list], problems: list, staged_invalid: list) -> None:
    problems.extend(staged_invalid)   # variants checked in SQL (_StagedVariants), in batch order
    variants = ready.get("variant", [])
    new_skus: dict[str, int] = {}
    for ch, diff, cur in variants:
        label = f"SKU {cur['sku']}"
        price = diff.get("price", cur.get("price"))
        compare_at = diff.get("compare_at_price", cur.get("compare_at_price"))
        if ("price" in diff or "compare_at_price" in diff) and compare_at is not None and price is not None \
                and Decimal(compare_at) < Decimal(price):
            problems.append((label, "compare_at_price",
                             f"{money_text(compare_at)} would be below the price {money_text(price)}"))
        if "sku" in diff:
            if diff["sku"] in new_skus:
                problems.append((label, "sku", f"{diff['sku']!r} is given to two variants in this batch"))
            new_skus[diff["sku"]] = ch.entity_id
    if new_skus:
        changing = {ch.entity_id for ch, _, _ in variants}
        names = list(new_skus)
        for cond in chunked_in(session, Variant.sku, names):
            for vid, sku in session.execute(select(Variant.id, Variant.sku).where(cond)):
                if vid not in changing or vid != new_skus[sku]:
                    problems.append((f"variant {new_skus[sku]}", "sku", f"{sku!r} is already used by another variant"))
    products = ready.get("product", [])
    cats = {diff["category_id"] for _, diff, _ in products if diff.get("category_id") is not None}
    if cats:
        known = set(session.scalars(select(Category.id).where(Category.id.in_(cats))))
        for ch, diff, cur in products:
            if diff.get("category_id") is not None and diff["category_id"] not in known:
                problems.append((f"product {cur['handle']}", "category_id", f"category {diff['category_id']} does not exist"))
    handles = {diff["handle"]: ch.entity_id for ch, diff, _ in products if "handle" in diff}
    if handles:
        for pid, handle in session.execute(select(Product.id, Product.handle).where(Product.handle.in_(list(handles)))):
            if pid != handles[handle]:
                problems.append((f"product {pid}", "handle", f"{handle!r} is already used by another product"))


def _write_rows(session: Session, entity: str, rows: list[tuple[RowChange, dict[str, Any], dict[str, Any]]],
                now: dt.datetime, changeset_id: int) -> set[int]:
    """One set-based UPDATE per group of rows changing the same fields, versions checked in SQL.
    Returns the ids whose changeset entries were already written (the PostgreSQL staged path)."""
    recorded: set[int] = set()
    model = _MODELS[entity]
    table: Table = model.__table__
    groups: dict[tuple[str, ...], list] = defaultdict(list)
    for ch, diff, cur in rows:
        groups[tuple(sorted(k for k in diff if k != "tags"))].append((ch, diff, cur))
    for cols, group in groups.items():
        params = [{"_id": ch.entity_id, "_expected": cur["version"], "_now": now,
                   **{f"_{c}": _enum_value(diff[c]) for c in cols}} for ch, diff, cur in group]
        values = {c: bindparam(f"_{c}", type_=table.c[c].type) for c in cols}
        stmt = (table.update()
                .where(table.c.id == bindparam("_id"), table.c.version == bindparam("_expected"))
                .values(**values, version=table.c.version + 1, updated_at=bindparam("_now", type_=table.c.updated_at.type)))
        if session.get_bind().dialect.name == "postgresql" and len(params) > 500 and cols:
            for p, (_, _, cur) in zip(params, group, strict=True):
                p.update({f"_old_{c}": cur.get(c) for c in cols})
            _update_from_stage(session, table, entity, cols, params, changeset_id)
            recorded.update(ch.entity_id for ch, _, _ in group if "tags" not in group[0][1])
        else:
            result = session.execute(stmt, params)
            if result.rowcount != len(params):
                raise RuntimeError("a locked row changed under the transaction")  # pragma: no cover
    tag_rows = [(ch.entity_id, diff["tags"]) for ch, diff, _ in rows if "tags" in diff]
    if tag_rows:
        ids = [pid for pid, _ in tag_rows]
        for cond in chunked_in(session, ProductTag.product_id, ids):
            session.execute(delete(ProductTag).where(cond))
        _insert_many(session, ProductTag.__table__, [{"product_id": pid, "tag": t} for pid, tags in tag_rows for t in tags])
        recorded.difference_update(ids)
    return recorded


def _update_from_stage(session: Session, table: Table, entity: str, cols: tuple[str, ...],
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


class _StagedVariants:
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
                            f"AND {compare} < {price} ORDER BY s.pos")
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


CREATED_VARIANT_FIELDS = ("product_id", "sku", "barcode", "title", "price", "compare_at_price", "cost", "weight_grams",
                          "status")


def _record_created_variants(session: Session, changeset_id: int, ids: list[int]) -> None:
    """Changeset entries for variants created in this transaction: empty "before", their stored fields
    (empty ones left out, money as "12.99") as "after", in id order."""
    if not ids:
        return
    if session.get_bind().dialect.name == "postgresql":
        def field(c: str) -> str:
            column = Variant.__table__.c[c]
            if isinstance(column.type, Numeric):
                return f"v.{c}::text"
            return f"NULLIF(v.{c}, '')" if isinstance(column.type, String) else f"v.{c}"

        after = ", ".join(f"'{c}', {field(c)}" for c in CREATED_VARIANT_FIELDS)
        with session.connection().connection.driver_connection.cursor() as cur:
            cur.execute("INSERT INTO changeset_entries (changeset_id, entity, entity_id, version_before, version_after, "
                        f"before, after) SELECT %s, 'variant', v.id, 0, 1, '{{}}'::jsonb, "
                        f"jsonb_strip_nulls(jsonb_build_object({after})) FROM variants v "
                        "WHERE v.id = ANY(%s::bigint[]) ORDER BY v.id",
                        [changeset_id, "{" + ",".join(map(str, ids)) + "}"])
        return
    cols = [getattr(Variant, c) for c in CREATED_VARIANT_FIELDS]
    rows: list[dict[str, Any]] = []
    for cond in chunked_in(session, Variant.id, ids):
        for vid, *values in session.execute(select(Variant.id, *cols).where(cond).order_by(Variant.id)):
            rows.append({"changeset_id": changeset_id, "entity": "variant", "entity_id": vid, "version_before": 0,
                         "version_after": 1, "before": {},
                         "after": {c: _enum_value(v) for c, v in zip(CREATED_VARIANT_FIELDS, values, strict=True)
                                   if v is not None and v != ""}})
    rows.sort(key=lambda r: r["entity_id"])
    _insert_many(session, ChangesetEntry.__table__, rows)


def _insert_many(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql" and len(rows) > 500:
        import json

        conn = session.connection()
        names = list(rows[0])
        json_cols = {n for n in names if isinstance(rows[0][n], dict)}
        dumps = json.JSONEncoder(default=str, separators=(",", ":")).encode  # Decimal -> "12.99", as jsonable
        with conn.connection.driver_connection.cursor() as cur, \
                cur.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row([dumps(r[n]) if n in json_cols else r[n] for n in names])
        return
    json_cols = {n for n in rows[0] if isinstance(rows[0][n], dict)}
    if json_cols:
        rows = [{k: (jsonable(v) if k in json_cols else v) for k, v in r.items()} for r in rows]
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(table), rows[start:start + CHUNK])


# -- revert ---------------------------------------------------------------------------------------------
def revert_changeset(db: Database, actor: Actor, changeset_id: int, *, operation_id: str | None = None) -> ApplyResult:
    """Restore the values a changeset replaced, as a new changeset. Rows changed since are conflicts."""
    with db.read() as session:
        cs = session.get(Changeset, changeset_id)
        if cs is None:
            raise NotFound(f"changeset {changeset_id} does not exist")
        kind = cs.kind
        entries = session.execute(select(ChangesetEntry).where(ChangesetEntry.changeset_id == changeset_id)
                                  .order_by(ChangesetEntry.id)).scalars().all()
        description = f"Revert #{cs.id}: {cs.description}"
    if kind == "threshold":   # low-stock thresholds live on stock levels, not products or variants
        from backoffice.services.variants.operations import revert_thresholds

        return revert_thresholds(db, actor, changeset_id, operation_id=operation_id)
    if kind == "image":       # which image variants show: rows of product_image_variants
        from backoffice.services.variants.image_assignment import revert_image_assignment

        return revert_image_assignment(db, actor, changeset_id, operation_id=operation_id)
    # A row the changeset created is archived (it may have stock or sales by now), not deleted.
    changes = [RowChange(e.entity, e.entity_id, e.version_after, dict(e.before), original=dict(e.after))
               if e.version_before > 0 else
               RowChange(e.entity, e.entity_id, e.version_after, {"status": "archived"}, original={"status": e.after.get("status")})
               for e in entries]
    return apply_changes(db, actor, changes, description=description[:500], kind="revert",
                         operation_id=operation_id, reverts_id=changeset_id)


# -- reads ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChangesetInfo:
    id: int
    created_at: dt.datetime
    username: str
    kind: str
    description: str
    row_count: int
    reverts_id: int | None
    reverted_by: list[int]


def list_changesets(db: Database, *, before_id: int | None = None, limit: int = 100) -> list[ChangesetInfo]:
    with db.read() as session:
        stmt = select(Changeset).order_by(Changeset.id.desc()).limit(limit)
        if before_id is not None:
            stmt = stmt.where(Changeset.id < before_id)
        rows = session.scalars(stmt).all()
        ids = [r.id for r in rows]
        reverted: dict[int, list[int]] = defaultdict(list)
        if ids:
            for rid, target in session.execute(select(Changeset.id, Changeset.reverts_id).where(Changeset.reverts_id.in_(ids))):
                reverted[target].append(rid)
        return [ChangesetInfo(r.id, r.created_at, r.username, r.kind, r.description, r.row_count, r.reverts_id,
                              reverted.get(r.id, [])) for r in rows]


def changeset_entries(db: Database, changeset_id: int, limit: int = 1000) -> list[dict[str, Any]]:
    with db.read() as session:
        return [{"entity": e.entity, "entity_id": e.entity_id, "before": e.before, "after": e.after,
                 "version_before": e.version_before, "version_after": e.version_after}
                for e in session.scalars(select(ChangesetEntry).where(ChangesetEntry.changeset_id == changeset_id)
                                         .order_by(ChangesetEntry.id).limit(limit))]


def history(db: Database, entity: str, entity_id: int) -> list[dict[str, Any]]:
    """Every recorded change of one row, oldest first: changesets and other audited writes."""
    from backoffice.models import AuditEntry

    with db.read() as session:
        out = [{"at": at, "username": user, "source": f"changeset #{cid} ({kind}): {desc}", "before": b, "after": a}
               for at, user, cid, kind, desc, b, a in session.execute(
                   select(Changeset.created_at, Changeset.username, Changeset.id, Changeset.kind, Changeset.description,
                          ChangesetEntry.before, ChangesetEntry.after)
                   .join(Changeset, Changeset.id == ChangesetEntry.changeset_id)
                   .where(ChangesetEntry.entity == entity, ChangesetEntry.entity_id == entity_id))]
        out += [{"at": e.at, "username": e.username, "source": f"{e.action}", "before": e.before or {}, "after": e.after or {}}
                for e in session.scalars(select(AuditEntry).where(AuditEntry.entity == entity,
                                                                   AuditEntry.entity_id == str(entity_id)))]
    return sorted(out, key=lambda r: r["at"])
