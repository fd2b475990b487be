"""Revert one product (and its variants) to how it was at a moment, from what was recorded since.

Every change of a product or variant field is recorded with its value before and after: in a changeset
entry (grid saves, bulk edits, imports, generated variants, reverts) or in an audit row (a single edit
of the product form). The value a field had at ``at`` is the "before" of the earliest recorded change
of that field after ``at``; a field with no recorded change since has its value still.

``plan_revert_to`` lists, for every field changed since, the value then and the value now (nothing is
written), and what cannot be reverted, as conflicts:

- variants created after ``at``: listed, left as they are (never deleted or archived silently);
- variants deleted since: they cannot be brought back;
- rows written after ``at`` by something that recorded no values (their ``updated_at`` moved on but no
  change of theirs is on record, or a record without the field's earlier value): the value then is not
  known, so those rows are named and left as they are.

``apply_revert_to`` writes the planned values as ONE changeset (kind "restore", revertible like any
other), each row version-checked against the version the plan read: a row changed meanwhile is a
conflict, reported and left as it is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from backoffice.db import Database
from backoffice.models import AuditEntry, Changeset, ChangesetEntry, Product, ProductTag, Variant
from backoffice.services.base import Actor, NotFound, ValidationError, jsonable
from backoffice.services.changesets import EDITABLE, ApplyResult, RowChange, apply_changes

RESTORE_KIND = "restore"


@dataclass(frozen=True)
class RevertField:
    """One field to set back: ``then`` is its value at the moment, ``now`` its value today."""

    entity: str             # "product" or "variant"
    entity_id: int
    label: str              # "product merino-crew", "SKU MC-S"
    field: str
    then: Any
    now: Any
    version: int            # the row's version read by the plan (checked when applied)
    changed_at: dt.datetime  # the first recorded change of the field after the moment


@dataclass(frozen=True)
class RevertConflict:
    entity: str
    entity_id: int
    label: str
    kind: str               # "created", "deleted", "unknown"
    message: str


@dataclass
class RevertPlan:
    product_id: int
    handle: str
    at: dt.datetime
    fields: list[RevertField] = field(default_factory=list)
    conflicts: list[RevertConflict] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)   # "product:7" / "variant:12" -> version read

    @property
    def rows(self) -> int:
        return len({(f.entity, f.entity_id) for f in self.fields})


@dataclass(frozen=True)
class RevertResult:
    changeset_id: int | None
    applied_rows: int
    fields: int
    conflicts: list[RevertConflict]        # what the plan could not revert, and rows changed meanwhile


def _key(entity: str, entity_id: int) -> str:
    return f"{entity}:{entity_id}"


def _aware(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None:
        raise ValidationError([("revert", "at", f"{at.isoformat()} has no time zone: give one (UTC: +00:00)")])
    return at.astimezone(dt.timezone.utc)


Row = tuple[str, int]     # ("product", 7), ("variant", 12)


def _current(session: Any, product_id: int) -> tuple[Product, dict[Row, dict[str, Any]], dict[Row, Any]]:  # noqa: ANN401
    """The product, its rows' current values, and per row (version, created_at, updated_at, label)."""
    product = session.get(Product, product_id) if 0 < product_id < 2**63 else None
    if product is None:
        raise NotFound(f"product {product_id} does not exist")
    rows: dict[Row, dict[str, Any]] = {}
    meta: dict[Row, Any] = {}
    values = {name: jsonable(getattr(product, name)) for name in EDITABLE["product"] if name != "tags"}
    values["tags"] = sorted(session.scalars(select(ProductTag.tag).where(ProductTag.product_id == product_id)))
    rows[("product", product.id)] = values
    meta[("product", product.id)] = (product.version, product.created_at, product.updated_at, f"product {product.handle}")
    for v in session.scalars(select(Variant).where(Variant.product_id == product_id).order_by(Variant.position, Variant.id)):
        rows[("variant", v.id)] = {name: jsonable(getattr(v, name)) for name in EDITABLE["variant"]}
        meta[("variant", v.id)] = (v.version, v.created_at, v.updated_at, f"SKU {v.sku}")
    return product, rows, meta


