"""``backoffice backup create/verify/restore``: the embedded SQLite file copied with SQLite's online backup
API while the application keeps writing, checked, restored exactly; damaged backups and backups of a
newer release refused with the store untouched; a backup never overwrites a file and never leaves half
of one. A PostgreSQL database dumped with pg_dump and restored with pg_restore into a new database holds
the same rows, keeps its ledger sums, is at head, and works (sign in, write)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy import make_url

from backoffice import migrations
from backoffice.cli import main
from backoffice.db import Database
from backoffice.operations.catalog import RowChange
from backoffice.operations.session import connect
from backoffice.services import inventory
from backoffice.services.base import Actor
from backoffice.services.demo import generate_demo
from backoffice.services.users import ensure_user
from tests.conftest import ON_CI, STAFF_PASSWORD
from tests.schema_support import all_revisions, counts_of, event_window, fill_slice, pg_databases, rows_of, table_columns

PROJECT = Path(__file__).resolve().parent.parent


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output, result.stderr


def _ok(*args: str) -> str:
    code, out, err = _cli(*args)
    assert code == 0, (args, out, err)
    return out


def _one_error(*args: str) -> str:
    code, _out, err = _cli(*args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("backoffice: error: "), (args, err)
    return lines[0]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _snapshot(url: str) -> dict[str, list[tuple]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return rows_of(conn, table_columns(conn))
    finally:
        engine.dispose()


def _sqlite_rows(path: Path) -> dict[str, list[tuple]]:
    """Every row of an SQLite file, read without changing it (no WAL switch, read-only)."""
    engine = sa.create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with engine.connect() as conn:
            return rows_of(conn, table_columns(conn))
    finally:
        engine.dispose()


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, Path, Actor]:
    """An SQLite store file with a small demo store in it (catalog, stock ledger, orders, suppliers)."""
    path = tmp_path / "shop" / "store.sqlite"
    db = Database(f"sqlite:///{path}")
    migrations.upgrade(db)
    actor = ensure_user(db, "tester", password=STAFF_PASSWORD)
    generate_demo(db, actor, products=12, seed=5)
    db.dispose()
    return f"sqlite:///{path}", path, actor


def _locations(db: Database) -> tuple[int, int, int]:
    """A variant with stock at a warehouse, that warehouse, and a supplier location."""
    with db.engine.connect() as conn:
        variant, warehouse = conn.exec_driver_sql(
            "SELECT s.variant_id, s.location_id FROM stock_levels s JOIN locations l ON l.id = s.location_id "
            "WHERE l.kind = 'warehouse' AND s.on_hand > 0 ORDER BY s.id LIMIT 1").one()
        supplier = conn.exec_driver_sql("SELECT id FROM locations WHERE kind = 'supplier' ORDER BY id LIMIT 1").scalar_one()
    return variant, warehouse, supplier


# -- SQLite: create -------------------------------------------------------------------------------------
WRITER = """
import sys, time, uuid
from pathlib import Path
from backoffice.db import Database
from backoffice.services import inventory
from backoffice.services.base import Actor
from backoffice.models import Role
url, stop, user_id, variant, sup, wh = sys.argv[1], Path(sys.argv[2]), *map(int, sys.argv[3:])
db = Database(url)
actor = Actor(user_id, "tester", Role.ADMIN)
n = 0
while not stop.exists():
    inventory.post_moves(db, actor, operation_id=uuid.uuid4().hex, reason="receipt",
                         lines=[{"variant_id": variant, "from_location_id": sup, "to_location_id": wh, "quantity": 1}])
    n += 1
