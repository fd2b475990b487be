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

from backoffice.db import Database, SchemaNotMigrated

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
    command.upgrade(alembic_config(db), revision)
    after = current_revision(db)
    if after == head_revision():
        from backoffice.services import db_roles

        db_roles.apply_to(db)   # PostgreSQL: group roles, grants and policies as the permission table says
    return before, after


def ensure_current(db: Database) -> None:
    """Raise a clear error when the schema is missing or older than this version of the application."""
    current, head = current_revision(db), head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaNotMigrated(f"{db.display_url()} has no Backoffice schema: run `backoffice db upgrade`")
    script = ScriptDirectory.from_config(alembic_config())
    if script.get_revision(current) is None:
        raise SchemaNotMigrated(
            f"{db.display_url()} is at revision {current}, newer than this application knows: upgrade Backoffice"
        )
    raise SchemaNotMigrated(f"{db.display_url()} is at revision {current}, not {head}: run `backoffice db upgrade`")
