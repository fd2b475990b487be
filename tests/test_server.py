"""The store API server: a real uvicorn on a free loopback port, over SQLite and PostgreSQL, httpx as the
client. Health, request ids, problem details, the body cap, gzip, the committed OpenAPI document, and the
``backoffice serve`` command."""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from fastapi import FastAPI, Request

from backoffice import __version__
from backoffice.cli import main
from backoffice.db import Database
from backoffice.operations import ConflictError, NotFound, PermissionDenied, ServiceError, ValidationError
from backoffice.server import create_app, create_app_for_url, openapi_text
from backoffice.server.middleware import DEFAULT_MAX_BODY_BYTES
from tests.api_support import RunningServer, start_server, url_of

OPENAPI_FILE = Path(__file__).resolve().parent.parent / "resources" / "openapi.json"
REGENERATE = "backoffice serve --write-openapi resources/openapi.json"
SMALL_CAP = 4096


# -- the test routes ---------------------------------------------------------------------------------
def add_test_routes(app: FastAPI) -> None:
    """Routes that exist only in these tests: an echo of the body, and one per kind of error."""

    @app.post("/test/echo")
    async def echo(request: Request) -> dict:
        return {"received": len(await request.body())}

    @app.get("/test/user")
    def as_user(request: Request) -> dict:
        request.state.user = "alice"
        return {}

    errors = {
        "validation": lambda: ValidationError([("row 3", "price", "must be a number"),
                                               ("row 5", "sku", "is empty")]),
        "not-found": lambda: NotFound("product 42 does not exist"),
        "conflict": lambda: ConflictError("variant", 7, "TSHIRT-M", 2, 3, {"price": "9.50"}),
        "permission": lambda: PermissionDenied("a warehouse user cannot change prices"),
        "refused": lambda: ServiceError("the transfer is already shipped"),
        "crash": lambda: RuntimeError("secret internals: /home/db password=hunter2"),
    }

    @app.get("/test/raise/{kind}")
    def raise_(kind: str) -> dict:
        raise errors[kind]()


@pytest.fixture
def server(db: Database) -> Iterator[RunningServer]:
    """The app over this test's own database (SQLite file, or the test run's PostgreSQL database), with
    a small body cap and the test routes, served on loopback."""
    app = create_app_for_url(url_of(db), max_body_bytes=SMALL_CAP)
    add_test_routes(app)
    running, stop = start_server(app)
    yield running
    stop()


# -- health ---------------------------------------------------------------------------------------------
def test_health_reports_the_database_and_its_schema(server: RunningServer, db: Database) -> None:
    from backoffice import migrations

    with server.client() as client:
        response = client.get("/health")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok", "version": __version__, "database": "ok",
                               "schema": migrations.head_revision(), "expected_schema": migrations.head_revision()}


def test_health_of_an_unmigrated_database_is_503(tmp_path: Path) -> None:
    running, stop = start_server(create_app_for_url(f"sqlite:///{tmp_path / 'empty.sqlite'}"))
    try:
        with running.client() as client:
            response = client.get("/health")
    finally:
        stop()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error" and body["database"] == "ok" and body["schema"] is None
    assert body["expected_schema"]


def test_health_of_an_unreachable_database_says_why() -> None:
    port = free_port()      # a loopback port nobody listens on
    running, stop = start_server(create_app_for_url(f"postgresql+psycopg://nobody:x@127.0.0.1:{port}/none"))
    try:
        with running.client() as client:
            first = client.get("/health")
            second = client.get("/health")     # tried again, not remembered as broken
    finally:
        stop()
    for response in (first, second):
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "error" and body["database"] not in ("", "ok") and body["schema"] is None


# -- request ids and the log line -----------------------------------------------------------------------
def request_lines(caplog: pytest.LogCaptureFixture, until: Callable[[str], bool]) -> list[str]:
    """The request log lines so far, once one satisfies ``until`` (the server thread writes a request's
    line just after the response has gone, so the client can be a moment ahead)."""
    deadline = time.monotonic() + 5
    while True:
        lines = [r.getMessage() for r in caplog.records if r.name == "backoffice.server" and not r.exc_info]
        if any(until(line) for line in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.01)


