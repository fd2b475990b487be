"""A person's own PostgreSQL login, proven by a server that asks for passwords.

The shared test server trusts loopback; these tests use the scram-sha-256 server that
``test_password_server`` starts (its own initdb on a free port, stopped at the end), with the store's
schema owned by that server's superuser and staff made with ``users add``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import keyring
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from backoffice import migrations
from backoffice.cli import main
from backoffice.config import split_password
from backoffice.db import Database
from backoffice.models import Role
from backoffice.operations.local import LocalOperations
from backoffice.operations.session import AuthenticationFailed, connect
from backoffice.services import users
from backoffice.services.base import PermissionDenied
from tests.conftest import STAFF_PASSWORD
from tests.test_password_server import PASSWORD, secured_server  # noqa: F401  (the server fixture)

pytestmark = pytest.mark.postgres

INITIAL = "given by the admin 1"
OWN = "chosen by alice herself"


@pytest.fixture(scope="module")
def store_url(secured_server: str) -> Iterator[str]:  # noqa: F811
    owner = make_url(secured_server).set(password=PASSWORD)
    engine = create_engine(owner, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text('CREATE DATABASE "shop"'))
    engine.dispose()
    url = owner.set(database="shop").render_as_string(hide_password=False)
    db = Database(url)
    migrations.upgrade(db)
    db.dispose()
    yield url


@pytest.fixture
def owner(store_url: str) -> Iterator[tuple[Database, LocalOperations]]:
    db = Database(store_url)
    boss = users.ensure_user(db, "boss", password=STAFF_PASSWORD)
    ops = LocalOperations(db, boss, owns_database=False)
    yield db, ops
    db.dispose()


def _valid_until(db: Database, login: str) -> dt.datetime | str | None:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT CASE WHEN rolvaliduntil = 'infinity' THEN NULL ELSE rolvaliduntil END, "
                                 "rolvaliduntil = 'infinity' FROM pg_roles WHERE rolname = :n"), {"n": login}).one()[0] \
            or "infinity"


def test_a_person_signs_in_with_their_own_login_and_sets_their_own_password(owner, store_url) -> None:  # type: ignore[no-untyped-def]
    db, admin = owner
    admin.users.add("alice", role="warehouse", password=INITIAL)
    login = users.login_name("alice")
    first = _valid_until(db, login)
    assert isinstance(first, dt.datetime) and dt.timedelta(days=6) < first - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(days=7)
    before = dict(keyring.get_keyring().entries)

    with pytest.raises(AuthenticationFailed, match="wrong user name or password"):
        connect(store_url, "alice", password="not it")
    assert keyring.get_keyring().entries == before     # a refusal stores nothing

    alice = connect(store_url, "alice", password=INITIAL)
    try:
        assert alice.database_login() == (login, "staff")
        assert alice.users.whoami().username == "alice" and alice.users.whoami().role == "warehouse"
        assert alice.verify_password(INITIAL) and not alice.verify_password("not it")
        assert alice.temporary_password_until() == first
        alice.users.set_password("alice", OWN)
        assert alice.temporary_password_until() is None
    finally:
        alice.close()
    assert _valid_until(db, login) == "infinity"      # her own password never expires
    with pytest.raises(AuthenticationFailed):
        connect(store_url, "alice", password=INITIAL)
    again = connect(store_url, "alice", password=OWN)
    again.close()


def test_deactivating_ends_the_open_connection_and_refuses_the_next(owner, store_url) -> None:  # type: ignore[no-untyped-def]
    db, admin = owner
    admin.users.add("bob", role="purchaser", password=INITIAL)
    bob = connect(store_url, "bob", password=INITIAL)
    held = bob._db.engine.connect()
    held.exec_driver_sql("SELECT 1")
    pid = held.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    seen = {(s.login, s.username) for s in admin.users.database_sessions() if s.pid == pid}
    assert seen == {(users.login_name("bob"), "bob")}

    admin.users.deactivate("bob")

    with pytest.raises(DBAPIError):
        held.exec_driver_sql("SELECT 1")
    held.close()
    bob.close()
    assert pid not in {s.pid for s in admin.users.database_sessions()}
    with pytest.raises(PermissionDenied, match="bob: account deactivated"):
        connect(store_url, "bob", password=INITIAL)


def test_an_admin_ends_one_session(owner, store_url) -> None:  # type: ignore[no-untyped-def]
    db, admin = owner
    admin.users.add("carol", role="merchandiser", password=INITIAL)
    carol = connect(store_url, "carol", password=INITIAL)
    held = carol._db.engine.connect()
    pid = held.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    assert admin.users.end_database_session(pid) is True
    with pytest.raises(DBAPIError):
        held.exec_driver_sql("SELECT 1")
    held.close()
    carol.close()
    # an admin's function cannot reach the owner's own connections
    with db.engine.connect() as conn:
        mine = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        assert admin.users.end_database_session(mine) is False
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    again = connect(store_url, "carol", password=INITIAL)   # ending a session is not deactivating
    again.close()


def test_the_command_line_as_a_staff_login(owner, store_url) -> None:  # type: ignore[no-untyped-def]
    _db, admin = owner
    admin.users.add("dave", role=Role.MANAGER.value, password=INITIAL)
    as_dave, _owners = split_password(make_url(store_url).set(username=users.login_name("dave")).render_as_string(False))
    runner = CliRunner()
    me = runner.invoke(main, ["users", "whoami", "--db", as_dave], env={"BACKOFFICE_PASSWORD": INITIAL})
    assert me.exit_code == 0, me.stderr
    assert me.output.strip() == "dave (manager)"
    other = runner.invoke(main, ["users", "whoami", "--db", as_dave, "--user", "boss"],
                          env={"BACKOFFICE_PASSWORD": INITIAL})
    assert other.exit_code == 1 and "--user boss is refused" in other.stderr
    wrong = runner.invoke(main, ["users", "whoami", "--db", as_dave], env={"BACKOFFICE_PASSWORD": "nope"})
    assert wrong.exit_code == 1 and "nope" not in wrong.stderr



def test_an_admin_limits_a_person_to_sites_and_sees_who_is_connected_from_the_command_line(owner, store_url) -> None:  # type: ignore[no-untyped-def]
    db, admin = owner
    from backoffice.services import inventory

    if "WH1" not in {x["code"] for x in inventory.list_locations(db)}:
        admin.store.add_location(code="WH1", name="Main warehouse", kind="warehouse")
    admin.users.add("frank", role="warehouse", password=INITIAL)
    runner = CliRunner()
    env = {"BACKOFFICE_PASSWORD": STAFF_PASSWORD}
    limited = runner.invoke(main, ["users", "locations", "frank", "wh1", "--db", store_url, "--user", "boss"], env=env)
    assert limited.exit_code == 0, limited.stderr
    assert limited.output.strip() == "frank: WH1"
    frank = connect(store_url, "frank", password=INITIAL)
    held = frank._db.engine.connect()
    pid = held.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    listed = runner.invoke(main, ["sessions", "connected", "--db", store_url, "--user", "boss"], env=env)
    assert listed.exit_code == 0, listed.stderr
    mine = [line for line in listed.output.splitlines() if line.split()[0] == str(pid)]
    assert len(mine) == 1 and users.login_name("frank") in mine[0] and " frank " in mine[0]
    ended = runner.invoke(main, ["sessions", "end", str(pid), "--db", store_url, "--user", "boss"], env=env)
    assert ended.exit_code == 0 and f"Connection {pid} ended." in ended.output
    with pytest.raises(DBAPIError):
        held.exec_driver_sql("SELECT 1")
    held.close()
    frank.close()
    cleared = runner.invoke(main, ["users", "locations", "frank", "--clear", "--db", store_url, "--user", "boss"], env=env)
    assert cleared.output.strip() == "frank: every location"
