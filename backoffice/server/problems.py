"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error body has ``type``, ``title``, ``status``, ``detail`` and ``instance`` (the request path),
plus ``request_id`` (the ``X-Request-ID`` of the response, to find the server's log line). Invalid
input lists every problem in ``errors`` as ``{row, field, message}``. An unexpected error is a 500 with a
generic detail and the request id: the traceback goes to the server's log, never to the client.
"""

from __future__ import annotations

import datetime as dt
import http
import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from backoffice.operations import ConflictError, NotFound, PermissionDenied, ServiceError, ValidationError
from backoffice.operations.auth import AccountLocked, AuthenticationFailed
from backoffice.operations.schedule import JobBusy
from backoffice.operations.session import DatabaseError

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:backoffice:problem:"


class ProblemResponse(JSONResponse):
    media_type = MEDIA_TYPE


def problem_body(status: int, *, detail: str = "", kind: str | None = None, title: str | None = None,
                 instance: str = "", request_id: str = "", **extra: Any) -> dict[str, Any]:
    phrase = _phrase(status)
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + kind if kind else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": request_id,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem_response(status: int, *, detail: str = "", kind: str | None = None, title: str | None = None,
                     instance: str = "", request_id: str = "", headers: dict[str, str] | None = None,
                     **extra: Any) -> ProblemResponse:
    body = problem_body(status, detail=detail, kind=kind, title=title, instance=instance,
                        request_id=request_id, **extra)
    return ProblemResponse(_json_safe(body), status_code=status, headers=headers)


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _json_safe(value: Any) -> Any:
    """Exact for money and dates (Decimal and datetime become strings), whatever the row holds."""
    return json.loads(json.dumps(value, default=str))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- the handlers ---------------------------------------------------------------------------------------
def _for(request: Request, status: int, **kwargs: Any) -> ProblemResponse:
    return problem_response(status, instance=request.url.path, request_id=request_id_of(request), **kwargs)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail, default=str)
    if detail == _phrase(exc.status_code):
        detail = ""
    if exc.status_code == 404 and not detail:
        detail = f"There is nothing at {request.url.path}."
    kind = "body-too-large" if exc.status_code == 413 else None
    return _for(request, exc.status_code, detail=detail, kind=kind, headers=dict(exc.headers or {}))


async def _request_invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    rows = [{"row": "", "field": ".".join(str(p) for p in error.get("loc", ())), "message": str(error.get("msg", ""))}
            for error in exc.errors()]
    return _for(request, 422, kind="validation", detail="The request is not valid: see errors.", errors=rows)


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    rows = [{"row": str(row), "field": str(field), "message": str(message)} for row, field, message in exc.problems]
    return _for(request, 422, kind="validation", detail=_one_line(exc), errors=rows)


async def _not_found(request: Request, exc: Exception) -> Response:
    return _for(request, 404, kind="not-found", detail=_one_line(exc))


async def _conflict(request: Request, exc: Exception) -> Response:
    """409; 412 when the request named the version it edited (If-Match): the body's ``current`` is the
    representation now, and ``ETag`` its version, so a client can merge and retry."""
    assert isinstance(exc, ConflictError)
    stale = request.headers.get("if-match") is not None and exc.actual_version is not None
    headers = {"ETag": f'"{int(exc.actual_version)}"'} if stale else None
    return _for(request, 412 if stale else 409, kind="stale-version" if stale else "conflict",
                detail=_one_line(exc), entity=exc.entity, entity_id=exc.entity_id,
                expected_version=exc.expected_version, actual_version=exc.actual_version,
                current=exc.current or None, headers=headers)


async def _permission_denied(request: Request, exc: Exception) -> Response:
    return _for(request, 403, kind="permission-denied", detail=_one_line(exc))


async def _job_busy(request: Request, exc: Exception) -> Response:
    """409: another run of the job holds its lease (this one did nothing); who holds it, since when."""
    assert isinstance(exc, JobBusy)
    return _for(request, 409, kind="job-running", detail=_one_line(exc), job=exc.job, scope=exc.scope,
                since=exc.since.isoformat(), host=exc.host, pid=exc.pid, username=exc.username)


async def _refused(request: Request, exc: Exception) -> Response:
    return _for(request, 400, kind="refused", detail=_one_line(exc))


async def _authentication_failed(request: Request, exc: Exception) -> Response:
    if isinstance(exc, AccountLocked):
        wait = max(1, int((exc.until - dt.datetime.now(dt.timezone.utc)).total_seconds()) + 1)
        return _for(request, 423, kind="account-locked", detail=_one_line(exc), headers={"Retry-After": str(wait)})
    return _for(request, 401, kind="authentication-failed", detail=_one_line(exc),
                headers={"WWW-Authenticate": 'Bearer realm="backoffice"'})


async def _database(request: Request, exc: Exception) -> Response:
    return _for(request, 503, kind="database-unavailable", detail=_one_line(exc))


_HANDLERS: list[tuple[type[BaseException], Any]] = [
    (AuthenticationFailed, _authentication_failed),
    (ValidationError, _validation),
    (NotFound, _not_found),
    (ConflictError, _conflict),
    (PermissionDenied, _permission_denied),
    (JobBusy, _job_busy),
    (ServiceError, _refused),
    (DatabaseError, _database),
]


def response_for(request: Request, exc: BaseException) -> Response:
    """The problem response of an error of the contract (what the app's handlers would send), for a
    route that must see the response before it goes (idempotent requests store it)."""
    for kind, handler in _HANDLERS:
        if isinstance(exc, kind):
            return _run_sync(handler, request, exc)
    raise exc


def _run_sync(handler: Any, request: Request, exc: BaseException) -> Response:  # noqa: ANN401
    coroutine = handler(request, exc)
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise RuntimeError("problem handlers do not await")



def install(app: FastAPI) -> None:
    """Every error of the app's routes as problem details (the most specific class wins)."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    for kind, handler in _HANDLERS:
        app.add_exception_handler(kind, handler)
