"""Alembic environment: takes the ``Database`` from the config.

Online (``backoffice db upgrade``): the migrations run on a connection of that database. Offline
(``backoffice db upgrade --sql``): they are written out as SQL for the database's dialect, connected to
nothing; ``config.attributes["schema"]`` names the schema they will run in (PostgreSQL, default
``public``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from backoffice.models import Base
from backoffice.models.base import UTCDateTime

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    # Autogenerate writes the portable type, not the application's TypeDecorator.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    """Switch SQLite's foreign key enforcement for this connection (outside any transaction: inside one
    the pragma does nothing)."""
    connection.connection.driver_connection.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")


def run_migrations_online() -> None:
    db = config.attributes["database"]
    with db.engine.connect() as connection:
        if db.is_sqlite:
            # Batch ALTERs rebuild a table: copy it, DROP it, rename the copy. With foreign keys enforced,
            # dropping a table other rows refer to fails (or cascades deletes into them): enforcement is
            # off while the migrations run, and every reference is checked before they are committed.
            _sqlite_foreign_keys(connection, on=False)
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=db.is_sqlite,
                compare_type=True,
                compare_server_default=False,
                render_item=render_item,
            )
            with context.begin_transaction():
                context.run_migrations()
            if db.is_sqlite:
                dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if dangling:
                    table, rowid, parent, _ = dangling[0]
                    raise RuntimeError(f"the migration left {len(dangling)} rows referring to nothing (the first: "
                                       f"{table} row {rowid} to {parent}); nothing was changed")
            connection.commit()
        finally:
            if db.is_sqlite:
                connection.rollback()
                _sqlite_foreign_keys(connection, on=True)


def run_migrations_offline() -> None:
    db = config.attributes["database"]
    context.configure(
        dialect_name=db.dialect,
        dialect_opts={"paramstyle": "named"},   # no %-escaping: the statements are for psql, not a driver
        target_metadata=target_metadata,
        render_as_batch=db.is_sqlite,
        literal_binds=True,
        render_item=render_item,
        output_buffer=config.output_buffer,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
