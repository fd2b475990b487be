"""The FastAPI application of the store API: built by :func:`create_app` from how to open the operations.

The app opens the operations (``backoffice.operations.session.connect``) on first need, keeps them for its
lifetime and closes them when it stops. ``GET /health`` says whether the database answers and which
schema revision it holds; ``/openapi.json`` is the API's document (committed as
``resources/openapi.json``: :func:`openapi_text` writes it); ``/v1`` holds the resources.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.middleware.gzip import GZipMiddleware

from backoffice import __version__
from backoffice.operations import Actor, Operations
from backoffice.operations.admin import SchemaStatus
from backoffice.operations.session import SERVER_POOL_SIZE, connect
from backoffice.server import problems, v1
from backoffice.server.jobs import JobRunner
from backoffice.server.middleware import DEFAULT_MAX_BODY_BYTES, RequestMiddleware
from backoffice.server.security import RateLimiter

API_VERSION = "1.0"     # the API's own version (the document's info.version), not the package's
GZIP_MINIMUM_BYTES = 1000

OperationsOpener = Callable[[], Operations]


class StoreAccess:
    """How the app reaches the store: opens the operations once, on first need (again after a failure),
    and closes them when the app stops. Safe to call from the worker threads of sync routes."""

    def __init__(self, open_operations: OperationsOpener) -> None:
        self._open = open_operations
        self._ops: Operations | None = None
        self._acting: dict[tuple[int, object], Operations] = {}
        self._lock = threading.Lock()

    def operations(self) -> Operations:
        with self._lock:
            if self._ops is None:
                self._ops = self._open()
            return self._ops

    def operations_as(self, actor: Actor) -> Operations:
        """The operations acting as ``actor`` (kept per user and role, sharing the database)."""
        key = (actor.user_id, actor.role)
        with self._lock:
            ops = self._acting.get(key)
        if ops is None:
            ops = self.operations().acting_as(actor)
            with self._lock:
                ops = self._acting.setdefault(key, ops)
        return ops

    def check(self) -> SchemaStatus:
        """Reach the database and read its schema; DatabaseError (one line) when it cannot be reached."""
        ops = self.operations()
        ops.admin.ping()
        return ops.admin.schema()

    def close(self) -> None:
        with self._lock:
            for ops in self._acting.values():
                ops.close()
            self._acting.clear()
            if self._ops is not None:
                self._ops.close()
                self._ops = None


@dataclass
class Health:
    """Whether the server can serve: "ok" when the database answers with the schema this version expects."""

    status: str                 # "ok" or "error"
    version: str                # of the server's package
    database: str               # "ok" or why the database cannot be used
    schema: str | None          # the database's schema revision (None: no schema)
    expected_schema: str | None  # the revision this version of the server expects


DEFAULT_RATE = 50.0       # requests per second per user, on average
DEFAULT_BURST = 200       # requests a user may send at once


def create_app(open_operations: OperationsOpener, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
               rate: float = DEFAULT_RATE, burst: int = DEFAULT_BURST) -> FastAPI:
    """The store API over the operations that ``open_operations`` opens (nothing is opened before the
    first request that needs the store)."""
    store = StoreAccess(open_operations)
    jobs = JobRunner()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            jobs.shutdown()     # before the store closes: running jobs still use it while they stop
            store.close()

    app = FastAPI(
        title="Backoffice store API",
        version=API_VERSION,
        description="The store API of Backoffice: the operations of the desktop application over HTTP. "
                    "Errors are RFC 9457 problem details (application/problem+json).",
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.jobs = jobs
    app.state.rate_limiter = RateLimiter(rate, burst)
    problems.install(app)
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES)
    app.add_middleware(RequestMiddleware, max_body_bytes=max_body_bytes)   # outermost: sees every response

    @app.get("/health", response_model=Health, tags=["server"], operation_id="health",
             responses={503: {"model": Health, "description": "The database cannot be used"}})
    def health(request: Request) -> JSONResponse:
        """Whether the database answers, and its schema revision."""
        access: StoreAccess = request.app.state.store
        report = Health("ok", __version__, "ok", None, None)
        try:
            schema = access.check()
        except Exception as exc:  # noqa: BLE001  (health reports every failure, it never fails itself)
            report.status, report.database = "error", _one_line(exc)
        else:
            report.schema, report.expected_schema = schema.current, schema.head
            if not schema.up_to_date:
                report.status = "error"
        return JSONResponse(report.__dict__, status_code=200 if report.status == "ok" else 503)

    app.include_router(v1.router())
    return app


def create_app_for_url(url: str, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, rate: float = DEFAULT_RATE,
                       burst: int = DEFAULT_BURST) -> FastAPI:
    """The store API over the database at ``url`` (its password from the URL or the keyring; no prompt)."""
    return create_app(lambda: connect(url, None, require_schema=False, pool_size=SERVER_POOL_SIZE),
                      max_body_bytes=max_body_bytes,
                      rate=rate, burst=burst)


def openapi_text(app: FastAPI) -> str:
    """The app's OpenAPI document as committed in ``resources/openapi.json`` (stable formatting)."""
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
