"""Reverting a changeset: a new changeset that restores what the first one replaced, leaving rows changed
since as they are (conflicts).

Each kind of changeset is reverted by the code that knows its rows. Row changesets (grid edits, bulk
edits, imports, repricing, generated variants, supplier items, reverts) are reverted here; a module whose
changesets hold other rows registers its reverter for its kind (``register_reverter("threshold", …)``),
so this package never imports those modules: they import it.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import select

from backoffice.db import Database
from backoffice.models import Changeset, ChangesetEntry
from backoffice.services.base import Actor, NotFound
from backoffice.services.changesets.apply import apply_changes
from backoffice.services.changesets.rows import ApplyResult, RowChange


class Reverter(Protocol):
    def __call__(self, db: Database, actor: Actor, changeset_id: int, *,
                 operation_id: str | None = None) -> ApplyResult: ...


_reverters: dict[str, Reverter] = {}


def register_reverter(kind: str, reverter: Reverter) -> None:
    """``reverter(db, actor, changeset_id, operation_id=…)`` reverts the changesets of ``kind``."""
    _reverters[kind] = reverter


def reverter_for(kind: str) -> Reverter:
    return _reverters.get(kind, revert_rows)


def revert_changeset(db: Database, actor: Actor, changeset_id: int, *, operation_id: str | None = None) -> ApplyResult:
    """Restore the values a changeset replaced, as a new changeset. Rows changed since are conflicts."""
    with db.read() as session:
        kind = session.scalar(select(Changeset.kind).where(Changeset.id == changeset_id))
    if kind is None:
        raise NotFound(f"changeset {changeset_id} does not exist")
    return reverter_for(kind)(db, actor, changeset_id, operation_id=operation_id)


def revert_rows(db: Database, actor: Actor, changeset_id: int, *, operation_id: str | None = None) -> ApplyResult:
    """The reverter of row changesets (products, variants, supplier items): each row back to its "before"
    values, version-checked against the version the changeset left it at. A row the changeset created is
    archived (it may have stock or sales by now), not deleted."""
    with db.read() as session:
        cs = session.get(Changeset, changeset_id)
        if cs is None:
            raise NotFound(f"changeset {changeset_id} does not exist")
        entries = session.execute(select(ChangesetEntry).where(ChangesetEntry.changeset_id == changeset_id)
                                  .order_by(ChangesetEntry.id)).scalars().all()
        description = f"Revert #{cs.id}: {cs.description}"
    changes = [RowChange(e.entity, e.entity_id, e.version_after, dict(e.before), original=dict(e.after))
               if e.version_before > 0 else
               RowChange(e.entity, e.entity_id, e.version_after, {"status": "archived"},
                         original={"status": e.after.get("status")})
               for e in entries]
    return apply_changes(db, actor, changes, description=description[:500], kind="revert",
                         operation_id=operation_id, reverts_id=changeset_id)


__all__ = ["Reverter", "register_reverter", "revert_changeset", "revert_rows", "reverter_for"]
