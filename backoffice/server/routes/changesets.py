"""``/v1/changesets``: every grid save, bulk edit, import, repricing and revert, newest first; one
changeset and its rows (field by field); reverting one as a new changeset (``Idempotency-Key``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from backoffice.server.http import IDEMPOTENT_RESPONSES, idempotent
from backoffice.server.routes.catalog import MAX_ID, MAX_LIMIT, ApplyResultOut, result_response
from backoffice.server.security import Caller, route

TAG = "changesets"
ChangesetId = Annotated[int, Path(ge=1, le=MAX_ID)]


class ChangesetOut(BaseModel):
    id: int
    created_at: dt.datetime
    username: str
    kind: str
    description: str
    row_count: int
    reverts_id: int | None
    reverted_by: list[int]


class ChangesetPage(BaseModel):
    items: list[ChangesetOut]
    next_before_id: int | None = Field(description="Pass as `before_id` for the next (older) page; null "
                                                   "after the last")


class FieldChangeOut(BaseModel):
    """One field of one row: "SKU MC-S", "price", "59.99" → "63.99"."""

    label: str
    field: str
    before: Any = None
    after: Any = None


_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such changeset"}}


def register(router: APIRouter) -> None:
    @route(router, "GET", "/changesets", "changesets.list", response_model=ChangesetPage, tags=[TAG])
    def list_changesets(*, caller: Caller,
                        before_id: Annotated[int | None, Query(ge=1, le=MAX_ID,
                                                               description="Older than this changeset")] = None,
                        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100) -> dict[str, Any]:
        """Changesets newest first, ``limit`` at a time (keyset by id)."""
        items = caller.ops.changesets.list(before_id=before_id, limit=limit)
        return {"items": [i.__dict__ for i in items],
                "next_before_id": items[-1].id if len(items) == limit else None}

    @route(router, "GET", "/changesets/{changeset_id}", "changesets.get", response_model=ChangesetOut, tags=[TAG],
           responses=_NOT_FOUND)
    def get_changeset(changeset_id: ChangesetId, *, caller: Caller) -> dict[str, Any]:
        """One changeset: who, when, what kind, how many rows, what it reverts and what reverted it."""
        return caller.ops.changesets.get(changeset_id).__dict__

    @route(router, "GET", "/changesets/{changeset_id}/rows", "changesets.rows", response_model=list[FieldChangeOut],
           tags=[TAG], responses=_NOT_FOUND)
    def changeset_rows(changeset_id: ChangesetId, *, caller: Caller,
                       limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = MAX_LIMIT) -> list[dict[str, Any]]:
        """Each field the changeset's first ``limit`` rows changed, with the values before and after."""
        caller.ops.changesets.get(changeset_id)          # 404 for an unknown id
        return [r.__dict__ for r in caller.ops.changesets.rows(changeset_id, limit=limit)]

    @route(router, "POST", "/changesets/{changeset_id}/revert", "changesets.revert", response_model=ApplyResultOut,
           status_code=201, tags=[TAG],
           responses={200: {"model": ApplyResultOut, "description": "Nothing left to restore"}, **_NOT_FOUND,
                      **IDEMPOTENT_RESPONSES})
    def revert(changeset_id: ChangesetId, request: Request, *, caller: Caller) -> Response:
        """Restore what the changeset replaced, as a new changeset (201, its Location); rows changed since
        are left as they are (``conflicts``). Needs an Idempotency-Key."""
        def run(op_id: str) -> Response:
            return result_response(caller.ops.changesets.revert(changeset_id, op_id=op_id))

        return idempotent(request, caller, {"changeset_id": changeset_id}, run)
