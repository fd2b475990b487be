"""Fixtures for the tests against real store servers (peers). ``medusa``: one Medusa 2 server per test
process (see tests/peers/medusa/server.py), on a clone of a migrated template database on the
PostgreSQL of BACKOFFICE_TEST_DATABASE_URL. Without Node.js/npm or PostgreSQL the tests are skipped, but
under CI they fail: CI must run them."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.peers.medusa import server as medusa_server

PG_ENV = "BACKOFFICE_TEST_DATABASE_URL"
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _cannot_run(reason: str) -> None:
    if ON_CI:
        pytest.fail(f"{reason}; under CI the store peer tests must run", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def medusa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[medusa_server.MedusaServer]:
    admin_url = os.environ.get(PG_ENV)
    if not admin_url:
        _cannot_run(f"{PG_ENV} is not set: the Medusa peer needs PostgreSQL")
    missing = medusa_server.missing_tools()
    if missing:
        _cannot_run(missing)
    try:
        peer = medusa_server.start(admin_url, log_dir=tmp_path_factory.mktemp("medusa"))
    except medusa_server.MedusaUnavailable as exc:
        _cannot_run(str(exc))
        raise
    except medusa_server.MedusaError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield peer
    finally:
        peer.stop()
