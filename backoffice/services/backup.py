"""Backups of the store's database, and their restore.

The embedded SQLite file is copied with SQLite's online backup API: the copy is one consistent snapshot
of the file, taken while the application (or anyone) keeps writing to it, and is checked before it is
kept (``PRAGMA integrity_check`` and ``foreign_key_check``). It is written under a temporary name and
only then linked to its own name, so a full disk or an unwritable folder leaves no half file and an
existing file is never overwritten. A restore checks the backup the same way, refuses one made by a newer
Backoffice, keeps the current file as ``<name>.before-restore-<time>.sqlite`` and copies the backup in
with the same API.

A PostgreSQL database is dumped with ``pg_dump --format=custom`` and restored with ``pg_restore`` into a
new, empty database (docs/backups.md). The password never appears on a command line: it goes to the
tools in ``PGPASSWORD`` when the connection has one (from the keyring), or libpq finds it in
``~/.pgpass``.

The image files are not in the database: they are files in the image store's folder (see docs/backups.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shlex
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL

from backoffice import migrations
from backoffice.db import Database, data_dir
from backoffice.services.base import ServiceError

__all__ = ["BackupCheck", "BackupError", "BackupMade", "BackupRestored", "check", "create", "default_path",
           "restore"]

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"
WRITER_WAIT_S = 2.0          # how long a restore waits for another program's write transaction to end
RECIPE = "docs/backups.md"


class BackupError(ServiceError):
    """A backup or restore that could not be done; nothing was changed (one line for the user)."""


@dataclass(frozen=True)
class BackupCheck:
    """What a backup file holds, found by reading all of it."""

    path: str
    engine: str                 # "sqlite" or "postgresql" (a pg_dump archive)
    revision: str | None        # the schema revision it was made at
    head: str | None            # the revision this version of Backoffice migrates to
    size: int                   # bytes
    rows: dict[str, int] = field(default_factory=dict)   # rows per table (SQLite backups)

    @property
    def needs_upgrade(self) -> bool:
        """Made by an older Backoffice: restored, it needs ``backoffice db upgrade``."""
        return self.revision != self.head


@dataclass(frozen=True)
class BackupMade:
    path: str
    source: str                 # the database backed up (its URL without a password)
    revision: str | None
    size: int
    rows: dict[str, int] = field(default_factory=dict)
    command: str = ""           # PostgreSQL: the pg_dump command that was run (no password in it)


@dataclass(frozen=True)
class BackupRestored:
    path: str                   # the backup
    target: str                 # the database restored into (its URL without a password)
    revision: str | None
    head: str | None
    kept: str = ""              # SQLite: where the file that was there before is kept ("" when there was none)
    rows: dict[str, int] = field(default_factory=dict)
    command: str = ""           # PostgreSQL: the pg_restore command that was run

    @property
    def needs_upgrade(self) -> bool:
        return self.revision != self.head


# -- names ----------------------------------------------------------------------------------------------
def _stamp(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")


def _free_name(folder: Path, stem: str, suffix: str) -> Path:
    """``folder/stem+suffix``, or with ``-2``, ``-3`` … when that exists (two backups in one second)."""
    candidate = folder / f"{stem}{suffix}"
    n = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{n}{suffix}"
        n += 1
    return candidate


def backups_folder() -> Path:
    """Where backups go unless a file is named: ``backups`` in the user's data folder (platformdirs)."""
    return data_dir() / "backups"


def default_path(db: Database, *, now: dt.datetime | None = None) -> Path:
    """``<store>-YYYYMMDD-HHMMSS.sqlite`` (or ``<database>-….dump``) in :func:`backups_folder`."""
    if db.is_sqlite:
        return _free_name(backups_folder(), f"{_sqlite_path(db).stem}-{_stamp(now)}", ".sqlite")
    return _free_name(backups_folder(), f"{db.url.database or 'postgresql'}-{_stamp(now)}", ".dump")


def _sqlite_path(db: Database) -> Path:
    name = db.url.database or ""
    if not name or name == ":memory:":
        raise BackupError("an in-memory database has no file to back up or restore")
    return Path(name).expanduser().resolve()


