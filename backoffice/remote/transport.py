"""HTTP to a store API server: one keep-alive connection pool, timeouts, the bearer token (refreshed
silently), retries with backoff, and the server's problem details raised as the contract's errors.

Retries: a request that never got an answer (connection refused or reset, a timeout) and a 502/503/504
or 500 are sent again after 0.25 s, 0.5 s, 1 s, 2 s … (``Retry-After`` wins when the server gives one),
with the same ``Idempotency-Key``, so a write the server did apply before the connection dropped is
answered from its record and never applied twice. After the last attempt: :class:`ServerUnreachable`.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from backoffice import __version__
from backoffice.operations import ConflictError, NotFound, PermissionDenied, ServiceError, ValidationError
from backoffice.remote.errors import ServerUnreachable, SignInExpired
from backoffice.operations.auth import AuthenticationFailed
from backoffice.operations.schedule import JobBusy

__all__ = ["Tokens", "Transport", "error_from", "problem_error"]

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
RETRIES = 4                   # attempts after the first
BACKOFF = 0.25                # seconds before the first retry, doubled each time
MAX_BACKOFF = 4.0
RETRY_STATUSES = frozenset({500, 502, 503, 504})
REFRESH_MARGIN = dt.timedelta(seconds=30)   # refresh an access token this long before it expires


@dataclass(frozen=True)
class Tokens:
    """A session on the server: the access token (short-lived) and the refresh token that renews it."""

    access_token: str
    refresh_token: str
    access_expires_at: dt.datetime
    refresh_expires_at: dt.datetime

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tokens:
        return cls(str(data["access_token"]), str(data["refresh_token"]),
                   dt.datetime.fromisoformat(str(data["access_expires_at"]).replace("Z", "+00:00")),
                   dt.datetime.fromisoformat(str(data["refresh_expires_at"]).replace("Z", "+00:00")))

    def to_json(self) -> dict[str, str]:
        return {"access_token": self.access_token, "refresh_token": self.refresh_token,
                "access_expires_at": self.access_expires_at.isoformat(),
                "refresh_expires_at": self.refresh_expires_at.isoformat()}

    def access_live(self, now: dt.datetime | None = None) -> bool:
        now = now or dt.datetime.now(dt.timezone.utc)
        return self.access_expires_at - REFRESH_MARGIN > now


def error_from(response: httpx.Response) -> Exception:
    """The contract's error for a problem-details answer (the message is the server's ``detail``)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    body.setdefault("detail", response.reason_phrase or f"HTTP {response.status_code}")
    return problem_error(response.status_code, body)


def problem_error(status: int, body: dict[str, Any]) -> Exception:
    """The contract's error for problem details ``body`` of HTTP ``status`` (a job's error too)."""
    detail = str(body.get("detail") or f"HTTP {status}")
    if status == 422 and body.get("errors"):
        problems = [(str(e.get("row", "")), str(e.get("field", "")), str(e.get("message", "")))
                    for e in body["errors"] if isinstance(e, dict)]
        return ValidationError(problems or detail)
    if status == 422:
        return ValidationError(detail)
    if status == 404:
        return NotFound(detail)
    if status == 403:
        return PermissionDenied(detail)
    if status == 409 and str(body.get("type", "")).endswith(":job-running"):
        try:
            since = dt.datetime.fromisoformat(str(body.get("since")))
        except ValueError:
            since = dt.datetime.now(dt.timezone.utc)
        return JobBusy(str(body.get("job") or ""), str(body.get("scope") or ""), since, str(body.get("host") or ""),
                       int(body.get("pid") or 0), str(body.get("username") or ""))
    if status in (409, 412) and body.get("entity") is not None:
        exc = ConflictError(str(body.get("entity")), body.get("entity_id") or 0, str(body.get("entity_id") or ""),
                            int(body.get("expected_version") or 0), int(body.get("actual_version") or 0),
                            body.get("current") or None)
        exc.args = (detail,)
        return exc
    if status in (401, 423):
        return AuthenticationFailed(detail)
    if status >= 500:
        return ServerUnreachable(f"the server failed ({status}): {detail}")
    return ServiceError(detail)


