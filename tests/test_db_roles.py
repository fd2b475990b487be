"""What a person's own PostgreSQL login may do, tried in the database itself.

Every member of staff logs in as themselves, a member of their role's group; the grants come from the
permission table. These tests connect as such logins (made by ``users add``) and try every privilege on
every table, the history tables' rewrites, the ledger, the posting function's location limits and the
audit's identity. They need a PostgreSQL the tests own (``pg_server_url``); the shared test server trusts
loopback, so a login connects without a password here (the password tests use their own server, in
``test_staff_logins.py``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import make_url, select, text
from sqlalchemy.exc import DBAPIError

from backoffice.db import Database
from backoffice.models import AuditEntry, Role, RowAudit
from backoffice.operations.session import connect
from backoffice.services import inventory, permissions, users
from backoffice.services.base import Actor, PermissionDenied
from backoffice.services.db_roles import group_role, session_kind
from tests.conftest import STAFF_PASSWORD, SmallStore

pytestmark = pytest.mark.postgres


def _login_url(server_url: str, login: str) -> str:
    return make_url(server_url).set(username=login, password=None).render_as_string(hide_password=False)


@pytest.fixture
def shop(pg_db: Database) -> Iterator[tuple[Database, Actor, SmallStore, dict[Role, Actor]]]:
    """A small store and one account with its own login per role (made by ``users add``)."""
    boss = users.ensure_user(pg_db, "boss", password=STAFF_PASSWORD)
    store = SmallStore(pg_db, boss)
    staff = {}
    for role in Role:
        actor, created = users.create_user(pg_db, boss, f"{role.value[:5]}{uuid.uuid4().hex[:4]}", role,
                                           password=STAFF_PASSWORD)
        assert created
        staff[role] = actor
    yield pg_db, boss, store, staff


def _as_login(pg_db: Database, actor: Actor) -> Database:
    with pg_db.read() as session:
        from backoffice.models import User

        login = session.scalar(select(User.db_login).where(User.id == actor.user_id))
    assert login == users.login_name(actor.username)
    return Database(_login_url(str(pg_db.url.render_as_string(hide_password=False)), login), pool_size=1)


def _attempt(db: Database, sql: str) -> str:
    """``allowed`` or ``refused``: the statement run in a transaction rolled back; refused means the
    database said "permission denied" (any other error, a NOT NULL say, came after the privilege check)."""
    with db.engine.connect() as conn:
        try:
            conn.exec_driver_sql(sql)
            return "allowed"
        except DBAPIError as exc:
            message = str(exc.orig)
            if "permission denied" in message or "append-only" in message or "row-level security" in message:
                return "refused"
            return "allowed"
        finally:
            conn.rollback()


def _statement(table: str, privilege: str, columns: list[str]) -> str:
    access = permissions.TABLES[table]
    shown = [c for c in columns if c not in access.hidden_columns]
    if privilege == "select":
        return f"SELECT {shown[0]} FROM {table} WHERE false"
    if privilege == "insert":
        return f"INSERT INTO {table} DEFAULT VALUES"
    if privilege == "update":
        column = access.update_columns[0] if access.update_columns else shown[-1]
        return f"UPDATE {table} SET {column} = {column} WHERE false"
    return f"DELETE FROM {table} WHERE false"


def test_every_role_on_every_table_agrees_with_the_permission_table(shop) -> None:  # type: ignore[no-untyped-def]
    pg_db, _boss, _store, staff = shop
    grants = permissions.table_grants()
    with pg_db.engine.connect() as conn:
        tables = sorted(conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").scalars())
        columns: dict[str, list[str]] = {}
        for table, column in conn.exec_driver_sql(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"):
            columns.setdefault(table, []).append(column)
    assert set(tables) == set(permissions.TABLES), "every table has an entry in permissions.TABLES"
    lines, disagreements, tried = [], [], 0
    for role in Role:
        db = _as_login(pg_db, staff[role])
        try:
            assert session_kind(db).kind == "staff" and session_kind(db).role is role
            for table in tables:
                cells = []
                for privilege in permissions.PRIVILEGES:
                    expected = "allowed" if role in grants[table][privilege] else "refused"
                    got = _attempt(db, _statement(table, privilege, columns[table]))
                    tried += 1
                    cells.append(privilege[0].upper() if got == "allowed" else "-")
                    if got != expected:
                        disagreements.append(f"{role.value} {privilege} {table}: {got}, the table says {expected}")
                for hidden in permissions.TABLES[table].hidden_columns:
                    tried += 1
                    if _attempt(db, f"SELECT {hidden} FROM {table} WHERE false") != "refused":
                        disagreements.append(f"{role.value} may read {table}.{hidden}")
                lines.append(f"{role.value:<13} {table:<26} {''.join(cells)}")
        finally:
            db.dispose()
    print(f"\n{tried} attempts, {len(disagreements)} disagreements\n" + "\n".join(lines))
    assert disagreements == []
    assert tried >= len(Role) * len(tables) * 4


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_no_staff_role_can_rewrite_history_or_stock(shop, role: Role) -> None:  # type: ignore[no-untyped-def]
    pg_db, boss, store, staff = shop
    inventory.post_moves(pg_db, boss, operation_id="opening", reason="receipt", lines=[
        {"variant_id": store.variant_ids[0], "from_location_id": store.locations["SUP"],
         "to_location_id": store.locations["WH1"], "quantity": 10}])
    db = _as_login(pg_db, staff[role])
    try:
        for sql in ("UPDATE audit_log SET username = 'root'", "DELETE FROM audit_log",
                    "UPDATE stock_moves SET quantity = quantity + 1000", "DELETE FROM stock_moves",
                    "UPDATE stock_operations SET note = 'x'", "UPDATE changeset_entries SET after = '{}'",
                    "DELETE FROM changeset_entries", "UPDATE stock_levels SET on_hand = on_hand + 1000",
                    "INSERT INTO stock_levels (variant_id, location_id, on_hand, reserved, version, created_at, "
                    f"updated_at) VALUES ({store.variant_ids[1]}, {store.locations['WH1']}, 500, 0, 1, now(), now())",
                    "INSERT INTO stock_moves (operation_pk, variant_id, from_location_id, to_location_id, quantity) "
                    f"SELECT id, {store.variant_ids[0]}, {store.locations['SUP']}, {store.locations['WH1']}, 5 "
                    "FROM stock_operations", "UPDATE row_audit SET db_user = 'root'", "DELETE FROM row_audit"):
            assert _attempt(db, sql) == "refused", sql
    finally:
        db.dispose()
    assert inventory.on_hand(pg_db, store.variant_ids[0], store.locations["WH1"]) == 10
    assert inventory.ledger_mismatches(pg_db) == []


def test_a_warehouse_login_limited_to_its_site_posts_only_there(shop) -> None:  # type: ignore[no-untyped-def]
    pg_db, boss, store, staff = shop
    clerk = staff[Role.WAREHOUSE]
    v, wh1, shop_loc, sup, loss = (store.variant_ids[0], store.locations["WH1"], store.locations["SHOP"],
                                   store.locations["SUP"], store.locations["LOSS"])
    inventory.post_moves(pg_db, boss, operation_id="stock", reason="receipt", lines=[
        {"variant_id": v, "from_location_id": sup, "to_location_id": wh1, "quantity": 20},
        {"variant_id": v, "from_location_id": sup, "to_location_id": shop_loc, "quantity": 20}])
    assert users.set_user_locations(pg_db, boss, clerk.username, ["wh1"]) == ["WH1"]
    db = _as_login(pg_db, clerk)
    try:
        # the service, connected as the clerk's own login
        with pytest.raises(PermissionDenied, match="you may post stock only at WH1; this line moves SHOP → LOSS"):
            inventory.post_moves(db, clerk, operation_id="elsewhere", reason="damage", lines=[
                {"variant_id": v, "from_location_id": shop_loc, "to_location_id": loss, "quantity": 1}])
        done = inventory.post_moves(db, clerk, operation_id="here", reason="damage", lines=[
            {"variant_id": v, "from_location_id": wh1, "to_location_id": loss, "quantity": 2}])
        assert done.applied and done.levels[(v, wh1)] == 18
        # the function itself, called by hand with someone else's identity: posts as the clerk, or not at all
        with db.engine.connect() as conn:
            with pytest.raises(DBAPIError, match="bo:location"):
                conn.execute(text("SELECT bo_post_moves('by-hand', 'damage', '', '', :boss, 'boss', "
                                  "CAST(:lines AS jsonb), false)"),
                             {"boss": boss.user_id, "lines": json.dumps([{"n": 1, "v": v, "f": shop_loc, "t": loss, "q": 5}])})
            conn.rollback()
        # row-level security on the documents: no transfer between two sites not the clerk's
        assert _attempt(db, f"INSERT INTO transfers (number, state, source_location_id, destination_location_id, "
                            f"version, created_at, updated_at, note) VALUES ('TR-X', 'draft', {shop_loc}, {sup}, 1, "
                            "now(), now(), '')") == "refused"
    finally:
        db.dispose()
    assert inventory.on_hand(pg_db, v, shop_loc) == 20
    with pg_db.read() as session:
        post = session.scalars(select(AuditEntry).where(AuditEntry.operation_id == "here")).one()
    assert (post.username, post.user_id, post.db_user) == (clerk.username, clerk.user_id, users.login_name(clerk.username))


def test_the_audit_names_the_login_whatever_the_client_claims(shop) -> None:  # type: ignore[no-untyped-def]
    pg_db, boss, store, staff = shop
    merch = staff[Role.MERCHANDISER]
    db = _as_login(pg_db, merch)
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("SELECT set_config('backoffice.user_id', %(boss)s, true), "
                                 "set_config('backoffice.row_audit', 'off', true)", {"boss": str(boss.user_id)})
            conn.exec_driver_sql("INSERT INTO audit_log (at, user_id, username, entity, entity_id, action) "
                                 f"VALUES (now(), {boss.user_id}, 'boss', 'product', '1', 'forged')")
            conn.exec_driver_sql(f"UPDATE products SET title = 'Written around the app' WHERE id = {store.product.entity_id}")
    finally:
        db.dispose()
    with pg_db.read() as session:
        forged = session.scalars(select(AuditEntry).where(AuditEntry.action == "forged")).one()
        rows = session.scalars(select(RowAudit).where(RowAudit.table_name == "products",
                                                      RowAudit.row_id == store.product.entity_id,
                                                      RowAudit.action == "update")).all()
    login = users.login_name(merch.username)
    assert (forged.username, forged.user_id, forged.db_user) == (merch.username, merch.user_id, login)
    assert [(r.db_user, r.user_id, r.data["title"]) for r in rows] == [(login, merch.user_id, "Written around the app")]


def test_the_services_write_the_same_audit_as_a_staff_login(shop) -> None:  # type: ignore[no-untyped-def]
    """A transfer created and shipped through the operations, once by the owner's connection acting as
    the warehouse user and once by the user's own login: the same audit rows (but for ids and times)."""
    pg_db, boss, store, staff = shop
    clerk = staff[Role.WAREHOUSE]
    v, wh1, shop_loc, sup = store.variant_ids[0], store.locations["WH1"], store.locations["SHOP"], store.locations["SUP"]
    inventory.post_moves(pg_db, boss, operation_id="stock", reason="receipt", lines=[
        {"variant_id": v, "from_location_id": sup, "to_location_id": wh1, "quantity": 50}])
    url = pg_db.url.render_as_string(hide_password=False)

    def run(ops, tag):  # type: ignore[no-untyped-def]
        made = ops.transfers.create(source_location_id=wh1, destination_location_id=shop_loc, lines=[(v, 3)],
                                    op_id=f"{tag}-create")
        ops.transfers.ship(made.id, op_id=f"{tag}-ship")
        with pg_db.read() as session:
            rows = session.scalars(select(AuditEntry).where(AuditEntry.operation_id.like(f"{tag}-%"))
                                   .order_by(AuditEntry.id)).all()
        return [(e.entity, e.action, e.username) for e in rows], {e.db_user for e in rows}

    from backoffice.operations.local import LocalOperations

    owner_ops = LocalOperations(Database(url), clerk)
    as_owner, owner_logins = run(owner_ops, "a")
    owner_ops.close()
    staff_ops = connect(url, clerk.username, password=STAFF_PASSWORD)
    assert staff_ops.database_login() == (users.login_name(clerk.username), "staff")
    as_staff, staff_logins = run(staff_ops, "b")
    staff_ops.close()
    assert as_owner == as_staff and len(as_owner) >= 2
    assert owner_logins == {make_url(url).username} and staff_logins == {users.login_name(clerk.username)}
    assert inventory.ledger_mismatches(pg_db) == []


