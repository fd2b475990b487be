"""The store API's server with a login of its own (a member of ``backoffice_server``), not the owner's:
each request runs with the signed-in user's group role, and the audit names both the user and the
server's login. The login alone may not touch the catalog, the ledger or the history."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from backoffice.db import Database
from backoffice.models import AuditEntry, Role, RowAudit, User
from backoffice.server import create_app_for_url
from backoffice.services.base import Actor
from tests.api_support import RunningServer, add_staff, start_server
from tests.conftest import LOGIN_PREFIX, SmallStore

pytestmark = pytest.mark.postgres


@pytest.fixture
def server_login(pg_db: Database) -> str:
    login = f"{LOGIN_PREFIX}api"
    with pg_db.engine.begin() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": login}).scalar()
        if not exists:
            conn.exec_driver_sql(f'CREATE ROLE "{login}" LOGIN IN ROLE backoffice_server')
    return login


@pytest.fixture
def served(pg_db: Database, server_login: str) -> Iterator[tuple[RunningServer, SmallStore, Database]]:
    add_staff(pg_db)
    admin = Actor(1, "admin", Role.ADMIN)
    store = SmallStore(pg_db, admin)
    url = pg_db.url.set(username=server_login).render_as_string(hide_password=False)
    running, stop = start_server(create_app_for_url(url, rate=10_000, burst=10_000))
    server_db = Database(url, pool_size=1)
    yield running, store, server_db
    stop()
    server_db.dispose()


def test_requests_run_with_the_users_grants_and_are_audited_with_both_names(served, pg_db, server_login) -> None:  # type: ignore[no-untyped-def]
    api, store, server_db = served
    vid = store.variant_ids[0]
    with api.as_user("merchandiser") as c:
        r = c.patch(f"/v1/variants/{vid}", json={"price": "64.50"}, headers={"If-Match": '"1"'})
        assert r.status_code == 200, r.text
    with api.as_user("warehouse") as c:
        refused = c.patch(f"/v1/variants/{vid}", json={"price": "1.00"}, headers={"If-Match": '"2"'})
        assert refused.status_code == 403
    with pg_db.read() as session:
        merch_id = session.scalar(select(User.id).where(User.username == "merchandiser"))
        by_server = session.execute(select(AuditEntry.username, AuditEntry.action)
                                    .where(AuditEntry.db_user == server_login)).all()
        rows = session.scalars(select(RowAudit).where(RowAudit.table_name == "variants", RowAudit.row_id == vid,
                                                      RowAudit.action == "update")).all()
    written = {(name, action) for name, action in by_server if action != "login"}
    assert written and {name for name, _ in written} == {"merchandiser"}, by_server
    assert [(r.db_user, r.user_id, Decimal(str(r.data["price"]))) for r in rows] == \
        [(server_login, merch_id, Decimal("64.50"))]


def test_the_servers_login_alone_touches_nothing_it_does_not_need(served) -> None:  # type: ignore[no-untyped-def]
    _api, store, server_db = served
    refused = []
    with server_db.engine.connect() as conn:
        for sql in (f"UPDATE variants SET price = 0 WHERE id = {store.variant_ids[0]}",
                    "UPDATE stock_levels SET on_hand = on_hand + 1000", "UPDATE audit_log SET username = 'root'",
                    "DELETE FROM stock_moves", "INSERT INTO products (handle, title) VALUES ('x', 'y')"):
            try:
                conn.exec_driver_sql(sql)
            except Exception as exc:   # noqa: BLE001 - the database's refusal is what is looked for
                refused.append("permission denied" in str(exc) or "append-only" in str(exc))
            conn.rollback()
        assert refused == [True] * 5
        # what it needs before it knows who asks: accounts and tokens
        assert conn.exec_driver_sql("SELECT count(*) FROM users").scalar() >= 5
        conn.exec_driver_sql("SELECT set_config('role', 'backoffice_warehouse', false)")
        assert conn.exec_driver_sql("SELECT current_user").scalar() == "backoffice_warehouse"


def test_sign_ins_through_the_servers_own_login_count_failures_lock_and_reset(served, pg_db) -> None:  # type: ignore[no-untyped-def]
    """The server signs people in as itself (nobody acts yet): a wrong password is counted on the account,
    the fifth in a row locks it, and a right one after the lock has passed starts the count again."""
    from backoffice.services.auth import LOCK_AFTER

    api, _store, _server_db = served
    with api.client() as c:
        for attempt in range(1, LOCK_AFTER):
            r = c.post("/v1/auth/token", json={"username": "warehouse", "password": "wrong"})
            assert r.status_code == 401, r.text
            with pg_db.read() as session:
                assert session.scalar(select(User.failed_logins).where(User.username == "warehouse")) == attempt
        assert c.post("/v1/auth/token", json={"username": "warehouse", "password": "wrong"}).status_code == 401
        with pg_db.read() as session:
            locked_until = session.scalar(select(User.locked_until).where(User.username == "warehouse"))
        assert locked_until is not None
        with pg_db.write() as session:   # the lock has passed
            session.execute(text("UPDATE users SET locked_until = now() - interval '1 minute' "
                                 "WHERE username = 'warehouse'"))
        assert api.login("warehouse")
        with pg_db.read() as session:
            assert session.execute(select(User.failed_logins, User.locked_until)
                                   .where(User.username == "warehouse")).one() == (0, None)
