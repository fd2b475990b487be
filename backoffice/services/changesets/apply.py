"""Applying row changes as one changeset: conflicts set aside, the rows as they would end up validated,
the rest written set-based with their before/after values (see the package's docstring)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String, Table, bindparam, delete, insert, select
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import Category, Changeset, ChangesetEntry, Product, ProductTag, Variant, utcnow
from backoffice.services import catalog
from backoffice.services.base import Actor, ValidationError, audit, chunked_in, jsonable
from backoffice.services.changesets.rows import EDITABLE, LABEL, MODELS, ApplyResult, Conflict, RowChange, enum_value
from backoffice.services.changesets.staging import StagedVariants, update_from_stage
from backoffice.services.price_rules import compare_at_below_price
from backoffice.services.wording import money_text

CHUNK = 2000

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
    model = MODELS[entity]
    cols = sorted((fields_ - {"tags"}) | {"version", LABEL[entity]} | ({"price", "compare_at_price"} if entity == "variant" else set()))
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
    cleaned = _clean_batch(changes)

    def apply_in_transaction(session: Session) -> ApplyResult:
        return _apply(session, actor, cleaned, description, kind, operation_id, reverts_id, ())

    return db.run_write(apply_in_transaction)


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
    return _apply(session, actor, _clean_batch(changes), description, kind, operation_id, None, list(created),
                  locked_variants, list(created_variants))


def replayed(session: Session, operation_id: str | None) -> ApplyResult | None:
    """The changeset ``operation_id`` already applied (a retry: nothing is written again), or None."""
    if operation_id is None:
        return None
    found = session.execute(select(Changeset.id, Changeset.row_count)
                            .where(Changeset.operation_id == operation_id)).first()
    return None if found is None else ApplyResult(found[0], found[1] or 0, [])


def _apply(session: Session, actor: Actor, cleaned: list[tuple[RowChange, dict[str, Any]]], description: str,
           kind: str, operation_id: str | None, reverts_id: int | None,
           created: list[tuple[str, int, dict[str, Any]]],
           locked_variants: dict[int, dict[str, Any]] | None = None,
           created_variants: list[int] = ()) -> ApplyResult:  # type: ignore[assignment]
    description = (description or "").strip()[:500] or "Edit"
    done = replayed(session, operation_id)
    if done is not None:
        return done
    conflicts: list[Conflict] = []
    problems: list = []
    unchanged = 0
    # entity -> list of (change, new values, current values)
    ready: dict[str, list[tuple[RowChange, dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    staged: StagedVariants | None = None
    for entity in ("product", "variant", "supplier_item"):
        batch = [(ch, vals) for ch, vals in cleaned if ch.entity == entity]
        if not batch:
            continue
        wanted = set().union(*(vals.keys() for _, vals in batch))
        if entity == "variant" and StagedVariants.suits(session, batch, wanted):
            staged = StagedVariants(session, batch, wanted, locked_variants)
            unchanged += staged.check(problems, conflicts)
            continue
        ids = sorted(ch.entity_id for ch, _ in batch)
        if entity == "variant" and locked_variants is not None:
            current = locked_variants
        else:
            current = _current_values(session, entity, ids, wanted)
        for ch, vals in batch:
            cur = current.get(ch.entity_id)
            label_field = LABEL[entity]
            if cur is None:
                problems.append((f"{entity} {ch.entity_id}", "", "does not exist"))
                continue
            if cur["version"] != ch.expected_version:
                for name, new in vals.items():
                    conflicts.append(Conflict(entity, ch.entity_id, cur[label_field], name,
                                              jsonable(ch.original.get(name)), jsonable(new),
                                              jsonable(enum_value(cur.get(name))), cur["version"]))
                continue
            diff = {k: v for k, v in vals.items() if enum_value(v) != cur.get(k)}
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
                "before": {k: enum_value(cur.get(k)) for k in diff},
                "after": {k: enum_value(v) for k, v in diff.items()},
            })
    for entity, entity_id, values in created:
        entries.append({"changeset_id": changeset.id, "entity": entity, "entity_id": entity_id,
                        "version_before": 0, "version_after": 1, "before": {}, "after": values})
    insert_many(session, ChangesetEntry.__table__, entries)
    record_created_variants(session, changeset.id, created_variants)
    audit(session, actor, "changeset", changeset.id, kind, None,
          {"description": description, "rows": applied, "conflicts": len(conflicts), "reverts": reverts_id},
          operation_id)
    return ApplyResult(changeset.id, applied, conflicts, unchanged, versions)



def _validate_final_state(session: Session, ready: dict[str, list], problems: list, staged_invalid: list) -> None:
    problems.extend(staged_invalid)   # variants checked in SQL (StagedVariants), in batch order
    variants = ready.get("variant", [])
    new_skus: dict[str, int] = {}
    for ch, diff, cur in variants:
        label = f"SKU {cur['sku']}"
        price = diff.get("price", cur.get("price"))
        compare_at = diff.get("compare_at_price", cur.get("compare_at_price"))
        if ("price" in diff or "compare_at_price" in diff) and compare_at_below_price(price, compare_at):
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
    model = MODELS[entity]
    table: Table = model.__table__
    groups: dict[tuple[str, ...], list] = defaultdict(list)
    for ch, diff, cur in rows:
        groups[tuple(sorted(k for k in diff if k != "tags"))].append((ch, diff, cur))
    for cols, group in groups.items():
        params = [{"_id": ch.entity_id, "_expected": cur["version"], "_now": now,
                   **{f"_{c}": enum_value(diff[c]) for c in cols}} for ch, diff, cur in group]
        values = {c: bindparam(f"_{c}", type_=table.c[c].type) for c in cols}
        stmt = (table.update()
                .where(table.c.id == bindparam("_id"), table.c.version == bindparam("_expected"))
                .values(**values, version=table.c.version + 1, updated_at=bindparam("_now", type_=table.c.updated_at.type)))
        if session.get_bind().dialect.name == "postgresql" and len(params) > 500 and cols:
            for p, (_, _, cur) in zip(params, group, strict=True):
                p.update({f"_old_{c}": cur.get(c) for c in cols})
            update_from_stage(session, table, entity, cols, params, changeset_id)
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
        insert_many(session, ProductTag.__table__, [{"product_id": pid, "tag": t} for pid, tags in tag_rows for t in tags])
        recorded.difference_update(ids)
    return recorded



CREATED_VARIANT_FIELDS = ("product_id", "sku", "barcode", "title", "price", "compare_at_price", "cost", "weight_grams",
                          "status")


def record_created_variants(session: Session, changeset_id: int, ids: list[int]) -> None:
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
                         "after": {c: enum_value(v) for c, v in zip(CREATED_VARIANT_FIELDS, values, strict=True)
                                   if v is not None and v != ""}})
    rows.sort(key=lambda r: r["entity_id"])
    insert_many(session, ChangesetEntry.__table__, rows)


def insert_many(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
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


