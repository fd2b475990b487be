"""Alembic migrations, driven from code (``backoffice db upgrade``); no alembic.ini needed.

The same revisions run on SQLite (in batch mode, which rebuilds tables for ALTERs SQLite lacks) and on
PostgreSQL.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from backoffice.db import Database, SchemaNewerThanApplication, SchemaNotMigrated, SchemaOlderThanApplication

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(db: Database | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if db is not None:
        cfg.attributes["database"] = db
    return cfg


def current_schema(bind: Connection) -> str:
    """The PostgreSQL schema a migration runs in (the functions it creates pin their ``search_path`` to it):
    asked of the database online; offline (``backoffice db upgrade --sql``) the schema the caller named in
    the config's ``schema`` attribute, by default ``public``."""
    from alembic import context, op

    if op.get_context().as_sql:
        return str(context.config.attributes.get("schema") or "public")
    return bind.exec_driver_sql("SELECT current_schema()").scalar_one()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str | None]:
    """Create or migrate the schema; returns (revision before, revision after)."""
    before = current_revision(db)
    refuse_newer(db, before)
    command.upgrade(alembic_config(db), revision)
    after = current_revision(db)
    if after == head_revision():
        from backoffice.services import db_roles

        db_roles.apply_to(db)   # PostgreSQL: group roles, grants and policies as the permission table says
    return before, after


def is_known(revision: str) -> bool:
    """Whether this version of the application has the migration ``revision`` (False: a newer one made it)."""
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def refuse_newer(db: Database, current: str | None) -> None:
    """SchemaNewerThanApplication when ``current`` was written by a newer Backoffice than this one."""
    if current is None or is_known(current):
        return
    from backoffice import __version__

    raise SchemaNewerThanApplication(
        f"{db.display_url()} is at schema revision {current}, newer than this Backoffice {__version__} knows "
        f"(its newest is {head_revision()}): install the newer Backoffice that upgraded it; this version "
        "leaves the database untouched")


def ensure_current(db: Database) -> None:
    """Raise a clear error when the schema is missing or older than this version of the application."""
    current, head = current_revision(db), head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaNotMigrated(f"{db.display_url()} has no Backoffice schema: run `backoffice db upgrade`")
    refuse_newer(db, current)
    from backoffice import __version__

    raise SchemaOlderThanApplication(f"{db.display_url()} is at schema revision {current}, older than this Backoffice "
                            f"{__version__} needs ({head}): run `backoffice db upgrade` (back it up first: "
                            "`backoffice backup create`)")


ROLES_NOTE = """\
-- Not above: the group roles (backoffice_merchandiser … backoffice_admin, backoffice_server), the grants
-- and the row-level security policies the permission table gives them. `backoffice db upgrade` sets them on
-- every run, as the schema's owner, after the migrations: once these statements are applied, run it once
-- (the schema is then at head, so it migrates nothing and only sets the roles and grants).
"""


def upgrade_sql(db: Database) -> str:
    """The SQL ``backoffice db upgrade`` would run on ``db``, from its revision (or an empty database) to
    head, for a DBA to review; nothing in ``db`` changes.

    PostgreSQL: the migrations in Alembic's offline mode, in the database's own schema, as one
    transaction. SQLite: the statements recorded while upgrading a temporary copy of the file (its ALTERs
    rebuild tables, which offline mode cannot write without reading the file)."""
    missing_file = db.is_sqlite and not Path(db.url.database or "").exists()
    current, head = (None if missing_file else current_revision(db)), head_revision()   # no file is made
    refuse_newer(db, current)
    title = (f"-- backoffice db upgrade of {db.display_url()}: from {current or 'an empty database'} to {head} "
             f"({db.dialect}). Nothing has been changed.\n")
    if current == head:
        return title + "-- The schema is at head: no migration to run.\n" + ("" if db.is_sqlite else ROLES_NOTE)
    if db.is_sqlite:
        return title + _rehearsed_sqlite(db)
    buffer = io.StringIO()
    cfg = alembic_config(db)
    cfg.output_buffer = buffer
    with db.engine.connect() as conn:
        cfg.attributes["schema"] = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    command.upgrade(cfg, f"{current}:head" if current else "head", sql=True)
    return title + buffer.getvalue() + "\n" + ROLES_NOTE


def _rehearsed_sqlite(db: Database) -> str:
    """Upgrade a copy of the SQLite file (made with the backup API) and return the statements that changed
    it; the copy is deleted."""
    import sqlite3
    import tempfile

    from sqlalchemy import event

    source = Path(db.url.database or "")
    steps: list[tuple[str, list[str]]] = [("", [])]    # (the revisions a step went between, its statements)
    with tempfile.TemporaryDirectory(prefix=".backoffice-upgrade-", dir=source.parent) as folder:
        copy = Path(folder) / source.name
        if source.exists():
            with contextlib.closing(sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)) as src, \
                    contextlib.closing(sqlite3.connect(copy)) as dst:
                src.backup(dst)
        rehearsal = Database(f"sqlite:///{copy}")

        @event.listens_for(rehearsal.engine, "before_cursor_execute")
        def record(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
            verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
            if verb in ("SELECT", "PRAGMA", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"):
                return      # reading the schema, and the transactions around the work
            steps[-1][1].append(_with_literals(statement.strip(), parameters) + ";")
            moved = _VERSION_MOVE.search(statement) if "alembic_version" in statement else None
            if moved is not None:   # the last statement of a migration: the next one starts
                steps[-1] = (f"{moved['from'] or 'empty'} -> {moved['first'] or moved['to']}", steps[-1][1])
                steps.append(("", []))

        try:
            command.upgrade(alembic_config(rehearsal), "head")
        finally:
            rehearsal.dispose()
    return "".join(f"-- Running upgrade {label}\n\n" * bool(label) + "\n\n".join(done) + "\n\n"
                   for label, done in steps if done)


_VERSION_MOVE = re.compile(r"(?:INSERT INTO alembic_version \(version_num\) VALUES \('(?P<first>[^']+)'\)"
                           r"|UPDATE alembic_version SET version_num='(?P<to>[^']+)' "
                           r"WHERE alembic_version.version_num = '(?P<from>[^']+)')")


def _with_literals(statement: str, parameters: object) -> str:
    """``statement`` with its ``?`` parameters written in (SQLite's quoting), for reading."""
    if not parameters:
        return statement
    values = list(parameters) if isinstance(parameters, (list, tuple)) else []

    def literal(value: object) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, (int, float)):
            return str(value)
        return "'" + str(value).replace("'", "''") + "'"

    parts = statement.split("?")
    if len(parts) != len(values) + 1:
        return f"{statement} -- parameters: {values!r}"
    return "".join(part + (literal(values[n]) if n < len(values) else "") for n, part in enumerate(parts))
