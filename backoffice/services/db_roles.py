"""PostgreSQL roles for staff: one group role per application role, grants derived from the permission
table, row-level security on the stock documents, and one LOGIN role per person.

- The schema is owned by whoever runs ``backoffice db upgrade`` (the *owner*); nobody on staff connects
  as the owner. :func:`apply` (run at every upgrade, as the owner) creates the group roles
  ``backoffice_merchandiser`` … ``backoffice_admin`` and ``backoffice_server`` when missing and sets
  every grant from :data:`backoffice.services.permissions.TABLES`: whatever the grants were before,
  afterwards they are exactly the table's.
- A person's LOGIN role (``users add`` on PostgreSQL) is a member of the group of their role; identity is
  ``session_user``, mapped to the ``users`` row of the same name.
- ``backoffice_server`` is for the store API's server: it may act for the users it signs in (it sets
  ``role`` to their group and ``backoffice.user_id`` for each transaction, see ``Database``), so what a
  request may do is decided by the same grants as a direct login.
- The functions that create and change logins run as the owner (migration 0014) and refuse any role that
  is not a plain staff login, so an admin on staff can manage staff logins and nothing else.

Role names are cluster-wide: two stores in one PostgreSQL cluster share the group roles (their grants
are per database) and must not share login names.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from backoffice.db import Database
from backoffice.models import Role
from backoffice.services.permissions import PERMISSIONS, PRIVILEGES, TABLES, table_grants

SERVER_ROLE = "backoffice_server"
INITIAL_PASSWORD_DAYS = 7   # a password an admin gives works this long, until its owner sets their own
GROUP_PREFIX = "backoffice_"

# Operations that post stock through the ledger function, and those that open empty level rows.
POSTING = ("transfers.ship", "transfers.receive", "adjustments.adjust", "adjustments.post_count",
           "purchase_orders.receive", "orders.fulfil", "orders.fulfil_many", "returns.receive")
# Operations that reserve stock for orders (bo_lock_levels, bo_reserve).
RESERVING = ("orders.process", "orders.place", "orders.fulfil", "orders.fulfil_many", "orders.cancel", "adjustments.adjust",
             "adjustments.post_count", "connectors.sync")
OPENING = POSTING + ("transfers.create", "purchase_orders.send", "alerts.set_threshold",
                     "variants.apply_thresholds", "replenishment.set_levels")
# The store API's server reads and writes these before it knows who is asking (signing in, tokens,
# idempotency records), as itself.
SERVER_TABLES = {"users": "SELECT, UPDATE", "auth_tokens": "SELECT, INSERT, UPDATE, DELETE",
                 "audit_log": "SELECT, INSERT", "api_requests": "SELECT, INSERT, UPDATE, DELETE",
                 "applied_operations": "SELECT, INSERT, UPDATE", "alembic_version": "SELECT"}


def group_role(role: Role | str) -> str:
    return GROUP_PREFIX + (role.value if isinstance(role, Role) else str(role))


def _roles_of(operations: tuple[str, ...]) -> set[Role]:
    roles: set[Role] = {Role.ADMIN}
    for operation in operations:
        roles |= set(PERMISSIONS[operation])
    return roles


def _quote(conn: Connection, name: str) -> str:
    return conn.exec_driver_sql("SELECT quote_ident(%(n)s)", {"n": name}).scalar_one()


def _create_role(conn: Connection, name: str, options: str) -> None:
    """CREATE ROLE unless it exists; two databases upgrading at once in one cluster both succeed."""
    conn.exec_driver_sql(f"""
        DO $do$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}') THEN
                CREATE ROLE {name} {options};
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $do$""")


def apply(conn: Connection) -> None:
    """Create the group roles and set every grant and policy from the permission table (as the owner)."""
    groups = {role: group_role(role) for role in Role}
    for name in groups.values():
        _create_role(conn, name, "NOLOGIN INHERIT")
    _create_role(conn, SERVER_ROLE, "NOLOGIN NOINHERIT")
    everyone = ", ".join([*groups.values(), SERVER_ROLE])
    schema = _quote(conn, conn.exec_driver_sql("SELECT current_schema()").scalar_one())
    conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema} TO {everyone}")
    existing = set(conn.exec_driver_sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").scalars())
    columns: dict[str, list[str]] = {}
    for table, column in conn.exec_driver_sql(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "ORDER BY table_name, ordinal_position"):
        columns.setdefault(table, []).append(column)
    grants = table_grants()
    for table in sorted(existing):
        conn.exec_driver_sql(f"REVOKE ALL ON {table} FROM PUBLIC, {everyone}")
        if table not in TABLES:
            continue   # alembic_version and anything unknown: no staff access at all
        access = TABLES[table]
        for privilege in PRIVILEGES:
            holders = [groups[r] for r in Role if r in grants[table][privilege]]
            if not holders:
                continue
            if privilege == "select" and access.hidden_columns:
                shown = [c for c in columns[table] if c not in access.hidden_columns]
                what = f"SELECT ({', '.join(shown)})"
            elif privilege == "update" and access.update_columns:
                what = f"UPDATE ({', '.join(access.update_columns)})"
            else:
                what = privilege.upper()
            conn.exec_driver_sql(f"GRANT {what} ON {table} TO {', '.join(holders)}")
    for table, privileges in SERVER_TABLES.items():
        conn.exec_driver_sql(f"GRANT {privileges} ON {table} TO {SERVER_ROLE}")
    conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {everyone}")
    # Functions: the ledger and the logins' functions only for the roles that use them.
    posters = ", ".join(groups[r] for r in Role if r in _roles_of(POSTING))
    openers = ", ".join(groups[r] for r in Role if r in _roles_of(OPENING))
    reservers = ", ".join(groups[r] for r in Role if r in _roles_of(RESERVING))
    admin = groups[Role.ADMIN]
    staff = ", ".join(groups.values())
    functions = {
        "bo_post_moves(text, text, text, text, bigint, text, jsonb, boolean)": posters,
        "bo_open_levels(bigint[], bigint)": openers,
        "bo_lock_levels(bigint[])": reservers,
        "bo_reserve(jsonb)": reservers,
        "bo_create_login(text, text, text, timestamptz)": admin,
        "bo_set_login_role(text, text)": admin,
        "bo_set_login_active(text, boolean)": admin,
        "bo_set_login_password(text, text, timestamptz)": staff,
        "bo_sessions()": admin,
        "bo_end_session(int)": admin,
        "bo_set_own_password(text)": staff,
        "bo_check_staff_login(text)": admin,
    }
    for signature, holders in functions.items():
        conn.exec_driver_sql(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC, {everyone}")
        conn.exec_driver_sql(f"GRANT EXECUTE ON FUNCTION {signature} TO {holders}")
    for role in groups.values():
        conn.exec_driver_sql(f"GRANT {role} TO {SERVER_ROLE}")
    _policies(conn)


def _policies(conn: Connection) -> None:
    """Row-level security: stock documents only at one's locations; one's own account and sessions."""
    where_allowed = {
        "transfers": "bo_may_use_location(source_location_id) OR bo_may_use_location(destination_location_id)",
        "stock_counts": "bo_may_use_location(location_id)",
        "users": "id = bo_acting_user_id() OR bo_is_admin()",
        "auth_tokens": f"user_id = bo_acting_user_id() OR bo_is_admin() OR pg_has_role(current_user, '{SERVER_ROLE}', 'USAGE')",
    }
    # The server signs people in as itself, before anyone acts: it counts failed sign-ins, locks, and
    # rehashes a password on the account (its grant on users is SELECT and UPDATE, nothing more).
    by_server = f"pg_has_role(current_user, '{SERVER_ROLE}', 'USAGE')"
    for table, condition in where_allowed.items():
        conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        for name in ("bo_read", "bo_insert", "bo_update", "bo_delete"):
            conn.exec_driver_sql(f"DROP POLICY IF EXISTS {name} ON {table}")
        readable = "true"   # auth_tokens: who has which session is no secret; the hashes are column-hidden
        conn.exec_driver_sql(f"CREATE POLICY bo_read ON {table} FOR SELECT USING ({readable})")
        insert_check = condition if table != "users" else "bo_is_admin()"
        conn.exec_driver_sql(f"CREATE POLICY bo_insert ON {table} FOR INSERT WITH CHECK ({insert_check})")
        updatable = f"{condition} OR {by_server}" if table == "users" else condition
        conn.exec_driver_sql(f"CREATE POLICY bo_update ON {table} FOR UPDATE USING ({updatable}) WITH CHECK ({updatable})")
        conn.exec_driver_sql(f"CREATE POLICY bo_delete ON {table} FOR DELETE USING ({condition})")


    # Store settings, by key: each is written only by the roles of the operation that saves it (the mail
    # server by managers, the replenishment settings by buyers); the rest (when alerts were last checked)
    # by any role the table grants writing.
    def holders(operation: str) -> str:
        return " OR ".join(f"pg_has_role(current_user, '{group_role(r)}', 'USAGE')"
                           for r in Role if r in _roles_of((operation,)))

    by_key = (f"CASE key WHEN 'smtp' THEN {holders('alerts.save_mail_settings')} "
              f"WHEN 'replenishment' THEN {holders('replenishment.save_settings')} "
              f"WHEN 'orders' THEN {holders('orders.save_settings')} ELSE true END")
    conn.exec_driver_sql("ALTER TABLE store_settings ENABLE ROW LEVEL SECURITY")
    for name in ("bo_read", "bo_insert", "bo_update"):
        conn.exec_driver_sql(f"DROP POLICY IF EXISTS {name} ON store_settings")
    conn.exec_driver_sql("CREATE POLICY bo_read ON store_settings FOR SELECT USING (true)")
    conn.exec_driver_sql(f"CREATE POLICY bo_insert ON store_settings FOR INSERT WITH CHECK ({by_key})")
    conn.exec_driver_sql(f"CREATE POLICY bo_update ON store_settings FOR UPDATE USING ({by_key}) WITH CHECK ({by_key})")

    # The audit log: the whole of it for managers and admins; everyone reads the history of the catalog's
    # rows (a product's or variant's history in the grid) and of the store's demo marker.
    conn.exec_driver_sql("ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY")
    for name in ("bo_read", "bo_insert"):
        conn.exec_driver_sql(f"DROP POLICY IF EXISTS {name} ON audit_log")
    conn.exec_driver_sql(
        "CREATE POLICY bo_read ON audit_log FOR SELECT USING (pg_has_role(current_user, 'backoffice_manager', 'USAGE') "
        "OR bo_is_admin() OR entity IN ('product', 'variant', 'store', 'order', 'return') "
        f"OR pg_has_role(current_user, '{SERVER_ROLE}', 'USAGE'))")
    conn.exec_driver_sql("CREATE POLICY bo_insert ON audit_log FOR INSERT WITH CHECK (true)")


def apply_to(db: Database) -> None:
    if db.dialect != "postgresql":
        return
    with db.engine.begin() as conn:
        apply(conn)


# -- who is connected ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SessionKind:
    """What the database login of a connection may do: ``owner`` (owns the schema or is a superuser),
    ``server`` (the store API's server: acts for the users it signs in), ``staff`` (a person's login, a
    member of ``role``'s group) or ``other`` (none of these: no grants at all)."""

    login: str
    kind: str
    role: Role | None = None

    @property
    def acts_for_others(self) -> bool:
        return self.kind in ("owner", "server")


def session_kind(db: Database) -> SessionKind | None:
    """None on SQLite."""
    if db.dialect != "postgresql":
        return None
    with db.engine.connect() as conn:
        row = conn.exec_driver_sql("""
            SELECT session_user::text,
                   coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false)
                     OR pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = 'users'::regclass), 'MEMBER'),
                   EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %(server)s)
                     AND pg_has_role(session_user, %(server)s, 'MEMBER'),
                   (SELECT array_agg(g.rolname::text) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                    JOIN pg_roles me ON me.oid = m.member WHERE me.rolname = session_user)
            """, {"server": SERVER_ROLE}).one()
    login, owner, server, memberships = row
    if owner:
        return SessionKind(login, "owner")
    if server:
        return SessionKind(login, "server")
    for role in Role:
        if group_role(role) in (memberships or []):
            return SessionKind(login, "staff", role)
    return SessionKind(login, "other")


# -- logins -----------------------------------------------------------------------------------------------------
def verifier(conn: Connection, login: str, password: str) -> str:
    """The SCRAM verifier of ``password`` for ``login``, computed here: the password never reaches the
    server (nor its statement log) in clear."""
    raw = conn.connection.dbapi_connection
    return raw.pgconn.encrypt_password(password.encode(), login.encode(), b"scram-sha-256").decode()


def create_login(conn: Connection, login: str, role: Role, password: str, *, valid_until: dt.datetime | None) -> None:
    conn.execute(text("SELECT bo_create_login(:n, :r, :v, :u)"),
                 {"n": login, "r": role.value, "v": verifier(conn, login, password), "u": valid_until})


def set_login_role(conn: Connection, login: str, role: Role) -> None:
    conn.execute(text("SELECT bo_set_login_role(:n, :r)"), {"n": login, "r": role.value})


def set_login_active(conn: Connection, login: str, active: bool) -> int:
    """Allow or refuse the login; refusing ends its open connections (how many is returned)."""
    return int(conn.execute(text("SELECT bo_set_login_active(:n, :a)"), {"n": login, "a": active}).scalar_one())


def set_login_password(conn: Connection, login: str, password: str, *, valid_until: dt.datetime | None) -> None:
    conn.execute(text("SELECT bo_set_login_password(:n, :v, :u)"),
                 {"n": login, "v": verifier(conn, login, password), "u": valid_until})


def set_own_password(conn: Connection, login: str, password: str) -> None:
    conn.execute(text("SELECT bo_set_own_password(:v)"), {"v": verifier(conn, login, password)})


def login_exists(conn: Connection, login: str) -> bool:
    return bool(conn.execute(text("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :n)"), {"n": login}).scalar())


def database_sessions(db: Database) -> list[dict[str, Any]]:
    """The connections of staff logins and of the API server to this database (an admin's view)."""
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM bo_sessions()")).mappings().all()
    return [dict(r) for r in rows]


def end_database_session(db: Database, pid: int) -> bool:
    with db.engine.begin() as conn:
        return bool(conn.execute(text("SELECT bo_end_session(:p)"), {"p": int(pid)}).scalar())
