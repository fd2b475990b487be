"""The application checks its own version against the database's schema: a database migrated by a newer
Backoffice is refused (and left untouched) with a message that says to install the newer version; an older
one says to run ``backoffice db upgrade``. The same words reach the CLI and the GUI's connection page."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from backoffice import __version__, migrations
from backoffice.cli import main
from backoffice.db import Database, SchemaNewerThanApplication, SchemaNotMigrated

FUTURE = "9999_from_a_newer_release"


def _store(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "shop.sqlite"
    url = f"sqlite:///{path}"
    assert CliRunner().invoke(main, ["db", "upgrade", "--db", url]).exit_code == 0
    return url, path


def _set_revision(path: Path, revision: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))


def _snapshot(path: Path) -> tuple[str, list[tuple[str]]]:
    with sqlite3.connect(path) as conn:
        return (conn.execute("SELECT version_num FROM alembic_version").fetchone()[0],
                conn.execute("SELECT name FROM sqlite_master ORDER BY name").fetchall())


def test_a_database_from_a_newer_release_is_refused_and_left_untouched(tmp_path: Path) -> None:
    url, path = _store(tmp_path)
    _set_revision(path, FUTURE)
    before = _snapshot(path)
    for args in (["db", "upgrade"], ["stock", "levels"], ["audit"]):
        result = CliRunner().invoke(main, [*args, "--db", url])
        assert result.exit_code == 1, (args, result.output)
        assert f"schema revision {FUTURE}, newer than this Backoffice {__version__}" in result.stderr
        assert "install the newer Backoffice" in result.stderr
        assert "db upgrade`" not in result.stderr   # upgrading is not the cure
    assert _snapshot(path) == before
    current = CliRunner().invoke(main, ["db", "current", "--db", url])
    assert current.exit_code == 0 and f"database: {FUTURE}; application: {migrations.head_revision()}" in current.output


def test_an_older_schema_says_to_upgrade_and_upgrading_makes_it_current(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = Database(f"sqlite:///{path}")
    migrations.upgrade(db, "0017")
    db.dispose()
    url = f"sqlite:///{path}"
    result = CliRunner().invoke(main, ["audit", "--db", url])
    assert result.exit_code == 1
    assert f"older than this Backoffice {__version__} needs ({migrations.head_revision()})" in result.stderr
    assert "run `backoffice db upgrade`" in result.stderr
    assert CliRunner().invoke(main, ["db", "upgrade", "--db", url]).exit_code == 0
    assert CliRunner().invoke(main, ["audit", "--db", url]).exit_code == 0


def test_ensure_current_raises_the_newer_kind(tmp_path: Path) -> None:
    _url, path = _store(tmp_path)
    _set_revision(path, FUTURE)
    db = Database(f"sqlite:///{path}")
    try:
        with pytest.raises(SchemaNewerThanApplication):
            migrations.ensure_current(db)
        with pytest.raises(SchemaNewerThanApplication):
            migrations.upgrade(db)
    finally:
        db.dispose()
    assert issubclass(SchemaNewerThanApplication, SchemaNotMigrated)


def test_the_connection_page_tells_which_way_to_go(qapp) -> None:  # noqa: ANN001 - pytest-qt's fixture
    from backoffice.ui.startup import describe_error

    newer = describe_error(SchemaNewerThanApplication("shop.sqlite is at schema revision 9999 …"))[1]
    older = describe_error(SchemaNotMigrated("shop.sqlite is at schema revision 0017 …"))[1]
    assert "newer version of Backoffice" in newer and "db upgrade" not in newer
    assert "backoffice db upgrade" in older
