"""What an operation id already did: lets a client that retries a request (a command run again with the
same ``--op-id``) report the first result before it resolves its arguments against data that the first
run changed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from backoffice.db import Database
from backoffice.models import Changeset


@dataclass(frozen=True)
class AppliedChangeset:
    """The changeset a write recorded under an operation id."""

    id: int
    rows: int
    description: str


def changeset_of_operation(db: Database, operation_id: str | None) -> AppliedChangeset | None:
    """The changeset ``operation_id`` applied, if any: bulk edits, repricing, generated variants, imports
    and reverts record their operation id on their changeset."""
    if not operation_id:
        return None
    with db.read() as session:
        row = session.execute(select(Changeset.id, Changeset.row_count, Changeset.description)
                              .where(Changeset.operation_id == operation_id)).first()
    return None if row is None else AppliedChangeset(row[0], row[1] or 0, row[2] or "")
