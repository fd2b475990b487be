"""Alembic environment: takes the ``Database`` from the config and runs online only."""

from __future__ import annotations

from alembic import context

from backoffice.models import Base
from backoffice.models.base import UTCDateTime

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    # Autogenerate writes the portable type, not the application's TypeDecorator.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    db = config.attributes["database"]
    with db.engine.connect() as connection:
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
        connection.commit()


if context.is_offline_mode():  # pragma: no cover - the application never generates offline SQL
    raise SystemExit("offline migrations are not supported; run `backoffice db upgrade` against a database")
run_migrations_online()
