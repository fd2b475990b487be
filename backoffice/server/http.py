"""HTTP semantics shared by the resources: entity tags from versions, ``If-Match`` on writes, and
``Idempotency-Key`` on the POSTs that create things or move stock.

- :func:`etag` makes the ``ETag`` of a version (``"7"``); :func:`expected_version` reads a write's
  ``If-Match``: 428 without one, 412 when it is not an entity tag of ours. A write whose version is stale
  raises ConflictError in the contract; the problem handler turns that into 412 with the current
  representation (``current``) and its ``ETag`` when the request carried ``If-Match``.
- :func:`idempotent` runs a keyed request once: a replay gets the first answer (``Idempotent-Replayed:
  true``), the same key with another request is a 422, a key whose first request is still running a 409.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from backoffice.operations import ServiceError, ValidationError
from backoffice.operations.base import jsonable
from backoffice.operations.idempotency import request_hash
from backoffice.server import problems
from backoffice.server.security import Caller, nul_fields

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
REPLAYED_HEADERS = ("etag", "location", "content-disposition", "retry-after", "x-changes")   # kept with a stored answer
_ETAG = re.compile(r'^\s*(?:W/)?"(\d+)"\s*$')

IF_MATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    412: {"description": "If-Match names a stale version: the body's `current` is the representation now"},
    428: {"description": "The write needs If-Match with the resource's ETag"},
}
IDEMPOTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"description": "The first request with this Idempotency-Key is still being answered"},
    422: {"description": "Invalid request, or the Idempotency-Key was used for another request"},
    428: {"description": "The request needs an Idempotency-Key header"},
}


# The JSON form of the contract's values (money exact as strings, never floats as FastAPI's encoder would
# make them; dates ISO 8601; enums by value; dataclasses as objects): the one the services store in audit
# rows.
plain = jsonable


def etag(version: int | None) -> str:
    return f'"{int(version or 0)}"'


def with_etag(body: Any, version: int | None, status_code: int = 200) -> JSONResponse:  # noqa: ANN401
    """A JSON response carrying the ``ETag`` of ``version``."""
    return JSONResponse(jsonable_encoder(body), status_code=status_code, headers={"ETag": etag(version)})


def expected_version(request: Request) -> int:
    """The version a write's ``If-Match`` names (428 without one; 412 for a tag that is not ours)."""
    value = request.headers.get("if-match")
    if value is None:
        raise HTTPException(428, detail="This write needs If-Match: send the ETag of the version you edited.")
    match = _ETAG.match(value)
    if match is None:
        raise HTTPException(412, detail=f"If-Match {value!r} is not an entity tag of this resource.")
    return int(match.group(1))


def idempotent(request: Request, caller: Caller, payload: Any, run: Callable[[str], Response]) -> Response:  # noqa: ANN401
    """Answer a keyed request once. ``run(op_id)`` performs it (its write under ``op_id``) and returns
    the response; ``payload`` (the parsed body) and the route make the request's hash."""
    key = request.headers.get(IDEMPOTENCY_HEADER.lower())
    if key is None:
        raise HTTPException(428, detail=f"This request creates or moves something: send an {IDEMPOTENCY_HEADER} "
                                        "header (a unique value per intended request, e.g. a UUID).")
    nul = nul_fields(payload.model_dump() if isinstance(payload, BaseModel) else jsonable_encoder(payload))
    if nul:       # no database stores a NUL character (PostgreSQL refuses it): an invalid request
        raise ValidationError([("body", field, "must not contain a NUL character") for field in nul])
    route = f"{request.method} {request.url.path}"
    body = payload.model_dump_json() if isinstance(payload, BaseModel) else json.dumps(
        jsonable_encoder(payload), sort_keys=True)
    claim = caller.ops.idempotency.begin(key, route, request_hash(route, body.encode()))
    if claim.outcome == "replay":
        return Response(claim.body or "", status_code=claim.status or 200, media_type=claim.media_type,
                        headers={**(claim.headers or {}), REPLAYED_HEADER: "true"})
    if claim.outcome == "mismatch":
        return problems.problem_response(
            422, kind="idempotency-key-reused", instance=request.url.path, request_id=problems.request_id_of(request),
            detail=f"{IDEMPOTENCY_HEADER} {key!r} was used for another request ({claim.route}); use a new key.")
    if claim.outcome == "busy":
        return problems.problem_response(
            409, kind="idempotency-key-busy", instance=request.url.path, request_id=problems.request_id_of(request),
            detail=f"The first request with {IDEMPOTENCY_HEADER} {key!r} is still being answered; retry shortly.",
            headers={"Retry-After": "1"})
    try:
        response = run(claim.operation_id)
    except ServiceError as exc:           # an answer about the request: a replay gets it too
        response = problems.response_for(request, exc)
    except BaseException:
        caller.ops.idempotency.forget(key)   # the server failed: a retry runs it again (once, by its op id)
        raise
    if response.status_code >= 500:
        caller.ops.idempotency.forget(key)
        return response
    kept = {name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers}
    caller.ops.idempotency.finish(key, response.status_code, bytes(response.body).decode(),
                                  response.media_type or "application/json", kept)
    return response
