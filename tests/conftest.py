"""Shared fixtures. Every test owns its database: a fresh SQLite file, or on PostgreSQL a database made
for this test run (migrated once) whose tables are emptied after each test."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from sqlalchemy import create_engine, make_url, text

from backoffice import migrations
from backoffice.db import Database
from backoffice.models import Base
from backoffice.services.base import Actor
from backoffice.services.users import ensure_user
from tests.api_support import RunningServer, add_staff, start_server, url_of

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PG_ENV = "BACKOFFICE_TEST_DATABASE_URL"
STAFF_PASSWORD = "staff password for tests"   # the password of the accounts tests make (see staff_sign_in)
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class MemoryKeyring(KeyringBackend):
    """A real keyring backend that keeps secrets in a dict: tests never touch the OS keyring."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    """No test reads or writes the real user's config, data folder or keyring."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("BACKOFFICE_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdgconfig"))
    monkeypatch.delenv("BACKOFFICE_DATABASE_URL", raising=False)
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


LOGIN_PREFIX = f"bo{os.getpid()}_"   # PostgreSQL logins are cluster-wide: this process's own names


@pytest.fixture(autouse=True)
def login_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Accounts made with ``users add`` on PostgreSQL get a login role of their own, named after the user
    with this process's prefix, so parallel test processes never share (and flip) one login."""
    monkeypatch.setenv("BACKOFFICE_LOGIN_PREFIX", LOGIN_PREFIX)


@pytest.fixture(autouse=True)
def staff_sign_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """Signing in is proven on PostgreSQL: accounts made by tests for the command line carry
    STAFF_PASSWORD (the ``actor`` fixture's does), and BACKOFFICE_PASSWORD holds it, as in a user's script
    (tests of the refusal remove it). argon2id with light parameters keeps each sign-in quick (a hash
    carries its parameters: verification is the real one)."""
    from argon2 import PasswordHasher

    monkeypatch.setenv("BACKOFFICE_PASSWORD", STAFF_PASSWORD)
    monkeypatch.delenv("BACKOFFICE_USER", raising=False)
    monkeypatch.setattr("backoffice.services.auth._hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def rows_written(session, model: type) -> int:  # type: ignore[no-untyped-def]
    """How many rows ``model`` holds; for the audit trail, without sign-ins (a command line run on
    PostgreSQL signs in with a password, and every login is audited): what a replayed write must not add."""
    from sqlalchemy import func, select

    from backoffice.models import AuditEntry

    query = select(func.count()).select_from(model)
    if model is AuditEntry:
        query = query.where(AuditEntry.action != "login")
    return session.scalar(query)


# -- SQLite ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    db = Database(f"sqlite:///{path}")
    migrations.upgrade(db)
    db.dispose()
    return path


@pytest.fixture
def sqlite_db(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "store.sqlite"
    shutil.copyfile(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    yield db
    db.dispose()


# -- PostgreSQL -----------------------------------------------------------------------------------------
def _pg_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        if ON_CI:
            pytest.fail(f"{PG_ENV} is not set; under CI the PostgreSQL tests must run")
        return None
    return url


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A database of its own for this test run, created on the server named by the environment,
    migrated once, dropped at the end."""
    admin = _pg_admin_url()
    if admin is None:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL tests skipped (set it to run them)")
    admin_url = make_url(admin).set(drivername="postgresql+psycopg")
    name = f"bo_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        engine.dispose()
        if ON_CI:
            pytest.fail(f"PostgreSQL at {admin_url.render_as_string()} is not usable: {exc}")
        pytest.skip(f"PostgreSQL at {admin_url.render_as_string()} is not reachable: {exc}")
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    migrations.upgrade(db)
    db.dispose()
    yield url
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        for (login,) in conn.execute(text("SELECT rolname FROM pg_roles WHERE starts_with(rolname, :p)"),
                                     {"p": LOGIN_PREFIX}):
            conn.execute(text(f'DROP ROLE IF EXISTS "{login}"'))
    engine.dispose()


def _truncate_all(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def pg_db(pg_server_url: str) -> Iterator[Database]:
    db = Database(pg_server_url)
    _truncate_all(db)
    yield db
    db.dispose()


# -- either engine --------------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Database:
    """The same test on the embedded SQLite file and on PostgreSQL."""
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")


@pytest.fixture
def actor(db: Database) -> Actor:
    """The first account of the test's database (an admin), with STAFF_PASSWORD."""
    return ensure_user(db, "tester", password=STAFF_PASSWORD)


# -- a small store built through the services ------------------------------------------------------------
class SmallStore:
    """Two products with variants and four locations, created through the real services."""

    def __init__(self, db: Database, actor: Actor) -> None:
        from backoffice.services import catalog, inventory

        catalog.create_attribute(db, actor, code="size", name="Size", values=["S", "M", "L"])
        self.product = catalog.create_product(
            db, actor,
            values={"handle": "merino-crew", "title": "Merino Crew", "vendor": "Norda", "status": "active",
                    "tags": ["wool", "winter"]},
            variants=[{"sku": f"MC-{s}", "price": "59.99", "cost": "21.00", "options": {"size": s}}
                      for s in ("S", "M", "L")],
        )
        self.variant_ids = [c.entity_id for c in self.product.children]
        self.locations = {
            code: inventory.create_location(db, actor, code=code, name=name, kind=kind).entity_id
            for code, name, kind in (("WH1", "Main warehouse", "warehouse"), ("SHOP", "City store", "store"),
                                     ("SUP", "Suppliers", "supplier"), ("CUS", "Customers", "customer"),
                                     ("LOSS", "Loss and adjustments", "adjustment"))
        }


@pytest.fixture
def store(db: Database, actor: Actor) -> SmallStore:
    return SmallStore(db, actor)


# -- the store API on a real loopback server ------------------------------------------------------------
@pytest.fixture
def api(db: Database) -> Iterator[RunningServer]:
    """``backoffice serve``'s app over this test's database on a real uvicorn (loopback, a free port),
    with one account per role (named after the role, password ``api_support.PASSWORD``). Rate limits
    are high enough for the tests that do not test them."""
    from backoffice.server import create_app_for_url

    add_staff(db)
    running, stop = start_server(create_app_for_url(url_of(db), rate=10_000, burst=10_000))
    yield running
    stop()
