"""Every role × every route of ``/v1``, generated from the app's routes and the permission table.

Each route names the operation of the contract it runs (``x-operation``, the dependency
``security.permit``) and documents who may call it (``x-roles``); both must agree with the permission
table. Then every role calls every route: a role the table refuses gets exactly 403 (problem details),
before the request's body or parameters are looked at; a role it allows gets neither 401/403 nor a
server error; nobody without a token gets anything but 401. A route added without an operation, or
whose operation has no entry in the table, fails here by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from backoffice.db import Database
from backoffice.models import Role
from backoffice.operations.permissions import PERMISSIONS, allowed
from backoffice.server.security import OPERATION_KEY, ROLES_KEY
from backoffice.services.users import ensure_user
from tests.api_support import RunningServer
from tests.conftest import SmallStore

PREFIX = "/v1"
TOKEN_ENDPOINTS = frozenset({"/v1/auth/token", "/v1/auth/refresh", "/v1/auth/logout", "/v1/auth/reset"})
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
PROBLEM = "application/problem+json"
_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str                # as declared, with {parameters}
    route: APIRoute

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def extra(self) -> dict[str, Any]:
        return dict(self.route.openapi_extra or {})


def _walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every APIRoute of ``routes`` with its full path, through included routers (FastAPI keeps an
    included router as one entry of ``app.routes`` in recent versions, flattened in older ones)."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            context = getattr(route, "include_context", None)
            yield from _walk(original.routes, prefix + (getattr(context, "prefix", "") or ""))
        elif isinstance(route, APIRoute):
            yield prefix + route.path, route


# Any call of the contract, each checked against its own entry of the table: see
# test_every_call_of_the_contract_is_refused_exactly_to_the_roles_the_table_refuses.
CALL_ENDPOINT = PREFIX + "/operations/{name}"


def endpoints(app: FastAPI) -> list[Endpoint]:
    """The app's /v1 routes, one per method, but the token endpoints (which take no bearer token)."""
    found = [Endpoint(method, path, route)
             for path, route in _walk(list(app.routes))
             for method in sorted(route.methods or ())
             if method != "HEAD" and path.startswith(PREFIX + "/") and path not in TOKEN_ENDPOINTS
             and path != CALL_ENDPOINT]
    return sorted(found, key=lambda e: (e.path, e.method))


def permit_operations(route: APIRoute) -> set[str]:
    """The operations of the ``security.permit`` dependencies a route runs (at any depth)."""
    names: set[str] = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        operation = getattr(dependant.call, "operation", None)
        if operation is not None and getattr(dependant.call, "__qualname__", "").startswith("permit."):
            names.add(operation)
        stack.extend(dependant.dependencies)
    return names


def concrete_path(endpoint: Endpoint) -> str:
    """The path with every parameter filled: 1 for a number, a placeholder word for anything else."""
    schemas = {p.name: p for p in endpoint.route.dependant.path_params}

    def fill(match: re.Match[str]) -> str:
        param = schemas.get(match.group(1))
        annotation = getattr(getattr(param, "field_info", None), "annotation", None)
        if annotation is None and param is not None:
            annotation = getattr(param, "type_", None)
        return "1" if annotation in (int, float) else "placeholder"

    return _PARAM.sub(fill, endpoint.path)


def send(client: httpx.Client, endpoint: Endpoint) -> httpx.Response:
    """The request a caller might send without knowing the route: no If-Match, no Idempotency-Key,
    an empty JSON object as the body of a write."""
    kwargs: dict[str, Any] = {"json": {}} if endpoint.method in WITH_BODY else {}
    return client.request(endpoint.method, concrete_path(endpoint), **kwargs)


def expected_roles(operation: str) -> list[str]:
    return sorted(role.value for role in Role if allowed(operation, role))


def test_the_app_has_v1_routes_to_walk(api: RunningServer) -> None:
    """The walk below sees the routes the app serves (it would pass vacuously on an empty list)."""
    found = {e.name for e in endpoints(api.app)}
    assert "GET /v1/auth/me" in found
    assert not found & {f"POST {p}" for p in TOKEN_ENDPOINTS}
    documented = {f"{method.upper()} {path}" for path, item in api.app.openapi()["paths"].items()
                  for method in item if path.startswith(PREFIX + "/") and path not in TOKEN_ENDPOINTS
                  and path != CALL_ENDPOINT}
    assert documented <= found                      # every documented /v1 operation is walked