def _events(session: Any, keys: list[tuple[str, int]], at: dt.datetime) -> list[tuple[dt.datetime, int, str, int, dict, dict, bool]]:
    """Recorded changes of these rows after ``at``, oldest first: (when, order, entity, id, before, after,
    created)."""
    out = []
    for entity in ("product", "variant"):
        ids = [i for e, i in keys if e == entity]
        if not ids:
            continue
        for when, eid, entry_id, before, after, version_before in session.execute(
                select(Changeset.created_at, ChangesetEntry.entity_id, ChangesetEntry.id, ChangesetEntry.before,
                       ChangesetEntry.after, ChangesetEntry.version_before)
                .join(Changeset, Changeset.id == ChangesetEntry.changeset_id)
                .where(ChangesetEntry.entity == entity, ChangesetEntry.entity_id.in_(ids), Changeset.created_at > at)):
            out.append((when, entry_id, entity, eid, before or {}, after or {}, version_before == 0))
        for when, eid, entry_id, action, before, after in session.execute(
                select(AuditEntry.at, AuditEntry.entity_id, AuditEntry.id, AuditEntry.action, AuditEntry.before,
                       AuditEntry.after)
                .where(AuditEntry.entity == entity, AuditEntry.entity_id.in_([str(i) for i in ids]), AuditEntry.at > at)):
            out.append((when, entry_id, entity, int(eid), before or {}, after or {}, action == "create"))
    out.sort(key=lambda e: (e[0], e[1]))
    return out


def _deleted_variants(session: Any, product_id: int, at: dt.datetime) -> list[tuple[int, str]]:
    """Variants of the product deleted after ``at`` (the audit records each deletion; whose product it was
    is read from the record of its creation)."""
    out = []
    for eid, before in session.execute(select(AuditEntry.entity_id, AuditEntry.before)
                                       .where(AuditEntry.entity == "variant", AuditEntry.action == "delete",
                                              AuditEntry.at > at)):
        vid = int(eid)
        owner = None
        for (after,) in session.execute(select(ChangesetEntry.after).where(
                ChangesetEntry.entity == "variant", ChangesetEntry.entity_id == vid, ChangesetEntry.version_before == 0)):
            owner = (after or {}).get("product_id", owner)
        if owner is None:
            for (after,) in session.execute(select(AuditEntry.after).where(
                    AuditEntry.entity == "variant", AuditEntry.entity_id == str(vid), AuditEntry.action == "create")):
                owner = (after or {}).get("product_id", owner)
        if owner == product_id:
            out.append((vid, (before or {}).get("sku") or f"variant {vid}"))
    return out


def find_product(db: Database, handle: str) -> tuple[int, str, str, int]:
    """(id, handle, title, version) of the product with this handle; NotFound otherwise."""
    with db.read() as session:
        row = session.execute(select(Product.id, Product.handle, Product.title, Product.version)
                              .where(Product.handle == (handle or "").strip())).first()
    if row is None:
        raise NotFound(f"there is no product with the handle {handle!r}")
    return (row[0], row[1], row[2], row[3])


