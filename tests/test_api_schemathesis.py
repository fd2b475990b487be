"""Bad input never yields a 500: schemathesis fuzzes every operation of the app's OpenAPI document on a
real loopback server, as a signed-in admin (so the requests get past authorisation into the routes),
with data that fits the document and data that does not. No response may be a server error, and every
response must match the document's schema for its status.

Bounded: rounds over every operation, each round a few examples per operation and method of generation
from a fixed seed (round n uses seed n, so a run is repeatable), no shrinking; the first round always
covers every operation, further rounds run while the engine's time budget lasts. Every failure is
collected (operation, the request as a curl command, the response) before the test fails, so one run
names them all.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests
import schemathesis
from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import FlakyFailure, Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from pydantic import BaseModel

from backoffice.db import Database
from backoffice.services.users import ensure_user
from tests.api_support import RunningServer, start_server
from tests.conftest import SmallStore

EXAMPLES = {GenerationMode.POSITIVE: 2, GenerationMode.NEGATIVE: 1}     # per operation and round
BUDGET_SECONDS = {"sqlite": 50.0, "postgresql": 35.0}    # no new round starts after this
MAX_ROUNDS = 4
CHECKS = [not_a_server_error, response_schema_conformance]

# Server errors this run has found in routes whose fix belongs to their area (each names its cause);
# they are printed, not failed on. Remove an entry when its route is fixed: the test then holds it too.
KNOWN_SERVER_ERRORS: dict[str, str] = {}     # operation label -> why it may answer 500 (none known)


def operations(app: FastAPI) -> list[Any]:
    """The operations of the app's OpenAPI document, in a stable order."""
    schema = schemathesis.openapi.from_dict(app.openapi())
    found = [result.ok() for result in schema.get_all_operations()]
    return sorted(found, key=lambda op: (op.path, op.method))