def test_request_id_is_echoed_or_made(server: RunningServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="backoffice.server")
    with server.client() as client:
        given = client.get("/health", headers={"X-Request-ID": "req-123.abc"})
        made = client.get("/health")
        unsafe = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
        client.get("/test/user", headers={"X-Request-ID": "as-alice"})
    assert given.headers["X-Request-ID"] == "req-123.abc"
    assert len(made.headers["X-Request-ID"]) == 32
    assert unsafe.headers["X-Request-ID"] != "bad id\twith spaces" and len(unsafe.headers["X-Request-ID"]) == 32
    lines = request_lines(caplog, lambda m: m.endswith(" as-alice"))
    line = next(m for m in lines if m.endswith(" req-123.abc"))
    method, path, status, ms, user, request_id = line.split(" ")
    assert (method, path, status, user, request_id) == ("GET", "/health", "200", "-", "req-123.abc")
    assert ms.endswith("ms") and float(ms[:-2]) >= 0
    assert any(m.startswith("GET /test/user 200 ") and m.endswith(" alice as-alice") for m in lines), lines


# -- problem details ------------------------------------------------------------------------------------
def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail", "instance", "request_id"} <= body.keys()
    assert body["status"] == status and body["title"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def test_unknown_path_is_a_problem_404(server: RunningServer) -> None:
    with server.client() as client:
        body = assert_problem(client.get("/v1/no-such-thing"), 404)
        assert_problem(client.delete("/health"), 405)
    assert body["instance"] == "/v1/no-such-thing" and body["title"] == "Not Found"


def test_errors_of_the_operations_are_problems(server: RunningServer) -> None:
    with server.client() as client:
        invalid = assert_problem(client.get("/test/raise/validation"), 422)
        missing = assert_problem(client.get("/test/raise/not-found"), 404)
        conflict = assert_problem(client.get("/test/raise/conflict"), 409)
        denied = assert_problem(client.get("/test/raise/permission"), 403)
        refused = assert_problem(client.get("/test/raise/refused"), 400)
    assert invalid["errors"] == [{"row": "row 3", "field": "price", "message": "must be a number"},
                                 {"row": "row 5", "field": "sku", "message": "is empty"}]
    assert missing["detail"] == "product 42 does not exist"
    assert conflict["current"] == {"price": "9.50"} and conflict["actual_version"] == 3
    assert denied["type"].endswith("permission-denied")
    assert refused["detail"] == "the transfer is already shipped"


def test_request_validation_lists_each_field(server: RunningServer) -> None:
    app = server.app

    @app.get("/test/typed")
    def typed(count: int, name: str) -> dict:
        return {}

    with server.client() as client:
        body = assert_problem(client.get("/test/typed", params={"count": "many"}), 422)
    assert {e["field"] for e in body["errors"]} == {"query.count", "query.name"}


def test_unexpected_error_is_a_generic_500(server: RunningServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="backoffice.server")
    with server.client() as client:
        response = client.get("/test/raise/crash", headers={"X-Request-ID": "crash-1"})
    body = assert_problem(response, 500)
    assert "crash-1" in body["detail"]
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert any(r.exc_info and "crash-1" in r.getMessage() for r in caplog.records)   # the log has it
    assert any(m.startswith("GET /test/raise/crash 500 ") and m.endswith(" crash-1")
               for m in request_lines(caplog, lambda m: m.endswith(" crash-1")))


# -- the body cap ---------------------------------------------------------------------------------------
def test_body_over_the_cap_is_413(server: RunningServer) -> None:
    with server.client() as client:
        fits = client.post("/test/echo", content=b"x" * SMALL_CAP)
        declared = client.post("/test/echo", content=b"x" * (SMALL_CAP + 1))
        streamed = client.post("/test/echo", content=iter([b"x" * 1000] * 5))   # chunked: no Content-Length
        unknown = client.post("/v1/nothing-here", content=b"x" * (SMALL_CAP + 1))
    assert fits.status_code == 200 and fits.json() == {"received": SMALL_CAP}
    for response in (declared, streamed, unknown):
        assert_problem(response, 413)


def test_default_cap_is_ten_megabytes() -> None:
    assert DEFAULT_MAX_BODY_BYTES == 10 * 1024 * 1024


# -- gzip -----------------------------------------------------------------------------------------------
def test_gzip_when_asked(server: RunningServer) -> None:
    with server.client() as client:
        zipped = client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
        with client.stream("GET", "/openapi.json", headers={"Accept-Encoding": "gzip"}) as raw:
            compressed = b"".join(raw.iter_raw())
        plain = client.get("/openapi.json", headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(compressed)) == zipped.json() == plain.json()
    assert "content-encoding" not in plain.headers


# -- the OpenAPI document -------------------------------------------------------------------------------
def test_committed_openapi_document_matches_the_app() -> None:
    app = create_app(lambda: pytest.fail("the document needs no database"))
    assert OPENAPI_FILE.exists(), f"resources/openapi.json is missing: run `{REGENERATE}`"
    committed = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    current = json.loads(openapi_text(app))
    assert committed == current, f"resources/openapi.json differs from the app's document: run `{REGENERATE}`"


def test_served_openapi_document_is_the_committed_one(server: RunningServer) -> None:
    with server.client() as client:
        served = client.get("/openapi.json")
    assert served.status_code == 200
    committed = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    assert {k: v for k, v in served.json()["paths"].items() if not k.startswith("/test/")} == committed["paths"]


# -- the command ----------------------------------------------------------------------------------------
def test_serve_help() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--db URL", "--host", "--port", "--certfile", "--keyfile", "--log-level", "--write-openapi"):
        assert option in result.output
    assert "127.0.0.1" in result.output and "8765" in result.output


def test_serve_is_listed() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0 and " serve " in result.output


def test_certfile_without_keyfile_is_refused(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not used")
    result = CliRunner().invoke(main, ["serve", "--db", f"sqlite:///{tmp_path / 's.sqlite'}", "--certfile", str(cert)])
    assert result.exit_code == 2
    assert "--certfile and --keyfile go together" in result.stderr
    key_only = CliRunner().invoke(main, ["serve", "--keyfile", str(cert)])
    assert key_only.exit_code == 2 and "go together" in key_only.stderr


def test_serve_refuses_an_unmigrated_database_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--db", f"sqlite:///{tmp_path / 'empty.sqlite'}", "--port", "0"])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("backoffice: error: ") and "db upgrade" in lines[0]


def test_write_openapi_writes_the_committed_document(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    result = CliRunner().invoke(main, ["serve", "--write-openapi", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == openapi_text(create_app(lambda: None))  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_serve(args: list[str], url: str, **get_options) -> tuple[httpx.Response, str, int]:
    """``backoffice serve ARGS`` as a process: GET /health once it answers, then SIGTERM; returns the
    response, everything the process printed and its exit status."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "backoffice", "serve", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(url, headers={"X-Request-ID": "from-test"}, timeout=2, **get_options)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(process.communicate()[0]) from None
                time.sleep(0.1)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    return response, output, process.returncode


def test_backoffice_serve_runs_and_stops(sqlite_db: Database) -> None:
    """The command itself, as a process: it serves /health, logs the request, and stops on SIGTERM."""
    port = free_port()
    response, output, status = run_serve(["--db", url_of(sqlite_db), "--port", str(port)],
                                         f"http://127.0.0.1:{port}/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert status in (0, -signal.SIGTERM), output   # uvicorn stops cleanly, then re-raises the signal
    assert "Application shutdown complete" in output
    assert "GET /health 200 " in output and " - from-test" in output
    assert "alembic" not in output


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    import datetime as dt
    import ipaddress

    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_backoffice_serve_with_certfile_and_keyfile_serves_https(sqlite_db: Database, tmp_path: Path) -> None:
    import ssl

    cert, key = self_signed_certificate(tmp_path)
    port = free_port()
    trust = ssl.create_default_context(cafile=str(cert))
    response, output, _ = run_serve(["--db", url_of(sqlite_db), "--port", str(port), "--certfile", str(cert),
                                     "--keyfile", str(key)], f"https://127.0.0.1:{port}/health", verify=trust)
    assert response.status_code == 200 and response.json()["status"] == "ok", output
    assert f"https://127.0.0.1:{port}" in output