def plan_revert_to(db: Database, product_id: int, at: dt.datetime) -> RevertPlan:
    """Every field of the product and its variants changed after ``at``, with its value then and now, and
    what cannot be reverted (see the module's text). Nothing is written."""
    at = _aware(at)
    with db.read() as session:
        product, rows, meta = _current(session, product_id)
        stamp = at.strftime("%Y-%m-%d %H:%M UTC")
        if product.created_at > at:
            raise ValidationError([(f"product {product.handle}", "at",
                                    f"the product was created on {product.created_at:%Y-%m-%d %H:%M} UTC, after {stamp}")])
        plan = RevertPlan(product.id, product.handle, at)
        plan.versions = {_key(e, i): m[0] for (e, i), m in meta.items()}
        events = _events(session, list(rows), at)
        created = {(e[2], e[3]) for e in events if e[6]}
        for key, m in meta.items():
            if key[0] == "variant" and (key in created or m[1] > at):
                plan.conflicts.append(RevertConflict(key[0], key[1], m[3], "created",
                                                     f"created after {stamp}: left as it is (archive it by hand "
                                                     "if it should go)"))
        then: dict[tuple[str, int, str], tuple[Any, dt.datetime]] = {}
        unknown: dict[tuple[str, int], set[str]] = {}
        seen_rows: set[tuple[str, int]] = set()
        for when, _, entity, eid, before, after, is_create in events:
            key = (entity, eid)
            seen_rows.add(key)
            if key in created:
                continue
            for name in set(before) | set(after):
                if name not in EDITABLE[entity] or (entity, eid, name) in then or name in unknown.get(key, set()):
                    continue
                if name in before:
                    value = before[name]
                    if name == "tags" and isinstance(value, list):
                        value = sorted(value)
                    then[(entity, eid, name)] = (value, when)
                else:
                    unknown.setdefault(key, set()).add(name)
        for key, m in meta.items():
            if key in created:
                continue
            if key not in seen_rows and m[2] > at:
                plan.conflicts.append(RevertConflict(key[0], key[1], m[3], "unknown",
                                                     f"written on {m[2]:%Y-%m-%d %H:%M} UTC by something that kept no "
                                                     "earlier values: its fields then cannot be known, left as they are"))
            for name in sorted(unknown.get(key, ())):
                plan.conflicts.append(RevertConflict(key[0], key[1], m[3], "unknown",
                                                     f"{name}: changed after {stamp} without its earlier value on "
                                                     "record: left as it is"))
        order = {k: n for n, k in enumerate(meta)}
        for (entity, eid, name), (value, when) in sorted(then.items(), key=lambda kv: (order.get(kv[0][:2], 0), kv[0][2])):
            key = (entity, eid)
            if key not in rows:
                continue   # a variant deleted since: reported below
            now = rows[key].get(name)
            if now == value:
                continue
            plan.fields.append(RevertField(entity, eid, meta[key][3], name, value, now, meta[key][0], when))
        for vid, sku in _deleted_variants(session, product.id, at):
            plan.conflicts.append(RevertConflict("variant", vid, f"SKU {sku}", "deleted",
                                                 f"deleted after {stamp}: it cannot be brought back"))
        return plan


def apply_revert_to(db: Database, actor: Actor, product_id: int, at: dt.datetime, *,
                    versions: dict[str, int] | None = None, operation_id: str | None = None) -> RevertResult:
    """Write the plan's values as one changeset. ``versions`` are the row versions the caller previewed
    (``RevertPlan.versions``): a row changed since is a conflict, left as it is. Invalid end states (a
    handle or SKU taken since, a compare-at price below the price) refuse the whole revert."""
    from backoffice.services.changesets import changeset_for_operation

    done = changeset_for_operation(db, operation_id)
    if done is not None:     # a retry of a revert already written: report it, write nothing
        return RevertResult(done.id, done.row_count, 0, [])
    plan = plan_revert_to(db, product_id, at)
    by_row: dict[tuple[str, int], list[RevertField]] = {}
    for f in plan.fields:
        by_row.setdefault((f.entity, f.entity_id), []).append(f)
    changes = []
    for (entity, eid), fields_ in by_row.items():
        expected = (versions or {}).get(_key(entity, eid), fields_[0].version)
        changes.append(RowChange(entity, eid, int(expected), {f.field: f.then for f in fields_},
                                 original={f.field: f.now for f in fields_}))
    if not changes:
        return RevertResult(None, 0, 0, list(plan.conflicts))
    description = f"Revert product {plan.handle} to {plan.at:%Y-%m-%d %H:%M} UTC"
    result: ApplyResult = apply_changes(db, actor, changes, description=description, kind=RESTORE_KIND,
                                        operation_id=operation_id)
    conflicts = list(plan.conflicts)
    for c in result.conflicts:
        label = f"SKU {c.label}" if c.entity == "variant" else f"product {c.label}"
        conflicts.append(RevertConflict(c.entity, c.entity_id, label, "changed",
                                        f"{c.field}: changed by someone else meanwhile (now {c.theirs!r}); left as it is"))
    written = {(f.entity, f.entity_id) for f in plan.fields} - {(c.entity, c.entity_id) for c in result.conflicts}
    return RevertResult(result.changeset_id, result.applied_rows,
                        sum(1 for f in plan.fields if (f.entity, f.entity_id) in written), conflicts)
