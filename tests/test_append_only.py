"""History nobody can rewrite (PostgreSQL): the audit log, the stock ledger and the changesets' entries
refuse UPDATE and DELETE from anyone, while the application keeps appending to them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from backoffice.db import Database
from backoffice.operations.catalog import RowChange
from backoffice.operations.local import LocalOperations
from backoffice.services import inventory
from backoffice.services.base import Actor
from backoffice.services.inventory import MoveLine

HISTORY = ("audit_log", "stock_operations", "stock_moves", "changeset_entries")


def snapshot(db: Database) -> dict[str, list[tuple]]:
    with db.engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY id"))] for t in HISTORY}


@pytest.mark.postgres
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)     # on SQLite, the file's owner may rewrite it
def test_history_refuses_every_update_and_delete_and_still_grows(db: Database, actor: Actor, store) -> None:
    loc = store.locations
    ops = LocalOperations(db, actor)
    inventory.post_moves(db, actor, operation_id="in-1", reason="receipt",
                         lines=[MoveLine(store.variant_ids[0], loc["SUP"], loc["WH1"], 5)])
    edit = ops.catalog.save_edits([RowChange("variant", store.variant_ids[1], 1, {"price": Decimal("49.99")})],
                                  description="cheaper M")
    before = snapshot(db)
    assert all(before[t] for t in HISTORY)                    # something to rewrite in every table

    attempts = [f"UPDATE {t} SET id = id" for t in HISTORY] + [f"DELETE FROM {t}" for t in HISTORY] + [
        "UPDATE audit_log SET username = 'root'",
        "UPDATE stock_moves SET quantity = quantity + 1000",
        "DELETE FROM changeset_entries WHERE changeset_id = %d" % edit.changeset_id,
    ]
    for statement in attempts:
        with pytest.raises(DBAPIError, match="append-only: its rows are never changed or deleted"), \
                db.engine.begin() as conn:
            conn.execute(text(statement))
    assert snapshot(db) == before                              # nothing changed, nothing gone

    # The application only ever appends: a move, an edit and its revert go on working.
    inventory.post_moves(db, actor, operation_id="out-1", reason="sale",
                         lines=[MoveLine(store.variant_ids[0], loc["WH1"], loc["CUS"], 2)])
    ops.changesets.revert(edit.changeset_id)
    after = snapshot(db)
    for table in HISTORY:
        assert after[table][:len(before[table])] == before[table], table     # the old rows, untouched
        assert len(after[table]) > len(before[table]), table                   # and new ones after them
    assert inventory.ledger_mismatches(db) == []