class Transport:
    """Requests to one server as one user. Thread-safe: the desktop's workers share it."""

    def __init__(self, base_url: str, *, tokens: Tokens | None = None,
                 on_tokens: Callable[[Tokens | None], None] | None = None, timeout: httpx.Timeout = DEFAULT_TIMEOUT,
                 retries: int = RETRIES, backoff: float = BACKOFF, verify: bool | str = True) -> None:
        self.base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._on_tokens = on_tokens or (lambda t: None)
        self._lock = threading.Lock()
        self.retries, self.backoff = retries, backoff
        self.client = httpx.Client(base_url=self.base_url, timeout=timeout, verify=verify,
                                   headers={"User-Agent": f"backoffice/{__version__}"},
                                   limits=httpx.Limits(max_connections=16, max_keepalive_connections=8))

    @property
    def tokens(self) -> Tokens | None:
        return self._tokens

    def close(self) -> None:
        self.client.close()

    # -- signing in --------------------------------------------------------------------------------------
    def login(self, username: str, password: str) -> Tokens:
        """Trade a password for tokens (the password is not kept)."""
        response = self._send("POST", "/v1/auth/token", json={"username": username, "password": password},
                              authorised=False)
        if response.status_code != 200:
            raise error_from(response)
        self._set_tokens(Tokens.from_json(response.json()))
        return self._tokens  # type: ignore[return-value]

    def refresh(self) -> Tokens:
        """A new access token from the refresh token (SignInExpired when it is no longer live)."""
        with self._lock:
            current = self._tokens
            if current is None:
                raise SignInExpired("not signed in to the store API: sign in again")
            response = self._send("POST", "/v1/auth/refresh", json={"refresh_token": current.refresh_token},
                                  authorised=False)
            if response.status_code in (400, 401, 403, 422):
                self._tokens = None
                self._on_tokens(None)
                raise SignInExpired("your session on the store API has ended (signed out, expired or revoked): "
                                    "sign in again")
            if response.status_code != 200:
                raise error_from(response)
            self._set_tokens(Tokens.from_json(response.json()), locked=True)
            return self._tokens  # type: ignore[return-value]

    def logout(self) -> None:
        if self._tokens is None:
            return
        try:
            self._send("POST", "/v1/auth/logout", authorised=True)
        except ServerUnreachable:
            pass
        self._set_tokens(None)

    def _set_tokens(self, tokens: Tokens | None, *, locked: bool = False) -> None:
        self._tokens = tokens
        self._on_tokens(tokens)

    def _access(self) -> str:
        tokens = self._tokens
        if tokens is None:
            raise SignInExpired("not signed in to the store API: sign in again")
        if not tokens.access_live():
            tokens = self.refresh()
        return tokens.access_token

    # -- requests ----------------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, idempotency_key: str | None = None,
                headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:  # noqa: ANN401
        """One authorised request, retried on network errors and 5xx; an error answer raised as the
        contract's error. A 401 refreshes the access token once and sends again."""
        extra = dict(headers or {})
        if idempotency_key is not None:
            extra["Idempotency-Key"] = idempotency_key
        response = self._send(method, path, headers=extra, authorised=True, **kwargs)
        if response.status_code == 401:
            self.refresh()
            response = self._send(method, path, headers=extra, authorised=True, **kwargs)
        if response.status_code >= 400:
            raise error_from(response)
        return response

    def _send(self, method: str, path: str, *, authorised: bool, headers: dict[str, str] | None = None,
              **kwargs: Any) -> httpx.Response:  # noqa: ANN401
        delay = self.backoff
        last: str = ""
        for attempt in range(self.retries + 1):
            sent = dict(headers or {})
            if authorised:
                sent["Authorization"] = f"Bearer {self._access()}"
            try:
                response = self.client.request(method, path, headers=sent, **_rewound(kwargs))
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if response.status_code not in RETRY_STATUSES and response.status_code != 429 \
                        and not _key_busy(response):
                    return response
                last = f"HTTP {response.status_code}"
                if _key_busy(response) and attempt == self.retries:
                    raise ServerUnreachable("the store API is still answering an earlier attempt of this change "
                                            "(or stopped while answering it); it is sent again later, once")
                if attempt == self.retries:
                    return response
                wait = _retry_after(response)
                if wait is not None:
                    delay = min(max(delay, wait), 30.0)
            if attempt == self.retries:
                break
            time.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)
        raise ServerUnreachable(f"the store API at {self.base_url} does not answer ({last}); "
                                "your changes are kept and sent when it is back")

    def call_json(self, path: str, payload: Any = None, *, idempotency_key: str | None = None) -> Any:  # noqa: ANN401
        response = self.request("POST", path, content=json.dumps(payload or {}).encode(),
                                headers={"Content-Type": "application/json"}, idempotency_key=idempotency_key)
        return response.json()


def _rewound(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The request's arguments with uploaded files back at their start (a retry sends them again)."""
    files = kwargs.get("files")
    if files:
        for value in (files.values() if isinstance(files, dict) else [f for _, f in files]):
            handle = value[1] if isinstance(value, tuple) else value
            if hasattr(handle, "seek"):
                handle.seek(0)
    return kwargs


def _key_busy(response: httpx.Response) -> bool:
    """409 ``idempotency-key-busy``: the first request under this key is still running on the server
    (or was cut off there): wait and send again, never count it as a refusal."""
    return response.status_code == 409 and "idempotency-key-busy" in response.text[:400]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
