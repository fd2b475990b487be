"""``/v1/auth``: trading a password (or a refresh token) for tokens, ending a session, who am I.

``POST /v1/auth/token`` is the only route that takes a user name, and only with that user's password:
identity everywhere else comes from the bearer token.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from backoffice.server.security import Caller, bearer, route, unauthorized

TAG = "auth"


NO_NUL = r"^[^\x00]*$"       # no database stores a NUL character


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=150, pattern=NO_NUL)
    password: str = Field(min_length=1, max_length=1000, pattern=NO_NUL)


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=500, pattern=NO_NUL)


class ResetRequest(BaseModel):
    reset_token: str = Field(min_length=1, max_length=500, pattern=NO_NUL)
    password: str = Field(min_length=1, max_length=1000, pattern=NO_NUL)


class Tokens(BaseModel):
    """A new session's secrets, shown once. Send ``access_token`` as ``Authorization: Bearer`` until it
    expires, then trade ``refresh_token`` at ``/v1/auth/refresh`` (it is used up)."""

    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    access_expires_at: dt.datetime
    refresh_expires_at: dt.datetime
    session_id: int


class Me(BaseModel):
    id: int
    username: str
    role: str
    display_name: str
    active: bool


_FAILED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Wrong user name or password (the same answer for both)"},
    423: {"description": "Too many failed logins: locked until Retry-After seconds have passed"},
    429: {"description": "Too many attempts from this address: retry after Retry-After seconds"},
}


def register(router: APIRouter) -> None:
    @router.post("/auth/token", response_model=Tokens, tags=[TAG], operation_id="auth_token", responses=_FAILED)
    def token(body: TokenRequest, request: Request) -> dict[str, Any]:
        """Sign in: a user name and its password buy an access token (15 minutes) and a refresh token."""
        _limit_anonymous(request)
        pair = request.app.state.store.operations().auth.login(body.username, body.password)
        request.state.user = body.username
        return pair.to_json()

    @router.post("/auth/refresh", response_model=Tokens, tags=[TAG], operation_id="auth_refresh",
                 responses={401: {"description": "The refresh token is not live (used, expired or revoked)"}})
    def refresh(body: RefreshRequest, request: Request) -> dict[str, Any]:
        """A new token pair for a live refresh token, which is used up."""
        _limit_anonymous(request)
        return request.app.state.store.operations().auth.refresh(body.refresh_token).to_json()

    @router.post("/auth/logout", status_code=204, tags=[TAG], operation_id="auth_logout",
                 responses={401: {"description": "No bearer token"}})
    def logout(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Response:
        """End the session of the bearer token (an access or refresh token; an API key is revoked)."""
        if credentials is None or not credentials.credentials:
            raise unauthorized("Send the token to end: Authorization: Bearer <token>.")
        request.app.state.store.operations().auth.logout(credentials.credentials)
        return Response(status_code=204)

    @router.post("/auth/reset", status_code=204, tags=[TAG], operation_id="auth_reset",
                 responses={401: {"description": "The reset token is not live"}})
    def reset(body: ResetRequest, request: Request) -> Response:
        """Set a password with a one-time reset token (from an admin's ``users add --reset-token``)."""
        _limit_anonymous(request)
        request.app.state.store.operations().auth.reset_password(body.reset_token, body.password)
        return Response(status_code=204)

    @route(router, "GET", "/auth/me", "users.whoami", response_model=Me, tags=[TAG])
    def me(*, caller: Caller) -> dict[str, Any]:
        """The caller: the user the bearer token names, with their role."""
        return caller.ops.users.whoami().__dict__


def _limit_anonymous(request: Request) -> None:
    """Password and token guesses are limited per client address too (the account lock is per user)."""
    from fastapi import HTTPException

    client = request.client.host if request.client else "-"
    wait = request.app.state.rate_limiter.take(f"address:{client}")
    if wait > 0:
        raise HTTPException(429, detail="Too many attempts from this address.",
                            headers={"Retry-After": str(max(1, int(wait) + 1))})
