"""``backoffice db upgrade --sql`` prints the migration for a DBA to review and changes nothing: the
database keeps its revision, tables and rows; the printed SQL, applied by hand (psql, sqlite3), builds
the same schema an online upgrade builds, from an empty database or from a database at an earlier
revision (the revisions are read from the script directory)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy import make_url

from backoffice import migrations
from backoffice.cli import main
from backoffice.db import Database
from tests.schema_support import all_revisions, event_window, fill_slice, pg_databases, rows_of, schema_shape, table_columns

VERSION_STATEMENT = re.compile(r"(?:INSERT INTO alembic_version \(version_num\) VALUES \('([^']+)'\)"
                               r"|UPDATE alembic_version SET version_num='([^']+)')")


def _sql(url: str) -> str:
    result = CliRunner().invoke(main, ["db", "upgrade", "--sql", "--db", url])
    assert result.exit_code == 0, result.output
    return result.output


def _versions_set(sql: str) -> list[str]:
    return [a or b for a, b in VERSION_STATEMENT.findall(sql)]


def _state(url: str) -> tuple[str | None, dict[str, list[str]], dict[str, list[tuple]]]:
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            columns = table_columns(conn)
            return migrations.current_revision(db), columns, rows_of(conn, columns)
    finally:
        db.dispose()


def _shape(url: str) -> dict:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return schema_shape(conn)
    finally:
        engine.dispose()


def _middle_revisions() -> list[str]:
    """Two starting points besides an empty database: one in the middle and the one before head."""
    revisions = all_revisions()
    return sorted({revisions[len(revisions) // 2], revisions[-2]}) if len(revisions) > 2 else revisions[:-1]


# -- PostgreSQL -----------------------------------------------------------------------------------------
def _psql(url: str, sql: str, tmp_path: Path) -> None:
    """Apply ``sql`` as a DBA would: psql, stopping at the first error (the driver when psql is missing)."""
    script = tmp_path / "upgrade.sql"
    script.write_text(sql, encoding="utf-8")
    target = make_url(url)
    psql = shutil.which("psql")
    if psql is None:
        import psycopg

        with psycopg.connect(target.set(drivername="postgresql").render_as_string(hide_password=False),
                             autocommit=True) as conn:
            conn.execute(sql)   # no parameters: one simple query of many statements
        return
    env = dict(os.environ)
    if target.password:
        env["PGPASSWORD"] = str(target.password)
    libpq = sa.URL.create("postgresql", username=target.username, host=target.host, port=target.port,
                          database=target.database, query=target.query).render_as_string(hide_password=False)
    done = subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", libpq, "-f", str(script)],
                          env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def pg_head_shape() -> dict:
    """The schema an online ``db upgrade`` builds in an empty PostgreSQL database."""
    if not os.environ.get("BACKOFFICE_TEST_DATABASE_URL"):
        pytest.skip("BACKOFFICE_TEST_DATABASE_URL is not set")
    with pg_databases("bo_sqlref") as new:
        url = new()
        db = Database(url)
        migrations.upgrade(db)
        db.dispose()
        return _shape(url)


@pytest.mark.postgres
def test_postgresql_sql_from_empty_builds_what_an_online_upgrade_builds(pg_server_url: str, pg_head_shape: dict,
                                                                         tmp_path: Path) -> None:
    with pg_databases("bo_sql") as new:
        url = new()
        sql = _sql(url)
        assert _state(url) == (None, {}, {})                         # nothing was changed
        assert sql.startswith("-- backoffice db upgrade of ") and "from an empty database" in sql
        assert "BEGIN;" in sql and sql.rstrip().count("COMMIT;") == 1
        assert "CREATE TABLE alembic_version" in sql
        assert _versions_set(sql) == all_revisions()                # every migration, in order
        assert "`backoffice db upgrade`" in sql.split("COMMIT;")[-1]  # says who sets the roles and grants

        _psql(url, sql, tmp_path)
        assert _shape(url) == pg_head_shape
        # the roles and grants come from `db upgrade`, which now has nothing to migrate
        result = CliRunner().invoke(main, ["db", "upgrade", "--db", url])
        assert result.exit_code == 0 and "is up to date" in result.output, result.output
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.exec_driver_sql(
                "SELECT has_table_privilege('backoffice_warehouse', 'stock_levels', 'SELECT')").scalar() is True
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("start", _middle_revisions())
def test_postgresql_sql_from_an_earlier_revision_changes_nothing_and_then_upgrades(
        pg_server_url: str, pg_head_shape: dict, tmp_path: Path, start: str) -> None:
    later = all_revisions()[all_revisions().index(start) + 1:]
    with pg_databases("bo_sql") as new:
        url = new()
        db = Database(url)
        migrations.upgrade(db, start)
        with db.engine.begin() as conn:
            fill_slice(conn, "sql", {"locations": [{"kind": "supplier"}, {"kind": "warehouse"}, {"kind": "store"}],
                                 "price_events": [event_window()]}, {})
        db.dispose()
        before = _state(url)

        sql = _sql(url)
        assert _state(url) == before                                 # revision, tables and rows as they were
        assert f"-- Running upgrade {start} -> {later[0]}" in sql
        assert "CREATE TABLE alembic_version" not in sql
        assert _versions_set(sql) == later                           # only the migrations after `start`

        _psql(url, sql, tmp_path)
        assert _shape(url) == pg_head_shape
        revision, columns, rows = _state(url)
        assert revision == migrations.head_revision()
        assert {t: len(rows[t]) for t in before[2] if t not in ("change_log", "row_audit")} == \
               {t: len(before[2][t]) for t in before[2] if t not in ("change_log", "row_audit")}


@pytest.mark.postgres
def test_postgresql_sql_at_head_says_there_is_nothing_to_migrate(pg_server_url: str) -> None:
    sql = _sql(pg_server_url)
    assert "no migration to run" in sql and "CREATE" not in sql and _versions_set(sql) == []


# -- SQLite ---------------------------------------------------------------------------------------------
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sqlite_shape(path: Path) -> dict:
    return _shape(f"sqlite:///{path}")


def test_sqlite_sql_for_a_new_file_creates_no_file_and_builds_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    sql = _sql(f"sqlite:///{path}")
    assert not path.exists()                                          # asking made no file
    assert _versions_set(sql) == all_revisions()
    assert "-- Running upgrade empty -> " in sql

    applied = tmp_path / "applied.sqlite"
    with contextlib.closing(sqlite3.connect(applied)) as conn:
        conn.executescript(sql)
    online = tmp_path / "online.sqlite"
    db = Database(f"sqlite:///{online}")
    migrations.upgrade(db)
    db.dispose()
    assert _sqlite_shape(applied) == _sqlite_shape(online)


@pytest.mark.parametrize("start", _middle_revisions())
def test_sqlite_sql_from_an_earlier_revision_leaves_the_file_as_it_was(tmp_path: Path, start: str) -> None:
    path = tmp_path / "store.sqlite"
    url = f"sqlite:///{path}"
    db = Database(url)
    migrations.upgrade(db, start)
    with db.engine.begin() as conn:
        fill_slice(conn, "sql", {"locations": [{"kind": "supplier"}, {"kind": "warehouse"}, {"kind": "store"}],
                                 "price_events": [event_window()]}, {})
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    digest, before = _digest(path), _state(url)

    sql = _sql(url)
    assert _digest(path) == digest and _state(url) == before        # not a byte changed
    assert [p for p in os.listdir(tmp_path) if p.startswith(".backoffice-upgrade")] == []   # no copy left
    later = all_revisions()[all_revisions().index(start) + 1:]
    assert _versions_set(sql) == later
    assert sql.index(f"-- Running upgrade {start} -> {later[0]}") < sql.index(f"'{later[0]}'")

    # applied to the file by hand, it gives what an online upgrade of the same file gives
    by_hand, online = tmp_path / "by-hand.sqlite", tmp_path / "online.sqlite"
    shutil.copyfile(path, by_hand)
    shutil.copyfile(path, online)
    with contextlib.closing(sqlite3.connect(by_hand)) as conn:
        conn.executescript(sql)
    db = Database(f"sqlite:///{online}")
    migrations.upgrade(db)
    db.dispose()
    assert _sqlite_shape(by_hand) == _sqlite_shape(online)
    assert _state(f"sqlite:///{by_hand}") == _state(f"sqlite:///{online}")


def test_sql_for_a_database_of_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.sqlite"
    db = Database(f"sqlite:///{path}")
    migrations.upgrade(db)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'f00dcafe'")
    db.dispose()
    result = CliRunner().invoke(main, ["db", "upgrade", "--sql", "--db", f"sqlite:///{path}"])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "newer than this Backoffice" in lines[0], result.stderr


def test_sql_and_admin_exclude_each_other(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["db", "upgrade", "--sql", "--admin", "ann", "--db", f"sqlite:///{tmp_path / 'x.sqlite'}"])
    assert result.exit_code == 2 and not (tmp_path / "x.sqlite").exists()