def test_every_route_names_its_operation_and_the_roles_the_table_gives_it(api: RunningServer) -> None:
    problems: list[str] = []
    for endpoint in endpoints(api.app):
        operation = endpoint.extra.get(OPERATION_KEY)
        if not operation:
            problems.append(f"{endpoint.name}: no {OPERATION_KEY} (declare it with security.route)")
            continue
        if operation not in PERMISSIONS:
            problems.append(f"{endpoint.name}: {operation} has no entry in the permission table")
            continue
        if endpoint.extra.get(ROLES_KEY) != expected_roles(operation):
            problems.append(f"{endpoint.name}: {ROLES_KEY} {endpoint.extra.get(ROLES_KEY)} but the table "
                            f"gives {operation} to {expected_roles(operation)}")
        if permit_operations(endpoint.route) != {operation}:
            problems.append(f"{endpoint.name}: the permission dependency checks "
                            f"{sorted(permit_operations(endpoint.route))}, not {operation}")
    assert problems == [], "\n".join(problems)


def test_each_role_gets_exactly_what_the_table_says_on_every_route(api: RunningServer, db: Database) -> None:
    """403 (problem details) where the table refuses the role; where it allows, the request gets past
    authorisation (no 401/403) and never a server error; without a token, 401 everywhere."""
    SmallStore(db, ensure_user(db, "admin"))          # ids 1 name real rows where a route reads them
    walk = [e for e in endpoints(api.app) if e.extra.get(OPERATION_KEY) in PERMISSIONS]
    roles = [r for r in Role if r is not Role.ADMIN] + [Role.ADMIN]
    clients = {role: api.as_user(role.value) for role in roles}
    mismatches: list[str] = []
    calls = 0
    try:
        with api.client() as anonymous:
            for endpoint in walk:
                r = send(anonymous, endpoint)
                calls += 1
                if r.status_code != 401:
                    mismatches.append(f"{endpoint.name} without a token: {r.status_code} {r.text[:200]}")
        for endpoint in walk:
            operation = endpoint.extra[OPERATION_KEY]
            for role in roles:
                r = send(clients[role], endpoint)
                calls += 1
                if r.status_code == 401:
                    # a route allowed to an earlier role may have ended this role's session (revoking
                    # session 1, say): sign in again and ask once more
                    api.tokens.pop(role.value, None)
                    clients[role].close()
                    clients[role] = api.as_user(role.value)
                    r = send(clients[role], endpoint)
                    calls += 1
                who = f"{endpoint.name} as {role.value} ({operation})"
                if allowed(operation, role):
                    if r.status_code in (401, 403) or r.status_code >= 500:
                        mismatches.append(f"{who}: allowed, got {r.status_code} {r.text[:300]}")
                elif r.status_code != 403:
                    mismatches.append(f"{who}: refused by the table, got {r.status_code} {r.text[:200]}")
                elif not r.headers.get("content-type", "").startswith(PROBLEM) or r.json().get("status") != 403:
                    mismatches.append(f"{who}: 403 without problem details: {r.headers.get('content-type')}")
    finally:
        for client in clients.values():
            client.close()
    assert calls >= len(walk) * (len(roles) + 1)
    assert mismatches == [], f"{len(mismatches)} of {calls} calls differ from the table:\n" + "\n".join(mismatches)


def test_every_call_of_the_contract_is_refused_exactly_to_the_roles_the_table_refuses(api: RunningServer) -> None:
    """``POST /v1/operations/{area.method}`` for every call and every role, with an argument no call
    has: 403 where the table refuses the role, else past authorisation to the arguments' check (422,
    nothing run); 401 without a token; 404 for a name that is not a call."""
    from backoffice.operations import wire

    mismatches: list[str] = []
    clients = {role: api.as_user(role.value) for role in Role}
    try:
        with api.client() as anonymous:
            assert anonymous.post(f"{PREFIX}/operations/catalog.count", json={}).status_code == 401
        assert clients[Role.ADMIN].post(f"{PREFIX}/operations/catalog.drop_everything", json={}).status_code == 404
        assert clients[Role.ADMIN].post(f"{PREFIX}/operations/auth.login", json={}).status_code == 404
        for name in wire.operations():
            for role, client in clients.items():
                r = client.post(f"{PREFIX}/operations/{name}", json={"no_such_argument": 1})
                expected = 422 if allowed(name, role) else 403
                if r.status_code != expected:
                    mismatches.append(f"{name} as {role.value}: {r.status_code}, expected {expected}: {r.text[:120]}")
                elif expected == 403:
                    assert r.headers["content-type"].startswith("application/problem+json")
    finally:
        for client in clients.values():
            client.close()
    assert mismatches == []
