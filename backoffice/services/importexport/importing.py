"""Validating a parsed product file against the store (dry run) and applying it as one changeset.

The same planning code runs for the dry run (in a read session) and for the import (inside the write
transaction, so the versions it hands to the changeset are the ones read in that transaction). Planning
is two passes over the rows with cheap Python checks, plus set-based reads of the existing rows keyed by
SKU and handle in chunks; writing is bulk inserts (COPY on PostgreSQL) for new rows and the changeset's
set-based UPDATEs for changed ones.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import (
    Attribute,
    AttributeValue,
    Product,
    ProductTag,
    Variant,
    VariantOption,
    VariantStatus,
    utcnow,
)
from backoffice.services.base import (
    Actor,
    ValidationError,
    audit,
    claim_operation,
    store_operation_result,
)
from backoffice.services.changesets import apply_in_session
from backoffice.services.importexport.cells import ABSENT
from backoffice.services.importexport.common import (
    CancelFn,
    ImportConflicts,
    ImportFileError,
    ImportRejected,
    Problem,
    ProgressFn,
    Steps,
    no_gc,
)
from backoffice.services.importexport import bundle_columns
from backoffice.services.importexport.model import MAX_KEPT_PROBLEMS, ON_CONFLICT, Baseline, ImportReport, Plan
from backoffice.services.importexport.planning import Planner
from backoffice.services.importexport.reading import ParsedFile

_WRITE_ATTEMPTS = 3


# -- results --------------------------------------------------------------------------------------------
@dataclass
class ImportResult:
    """What an applied import changed. ``changeset_id`` is None when nothing needed to change."""

    changeset_id: int | None
    new_products: int
    new_variants: int
    updated_products: int
    updated_variants: int
    unchanged_variants: int
    new_attribute_values: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    conflict_rows: int = 0            # stale rows with changed cells: skipped or overwritten (on_conflict)
    on_conflict: str = "refuse"
    replayed: bool = False            # the operation id was applied before: this is that first result

    @property
    def changed_rows(self) -> int:
        return self.new_products + self.new_variants + self.updated_products + self.updated_variants

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "replayed"}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ImportResult:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


# -- API ------------------------------------------------------------------------------------------------
def dry_run(db: Database, parsed: ParsedFile, *, progress: ProgressFn | None = None,
            cancel: CancelFn | None = None, on_conflict: str = "refuse",
            changed_since: dt.datetime | None = None) -> ImportReport:
    """Validate every row against the store and count what the import would do. Writes nothing.
    Conflicts (stale rows whose cells differ from the store) are listed in ``report.conflicts``; the
    report's ``baseline`` (the versions read) can be handed to ``apply_import``. Memory stays bounded
    whatever the size of the file: only counts, the first problems and conflicts are kept."""
    _check_on_conflict(on_conflict)
    steps = Steps(progress, cancel)
    steps.step(0.0, 1.0, f"Checking {parsed.name}")
    with db.read() as session, no_gc():
        plan = Planner(session, parsed, steps, keep=False, on_conflict=on_conflict,
                       changed_since=changed_since).plan()
        _add_problems(plan.report, bundle_columns.check_rows(session, parsed))
    steps.done(f"Checked {parsed.name}")
    return plan.report


def _add_problems(report: ImportReport, problems: list[Problem]) -> None:
    """Problems found beside the planner's (the bundle columns), kept in row order."""
    if problems:
        report.problem_count += len(problems)
        report.problems = sorted([*report.problems, *problems])[:MAX_KEPT_PROBLEMS]


def _check_on_conflict(on_conflict: str) -> None:
    if on_conflict not in ON_CONFLICT:
        raise ValidationError(f"unknown conflict choice {on_conflict!r}; use one of {', '.join(ON_CONFLICT)}")


class _RowsMoved(Exception):
    """Someone changed rows between the plan and the changeset's locks: plan again."""


