"""Retried commands: ``--op-id`` on every write, and what a replay reports.

A command run again with the same ``--op-id`` (after a timeout, a lost connection, a scheduler retry)
writes nothing and reports what the first run did, with exit status 0. The services make the write
itself idempotent (the id is stored UNIQUE in the transaction of the write); these helpers only let a
command see, before it resolves its arguments against the current data, that the id was used already:
"move Clothing/Tops to Sale" cannot find Clothing/Tops any more once it has run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from backoffice.operations import Operations

OP_ID_HELP = ("Operation id: run again with the same id (a retry) and nothing is written twice; the first "
              "result is reported (default: a new random id).")
REPLAY_NOTE = " (already applied with this operation id: nothing changed)"


def op_id_option(f):  # type: ignore[no-untyped-def]
    return click.option("--op-id", default=None, metavar="ID", help=OP_ID_HELP)(f)


def previous_result(ops: Operations, operation_id: str | None, action: str) -> dict[str, Any] | None:
    """The stored result of ``operation_id`` if a write ``action`` already applied it, else None. An id
    used for another kind of write is an error, as the services say."""
    return ops.admin.previous_result(operation_id, action)


def previous_changeset(ops: Operations, operation_id: str | None) -> tuple[int, int, str] | None:
    """(changeset id, rows, description) of the changeset ``operation_id`` applied, if any: bulk edits,
    repricing, generated variants and reverts record their operation id on their changeset."""
    found = ops.admin.previous_changeset(operation_id)
    return None if found is None else (found.id, found.rows, found.description)


def replayed_changeset_line(found: tuple[int, int, str]) -> str:
    changeset_id, rows, description = found
    return (f"{description}: {rows:,} row{'s' if rows != 1 else ''} (changeset #{changeset_id})" + REPLAY_NOTE + ".")
