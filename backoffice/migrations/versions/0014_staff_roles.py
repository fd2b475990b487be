"""Staff who log in as themselves: per-user locations, the audit stamped by the database, a row audit
written by triggers, and a ledger only the posting function writes (PostgreSQL)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

Both engines:
- ``user_locations``: the locations a user may post stock at (none listed: every location);
- ``users.db_login``: the PostgreSQL login of the account, when it has one;
- ``audit_log.db_user``: the database login that wrote the entry;
- ``row_audit``: what the audit triggers record of every row written to the audited tables.

PostgreSQL only (on SQLite, one person's own file, none of this applies):
- ``bo_trusted()``: the session may act for someone else (the schema's owner, a superuser, or the store
  API server's login, a member of ``backoffice_server``); ``bo_acting_user_id()``: for a trusted session
  the ``users`` id the application names in ``backoffice.user_id``, for everyone else the account whose
  user name is the login (``session_user``) — a staff client cannot claim to be someone else;
- a BEFORE INSERT trigger on ``audit_log`` writes ``db_user`` and, for a staff login, the user id and
  name of that login over whatever the client sent;
- statement triggers on the audited tables write ``row_audit`` (who, the application's operation id
  and operation from the session settings ``backoffice.operation_id``/``backoffice.operation``, the row
  after the write, or before a delete), so a write made around the application is recorded too;
- ``bo_post_moves`` becomes SECURITY DEFINER (owned by the schema owner, ``search_path`` pinned): it
  takes the acting user from ``bo_acting_user_id()`` and refuses a line that touches none of the
  locations the user is limited to; ``bo_open_levels`` opens empty level rows the same way; the
  change-log and audit trigger functions run as the owner too, so no staff role needs to write the
  tables they fill;
- functions for the logins of staff (create, move to another group, disable, set a password, list and
  end sessions), run as the owner and refusing any role that is not a plain staff login.

The group roles, the grants and the row-level security policies are applied by
``backoffice.services.db_roles.apply`` at every ``backoffice db upgrade`` (derived from the permission
table, so they follow it without a migration of their own).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from backoffice.migrations import current_schema


revision: str = '0014'
down_revision: Union[str, Sequence[str], None] = '0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

AUDITED = ("products", "variants", "product_tags", "variant_options", "categories", "attributes",
           "attribute_values", "locations", "stock_levels", "transfers", "transfer_lines", "stock_counts",
           "stock_count_lines", "suppliers", "supplier_items", "purchase_orders", "purchase_order_lines",
           "store_settings", "users", "user_locations", "saved_reports", "report_schedules", "product_images",
           "price_rules", "product_base_prices", "variant_price_overrides", "low_stock_defaults")
KEYS = {"product_tags": "product_id", "variant_options": "variant_id", "variant_price_overrides": "variant_id"}   # tables without an id: the row's owner
SECRET_COLUMNS = ("password_hash", "password_reset_hash", "token_hash")
GROUPS = ("merchandiser", "warehouse", "purchaser", "manager", "admin")


def _functions(schema: str) -> list[str]:
    pin = f"SET search_path = {schema}, pg_temp"
    strip = "".join(f" - '{c}'" for c in SECRET_COLUMNS)
    groups = ", ".join(f"'backoffice_{g}'" for g in GROUPS)
    return [
        # -- who acts --------------------------------------------------------------------------------
        f"""
CREATE OR REPLACE FUNCTION bo_trusted() RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER {pin} AS $fn$
    SELECT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false)
        OR pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = 'users'::regclass), 'MEMBER')
        OR (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'backoffice_server')
            AND pg_has_role(session_user, 'backoffice_server', 'MEMBER'))
$fn$""",
        f"""
CREATE OR REPLACE FUNCTION bo_acting_user_id() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER {pin} AS $fn$
    SELECT CASE WHEN bo_trusted() THEN nullif(current_setting('backoffice.user_id', true), '')::bigint
                ELSE (SELECT id FROM users WHERE db_login = session_user) END
$fn$""",
        f"""