print(n)
"""


def test_backup_while_the_store_keeps_writing_is_consistent_and_checked(store, tmp_path: Path) -> None:
    url, path, actor = store
    db = Database(url)
    variant, warehouse, supplier = _locations(db)
    with db.engine.begin() as conn:   # a bigger file, so that a backup takes a while
        conn.exec_driver_sql("INSERT INTO change_log (entity, entity_id, op, txid) "
                             "SELECT 'products', value, 'update', 0 FROM json_each(?)",
                             (str(list(range(150_000))),))

    def posted() -> int:
        with db.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT count(*) FROM stock_operations").scalar_one()

    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, url, str(stop), str(actor.user_id), str(variant),
                               str(supplier), str(warehouse)], cwd=PROJECT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        start = posted()
        deadline = time.monotonic() + 30
        while posted() < start + 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        backups = []
        for n in range(3):
            before = posted()
            out = _ok("backup", "create", str(tmp_path / "backups" / f"b{n}.sqlite"), "--db", url)
            after = posted()
            backups.append((tmp_path / "backups" / f"b{n}.sqlite", before, after))
            assert "integrity and foreign keys checked" in out and f"schema revision {migrations.head_revision()}" in out
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err                              # the writer never failed
    assert int(out) > 10
    assert any(after > before for _, before, after in backups)      # it wrote while backups were made
    for backup, before, after in backups:
        rows = _sqlite_rows(backup)
        assert before <= len(rows["stock_operations"]) <= after     # a snapshot from within the call
        copy = tmp_path / f"check-{uuid.uuid4().hex[:6]}.sqlite"
        shutil.copyfile(backup, copy)
        checked = Database(f"sqlite:///{copy}")
        assert inventory.ledger_mismatches(checked) == []           # consistent: levels = the ledger's sums
        checked.dispose()
        assert "sound; schema revision" in _ok("backup", "verify", str(backup))
        assert not list(backup.parent.glob(".*partial*"))
    db.dispose()


def test_backup_create_twice_gives_two_files_and_never_overwrites_one(store) -> None:
    url, path, _ = store
    first = _ok("backup", "create", "--db", url, "--json")
    second = _ok("backup", "create", "--db", url, "--json")
    import json

    a, b = json.loads(first)["path"], json.loads(second)["path"]
    assert a != b and Path(a).exists() and Path(b).exists()
    assert re.fullmatch(r"store-\d{8}-\d{6}(-\d+)?\.sqlite", Path(a).name), a
    assert Path(a).parent == Path(b).parent and Path(a).parent.name == "backups"
    assert _sqlite_rows(Path(a)) == _sqlite_rows(Path(b)) == _sqlite_rows(path)

    digest = _digest(Path(a))
    assert "exists already" in _one_error("backup", "create", a, "--db", url)
    assert _digest(Path(a)) == digest


def test_a_folder_without_hard_links_gets_the_backup_and_still_never_an_overwrite(store, tmp_path: Path,
                                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    url, path, _ = store

    def no_links(*_args: object, **_kwargs: object) -> None:   # as on FAT or some network shares
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    target = tmp_path / "usb" / "b.sqlite"
    _ok("backup", "create", str(target), "--db", url)
    assert _sqlite_rows(target) == _sqlite_rows(path)
    digest = _digest(target)
    assert "exists already" in _one_error("backup", "create", str(target), "--db", url)
    assert _digest(target) == digest and sorted(p.name for p in target.parent.iterdir()) == ["b.sqlite"]


def test_an_unwritable_folder_is_one_error_and_leaves_nothing(store, tmp_path: Path) -> None:
    url, _, _ = store
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    error = _one_error("backup", "create", str(blocker / "sub" / "b.sqlite"), "--db", url)
    assert "cannot write to" in error and "nothing was written" in error
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(os.name != "posix", reason="file size limits (RLIMIT_FSIZE) are POSIX")
def test_a_full_disk_is_one_error_and_leaves_no_half_file(store, tmp_path: Path) -> None:
    import resource

    url, path, _ = store
    folder = tmp_path / "small-disk"
    folder.mkdir()
    limit = path.stat().st_size // 3

    def small_disk() -> None:   # in the child: files may not grow past `limit`, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run([sys.executable, "-m", "backoffice", "backup", "create", str(folder / "b.sqlite"),
                           "--db", url], cwd=PROJECT, preexec_fn=small_disk, capture_output=True, text=True,
                          timeout=120, check=False)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert "could not be written" in lines[0] and "nothing was written" in lines[0]
    assert list(folder.iterdir()) == []                              # no half file, no temporary file


# -- SQLite: restore ------------------------------------------------------------------------------------
def test_restore_brings_back_exactly_what_the_backup_holds_and_keeps_the_file_it_replaces(store, tmp_path: Path) -> None:
    url, path, actor = store
    backup = tmp_path / "monday.sqlite"
    _ok("backup", "create", str(backup), "--db", url)
    at_backup = _sqlite_rows(path)

    db = Database(url)   # the week goes on: stock received, a price changed
    variant, warehouse, supplier = _locations(db)
    inventory.post_moves(db, actor, operation_id="tuesday", reason="receipt",
                         lines=[{"variant_id": variant, "from_location_id": supplier, "to_location_id": warehouse,
                                 "quantity": 7}])
    db.dispose()
    before_restore = _sqlite_rows(path)
    assert before_restore != at_backup

    out = _ok("backup", "restore", str(backup), "--db", url)
    kept = re.search(r"kept as (\S+)\.$", out, re.M)
    assert kept, out
    kept_path = Path(kept.group(1))
    assert kept_path.parent == path.parent and re.fullmatch(r"store\.before-restore-\d{8}-\d{6}(-\d+)?\.sqlite",
                                                            kept_path.name)
    assert _sqlite_rows(path) == at_backup                           # exactly what the backup holds
    assert _sqlite_rows(kept_path) == before_restore                 # and nothing of before is lost
    assert f"database: {migrations.head_revision()}" in _ok("db", "current", "--db", url)

    # the store works on, signed in
    ops = connect(url, "tester")
    try:
        ops_db = Database(url)
        assert inventory.ledger_mismatches(ops_db) == []
        ops_db.dispose()
        row = ops.catalog.variant(variant)
        done = ops.catalog.save_edits([RowChange("variant", variant, row["version"], {"price": Decimal("77.00")},
                                                 {"price": row["price"]})], description="after the restore")
        assert done.conflicts == []
    finally:
        ops.close()


def _damage(kind: str, backup: Path) -> None:
    data = bytearray(backup.read_bytes())
    if kind == "truncated":
        backup.write_bytes(bytes(data[: len(data) // 2]))
    elif kind == "pages overwritten":
        page = int.from_bytes(data[16:18], "big") or 65536
        rng = __import__("random").Random(7)
        for n in range(2, len(data) // page, 3):                     # every third page from the second on
            data[n * page:(n + 1) * page] = bytes(rng.randrange(256) for _ in range(page))
        backup.write_bytes(bytes(data))
    else:   # header
        data[0:16] = b"not a database!!"
        backup.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", ["truncated", "pages overwritten", "header"])
def test_a_damaged_backup_is_refused_and_the_store_is_untouched(store, tmp_path: Path, kind: str) -> None:
    url, path, _ = store
    backup = tmp_path / "b.sqlite"
    _ok("backup", "create", str(backup), "--db", url)
    _damage(kind, backup)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    digest, files = _digest(path), sorted(os.listdir(path.parent))

    assert re.search(r"damaged|not a Backoffice backup", _one_error("backup", "verify", str(backup)))
    error = _one_error("backup", "restore", str(backup), "--db", url)
    assert re.search(r"damaged|not a Backoffice backup", error), error
    assert _digest(path) == digest and sorted(os.listdir(path.parent)) == files   # untouched, nothing kept


def test_a_backup_of_a_newer_release_is_refused(store, tmp_path: Path) -> None:
    url, path, _ = store
    backup = tmp_path / "b.sqlite"
    _ok("backup", "create", str(backup), "--db", url)
    with contextlib.closing(sqlite3.connect(backup)) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'f00dcafe'")
        conn.commit()
    rows, files = _sqlite_rows(path), sorted(os.listdir(path.parent))
    error = _one_error("backup", "restore", str(backup), "--db", url)
    assert "newer version of Backoffice" in error and "f00dcafe" in error
    assert _sqlite_rows(path) == rows and sorted(os.listdir(path.parent)) == files


def test_a_backup_of_an_older_release_is_restored_and_then_upgraded(store, tmp_path: Path) -> None:
    url, path, _ = store
    older = tmp_path / "older.sqlite"
    previous = all_revisions()[-2]
    db = Database(f"sqlite:///{older}")
    migrations.upgrade(db, previous)
    with db.engine.begin() as conn:
        fill_slice(conn, "old", {"locations": [{"kind": "supplier"}, {"kind": "warehouse"}, {"kind": "store"}],
                                 "price_events": [event_window()]}, {})
    db.dispose()
    backup = tmp_path / "older-backup.sqlite"
    _ok("backup", "create", str(backup), "--db", f"sqlite:///{older}")
    assert "run `backoffice db upgrade`" in _ok("backup", "verify", str(backup))

    out = _ok("backup", "restore", str(backup), "--db", url)
    assert f"schema revision {previous}" in out and "run `backoffice db upgrade`" in out
    assert f"database: {previous}" in _ok("db", "current", "--db", url)
    assert f"migrated from {previous} to {migrations.head_revision()}" in _ok("db", "upgrade", "--db", url)


def test_restore_is_refused_while_another_program_is_writing(store, tmp_path: Path) -> None:
    url, path, _ = store
    backup = tmp_path / "b.sqlite"
    _ok("backup", "create", str(backup), "--db", url)
    rows, files = _sqlite_rows(path), sorted(os.listdir(path.parent))
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE products SET title = title || ' (editing)'")
        error = _one_error("backup", "restore", str(backup), "--db", url)
        assert "being written by another program" in error and "nothing was changed" in error
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert _sqlite_rows(path) == rows and sorted(os.listdir(path.parent)) == files
    assert "kept as" in _ok("backup", "restore", str(backup), "--db", url)     # once it is done, it works


# -- PostgreSQL -----------------------------------------------------------------------------------------
@pytest.mark.postgres
def test_postgresql_backup_restores_into_a_new_database_with_every_row(pg_server_url: str, tmp_path: Path) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        if ON_CI:
            pytest.fail("pg_dump and pg_restore must be on PATH under CI (the PostgreSQL client tools)")
        pytest.skip("pg_dump/pg_restore are not installed")
    with pg_databases("bo_backup") as new:
        source = new()
        db = Database(source)
        migrations.upgrade(db)
        actor = ensure_user(db, "tester", password=STAFF_PASSWORD)
        generate_demo(db, actor, products=20, seed=11)
        db.dispose()
        # a password in the URL (the test server does not ask for one) must reach pg_dump only through
        # the environment, never its command line
        with_password = make_url(source).set(password="s3cret-word").render_as_string(hide_password=False)
        dump = tmp_path / "store.dump"
        out = _ok("backup", "create", str(dump), "--db", with_password)
        assert re.search(r"^Ran: pg_dump --format=custom --file=\S+ --dbname=postgresql://", out, re.M), out
        assert "s3cret-word" not in out
        assert f"schema revision {migrations.head_revision()}" in out
        assert "pg_dump archive, sound" in _ok("backup", "verify", str(dump))

        target = new()
        out = _ok("backup", "restore", str(dump), "--db", target)
        assert "Ran: pg_restore --no-owner --no-privileges --exit-on-error --single-transaction" in out

        assert _snapshot(target) == _snapshot(source)               # every row of every table
        engine = sa.create_engine(target)
        with engine.connect() as conn:
            assert counts_of(conn)["stock_moves"] > 100
            assert conn.exec_driver_sql("SELECT has_table_privilege('backoffice_warehouse', 'stock_levels', 'SELECT')"
                                        ).scalar() is True          # grants set again on the new database
        engine.dispose()
        restored = Database(target)
        assert inventory.ledger_mismatches(restored) == []
        restored.dispose()
        assert f"database: {migrations.head_revision()}; application: {migrations.head_revision()}" in \
            _ok("db", "current", "--db", target)

        # sign in and write on the restored database
        ops = connect(target, "tester", password=STAFF_PASSWORD)
        try:
            restored = Database(target)
            variant, warehouse, supplier = _locations(restored)
            posted = inventory.post_moves(restored, ops.actor, operation_id="after-restore", reason="receipt",
                                          lines=[{"variant_id": variant, "from_location_id": supplier,
                                                  "to_location_id": warehouse, "quantity": 3}])
            assert posted.applied and inventory.ledger_mismatches(restored) == []
            row = ops.catalog.variant(variant)
            done = ops.catalog.save_edits([RowChange("variant", variant, row["version"], {"price": Decimal("42.00")},
                                                     {"price": row["price"]})], description="after the restore")
            assert done.conflicts == []
        finally:
            ops.close()
            restored.dispose()

        # a database that is not empty is never restored over
        error = _one_error("backup", "restore", str(dump), "--db", target)
        assert "is not empty" in error and "nothing was changed" in error

        # a cut-off archive is refused
        cut = tmp_path / "cut.dump"
        cut.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
        assert "failed" in _one_error("backup", "verify", str(cut))
        empty = new()
        _one_error("backup", "restore", str(cut), "--db", empty)
        engine = sa.create_engine(empty)
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []          # nothing half-restored
        engine.dispose()


@pytest.mark.postgres
def test_without_pg_dump_the_command_to_run_is_printed_and_nothing_is_written(pg_server_url: str, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    target = tmp_path / "store.dump"
    error = _one_error("backup", "create", str(target), "--db", pg_server_url)
    assert "pg_dump was not found on PATH" in error and "docs/backups.md" in error
    assert f"pg_dump --format=custom --file={target} --dbname=postgresql://" in error
    assert not target.exists() and list(tmp_path.iterdir()) == []