def test_on_postgresql_a_login_cannot_act_as_someone_else(shop) -> None:  # type: ignore[no-untyped-def]
    from backoffice.operations.session import SignInRequired

    pg_db, boss, _store, staff = shop
    clerk = staff[Role.WAREHOUSE]
    url = _login_url(pg_db.url.render_as_string(hide_password=False), users.login_name(clerk.username))
    with pytest.raises(SignInRequired, match="--user boss is refused"):
        connect(url, "boss", password=STAFF_PASSWORD)
    ops = connect(url, None)
    try:
        assert ops.users.whoami().username == clerk.username
        with pytest.raises(PermissionDenied):
            ops.users.add("intruder", role="admin")
    finally:
        ops.close()
    with pg_db.read() as session:
        from backoffice.models import User

        assert session.scalar(select(User).where(User.username == "intruder")) is None


def test_settings_are_written_only_by_the_roles_that_save_them(shop) -> None:  # type: ignore[no-untyped-def]
    pg_db, _boss, _store, staff = shop
    with pg_db.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO store_settings (key, value, version, created_at, updated_at) VALUES "
                             "('smtp', '{\"host\": \"mail.shop\"}', 1, now(), now()), "
                             "('replenishment', '{}', 1, now(), now())")
    outcome = {}
    for role in Role:
        db = _as_login(pg_db, staff[role])
        try:
            for key in ("smtp", "replenishment"):
                with db.engine.connect() as conn:
                    try:   # no UPDATE grant: refused; a row-level policy: no row matched
                        changed = conn.exec_driver_sql(
                            f"UPDATE store_settings SET value = '{{\"host\": \"evil\"}}' WHERE key = '{key}'").rowcount
                    except DBAPIError as exc:
                        assert "permission denied" in str(exc.orig)
                        changed = 0
                    conn.rollback()
                outcome[(role, key)] = changed
        finally:
            db.dispose()
    mail = {r for r in Role if r in permissions.PERMISSIONS["alerts.save_mail_settings"] | {Role.ADMIN}}
    buying = {r for r in Role if r in permissions.PERMISSIONS["replenishment.save_settings"] | {Role.ADMIN}}
    writers = {r for r in Role if r in permissions.table_grants()["store_settings"]["update"]}
    assert {r for r in Role if outcome[(r, "smtp")] == 1} == mail & writers
    assert {r for r in Role if outcome[(r, "replenishment")] == 1} == buying & writers
    assert mail == {Role.MANAGER, Role.ADMIN} and Role.WAREHOUSE in writers   # the case this guards