CREATE OR REPLACE FUNCTION bo_may_use_location(p_location bigint) RETURNS boolean LANGUAGE sql STABLE
SECURITY DEFINER {pin} AS $fn$
    SELECT NOT EXISTS (SELECT 1 FROM user_locations WHERE user_id = bo_acting_user_id())
        OR EXISTS (SELECT 1 FROM user_locations WHERE user_id = bo_acting_user_id() AND location_id = p_location)
$fn$""",
        f"""
CREATE OR REPLACE FUNCTION bo_is_admin() RETURNS boolean LANGUAGE sql STABLE AS $fn$
    SELECT pg_has_role(current_user, 'backoffice_admin', 'USAGE')
$fn$""",
        # -- the audit, stamped and written by the database -------------------------------------------
        f"""
CREATE OR REPLACE FUNCTION bo_stamp_audit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER {pin} AS $fn$
DECLARE
    v_id bigint;
    v_name text;
BEGIN
    NEW.db_user := session_user;
    IF NOT bo_trusted() THEN
        SELECT id, username INTO v_id, v_name FROM users WHERE db_login = session_user;
        NEW.user_id := v_id;
        NEW.username := coalesce(v_name, session_user);
    END IF;
    RETURN NEW;
END
$fn$""",
        f"""
CREATE OR REPLACE FUNCTION bo_row_audit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER {pin} AS $fn$
DECLARE
    v_user bigint := bo_acting_user_id();
    v_op text := nullif(current_setting('backoffice.operation_id', true), '');
    v_what text := nullif(current_setting('backoffice.operation', true), '');
    v_tx bigint := pg_current_xact_id()::text::bigint;
    v_now timestamptz := clock_timestamp();
    v_key text := coalesce(TG_ARGV[0], 'id');
BEGIN
    -- the demo generator's bulk load (the owner, one audit entry for the whole store) is not copied row
    -- by row; no staff login can turn this off
    IF current_setting('backoffice.row_audit', true) = 'off' AND bo_trusted() THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO row_audit (at, txid, db_user, user_id, operation_id, operation, table_name, row_id, action, data)
        SELECT v_now, v_tx, session_user, v_user, v_op, v_what, TG_TABLE_NAME, (r.j ->> v_key)::bigint, 'delete', r.j{strip}
        FROM (SELECT to_jsonb(o) AS j FROM old_rows o) AS r;
    ELSE
        INSERT INTO row_audit (at, txid, db_user, user_id, operation_id, operation, table_name, row_id, action, data)
        SELECT v_now, v_tx, session_user, v_user, v_op, v_what, TG_TABLE_NAME, (r.j ->> v_key)::bigint, lower(TG_OP), r.j{strip}
        FROM (SELECT to_jsonb(n) AS j FROM new_rows n) AS r;
    END IF;
    RETURN NULL;
END
$fn$""",
        f"ALTER FUNCTION bo_log_changes() SECURITY DEFINER {pin}",
        f"ALTER FUNCTION bo_refuse_rewrite() {pin}",
        # -- stock: level rows opened at zero ---------------------------------------------------------
        f"""
CREATE OR REPLACE FUNCTION bo_open_levels(p_variant_ids bigint[], p_location_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER {pin} AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM locations WHERE id = p_location_id AND kind IN ('warehouse', 'store', 'transit')) THEN
        RAISE EXCEPTION 'bo:validation' USING DETAIL = jsonb_build_array(jsonb_build_array(
            'location ' || p_location_id, 'location', 'is not a warehouse, store or transit location'))::text;
    END IF;
    INSERT INTO stock_levels (variant_id, location_id, on_hand, reserved, version, created_at, updated_at)
    SELECT v.id, p_location_id, 0, 0, 1, clock_timestamp(), clock_timestamp()
    FROM variants v WHERE v.id = ANY(p_variant_ids) ORDER BY v.id
    ON CONFLICT (variant_id, location_id) DO NOTHING;
END
$fn$""",
        # -- staff logins -----------------------------------------------------------------------------
        f"""
