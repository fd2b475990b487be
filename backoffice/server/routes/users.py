"""``/v1/users`` and ``/v1/sessions``: staff accounts (administered by admins) and sign-in sessions.

An account carries an ``ETag`` (its version); changing its role or deactivating it needs ``If-Match``.
Creating one needs an ``Idempotency-Key``; without a password, a one-time reset token is returned with
the first response only (a replay does not repeat it: secrets are never stored in clear, and the stored
answer of a keyed request is no exception). An API key is likewise shown once, when it is made. Anyone
may set their own password; only an admin sets someone else's (the contract decides).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from backoffice.operations import NotFound, ValidationError
from backoffice.operations.users import ROLES
from backoffice.server.http import (
    IDEMPOTENT_RESPONSES,
    IF_MATCH_RESPONSES,
    REPLAYED_HEADER,
    expected_version,
    idempotent,
    with_etag,
)
from backoffice.server.routes.purchasing import IdPath, plain
from backoffice.server.security import Caller, route

TAG = "users"
UserName = Annotated[str, Path(min_length=1, max_length=100, description="The account's user name")]
RoleName = Literal["merchandiser", "warehouse", "purchaser", "manager", "admin"]
if set(RoleName.__args__) != set(ROLES):  # type: ignore[attr-defined]
    raise ImportError("the roles of the API must be the roles of the contract")


class User(BaseModel):
    id: int
    username: str
    role: str
    display_name: str
    active: bool
    version: int


class CreatedUser(User):
    reset_token: str | None = Field(
        None, description="Without a password: the one-time token with which the user sets one (shown once)")


class UserList(BaseModel):
    items: list[User]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=100, pattern=r"^\S(?:.*\S)?$")
    role: RoleName
    display_name: str = Field("", max_length=200)
    password: str | None = Field(None, min_length=1, max_length=1000)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: RoleName | None = None
    active: Literal[False] | None = Field(None, description="false deactivates the account (its tokens end)")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=1000)


class ApiKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)


class ApiKey(BaseModel):
    username: str
    name: str
    api_key: str | None = Field(description="The key, shown once (null in a replay): send it as "
                                            "Authorization: Bearer")


class ResetToken(BaseModel):
    username: str
    reset_token: str = Field(description="One-time, shown once: POST it with a password to /v1/auth/reset")


class Session(BaseModel):
    id: int
    username: str
    kind: str
    name: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None


class SessionList(BaseModel):
    items: list[Session]


def _user(info: Any) -> dict[str, Any]:  # noqa: ANN401
    return {"id": info.id, "username": info.username, "role": info.role, "display_name": info.display_name,
            "active": info.active, "version": info.version}


def register(router: APIRouter) -> None:  # noqa: C901 - one route after another
    not_found = {404: {"description": "No such user"}}

    @route(router, "GET", "/users", "users.list", response_model=UserList, tags=[TAG])
    def list_users(*, caller: Caller) -> dict[str, Any]:
        """Every account by user name, with its role and whether it is active."""
        return {"items": [_user(u) for u in caller.ops.users.list()]}

    @route(router, "POST", "/users", "users.add", status_code=201, response_model=CreatedUser, tags=[TAG],
           responses={**IDEMPOTENT_RESPONSES, 409: {"description": "The user name is taken (or the key is busy)"}})
    def create_user(body: UserCreate, request: Request, *, caller: Caller) -> Response:
        """A new account with a role (and a password, or else a one-time reset token in this response).
        Needs an ``Idempotency-Key``."""
        def run(op_id: str) -> Response:
            try:
                caller.ops.users.get(body.username)
            except NotFound:
                pass
            else:
                raise HTTPException(409, detail=f"there is an account named {body.username!r} already")
            made = caller.ops.users.add(body.username, role=body.role, display_name=body.display_name,
                                        password=body.password, op_id=op_id)
            response = with_etag({**_user(made), "reset_token": None}, made.version, status_code=201)
            response.headers["Location"] = f"/v1/users/{quote(made.username, safe='')}"
            return response

        fingerprint = body.model_dump(exclude={"password"}) | {"password": body.password is not None}
        response = idempotent(request, caller, fingerprint, run)
        if response.status_code != 201 or response.headers.get(REPLAYED_HEADER) or body.password is not None:
            return response
        # The reset token is issued after the keyed answer was stored, so it is never kept in clear.
        token = caller.ops.users.issue_reset_token(body.username)
        shown = caller.ops.users.get(body.username)
        answer = with_etag({**json.loads(bytes(response.body)), **_user(shown), "reset_token": token}, shown.version,
                           status_code=201)
        answer.headers["Location"] = response.headers["Location"]
        return answer

    @route(router, "GET", "/users/{username}", "users.get", response_model=User, tags=[TAG], responses=not_found)
    def get_user(username: UserName, *, caller: Caller) -> Response:
        """One account, with its ``ETag``."""
        info = caller.ops.users.get(username)
        return with_etag(_user(info), info.version)

    @route(router, "PATCH", "/users/{username}", "users.set_role", response_model=User, tags=[TAG],
           responses={**IF_MATCH_RESPONSES, **not_found,
                      403: {"description": "Not an admin, or the change would leave no active admin"}})
    def update_user(username: UserName, body: UserPatch, request: Request, *, caller: Caller) -> Response:
        """Change an account's ``role``, or deactivate it (``active: false``: its tokens stop working at
        once). Needs ``If-Match``. The last active admin can be neither demoted nor deactivated."""
        version = expected_version(request)
        if body.role is None and body.active is None:
            raise ValidationError([(username, "", "nothing to change: send role or active")])
        info = caller.ops.users.get(username)
        if body.role is not None:
            info = caller.ops.users.set_role(username, body.role, expected_version=version)
            version = info.version
        if body.active is False:
            info = caller.ops.users.deactivate(username, expected_version=version)
        return with_etag(_user(info), info.version)

    @route(router, "PUT", "/users/{username}/password", "users.set_password", status_code=204, tags=[TAG],
           responses={**not_found, 403: {"description": "Another user's password, and the caller is not an admin"}})
    def set_password(username: UserName, body: PasswordChange, *, caller: Caller) -> Response:
        """Set a password: one's own, or (an admin) anyone's. The account's sessions end."""
        caller.ops.users.set_password(username, body.password)
        return Response(status_code=204)

    @route(router, "POST", "/users/{username}/reset-token", "users.issue_reset_token", status_code=201,
           response_model=ResetToken, tags=[TAG], responses=not_found)
    def reset_token(username: UserName, *, caller: Caller) -> dict[str, Any]:
        """A new one-time password reset token for the account (shown once; the previous one stops working)."""
        info = caller.ops.users.get(username)
        return {"username": info.username, "reset_token": caller.ops.users.issue_reset_token(info.username)}

    @route(router, "POST", "/users/{username}/api-keys", "users.create_api_key", status_code=201,
           response_model=ApiKey, tags=[TAG], responses={**IDEMPOTENT_RESPONSES, **not_found})
    def create_api_key(username: UserName, body: ApiKeyRequest, request: Request, *, caller: Caller) -> Response:
        """An API key acting as the user (with the user's role), for an integration. Needs an
        ``Idempotency-Key``. The key is in the first response only (a replay has ``api_key: null``): it is
        kept hashed."""
        made: list[str] = []

        def run(op_id: str) -> Response:
            info = caller.ops.users.get(username)
            made.append(caller.ops.users.create_api_key(info.username, body.name))
            return JSONResponse({"username": info.username, "name": body.name, "api_key": None}, status_code=201)

        response = idempotent(request, caller, {"username": username, **body.model_dump()}, run)
        if not made or response.status_code != 201:
            return response
        # The secret joins the answer after the keyed answer was stored, so it is never kept in clear.
        return JSONResponse({**json.loads(bytes(response.body)), "api_key": made[0]}, status_code=201)

    @route(router, "GET", "/sessions", "users.sessions", response_model=SessionList, tags=[TAG])
    def sessions(username: str | None = Query(None, min_length=1, max_length=100), *,
                 caller: Caller) -> dict[str, Any]:
        """Live sessions and API keys: an admin sees everyone's (or ``username``'s), anyone else their own."""
        return {"items": plain(caller.ops.users.sessions(username))}

    @route(router, "DELETE", "/sessions/{session_id}", "users.revoke_session", status_code=204, tags=[TAG],
           responses={404: {"description": "No live session or API key with that id"},
                      403: {"description": "Another user's session, and the caller is not an admin"}})
    def revoke_session(session_id: IdPath, *, caller: Caller) -> Response:
        """End a session or API key (one's own, or as an admin anyone's): its tokens stop working at once."""
        caller.ops.users.revoke_session(session_id)
        return Response(status_code=204)