def apply_import(db: Database, actor: Actor, parsed: ParsedFile, *, operation_id: str | None = None,
                 progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                 on_conflict: str = "refuse", baseline: ImportReport | Baseline | None = None,
                 changed_since: dt.datetime | None = None) -> ImportResult:
    """Validate and apply the file in one transaction as one changeset (kind "import"). Raises
    ImportRejected (a ValidationError) listing every problem if any row is bad; nothing is written then.
    With nothing to change, no changeset is made and ``changeset_id`` is None.

    Versions are checked again inside the transaction, on the rows as read locked: a row whose version
    (the file's, else ``baseline``'s: a dry run's report, else updated after ``changed_since``) is older
    than the store's is stale, and its differing cells are conflicts. ``on_conflict``: refuse (raise
    ImportConflicts, a kind of ImportRejected, writing nothing), skip (those rows are left as they are)
    or overwrite (the file's values win). A replayed ``operation_id`` returns the first result
    (``replayed`` True) and writes nothing."""
    _check_on_conflict(on_conflict)
    steps = Steps(progress, cancel)
    if isinstance(baseline, ImportReport):
        baseline = baseline.baseline
    if baseline is not None and baseline.signature and baseline.signature != parsed.signature:
        raise ImportFileError(f"{parsed.name} has changed since it was checked: check it again before importing")

    def import_in_transaction(session: Session) -> ImportResult:
        previous = claim_operation(session, operation_id, "import_products", actor)
        if previous is not None:
            result = ImportResult.from_dict(previous)
            result.replayed = True
            return result
        with no_gc():
            steps.step(0.0, 0.6, f"Checking {parsed.name}")
            plan = Planner(session, parsed, steps, lock=True, on_conflict=on_conflict, baseline=baseline,
                           changed_since=changed_since).plan()
            if plan.report.problems:
                raise ImportRejected(plan.report, parsed.name)
            if plan.report.conflict_rows and on_conflict == "refuse":
                raise ImportConflicts(plan.report, parsed.name)
            steps.step(0.6, 0.99, f"Writing {parsed.name}")
            result = _write(session, actor, parsed, plan, operation_id, steps)
            changed, problems = bundle_columns.apply_rows(session, actor, parsed, operation_id)   # after the variants
            if problems:
                _add_problems(plan.report, problems)
                raise ImportRejected(plan.report, parsed.name)
            if changed:
                result.notes.append(f"{changed:,} bundle{'s' if changed != 1 else ''} created or changed")
        steps.check()
        store_operation_result(session, operation_id, result.to_dict())
        return result

    for attempt in range(1, _WRITE_ATTEMPTS + 1):
        try:
            result = db.run_write(import_in_transaction)
            steps.done(f"Imported {parsed.name}")
            return result
        except _RowsMoved:
            if attempt == _WRITE_ATTEMPTS:
                raise ValidationError(f"{parsed.name}: rows kept changing while importing ({attempt} attempts); "
                                      "nothing was imported, try again") from None
        except IntegrityError as exc:
            raise _unique_violation(parsed, exc) from exc
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg") and "unique" in str(exc).lower():
                raise _unique_violation(parsed, exc) from exc
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _unique_violation(parsed: ParsedFile, exc: BaseException) -> ValidationError:
    text = str(getattr(exc, "orig", exc)).splitlines()[0]
    return ValidationError(f"{parsed.name}: another user added the same handle or SKU while importing ({text}); "
                           "nothing was imported, run the import again")


# -- writing --------------------------------------------------------------------------------------------
def _write(session: Session, actor: Actor, parsed: ParsedFile, plan: Plan, operation_id: str | None,
           steps: Steps) -> ImportResult:
    pg = session.get_bind().dialect.name == "postgresql"
    now = utcnow()
    report = plan.report
    attr_ids, value_ids = _create_options(session, actor, plan, operation_id, now)
    created: list[tuple[str, int, dict[str, Any]]] = []
    steps.within(0.05)
    # products
    new_by_handle: dict[str, int] = {}
    if plan.new_products:
        ids = _allocate_ids(session, "products", len(plan.new_products), pg)
        cols = ("id", "handle", "title", "description", "vendor", "product_type", "status", "category_id",
                "seo_title", "seo_description", "version", "created_at", "updated_at")
        rows = []
        tag_rows = []
        for pid, np_ in zip(ids, plan.new_products, strict=True):
            v = np_.values
            new_by_handle[np_.handle] = pid
            rows.append((pid, np_.handle, v.get("title", ""), v.get("description", ""), v.get("vendor", ""),
                         v.get("product_type", ""), v.get("status", "draft"), v.get("category_id"),
                         v.get("seo_title", ""), v.get("seo_description", ""), 1, now, now))
            tag_rows.extend((pid, t) for t in np_.tags)
            created.append(("product", pid, {"handle": np_.handle, **v, "tags": np_.tags,
                                             "status": v.get("status", "draft")}))
        _bulk_insert(session, Product.__table__, cols, rows, pg)
        _bulk_insert(session, ProductTag.__table__, ("product_id", "tag"), tag_rows, pg)
    steps.within(0.2)
    # variants
    variant_ids: list[int] = []
    if plan.new_variants:
        ids = variant_ids = _allocate_ids(session, "variants", len(plan.new_variants), pg)
        cols = ("id", "product_id", "sku", "barcode", "title", "price", "compare_at_price", "cost", "weight_grams",
                "status", "position", "version", "created_at", "updated_at")
        rows = []
        option_rows = []
        active = VariantStatus.ACTIVE.value
        option_ids: dict[tuple, tuple[int, int]] = {}
        for vid, nv in zip(ids, plan.new_variants, strict=True):
            sku, barcode, price, compare, cost, weight, status, title = nv.values
            pid = nv.product_id if nv.product_id is not None else new_by_handle[nv.handle]
            st = status if status is not None and status is not ABSENT else active
            rows.append((vid, pid, sku, barcode, title, price, compare, cost, weight, st, nv.position, 1, now, now))
            for pair in nv.options:
                ids_ = option_ids.get(pair)
                if ids_ is None:
                    ids_ = option_ids[pair] = (attr_ids[pair[0]], value_ids[pair[1]])
                option_rows.append((vid, *ids_))
        steps.within(0.3)
        _bulk_insert(session, Variant.__table__, cols, rows, pg)
        steps.within(0.5)
        _bulk_insert(session, VariantOption.__table__, ("variant_id", "attribute_id", "attribute_value_id"),
                     option_rows, pg)
    steps.within(0.6)
    description = f"Import {parsed.name}: {report.counts()}"
    result = apply_in_session(session, actor, plan.changes, description=description[:500], kind="import",
                              operation_id=operation_id, created=created, created_variants=sorted(variant_ids),
                              locked_variants=plan.locked_variants)
    if result.conflicts:
        raise _RowsMoved()
    return ImportResult(result.changeset_id, report.new_products, report.new_variants, report.updated_products,
                        report.updated_variants, report.unchanged_variants, list(report.new_attribute_values),
                        list(report.notes), report.conflict_rows, report.on_conflict)