CREATE OR REPLACE FUNCTION bo_check_staff_login(p_name text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER {pin} AS $fn$
DECLARE r record;
BEGIN
    SELECT * INTO r FROM pg_roles WHERE rolname = p_name;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                   WHERE m.member = r.oid AND g.rolname IN ({groups})) THEN
        RAISE EXCEPTION 'bo:not_staff' USING DETAIL = p_name, ERRCODE = 'insufficient_privilege';
    END IF;
    IF r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls
       OR p_name LIKE 'backoffice\\_%' OR p_name = session_user AND bo_trusted()
       OR pg_has_role(p_name, (SELECT relowner FROM pg_class WHERE oid = 'users'::regclass), 'MEMBER')
       OR EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                  WHERE m.member = r.oid AND g.rolname NOT IN ({groups})) THEN
        RAISE EXCEPTION 'bo:not_staff' USING DETAIL = p_name,
            ERRCODE = 'insufficient_privilege';
    END IF;
END
$fn$""",
        f"""
CREATE OR REPLACE FUNCTION bo_create_login(p_name text, p_role text, p_verifier text, p_valid_until timestamptz)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER {pin} AS $fn$
DECLARE g text;
BEGIN
    IF p_role NOT IN ({", ".join(f"'{g}'" for g in GROUPS)}) THEN
        RAISE EXCEPTION 'bo:validation' USING DETAIL = jsonb_build_array(jsonb_build_array(
            'user ' || p_name, 'role', p_role || ' is not a staff role'))::text;
    END IF;
    PERFORM bo_check_staff_login(p_name);
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_name) THEN
        EXECUTE format('ALTER ROLE %I LOGIN NOINHERIT PASSWORD %L VALID UNTIL %L', p_name, p_verifier,
                       coalesce(p_valid_until::text, 'infinity'));
    ELSE
        EXECUTE format('CREATE ROLE %I LOGIN NOINHERIT PASSWORD %L VALID UNTIL %L', p_name, p_verifier,
                       coalesce(p_valid_until::text, 'infinity'));
    END IF;
    FOREACH g IN ARRAY ARRAY[{groups}] LOOP
        IF g = 'backoffice_' || p_role THEN
            EXECUTE format('GRANT %I TO %I', g, p_name);
        ELSIF pg_has_role(p_name, g, 'MEMBER') THEN
            EXECUTE format('REVOKE %I FROM %I', g, p_name);
        END IF;
    END LOOP;
    EXECUTE format('ALTER ROLE %I INHERIT', p_name);
END
$fn$""",
        f"""
CREATE OR REPLACE FUNCTION bo_set_login_role(p_name text, p_role text) RETURNS void LANGUAGE plpgsql
SECURITY DEFINER {pin} AS $fn$
DECLARE g text;
BEGIN
    PERFORM bo_check_staff_login(p_name);
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_name) THEN
        RETURN;
    END IF;
    FOREACH g IN ARRAY ARRAY[{groups}] LOOP
        IF g = 'backoffice_' || p_role THEN
            EXECUTE format('GRANT %I TO %I', g, p_name);
        ELSIF pg_has_role(p_name, g, 'MEMBER') THEN
            EXECUTE format('REVOKE %I FROM %I', g, p_name);
        END IF;
    END LOOP;
END
$fn$""",
        f"""
CREATE OR REPLACE FUNCTION bo_set_login_active(p_name text, p_active boolean) RETURNS int LANGUAGE plpgsql
SECURITY DEFINER {pin} AS $fn$
DECLARE
    v_ended int := 0;
    r record;
BEGIN
    PERFORM bo_check_staff_login(p_name);
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_name) THEN
        RETURN 0;
    END IF;
    IF p_active THEN
        EXECUTE format('ALTER ROLE %I LOGIN', p_name);
    ELSE
        EXECUTE format('ALTER ROLE %I NOLOGIN', p_name);
        -- one backend at a time: a filter and the call in one WHERE could be evaluated in any order
        FOR r IN SELECT a.pid FROM pg_stat_activity a WHERE a.usename = p_name AND a.pid <> pg_backend_pid() LOOP
            IF pg_terminate_backend(r.pid) THEN
                v_ended := v_ended + 1;
            END IF;
        END LOOP;
    END IF;
    RETURN v_ended;
END
$fn$""",
        f"""