# -- files written whole or not at all ------------------------------------------------------------------
@contextlib.contextmanager
def _partial_file(target: Path) -> Iterator[Path]:
    """A temporary name next to ``target`` to write to; the caller links it to ``target`` (:func:`_keep`).
    Whatever happens, the temporary file is gone afterwards."""
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot write to {folder}: {exc.strerror or exc}; nothing was written") from exc
    if not os.access(folder, os.W_OK):
        raise BackupError(f"cannot write to {folder}: permission denied; nothing was written")
    partial = folder / f".{target.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        yield partial
    finally:
        for leftover in [partial, *(partial.with_name(partial.name + end) for end in ("-journal", "-wal", "-shm"))]:
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def _keep(partial: Path, target: Path) -> None:
    """Give the finished ``partial`` its name ``target``, never replacing a file of that name."""
    with open(partial, "rb") as fh:
        os.fsync(fh.fileno())
    try:
        if os.name == "nt":
            os.rename(partial, target)          # refuses an existing target on Windows
        else:
            try:
                os.link(partial, target)        # atomic, and refuses an existing target
            except FileExistsError:
                raise
            except OSError:                     # no hard links here (FAT, some network shares)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL)   # the name is ours now
                os.close(fd)
                os.replace(partial, target)
    except FileExistsError:
        raise BackupError(f"{target} exists already: a backup never replaces a file; name another") from None
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}; nothing was written") from exc
    with contextlib.suppress(OSError):
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_problem(exc: BaseException, folder: Path) -> BackupError:
    reason = str(exc).strip() or type(exc).__name__
    if "full" in reason.lower() or getattr(exc, "errno", None) == 28:
        reason = "the disk is full"
    return BackupError(f"the backup could not be written to {folder}: {reason}; nothing was written")


# -- SQLite ---------------------------------------------------------------------------------------------
def _open_existing(path: Path, *, timeout: float = 15.0) -> sqlite3.Connection:
    """A connection to an SQLite file that must exist (sqlite3.connect would create an empty one)."""
    return sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=timeout, isolation_level=None)


def _inspect_sqlite(conn: sqlite3.Connection, path: Path) -> tuple[str | None, dict[str, int]]:
    """The schema revision and rows per table of an SQLite database, after checking every page of it;
    BackupError when it is damaged or not a Backoffice database."""
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
        if problems != ["ok"]:
            raise BackupError(f"{path} is damaged (integrity check: {problems[0]}"
                              f"{f' and {len(problems) - 1} more problems' if len(problems) > 1 else ''})")
        orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
        if orphans:
            table, rowid, parent, _ = orphans[0]
            raise BackupError(f"{path} is damaged (foreign key check: {len(orphans)} rows point nowhere, the "
                              f"first {table} row {rowid} to {parent})")
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        if "alembic_version" not in tables:
            raise BackupError(f"{path} is not a Backoffice database (it has no schema revision)")
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        rows = {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in tables}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is damaged or not an SQLite database ({exc})") from exc
    return (revision[0] if revision else None), rows


def _refuse_newer(path: Path, revision: str | None) -> None:
    if revision is not None and not migrations.is_known(revision):
        raise BackupError(f"{path} was made by a newer version of Backoffice (schema revision {revision}; this "
                          f"version knows up to {migrations.head_revision()}): upgrade Backoffice, then restore it")


def _check_sqlite(path: Path) -> BackupCheck:
    try:
        conn = _open_existing(path)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {path}: {exc}") from exc
    try:
        revision, rows = _inspect_sqlite(conn, path)
    finally:
        conn.close()
    return BackupCheck(str(path), "sqlite", revision, migrations.head_revision(), path.stat().st_size, rows)


def _copy_sqlite(source: sqlite3.Connection, partial: Path, folder: Path) -> None:
    """Copy ``source`` into the new file ``partial`` in one step of the backup API (one consistent
    snapshot: in WAL mode, writers carry on meanwhile) as a self-contained file (no WAL)."""
    try:
        with contextlib.closing(sqlite3.connect(partial, isolation_level=None)) as dst:
            source.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.Error as exc:
        raise _write_problem(exc, folder) from exc


