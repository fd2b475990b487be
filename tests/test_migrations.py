"""The Alembic migrations and the models describe the same schema, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import pytest

from backoffice import migrations
from backoffice.db import Database, SchemaNotMigrated
from backoffice.models import Base


def test_migrated_schema_matches_models(db: Database) -> None:
    assert migrations.current_revision(db) == migrations.head_revision()
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_every_model_table_exists(db: Database) -> None:
    with db.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_upgrade_creates_schema_on_empty_sqlite_and_is_repeatable(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'new.sqlite'}")
    with pytest.raises(SchemaNotMigrated, match="db upgrade"):
        migrations.ensure_current(db)
    before, after = migrations.upgrade(db)
    assert (before, after) == (None, migrations.head_revision())
    migrations.ensure_current(db)
    assert migrations.upgrade(db) == (after, after)
    db.dispose()


def test_sqlite_connection_settings(sqlite_db: Database) -> None:
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