def fuzz(operation: Any, mode: GenerationMode, examples: int, rng_seed: int,
         call: Callable[[Any], Any]) -> str | None:
    """Run ``examples`` cases of ``operation`` from ``rng_seed``; the first failure, described, or None."""
    seen: list[str] = []

    @seed(rng_seed)
    @settings(max_examples=examples, deadline=None, database=None, print_blob=False,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = call(case)
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as exc:   # one failure, or a group of them
            seen.append(f"{operation.label} [{mode.value}]: {exc}\n    request: {case.as_curl_command()}\n"
                        f"    response: {response.status_code} {response.text[:600]}")
            raise AssertionError(seen[-1]) from None

    try:
        run()
    except (AssertionError, FlakyFailure):     # flaky: a write's replay answered otherwise (state moved on)
        return seen[0] if seen else f"{operation.label} [{mode.value}]: failed"
    except Unsatisfiable:
        if mode is GenerationMode.NEGATIVE:
            return None                 # nothing to get wrong: the operation takes no input
        return f"{operation.label} [{mode.value}]: no valid input can be generated from the document"
    return None


def test_the_fuzzer_names_a_server_error_and_an_off_schema_response() -> None:
    """The harness itself: on an app with a route that crashes and one that answers off its schema,
    both are reported (with the request that did it), and a sound route is not."""
    app = FastAPI()

    class Count(BaseModel):
        count: int

    @app.get("/crash/{n}")
    def crash(n: int) -> dict[str, int]:
        return {"inverse": 1 // (n - n)}

    @app.get("/off-schema", response_model=Count, responses={200: {"model": Count}})
    def off_schema() -> JSONResponse:
        return JSONResponse({"count": "many"})

    @app.get("/sound", response_model=Count)
    def sound(n: int = Query(ge=0, le=10)) -> dict[str, int]:
        return {"count": n}

    running, stop = start_server(app)
    session = requests.Session()
    try:
        found = {op.label: op for op in operations(app)}
        report = {label: fuzz(op, GenerationMode.POSITIVE, 3, 1,
                              lambda case: case.call(base_url=running.base_url, session=session, timeout=30))
                  for label, op in found.items()}
    finally:
        session.close()
        stop()
    assert report["GET /crash/{n}"] is not None and "500" in report["GET /crash/{n}"]
    assert "curl" in report["GET /crash/{n}"]
    assert report["GET /off-schema"] is not None and "many" in report["GET /off-schema"]
    assert report["GET /sound"] is None


def test_no_operation_answers_bad_or_odd_input_with_a_server_error_or_off_schema(
        api: RunningServer, db: Database) -> None:
    SmallStore(db, ensure_user(db, "admin"))
    session = requests.Session()
    engine = "postgresql" if db.engine.dialect.name == "postgresql" else "sqlite"

    def send(case: Any) -> Any:
        """With the headers a write needs to reach its route's work: a fresh Idempotency-Key, and
        If-Match naming version 1 (current for a row never edited; else a 412)."""
        return case.call(base_url=api.base_url, session=session, timeout=30,
                         headers={"Authorization": f"Bearer {api.login('admin')}",
                                  "Idempotency-Key": uuid.uuid4().hex, "If-Match": '"1"'})

    def call(case: Any) -> Any:
        """As the admin; a session that an earlier case ended (a logout, a revoked session) is renewed."""
        response = send(case)
        if response.status_code == 401 and session.get(
                f"{api.base_url}/v1/auth/me", headers={"Authorization": f"Bearer {api.login('admin')}"},
                timeout=30).status_code == 401:
            api.tokens.pop("admin", None)
            response = send(case)
        return response

    found = operations(api.app)
    assert any(op.path == "/v1/auth/me" for op in found) and any(op.path == "/health" for op in found)
    failures: dict[str, str] = {}            # the first failure of each operation and mode
    started = time.monotonic()
    rounds = 0
    while rounds < MAX_ROUNDS and (rounds == 0 or time.monotonic() - started < BUDGET_SECONDS[engine]):
        rounds += 1
        for operation in found:
            for mode, examples in EXAMPLES.items():
                key = f"{operation.label} [{mode.value}]"
                if key not in failures:
                    failure = fuzz(operation, mode, examples, rounds, call)
                    if failure is not None:
                        failures[key] = failure
    session.close()
    known = {key: text for key, text in failures.items() if key.split(" [")[0] in KNOWN_SERVER_ERRORS
             and "Server error" in text}
    for key in known:
        print(f"known server error, not failed on: {key}: {KNOWN_SERVER_ERRORS[key.split(' [')[0]]}")
    documented = {op.label for op in found}
    assert set(KNOWN_SERVER_ERRORS) <= documented, "KNOWN_SERVER_ERRORS names operations the app no longer has"
    new = {key: text for key, text in failures.items() if key not in known}
    assert new == {}, f"{len(new)} operations failed ({rounds} rounds):\n\n" + "\n\n".join(new.values())


def _placeholder(schema: dict[str, Any]) -> Any:  # noqa: ANN401
    """A plain valid-looking value of a parameter's schema (the first enum value, 1, a date, "x")."""
    options = schema.get("anyOf") or [schema]
    kinds = {o.get("type") for o in options}
    first = next((o for o in options if o.get("type") not in (None, "null")), schema)
    if "enum" in first:
        return first["enum"][0]
    if kinds & {"integer", "number"}:
        return 1
    if "boolean" in kinds:
        return "false"
    if first.get("format") == "date-time":
        return "2026-01-02T03:04:05Z"
    if first.get("format") == "date":
        return "2026-01-02"
    return "x"


def _takes_text(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf") or [schema]
    return any(o.get("type") == "string" and "enum" not in o for o in options) or any(
        o.get("type") == "array" and (o.get("items") or {}).get("type") == "string" for o in options)


def test_a_nul_character_in_any_text_parameter_is_refused_not_a_server_error(
        api: RunningServer, db: Database) -> None:
    """PostgreSQL stores no NUL character, so a text parameter carrying one must be refused (4xx) by every
    route, never passed on to the database (a 500): each path and query parameter of every operation,
    one at a time, the others given plain values, as an admin."""
    SmallStore(db, ensure_user(db, "admin"))
    problems: list[str] = []
    probed = 0
    with api.as_user("admin") as client:
        for path, item in sorted(api.app.openapi()["paths"].items()):
            if not path.startswith("/v1/") or path in ("/v1/auth/logout",):
                continue
            for method, operation in item.items():
                params = [p for p in operation.get("parameters", []) if p["in"] in ("path", "query")]
                for probe in [p for p in params if _takes_text(p.get("schema", {}))]:
                    values = {p["name"]: ("a\x00b" if p is probe else _placeholder(p.get("schema", {})))
                              for p in params if p is probe or p.get("required")}
                    url = path
                    for p in params:
                        if p["in"] == "path":
                            url = url.replace("{" + p["name"] + "}", quote(str(values[p["name"]]), safe=""))
                    query = {p["name"]: values[p["name"]] for p in params if p["in"] == "query" and p["name"] in values}
                    body = {"json": {}} if method.upper() in ("POST", "PUT", "PATCH") else {}
                    r = client.request(method.upper(), url, params=query, **body)
                    probed += 1
                    if r.status_code >= 500:
                        problems.append(f"{method.upper()} {path} with NUL in {probe['in']} parameter "
                                        f"{probe['name']!r}: {r.status_code} {r.text[:300]}")
    assert probed > 0
    assert problems == [], "\n".join(problems)


def test_a_nul_character_in_a_created_thing_is_refused_with_the_field_named(api: RunningServer, db: Database) -> None:
    """The same for the body of a request that creates something (Idempotency-Key): 422 naming each
    field, nothing created, and the key is not used up."""
    with api.as_user("admin") as client:
        r = client.post("/v1/suppliers", json={"name": "Nul\x00 Supplies", "email": "a\x00@b.c"},
                        headers={"Idempotency-Key": "nul-1"})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert sorted(e["field"] for e in r.json()["errors"]) == ["email", "name"]
        assert all(s["name"] != "Nul\x00 Supplies" for s in client.get("/v1/suppliers").json()["items"])
        again = client.post("/v1/suppliers", json={"name": "Nul Supplies"}, headers={"Idempotency-Key": "nul-1"})
    assert again.status_code == 201, again.text
