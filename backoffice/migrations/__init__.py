"""Alembic migrations, driven from code (``backoffice db upgrade``); no alembic.ini needed.

The same revisions run on SQLite (in batch mode, which rebuilds tables for ALTERs SQLite lacks) and on
PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from backoffice.db import Database, SchemaNewerThanApplication, SchemaNotMigrated

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(db: Database | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if db is not None:
        cfg.attributes["database"] = db
    return cfg


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

    raise SchemaNotMigrated(f"{db.display_url()} is at schema revision {current}, older than this Backoffice "
                            f"{__version__} needs ({head}): run `backoffice db upgrade` (back it up first: "
                            "`backoffice backup create`)")
