"""For tests of upgrades and backups: PostgreSQL databases of a test's own, every revision of the
migrations, a store's rows at any revision (filled from the schema as it is there), and what a database
holds (rows, schema shape) to compare before and after."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, make_url, text

from backoffice import migrations
from backoffice.models import Base
from tests.conftest import PG_ENV

# -- databases ------------------------------------------------------------------------------------------


def pg_admin_engine() -> sa.Engine:
    """An AUTOCOMMIT engine on the test server's maintenance database (CREATE/DROP DATABASE)."""
    return create_engine(make_url(os.environ[PG_ENV]).set(drivername="postgresql+psycopg"),
                         isolation_level="AUTOCOMMIT")


def pg_url(name: str) -> str:
    return make_url(os.environ[PG_ENV]).set(drivername="postgresql+psycopg", database=name
                                            ).render_as_string(hide_password=False)


@contextlib.contextmanager
def pg_databases(prefix: str) -> Iterator[Callable[..., str]]:
    """``new(template=None)`` makes an empty database (or a copy of ``template``, which nobody may be
    connected to) with a unique name and returns its URL; all of them are dropped at the end."""
    engine = pg_admin_engine()
    made: list[str] = []

    def new(template: str | None = None) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        made.append(name)
        return pg_url(name)

    try:
        yield new
    finally:
        with engine.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    engine = pg_admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


# -- revisions ------------------------------------------------------------------------------------------
def all_revisions() -> list[str]:
    """Every revision of the script directory, oldest first (read from the files: a new migration is in
    it as soon as it is written)."""
    script = ScriptDirectory.from_config(migrations.alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


# -- what a database holds ------------------------------------------------------------------------------
def table_columns(conn: sa.Connection) -> dict[str, list[str]]:
    """Every table of the database (the current schema) and its columns in order."""
    inspector = sa.inspect(conn)
    return {table: [c["name"] for c in inspector.get_columns(table)] for table in sorted(inspector.get_table_names())}


def rows_of(conn: sa.Connection, columns: dict[str, list[str]]) -> dict[str, list[tuple]]:
    """The rows of each table, only ``columns`` of it, in a stable order."""
    found = {}
    for table, names in columns.items():
        listed = ", ".join(f'"{c}"' for c in names)
        found[table] = sorted((tuple(r) for r in conn.execute(text(f'SELECT {listed} FROM "{table}"'))), key=repr)
    return found


def counts_of(conn: sa.Connection) -> dict[str, int]:
    return {table: conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
            for table in sa.inspect(conn).get_table_names()}


def schema_shape(conn: sa.Connection) -> dict[str, Any]:
    """What a schema is made of, by name: tables and their columns (type, nullable), indexes, foreign
    keys and unique constraints; on PostgreSQL also triggers and functions; on SQLite triggers."""
    inspector = sa.inspect(conn)
    shape: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        shape[table] = {
            "columns": sorted((c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)),
            "indexes": sorted((i["name"] or "", tuple(i["column_names"]), bool(i["unique"]))
                              for i in inspector.get_indexes(table)),
            "foreign_keys": sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                                   for f in inspector.get_foreign_keys(table)),
            "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
        }
    if conn.dialect.name == "postgresql":
        shape["~triggers"] = sorted(tuple(r) for r in conn.exec_driver_sql(
            "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal"))
        shape["~functions"] = sorted(tuple(r) for r in conn.exec_driver_sql(
            "SELECT proname, pg_get_functiondef(oid) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace"))
    else:
        shape["~triggers"] = sorted(tuple(r) for r in conn.exec_driver_sql(
            "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"))
    return shape


# -- a store's rows at any revision ----------------------------------------------------------------------
_AT = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
_IN_LIST = re.compile(r"^\s*(\w+)\s+IN\s*\(\s*'([^']+)'")


def event_window() -> dict[str, Any]:
    """A price event's start and end (its end must come after its start)."""
    return {"starts_at": _AT, "ends_at": _AT + dt.timedelta(days=1)}


