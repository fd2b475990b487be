"""The admin area of the operations contract: the schema (its revision, the upgrade), the demo store, and
what an operation id already did (for clients that retry).

The schema methods work on operations opened without signing in (``connect(url, None,
require_schema=False)``): a database whose schema is missing or old has no users to sign in as yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backoffice import migrations
from backoffice.db import DatabaseError
from backoffice.operations.base import Area, CancelCallback, ProgressCallback
from backoffice.operations.changes import Changes
from backoffice.services.base import applied_result
from backoffice.services.operation_ids import AppliedChangeset, changeset_of_operation

from backoffice.services.backup import BackupCheck, BackupMade, BackupRestored

if TYPE_CHECKING:
    from backoffice.services.demo import DemoSummary

__all__ = ["DEMO_STATES", "AdminOperations", "AppliedChangeset", "BackupCheck", "BackupMade", "BackupRestored",
           "DemoSummary", "SchemaStatus", "SchemaUpgrade", "verify_backup"]

DEMO_STATES = ("empty", "demo", "other")


@dataclass(frozen=True)
class SchemaStatus:
    """The schema revision of the database and the one this version of the application expects."""

    current: str | None     # None: no Backoffice schema at all
    head: str | None
    problem: str = ""        # why the schema cannot be used as it is ("… run `backoffice db upgrade`"), or ""

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


@dataclass(frozen=True)
class SchemaUpgrade:
    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


class AdminOperations(Area):
    # -- the connection and the schema -------------------------------------------------------------------
    def ping(self) -> None:
        """Reach the database once; DatabaseUnreachable (one readable line) when that fails."""
        self._db.ping()

    def schema(self) -> SchemaStatus:
        current, head = migrations.current_revision(self._db), migrations.head_revision()
        problem = ""
        if current != head:
            try:
                migrations.ensure_current(self._db)
            except DatabaseError as exc:
                problem = str(exc)
        return SchemaStatus(current, head, problem)

    def upgrade(self, *, op_id: str | None = None) -> SchemaUpgrade:
        """Create the schema of an empty database, or migrate it to this version of the application."""
        before, after = migrations.upgrade(self._db)
        if before != after:
            self.changed(Changes.all())
        return SchemaUpgrade(before, after)

    def upgrade_sql(self) -> str:
        """The SQL :meth:`upgrade` would run, for a DBA to review; changes nothing (PostgreSQL: the
        migrations written out by Alembic's offline mode; SQLite: the statements of an upgrade of a
        temporary copy of the file)."""
        return migrations.upgrade_sql(self._db)

    # -- backups -----------------------------------------------------------------------------------------
    def backup(self, path: str | None = None) -> BackupMade:
        """Back the database up to ``path`` (default: a new file named after the store and the time in
        the backups folder), never over an existing file: an SQLite file by SQLite's online backup API
        (while others keep working) and checked, a PostgreSQL database by ``pg_dump --format=custom``."""
        from backoffice.services import backup

        return backup.create(self._db, path)

    def verify_backup(self, path: str) -> BackupCheck:
        """Read a backup file through: its schema revision and (SQLite) rows per table; a ServiceError
        when it is damaged or not a backup."""
        return verify_backup(path)

    def restore(self, path: str) -> BackupRestored:
        """Restore a backup into this database: an SQLite file (the file there before is kept next to
        it), or an empty PostgreSQL database (``pg_restore``). Refused, with nothing changed, when the
        backup is damaged, made by a newer Backoffice, or (SQLite) another program is writing."""
        from backoffice.services import backup

        restored = backup.restore(self._db, path)
        self.changed(Changes.all())
        return restored

    # -- the demo store ----------------------------------------------------------------------------------
    def demo_state(self) -> str:
        """What the store holds, for whoever offers to fill it: "empty" (no products), "demo" (a demo
        store this application wrote) or "other" (someone's real catalog)."""
        from backoffice.services import demo  # imported late: only the demo needs it (numpy and more)

        return demo.demo_state(self._db)

    def generate_demo(self, products: int, *, seed: int | None = None, anchor: dt.date | None = None,
                      photos: bool = True, profile: str = "", image_folder: str | None = None,
                      progress: ProgressCallback | None = None, cancel: CancelCallback | None = None,
                      op_id: str | None = None) -> DemoSummary:
        """Fill an empty store with a demo store of ``products`` products (about 10 variants each, two
        years of sales through the stock ledger, with ``photos`` a photo per product and colour in the
        image store of ``profile`` or ``image_folder``), in one transaction. A cancel or a store that is
        not empty raises a ServiceError (ValidationError for a store that holds a catalog), and nothing is
        written."""
        from backoffice.services import demo  # imported late: only the demo needs it (numpy and more)
        from backoffice.services.image_store import ImageStore, store_root_for

        if progress is not None:
            progress(0.0, "Preparing…")
        options: dict[str, Any] = {}
        if seed is not None:
            options["seed"] = seed
        if anchor is not None:
            options["anchor"] = anchor
        store = ImageStore(store_root_for(profile, image_folder)) if photos else None
        summary = demo.generate_demo(self._db, self._actor, products=products, progress=progress, cancel=cancel,
                                     image_store=store, **options)
        self.changed(Changes.all())
        return summary

    # -- retried requests --------------------------------------------------------------------------------
    def previous_result(self, op_id: str | None, action: str) -> dict[str, Any] | None:
        """What the write ``action`` stored under ``op_id`` if it ran already, else None (an id used for
        another kind of write is a ValidationError)."""
        return applied_result(self._db, op_id, action)

    def previous_changeset(self, op_id: str | None) -> AppliedChangeset | None:
        """The changeset a write recorded under ``op_id``, if it ran already."""
        return changeset_of_operation(self._db, op_id)


def verify_backup(path: str) -> BackupCheck:
    """:meth:`AdminOperations.verify_backup` without a database: only the file is read."""
    from backoffice.services import backup

    return backup.check(path)


def __getattr__(name: str) -> Any:  # noqa: ANN401 - the demo's summary type, imported only when asked for
    if name == "DemoSummary":
        from backoffice.services.demo import DemoSummary

        return DemoSummary
    raise AttributeError(name)

