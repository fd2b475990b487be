"""Who is calling, and may they: the bearer token names the user; the permission table decides.

Each route of ``/v1`` names the operation of the contract it runs (:func:`route`); its dependency reads
``Authorization: Bearer <token>`` (an access token or an API key), asks the contract who that is (401
when nobody), checks the caller's rate budget (429) and the permission table (403), all before the
request's body is read, and hands the route the operations acting as that user. Nothing a client sends
besides the token chooses the user.
"""

from __future__ import annotations

import inspect
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from backoffice.operations import Actor, Operations, ValidationError
from backoffice.operations.auth import AuthenticationFailed
from backoffice.operations.permissions import Role, allowed, describe, roles_for

OPERATION_KEY = "x-operation"          # the route's operation, in the OpenAPI document
ROLES_KEY = "x-roles"                  # who may call it

bearer = HTTPBearer(auto_error=False, description="An access token from /v1/auth/token, or an API key.")


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of a request and the operations acting as them."""

    actor: Actor
    ops: Operations
    operation: str

    @property
    def username(self) -> str:
        return self.actor.username


class RateLimiter:
    """A token bucket per caller (a user's session or an API key): ``rate`` requests per second on
    average, bursts of ``burst``. ``take`` returns 0 when the request may go, else the seconds to wait."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = float(rate), float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, who: str) -> float:
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, since = self._buckets.get(who, (self.burst, now))
            tokens = min(self.burst, tokens + (now - since) * self.rate)
            if tokens >= 1:
                self._buckets[who] = (tokens - 1, now)
                return 0.0
            self._buckets[who] = (tokens, now)
            return (1 - tokens) / self.rate


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": 'Bearer realm="backoffice"'})


def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Actor:
    """The user of the request's bearer token (401 without a live one), rate-limited (429)."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise unauthorized("Send an access token or API key: Authorization: Bearer <token>.")
    store = request.app.state.store
    try:
        actor = store.operations().auth.verify(credentials.credentials)
    except AuthenticationFailed as exc:
        raise unauthorized(str(exc)) from None
    request.state.user = actor.username
    wait = request.app.state.rate_limiter.take(f"user:{actor.user_id}")
    if wait > 0:
        raise HTTPException(429, detail=f"Too many requests for {actor.username}: wait {math.ceil(wait)} s.",
                            headers={"Retry-After": str(max(1, math.ceil(wait)))})
    return actor


def permit(operation: str) -> Callable[..., Caller]:
    """The dependency of a route that runs ``operation``: who calls, and whether the table lets them."""
    if roles_for(operation) is None:
        raise LookupError(f"{operation} has no entry in the permission table")

    def caller(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Caller:
        actor = authenticate(request, credentials)
        if not allowed(operation, actor.role):
            roles = roles_for(operation) or frozenset()
            raise HTTPException(403, detail=f"{actor.username} ({actor.role.value}) may not run {operation}; "
                                            f"it needs the role {describe(roles | {Role.ADMIN})}.")
        refuse_nul(request)
        return Caller(actor, request.app.state.store.operations_as(actor), operation)

    caller.operation = operation  # type: ignore[attr-defined]
    return caller


def refuse_nul(request: Request) -> None:
    """422 for a NUL character in a path or query parameter: no database stores or compares text with
    one (PostgreSQL refuses it), so no route can answer it but with an error."""
    params = [("path", k, v) for k, v in request.path_params.items()] + \
             [("query", k, v) for k, v in request.query_params.multi_items()]
    bad = [(where, name) for where, name, value in params if "\x00" in name or "\x00" in str(value)]
    if bad:
        raise RequestValidationError([{"loc": (where, name), "msg": "must not contain a NUL character",
                                       "type": "value_error"} for where, name in bad])


def nul_fields(value: Any, path: str = "") -> list[str]:  # noqa: ANN401
    """The paths of the text values (or keys) in ``value`` that hold a NUL character."""
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    if isinstance(value, dict):
        found: list[str] = []
        for key, item in value.items():
            where = f"{path}.{key}".lstrip(".")
            found += ([where] if "\x00" in str(key) else []) + nul_fields(item, where)
        return found
    if isinstance(value, (list, tuple)):
        return [f for i, v in enumerate(value) for f in nul_fields(v, f"{path}[{i}]")]
    return []


def _body_guard(guard: Callable[..., Caller]) -> Callable[..., Any]:
    """422 for a JSON body holding a NUL character (``\\u0000``), checked once the caller is known (the
    same ``guard`` as the route's, so FastAPI runs it once): every write route, whatever its model."""

    async def refuse_nul_body(request: Request, _caller: Caller = Depends(guard)) -> None:
        if "json" not in request.headers.get("content-type", ""):
            return      # files are bytes: a NUL in an uploaded image is no one's business
        body = await request.body()           # read already by the route (Starlette keeps it)
        if b"\\u0000" not in body and b"\x00" not in body:
            return
        try:
            fields = nul_fields(json.loads(body))
        except ValueError:
            return                            # not JSON: the route's own validation answers it
        if fields:
            raise ValidationError([("body", field, "must not contain a NUL character") for field in fields])

    return refuse_nul_body


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No live access token or API key"},
    403: {"description": "The caller's role may not run this operation"},
    429: {"description": "Too many requests: retry after Retry-After seconds"},
}


def route(router: Any, method: str, path: str, operation: str, **kwargs: Any) -> Callable[[Callable], Callable]:  # noqa: ANN401
    """Add a route that runs ``operation`` of the contract: authenticated, permission-checked, and
    documented with the operation and its roles (``x-operation``, ``x-roles``). A keyword-only
    parameter ``caller: Caller`` of the handler receives the caller (this helper makes it the
    dependency); without one the check still runs."""
    roles = roles_for(operation)
    if roles is None:
        raise LookupError(f"{operation} has no entry in the permission table")
    extra = dict(kwargs.pop("openapi_extra", None) or {})
    extra[OPERATION_KEY] = operation
    extra[ROLES_KEY] = sorted({r.value for r in roles} | {"admin"})
    responses = {**AUTH_RESPONSES, **(kwargs.pop("responses", None) or {})}
    kwargs.setdefault("operation_id", operation.replace(".", "_") + "_" + method.lower())

    def register(handler: Callable) -> Callable:
        guard = permit(operation)
        check = Depends(guard)
        signature = inspect.signature(handler)
        if "caller" in signature.parameters:
            handler.__signature__ = signature.replace(parameters=[  # type: ignore[attr-defined]
                p.replace(default=check) if p.name == "caller" else p for p in signature.parameters.values()])
        else:
            kwargs["dependencies"] = [*kwargs.get("dependencies", []), check]
        if method in ("POST", "PUT", "PATCH"):
            kwargs["dependencies"] = [*kwargs.get("dependencies", []), Depends(_body_guard(guard))]
        router.add_api_route(path, handler, methods=[method], openapi_extra=extra, responses=responses,
                             **kwargs)
        return handler

    return register