def _first_allowed(table: sa.Table) -> dict[str, str]:
    """column -> the first value a ``col IN ('a', …)`` CHECK or an Enum of the model allows."""
    allowed = {}
    for constraint in table.constraints:
        if isinstance(constraint, sa.CheckConstraint):
            match = _IN_LIST.match(str(constraint.sqltext))
            if match:
                allowed[match.group(1)] = match.group(2)
    for column in table.columns:
        if isinstance(column.type, sa.Enum) and column.type.enums:
            allowed[column.name] = column.type.enums[0]
    return allowed


def _value(column: sa.Column, token: str, n: int) -> Any:  # noqa: ANN401 - a value of the column's type
    kind = column.type
    impl = getattr(kind, "impl_instance", None) or getattr(kind, "impl", None)
    probe = impl if isinstance(kind, sa.types.TypeDecorator) and isinstance(impl, sa.types.TypeEngine) else kind
    if isinstance(probe, sa.Boolean):
        return False
    if isinstance(probe, sa.Integer):
        return 1
    if isinstance(probe, sa.Float):
        return 1.0
    if isinstance(probe, sa.Numeric):
        return Decimal("1.00")
    if isinstance(probe, sa.DateTime):
        return _AT
    if isinstance(probe, sa.Date):
        return _AT.date()
    if isinstance(probe, sa.JSON):
        return {}
    if isinstance(probe, sa.LargeBinary):
        return b"\x00"
    length = getattr(probe, "length", None) or 200
    word = f"{column.name[:12]}-{token}-{n}"
    return word if len(word) <= length else f"{token}{n}"[-length:]


def fill_slice(conn: sa.Connection, token: str, overrides: dict[str, list[dict[str, Any]]],
               derived: dict[str, Callable[[dict[str, list[int]], int], dict[str, Any]]]) -> dict[str, list[int]]:
    """Insert rows into every table the database has at its revision, in the models' dependency order:
    ``overrides[table]`` lists the rows (one each; default one row) with values given, every other NOT
    NULL column without a default gets a value of its type (``token`` keeps texts unique), a foreign key
    the row of this slice in the referenced table (the i-th key to one table its i-th row), and
    ``derived[table](ids, n)`` values of the n-th row computed from the ids inserted so far. Only the columns that exist at
    this revision are written. Returns the ids inserted per table."""
    existing = table_columns(conn)
    ids: dict[str, list[int]] = {}
    for model in Base.metadata.sorted_tables:
        if model.name not in existing:
            continue
        present = set(existing[model.name])
        columns = [c for c in model.columns if c.name in present]
        table = sa.Table(model.name, sa.MetaData(), *[sa.Column(c.name, c.type, primary_key=c.primary_key)
                                                       for c in columns])
        serial = [c for c in columns if c.primary_key]
        serial_id = (serial[0].name if len(serial) == 1 and not serial[0].foreign_keys
                     and isinstance(serial[0].type, sa.Integer) else None)   # numbered by the database
        allowed = _first_allowed(model)
        for n, given in enumerate(overrides.get(model.name, [{}])):
            row: dict[str, Any] = {}
            per_target: dict[str, int] = {}
            for column in columns:
                if column.name == serial_id:
                    continue
                fks = list(column.foreign_keys)
                if fks:
                    target = fks[0].column.table.name
                    if target == model.name or not ids.get(target):
                        if not column.nullable and column.name not in given:
                            raise AssertionError(f"{model.name}.{column.name}: no {target} row in this slice")
                        continue
                    k = per_target.get(target, 0)
                    per_target[target] = k + 1
                    row[column.name] = ids[target][k % len(ids[target])]
                elif column.name in allowed:
                    row[column.name] = allowed[column.name]
                elif not column.nullable and column.server_default is None:
                    row[column.name] = _value(column, token, n)
            row.update(derived[model.name](ids, n) if model.name in derived else {})
            row.update({k: v for k, v in given.items() if k in present})
            statement = sa.insert(table).values(row)
            if serial_id:
                ids.setdefault(model.name, []).append(conn.execute(statement.returning(table.c[serial_id])).scalar_one())
            else:
                conn.execute(statement)
                ids.setdefault(model.name, []).append(0)
    return ids