CREATE OR REPLACE FUNCTION bo_set_login_password(p_name text, p_verifier text, p_valid_until timestamptz)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER {pin} AS $fn$
BEGIN
    PERFORM bo_check_staff_login(p_name);
    -- an admin sets anyone's; a person their own (through the store API's server, or the owner acting for them)
    IF NOT (bo_trusted() AND nullif(current_setting('backoffice.user_id', true), '') IS NULL)
       AND NOT EXISTS (SELECT 1 FROM users WHERE id = bo_acting_user_id() AND active
                       AND (role = 'admin' OR db_login = p_name)) THEN
        RAISE EXCEPTION 'only an admin sets another person''s password' USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('ALTER ROLE %I PASSWORD %L VALID UNTIL %L', p_name, p_verifier,
                   coalesce(p_valid_until::text, 'infinity'));
END
$fn$""",
        f"""
CREATE OR REPLACE FUNCTION bo_set_own_password(p_verifier text) RETURNS void LANGUAGE plpgsql
SECURITY DEFINER {pin} AS $fn$
BEGIN
    PERFORM bo_check_staff_login(session_user);
    EXECUTE format('ALTER ROLE %I PASSWORD %L VALID UNTIL %L', session_user, p_verifier, 'infinity');
END
$fn$""",
        f"""
CREATE OR REPLACE FUNCTION bo_sessions() RETURNS TABLE (pid int, login text, application text, client text,
    started_at timestamptz, state text, state_since timestamptz) LANGUAGE sql STABLE SECURITY DEFINER {pin} AS $fn$
    SELECT a.pid, a.usename::text, a.application_name, coalesce(host(a.client_addr), 'local'),
           a.backend_start, a.state, a.state_change
    FROM pg_stat_activity a
    WHERE a.datname = current_database() AND a.backend_type = 'client backend'
      AND EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                  WHERE m.member = a.usesysid AND g.rolname IN ({groups}, 'backoffice_server'))
    ORDER BY a.usename, a.backend_start
$fn$""",
        f"""
CREATE OR REPLACE FUNCTION bo_end_session(p_pid int) RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER {pin} AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM bo_sessions() s WHERE s.pid = p_pid) THEN
        RETURN false;
    END IF;
    RETURN pg_terminate_backend(p_pid);
END
$fn$""",
    ]


POST_CHECKS = r"""
    -- Who posts: a staff login posts as itself, whatever it passed; a trusted session (the owner, the
    -- store API server) as the user the application names.
    IF NOT bo_trusted() THEN
        SELECT id, username INTO p_user_id, p_username FROM users WHERE db_login = session_user AND active;
        IF p_user_id IS NULL THEN
            RAISE EXCEPTION 'bo:not_staff' USING DETAIL = session_user, ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    -- A user limited to some locations posts only lines that touch one of them.
    IF EXISTS (SELECT 1 FROM user_locations WHERE user_id = p_user_id) THEN
        SELECT coalesce(jsonb_agg(jsonb_build_array('line ' || l.n, 'location',
                   'you may post stock only at ' || (SELECT string_agg(x.code, ', ' ORDER BY x.code)
                                                       FROM user_locations u JOIN locations x ON x.id = u.location_id
                                                       WHERE u.user_id = p_user_id)
                   || '; this line moves ' || coalesce(fl.code, l.f::text) || ' → ' || coalesce(tl.code, l.t::text))
                   ORDER BY l.n), '[]'::jsonb)
        INTO v_problems
        FROM jsonb_to_recordset(p_lines) AS l(n int, v bigint, f bigint, t bigint, q int)
        LEFT JOIN locations fl ON fl.id = l.f LEFT JOIN locations tl ON tl.id = l.t
        WHERE NOT EXISTS (SELECT 1 FROM user_locations u WHERE u.user_id = p_user_id AND u.location_id IN (l.f, l.t));
        IF jsonb_array_length(v_problems) > 0 THEN
            RAISE EXCEPTION 'bo:location' USING DETAIL = v_problems::text, ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;

"""


def _post_function(schema: str) -> str:
    """bo_post_moves of 0004 with the caller's identity and locations checked first, run as the owner."""
    import importlib

    original = importlib.import_module("backoffice.migrations.versions.0004_ledger_function").FUNCTION
    marker = "BEGIN\n    INSERT INTO stock_operations"
    assert marker in original
    body = original.replace(marker, "BEGIN\n" + POST_CHECKS + "    INSERT INTO stock_operations", 1)
    header = "RETURNS jsonb LANGUAGE plpgsql AS $fn$"
    assert header in body
    return body.replace(header, f"RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER "
                                f"SET search_path = {schema}, pg_temp AS $fn$", 1)


