"""Backups of the store's database: create, verify and restore (docs/backups.md)."""

from __future__ import annotations

import dataclasses

import click

from backoffice.cli.app import Context, db_options, json_text, main


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} bytes"   # pragma: no cover


def _rows(rows: dict[str, int]) -> str:
    if not rows:
        return ""
    return f"; {len(rows)} tables, {sum(rows.values()):,} rows"


@main.group()
def backup() -> None:
    """Back the database up, check a backup, restore one.

    The embedded SQLite file is copied with SQLite's online backup API (Backoffice may stay open and
    keep working) and the copy is checked (integrity and foreign keys) before it is kept. A PostgreSQL
    database is dumped with pg_dump --format=custom and restored with pg_restore into a new, empty
    database; the password is passed in PGPASSWORD (or found in ~/.pgpass), never on the command line.
    Image files are not in the database: back up the image store folder as well (docs/backups.md).
    """


@backup.command("create")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@db_options
@click.pass_obj
def backup_create(obj: Context, file: str | None, as_json: bool) -> None:
    """Write a backup of the database to FILE, which must not exist yet.

    Without FILE: <store>-YYYYMMDD-HHMMSS.sqlite (PostgreSQL: <database>-YYYYMMDD-HHMMSS.dump) in the
    backups folder of your data folder. Nothing is left behind when it fails (a full disk, a folder you
    may not write to).
    """
    ops = obj.operations(require_schema=False, sign_in=False)
    made = ops.admin.backup(file)
    if as_json:
        click.echo(json_text(dataclasses.asdict(made)))
        return
    if made.command:
        click.echo(f"Ran: {made.command}")
    checked = "integrity and foreign keys checked" if made.rows else "archive read through"
    click.echo(f"Backup of {made.source} written to {made.path} ({_size(made.size)}, schema revision "
               f"{made.revision}; {checked}{_rows(made.rows)}).")


@backup.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print what the backup holds as JSON.")
def backup_verify(file: str, as_json: bool) -> None:
    """Read a backup file through and say what it holds (exit status 1 when it is damaged)."""
    from backoffice.operations.admin import verify_backup

    checked = verify_backup(file)      # the file alone: no database is opened
    if as_json:
        click.echo(json_text({**dataclasses.asdict(checked), "needs_upgrade": checked.needs_upgrade}))
        return
    what = "SQLite backup" if checked.engine == "sqlite" else "pg_dump archive"
    state = ("made by this version" if not checked.needs_upgrade
             else f"older than this version ({checked.head}): after a restore, run `backoffice db upgrade`")
    click.echo(f"{file}: {what}, sound; schema revision {checked.revision}, {state}{_rows(checked.rows)}.")


@backup.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print what was restored as JSON.")
@db_options
@click.pass_obj
def backup_restore(obj: Context, file: str, as_json: bool) -> None:
    """Restore the backup FILE into the database (--db URL, a profile, or the embedded file).

    An SQLite file: the backup is checked, the file there now is kept as
    <name>.before-restore-YYYYMMDD-HHMMSS.sqlite next to it, and the backup is copied in; refused while
    another program is writing to the file. PostgreSQL: into a new, empty database only (createdb
    NAME), with pg_restore; the group roles and grants are set afterwards as `backoffice db upgrade`
    sets them. A backup made by a newer Backoffice is refused; an older one needs `backoffice db
    upgrade` after it.
    """
    ops = obj.operations(require_schema=False, sign_in=False)
    restored = ops.admin.restore(file)
    if as_json:
        click.echo(json_text({**dataclasses.asdict(restored), "needs_upgrade": restored.needs_upgrade}))
        return
    if restored.command:
        click.echo(f"Ran: {restored.command}")
    if restored.kept:
        click.echo(f"The database as it was is kept as {restored.kept}.")
    click.echo(f"Restored {file} into {restored.target} (schema revision {restored.revision}"
               f"{_rows(restored.rows)}).")
    if restored.needs_upgrade:
        click.echo(f"The backup is from an older version: run `backoffice db upgrade` to bring it to "
                   f"{restored.head}.")
