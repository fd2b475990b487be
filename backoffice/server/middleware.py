"""The middleware of every request: its id, its log line, the body cap, and the last-resort 500.

* The request id is the client's ``X-Request-ID`` when it is a short token (letters, digits, ``._:-``),
  otherwise a new one; it is kept in ``request.state.request_id`` and echoed in the response's
  ``X-Request-ID`` header.
* One log line per request on the ``backoffice.server`` logger: method, path, status, milliseconds, the
  user (``request.state.user`` once authentication sets it, else ``-``) and the request id.
* A body larger than the cap is refused with 413, from its ``Content-Length`` before anything is read,
  or as soon as a streamed body passes the cap.
* An error nothing else handled becomes a problem+json 500 with a generic detail and the request id;
  the traceback goes to the log only.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backoffice.server.problems import problem_response

LOGGER_NAME = "backoffice.server"
REQUEST_ID_HEADER = "X-Request-ID"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")


def request_id_from(value: str | None) -> str:
    """The client's request id when it is a safe short token (it goes into log lines), else a new one."""
    if value and _REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestMiddleware:
    """Request id, log line, body cap and last-resort 500 (pure ASGI, so streamed bodies work)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 logger: logging.Logger | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.log = logger or logging.getLogger(LOGGER_NAME)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        headers = Headers(scope=scope)
        request_id = request_id_from(headers.get(REQUEST_ID_HEADER))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 0
        response_started = False
        limit = self.max_body_bytes
        received = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def refuse(code: int, detail: str, kind: str | None = None) -> None:
            response = problem_response(code, detail=detail, kind=kind, instance=scope.get("path", ""),
                                        request_id=request_id)
            await response(scope, receive, send_with_id)

        try:
            declared = _content_length(headers)
            if declared is not None and declared > limit:
                await refuse(413, BodyTooLarge(limit).detail, "body-too-large")
                return
            await self.app(scope, capped_receive, send_with_id)
        except BodyTooLarge as exc:
            if response_started:
                raise
            await refuse(413, exc.detail, "body-too-large")
        except Exception:
            self.log.exception("unexpected error in %s %s (request id %s)", scope.get("method", ""),
                               scope.get("path", ""), request_id)
            if response_started:
                raise   # the response is under way: only closing the connection tells the client
            await refuse(500, f"An unexpected error occurred; the server's log has it under request id "
                              f"{request_id}.", "internal")
        finally:
            user = state.get("user")
            self.log.info("%s %s %d %.1fms %s %s", scope.get("method", ""), scope.get("path", ""),
                          status or 500, (time.perf_counter() - started_at) * 1000,
                          str(user) if user else "-", request_id)


def _content_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