def _create_options(session: Session, actor: Actor, plan: Plan, operation_id: str | None,
                    now: dt.datetime) -> tuple[dict[tuple, int], dict[tuple, int]]:
    """Create the attributes and values the file names but the store lacks (audited one by one; they are
    few). Returns ids by the planner's attribute and value keys."""
    attr_ids: dict[tuple, int] = {}
    value_ids: dict[tuple, int] = {}
    if not plan.new_attributes and not plan.new_values:
        return _KeyMap(attr_ids, "a"), _KeyMap(value_ids, "v")
    next_attr_pos = session.scalar(select(func.coalesce(func.max(Attribute.position), -1))) + 1
    for code, name in plan.new_attributes.items():
        attribute = Attribute(code=code, name=name[:200], position=next_attr_pos)
        next_attr_pos += 1
        session.add(attribute)
        session.flush()
        attr_ids[("n", code)] = attribute.id
        audit(session, actor, "attribute", attribute.id, "create", None, {"code": code, "name": attribute.name},
              operation_id)
    by_attr: dict[tuple, list[str]] = defaultdict(list)
    for akey, value in plan.new_values:
        by_attr[akey].append(value)
    for akey, values in by_attr.items():
        aid = akey[1] if akey[0] == "a" else attr_ids[akey]
        pos = session.scalar(select(func.coalesce(func.max(AttributeValue.position), -1))
                             .where(AttributeValue.attribute_id == aid)) + 1
        for value in values:
            av = AttributeValue(attribute_id=aid, value=value, position=pos)
            pos += 1
            session.add(av)
            session.flush()
            value_ids[("nv", akey, value)] = av.id
            audit(session, actor, "attribute_value", av.id, "create", None, {"attribute_id": aid, "value": value},
                  operation_id)
    return _KeyMap(attr_ids, "a"), _KeyMap(value_ids, "v")


class _KeyMap(dict):  # type: ignore[type-arg]
    """Ids by planner key: existing keys ("a", id) / ("v", id) carry their id; new ones are looked up."""

    def __init__(self, data: dict, existing_tag: str) -> None:
        super().__init__(data)
        self.tag = existing_tag

    def __missing__(self, key: tuple) -> int:
        if key[0] == self.tag:
            return key[1]
        raise KeyError(key)


def _allocate_ids(session: Session, table: str, n: int, pg: bool) -> list[int]:
    """Ids for rows about to be inserted: from the table's sequence on PostgreSQL (safe alongside other
    writers), after the largest id on SQLite (this transaction holds the file's write lock)."""
    if pg:
        seq = session.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}).scalar_one()
        if not seq or not re.fullmatch(r'[\w."]+', seq):
            raise RuntimeError(f"no id sequence for {table}")  # pragma: no cover
        # the sequence as a literal: a parameter would be looked up again for every row (10x slower)
        with session.connection().connection.driver_connection.cursor() as cur:
            cur.execute(f"SELECT nextval('{seq}'::regclass) FROM generate_series(1, %s)", [n])
            return [i for (i,) in cur.fetchall()]
    top = session.execute(select(func.coalesce(func.max(_TABLES[table].id), 0))).scalar_one()
    return list(range(top + 1, top + 1 + n))


_TABLES = {"products": Product, "variants": Variant}


def _bulk_insert(session: Session, table, cols: tuple[str, ...], rows: list[tuple], pg: bool) -> None:  # type: ignore[no-untyped-def]
    if not rows:
        return
    if pg:
        raw = session.connection().connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:
            if all(type(v) is int for v in rows[0]) and len(cols) == 3:   # variant options: whole numbers only
                for start in range(0, len(rows), 50000):   # COPY text made in bulk, no quoting needed
                    copy.write("".join([f"{a}\t{b}\t{c}\n" for a, b, c in rows[start:start + 50000]]))
                return
            for r in rows:
                copy.write_row(r)
        return
    for start in range(0, len(rows), 20000):
        session.execute(insert(table), [dict(zip(cols, r, strict=True)) for r in rows[start:start + 20000]])


__all__ = ["ImportReport", "ImportResult", "apply_import", "dry_run"]
