"""Reading changesets: the list (newest first, in keyset pages), one changeset, its entries (raw, or as
labelled rows of field changes), and the history of one row."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import AuditEntry, Changeset, ChangesetEntry, Product, Variant
from backoffice.services.base import NotFound, chunked_in


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


@dataclass(frozen=True)
class FieldChange:
    """One field of one row of a changeset: "SKU MC-S", "price", "59.99" → "63.99". A variant's status
    is named ``variant_status`` (a product has a status too)."""

    label: str
    field: str
    before: Any
    after: Any


def _infos(session: Session, rows: list[Changeset]) -> list[ChangesetInfo]:
    ids = [r.id for r in rows]
    reverted: dict[int, list[int]] = defaultdict(list)
    if ids:
        for rid, target in session.execute(select(Changeset.id, Changeset.reverts_id)
                                           .where(Changeset.reverts_id.in_(ids)).order_by(Changeset.id)):
            reverted[target].append(rid)
    return [ChangesetInfo(r.id, r.created_at, r.username, r.kind, r.description, r.row_count, r.reverts_id,
                          reverted.get(r.id, [])) for r in rows]


def list_changesets(db: Database, *, before_id: int | None = None, limit: int = 100) -> list[ChangesetInfo]:
    """Newest first; ``before_id`` gives the next page (the changesets older than that one)."""
    with db.read() as session:
        stmt = select(Changeset).order_by(Changeset.id.desc()).limit(limit)
        if before_id is not None:
            stmt = stmt.where(Changeset.id < before_id)
        return _infos(session, list(session.scalars(stmt)))


def get_changeset(db: Database, changeset_id: int) -> ChangesetInfo:
    with db.read() as session:
        cs = session.get(Changeset, changeset_id)
        if cs is None:
            raise NotFound(f"changeset {changeset_id} does not exist")
        return _infos(session, [cs])[0]


def changeset_for_operation(db: Database, operation_id: str | None) -> ChangesetInfo | None:
    """The changeset a write with this operation id recorded (bulk edits, imports, reverts, repricing,
    generated variants…), or None: lets a retried command report the first run instead of redoing it."""
    if not operation_id:
        return None
    with db.read() as session:
        cs = session.scalars(select(Changeset).where(Changeset.operation_id == operation_id)).first()
        return None if cs is None else _infos(session, [cs])[0]


def changeset_entries(db: Database, changeset_id: int, limit: int = 1000) -> list[dict[str, Any]]:
    with db.read() as session:
        return [{"entity": e.entity, "entity_id": e.entity_id, "before": e.before, "after": e.after,
                 "version_before": e.version_before, "version_after": e.version_after}
                for e in session.scalars(select(ChangesetEntry).where(ChangesetEntry.changeset_id == changeset_id)
                                         .order_by(ChangesetEntry.id).limit(limit))]


def changed_entities(db: Database, changeset_id: int) -> set[str]:
    """The kinds of rows a changeset holds ("variant", "product", "supplier_item", "stock_level", …)."""
    with db.read() as session:
        return set(session.scalars(select(ChangesetEntry.entity).where(ChangesetEntry.changeset_id == changeset_id)
                                   .distinct()))


def changeset_rows(db: Database, changeset_id: int, limit: int = 1000) -> list[FieldChange]:
    """Each changed field of a changeset's first ``limit`` entries, rows labelled by SKU or handle (a row
    the changeset created carries its own; others are looked up), "variant 17" when unknown."""
    entries = changeset_entries(db, changeset_id, limit)
    labels: dict[tuple[str, int], str] = {}
    for e in entries:
        name = (e["after"] or {}).get("sku" if e["entity"] == "variant" else "handle")
        if name:
            labels[(e["entity"], e["entity_id"])] = name
    wanted = {"variant": (Variant, Variant.sku), "product": (Product, Product.handle)}
    with db.read() as session:
        for entity, (model, column) in wanted.items():
            ids = sorted({e["entity_id"] for e in entries if e["entity"] == entity
                          and (entity, e["entity_id"]) not in labels})
            for cond in chunked_in(session, model.id, ids):
                for eid, name in session.execute(select(model.id, column).where(cond)):
                    labels[(entity, eid)] = name
    out = []
    for e in entries:
        entity, eid = e["entity"], e["entity_id"]
        name = labels.get((entity, eid))
        label = (f"SKU {name}" if entity == "variant" else f"product {name}") if name else f"{entity} #{eid}"
        before, after = e["before"] or {}, e["after"] or {}
        for f in sorted(set(before) | set(after)):
            if before.get(f) != after.get(f):
                out.append(FieldChange(label, "variant_status" if entity == "variant" and f == "status" else f,
                                       before.get(f), after.get(f)))
    return out


def history(db: Database, entity: str, entity_id: int) -> list[dict[str, Any]]:
    """Every recorded change of one row, oldest first: changesets and other audited writes."""
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