def upgrade() -> None:
    bind = op.get_bind()
    big = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
    op.create_table('user_locations',
    sa.Column('user_id', big, sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False),
    sa.Column('location_id', big, sa.ForeignKey('locations.id', ondelete='CASCADE'), nullable=False),
    sa.PrimaryKeyConstraint('user_id', 'location_id', name=op.f('pk_user_locations')),
    )
    op.create_index('ix_user_locations_location_id', 'user_locations', ['location_id'])
    with op.batch_alter_table('audit_log') as batch:
        batch.add_column(sa.Column('db_user', sa.String(length=100), nullable=True))
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('db_login', sa.String(length=63), nullable=True))
        batch.create_unique_constraint(batch.f('uq_users_db_login'), ['db_login'])
    op.create_table('row_audit',
    sa.Column('id', big, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('txid', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('db_user', sa.String(length=100), nullable=False),
    sa.Column('user_id', big, nullable=True),
    sa.Column('operation_id', sa.String(length=64), nullable=True),
    sa.Column('operation', sa.String(length=100), nullable=True),
    sa.Column('table_name', sa.String(length=64), nullable=False),
    sa.Column('row_id', big, nullable=False),
    sa.Column('action', sa.String(length=6), nullable=False),
    sa.Column('data', sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_row_audit')),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_row_audit_table_row', 'row_audit', ['table_name', 'row_id'])
    op.create_index('ix_row_audit_operation_id', 'row_audit', ['operation_id'])
    if bind.dialect.name == "sqlite":
        return   # audit_log gained a column in place: its change-log triggers (0011) are still there
    schema = current_schema(bind)
    for statement in _functions(schema):
        op.execute(statement)
    op.execute(_post_function(schema))
    op.execute("CREATE TRIGGER bo_stamp_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION bo_stamp_audit()")
    op.execute("CREATE TRIGGER bo_append_only BEFORE UPDATE OR DELETE ON row_audit "
               "FOR EACH STATEMENT EXECUTE FUNCTION bo_refuse_rewrite()")
    rows = {"insert": "NEW TABLE AS new_rows", "update": "NEW TABLE AS new_rows", "delete": "OLD TABLE AS old_rows"}
    for table in AUDITED:
        if table == "user_locations":
            continue   # no id column: its changes are audited by the service (users.set_locations)
        for action, transition in rows.items():
            key = KEYS.get(table, "id")
            op.execute(f"CREATE TRIGGER bo_row_audit_{action} AFTER {action.upper()} ON {table} "
                       f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION bo_row_audit('{key}')")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in AUDITED:
            if table == "user_locations":
                continue
            for action in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS bo_row_audit_{action} ON {table}")
        op.execute("DROP TRIGGER IF EXISTS bo_stamp_audit ON audit_log")
        import importlib

        op.execute(importlib.import_module("backoffice.migrations.versions.0004_ledger_function").FUNCTION)
        op.execute("ALTER FUNCTION bo_log_changes() SECURITY INVOKER RESET search_path")
        for name in ("bo_end_session(int)", "bo_sessions()", "bo_set_own_password(text)",
                     "bo_set_login_password(text, text, timestamptz)", "bo_set_login_active(text, boolean)",
                     "bo_set_login_role(text, text)", "bo_create_login(text, text, text, timestamptz)",
                     "bo_check_staff_login(text)", "bo_open_levels(bigint[], bigint)", "bo_row_audit()",
                     "bo_stamp_audit()", "bo_is_admin()", "bo_may_use_location(bigint)", "bo_acting_user_id()",
                     "bo_trusted()"):
            op.execute(f"DROP FUNCTION IF EXISTS {name}")
    op.drop_table('row_audit')
    with op.batch_alter_table('users') as batch:
        batch.drop_constraint('uq_users_db_login', type_='unique')
        batch.drop_column('db_login')
    with op.batch_alter_table('audit_log') as batch:
        batch.drop_column('db_user')
    op.drop_table('user_locations')