def _create_sqlite(db: Database, target: Path) -> BackupMade:
    source_path = _sqlite_path(db)
    if not source_path.exists():
        raise BackupError(f"{source_path} does not exist: there is nothing to back up")
    if target.exists():
        raise BackupError(f"{target} exists already: a backup never replaces a file; name another")
    with _partial_file(target) as partial:
        try:
            source = _open_existing(source_path)
        except sqlite3.Error as exc:
            raise BackupError(f"cannot open {source_path}: {exc}") from exc
        try:
            _copy_sqlite(source, partial, target.parent)
        finally:
            source.close()
        with contextlib.closing(_open_existing(partial)) as copy:
            revision, rows = _inspect_sqlite(copy, source_path)   # the snapshot of the source, checked
        if revision is None:
            raise BackupError(f"{source_path} has no Backoffice schema: there is nothing to back up")
        _keep(partial, target)
    return BackupMade(str(target), db.display_url(), revision, target.stat().st_size, rows)


def _hold_writes(conn: sqlite3.Connection, path: Path) -> None:
    """Take the write lock of ``path`` on ``conn`` (BEGIN IMMEDIATE), or BackupError when another
    connection holds a write transaction there for ``WRITER_WAIT_S``: a restore must not land in the
    middle of someone's work."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise BackupError(f"{path} is being written by another program (Backoffice open on it?): let it "
                              "finish or close it, then restore again; nothing was changed") from exc
        raise BackupError(f"cannot open {path}: {exc}") from exc


def _restore_sqlite(db: Database, backup: Path) -> BackupRestored:
    checked = _check_sqlite(backup)
    if checked.revision is None:
        raise BackupError(f"{backup} holds no Backoffice schema: nothing to restore")
    _refuse_newer(backup, checked.revision)
    target = _sqlite_path(db)
    if target == backup.resolve():
        raise BackupError(f"{backup} is the database itself: name the backup to restore")
    db.dispose()      # this process's own pooled connections: none may sit in a transaction
    target.parent.mkdir(parents=True, exist_ok=True)
    existed = target.exists()
    kept = ""
    try:
        dst = sqlite3.connect(target, timeout=WRITER_WAIT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {target}: {exc}") from exc
    try:
        if existed:
            # The file as it is now is kept, copied (by a reader) while this connection holds its write
            # lock, so no write lands between the copy and the moment the lock is let go; it is let go
            # only for the restore itself, which takes it again at once (the backup API will not write
            # through a connection in a transaction): a commit could only fit in that instant.
            _hold_writes(dst, target)
            keep_as = _free_name(target.parent, f"{target.stem}.before-restore-{_stamp()}", ".sqlite")
            with _partial_file(keep_as) as partial:
                with contextlib.closing(_open_existing(target)) as current:
                    _copy_sqlite(current, partial, target.parent)
                _keep(partial, keep_as)
            kept = str(keep_as)
            dst.execute("ROLLBACK")
        with contextlib.closing(_open_existing(backup)) as source:
            source.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode = WAL")     # as the application keeps its files
        revision, rows = _inspect_sqlite(dst, target)
    except sqlite3.Error as exc:
        raise BackupError(f"{target} could not be restored: {exc}"
                          f"{f'; the file as it was is kept as {kept}' if kept else ''}") from exc
    finally:
        if dst.in_transaction:
            dst.execute("ROLLBACK")
        dst.close()
    if rows != checked.rows:
        raise BackupError(f"{target} does not hold what {backup} holds after the restore"
                          f"{f'; the file as it was is kept as {kept}' if kept else ''}")
    return BackupRestored(str(backup), db.display_url(), revision, migrations.head_revision(), kept, rows)


# -- PostgreSQL -----------------------------------------------------------------------------------------
def _libpq_uri(url: URL) -> str:
    """The connection as libpq reads it, without a password (that goes in PGPASSWORD, never on a
    command line a process listing shows)."""
    bare = URL.create("postgresql", username=url.username, host=url.host, port=url.port, database=url.database,
                      query=url.query)     # (URL.set(password=None) would keep the password)
    return bare.render_as_string(hide_password=False)


def _pg_env(url: URL) -> dict[str, str]:
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return env


def _tool(name: str, recipe: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} was not found on PATH: install the PostgreSQL client tools (of the "
                          f"server's version or newer), or run on the database server: {recipe} "
                          f"(see {RECIPE})")
    return found


def _run(command: list[str], url: URL, what: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, env=_pg_env(url), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        first = next((line for line in lines if "error" in line.lower()), lines[0] if lines else "")
        raise BackupError(f"{what} failed (exit status {done.returncode}): {first.strip() or 'no message'}")
    return done


def _pg_revision(path: Path) -> str | None:
    """The schema revision inside a pg_dump archive, after reading the whole archive through (a damaged
    or cut-off one fails)."""
    url = URL.create("postgresql")
    tool = _tool("pg_restore", f"pg_restore --list {shlex.quote(str(path))}")
    _run([tool, f"--file={os.devnull}", str(path)], url, f"reading {path}")
    data = _run([tool, "--data-only", "--table=alembic_version", "--file=-", str(path)], url, f"reading {path}")
    lines = data.stdout.splitlines()
    for n, line in enumerate(lines):
        if line.startswith("COPY ") and "alembic_version" in line and n + 1 < len(lines):
            value = lines[n + 1].strip()
            return None if value == "\\." else value
    return None


def _check_pg(path: Path) -> BackupCheck:
    revision = _pg_revision(path)
    if revision is None:
        raise BackupError(f"{path} is not a backup of a Backoffice database (it has no schema revision)")
    return BackupCheck(str(path), "postgresql", revision, migrations.head_revision(), path.stat().st_size)


def _create_pg(db: Database, target: Path) -> BackupMade:
    uri = _libpq_uri(db.url)
    shown = shlex.join(["pg_dump", "--format=custom", f"--file={target}", f"--dbname={uri}"])
    tool = _tool("pg_dump", shown)
    if target.exists():
        raise BackupError(f"{target} exists already: a backup never replaces a file; name another")
    with _partial_file(target) as partial:
        _run([tool, "--format=custom", f"--file={partial}", f"--dbname={uri}"], db.url, "pg_dump")
        checked = _check_pg(partial)
        _keep(partial, target)
    return BackupMade(str(target), db.display_url(), checked.revision, target.stat().st_size, command=shown)


def _tables_in(db: Database) -> int:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")).scalar_one()


def _restore_pg(db: Database, backup: Path) -> BackupRestored:
    checked = _check_pg(backup)
    _refuse_newer(backup, checked.revision)
    existing = _tables_in(db)
    if existing:
        raise BackupError(f"{db.display_url()} is not empty ({existing} tables): restore into a new, empty "
                          "database (createdb NAME, then --db with its URL); nothing was changed")
    uri = _libpq_uri(db.url)
    options = ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    shown = shlex.join(["pg_restore", *options, f"--dbname={uri}", str(backup)])
    tool = _tool("pg_restore", shown)
    db.dispose()
    _run([tool, *options, f"--dbname={uri}", str(backup)], db.url, "pg_restore")
    revision = migrations.current_revision(db)
    if revision == migrations.head_revision():
        from backoffice.services import db_roles

        db_roles.apply_to(db)   # group roles, grants and policies (a dump carries none of the roles)
    return BackupRestored(str(backup), db.display_url(), revision, migrations.head_revision(), command=shown)


# -- the entry points -----------------------------------------------------------------------------------
def create(db: Database, path: str | Path | None = None) -> BackupMade:
    """Back ``db`` up to ``path`` (default: :func:`default_path`), which must not exist yet."""
    target = Path(path).expanduser().absolute() if path else default_path(db)
    return _create_sqlite(db, target) if db.is_sqlite else _create_pg(db, target)


def _kind(file: Path) -> str:
    """"sqlite" or "postgresql", by the file's first bytes; BackupError for anything else."""
    try:
        with open(file, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"cannot read {file}: {exc.strerror or exc}") from exc
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_CUSTOM_MAGIC):
        return "postgresql"
    raise BackupError(f"{file} is not a Backoffice backup (neither an SQLite file nor a pg_dump archive), "
                      "or it is damaged")


def check(path: str | Path) -> BackupCheck:
    """Read a backup file through and say what it holds; BackupError when it is damaged or not a backup."""
    file = Path(path).expanduser().absolute()
    return _check_sqlite(file) if _kind(file) == "sqlite" else _check_pg(file)


def restore(db: Database, path: str | Path) -> BackupRestored:
    """Restore the backup at ``path`` into ``db``: an SQLite file (the file there before is kept) or an
    empty PostgreSQL database. A backup that is damaged, of the other engine, or made by a newer
    Backoffice is refused and nothing is changed."""
    file = Path(path).expanduser().absolute()
    kind = _kind(file)
    if kind != db.dialect:
        what = "an SQLite file" if kind == "sqlite" else "a PostgreSQL database"
        raise BackupError(f"{file} is a backup of {what}: it restores into {what}, not {db.display_url()}")
    return _restore_sqlite(db, file) if db.is_sqlite else _restore_pg(db, file)
